# Helpers for bench/sections/*.sh (sourced, not run). run.sh exports:
#   BENCH_SRC BENCH_BUILD BENCH_PLAIN_BUILD BENCH_OUT BENCH_PLOTS
#   BENCH_PLOTS_REL BENCH_WORK BENCH_QUICK BENCH_MACHINE
# A section appends Markdown to $BENCH_OUT, writes PNGs to $BENCH_PLOTS and
# links them as $BENCH_PLOTS_REL/NAME.png, and keeps its scratch files in
# its own $BENCH_WORK. Every process it starts goes through bg, so the
# trap ends exactly those.

GVOIP="$BENCH_BUILD/gvoip"
NETEM="$BENCH_BUILD/tools/netem/gvoip-netem"
QUALITY="$BENCH_BUILD/tools/quality/gvoip-quality"
LOAD="$BENCH_BUILD/tools/load/gvoip-load"
CLK_TCK=$(getconf CLK_TCK)
export GVOIP_HOME="$BENCH_WORK/home"
BENCH_PIDS=()
trap 'for p in "${BENCH_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT

# bg OUT ERR CMD...: start CMD in the background; its pid is in $BG_PID.
bg() {
  local out=$1 err=$2
  shift 2
  "$@" >"$out" 2>"$err" &
  BG_PID=$!
  BENCH_PIDS+=("$BG_PID")
}

# wait_port FILE: the port of the first {"event":"listening",...} line.
wait_port() {
  local port=""
  for _ in $(seq 200); do
    port=$(sed -n 's/.*"listening","port":\([0-9]*\).*/\1/p' "$1" 2>/dev/null | head -n 1)
    [ -n "$port" ] && break
    sleep 0.05
  done
  [ -n "$port" ] || { echo "bench: no listening event in $1" >&2; return 1; }
  echo "$port"
}

# jnum FILE KEY: the first number after "KEY": in a JSON file.
jnum() { grep -o "\"$2\":-\?[0-9.]*" "$1" | head -n 1 | cut -d: -f2; }
# jsub FILE OBJ KEY: KEY inside the first "OBJ":{...} (no nested objects before KEY).
jsub() { grep -o "\"$2\":{[^}]*}" "$1" | head -n 1 | grep -o "\"$3\":-\?[0-9.]*" | head -n 1 | cut -d: -f2; }
# jdir FILE up|down KEY: KEY of one direction of a gvoip-netem stats line.
jdir() {
  if [ "$2" = up ]; then sed 's/.*"up":{\(.*\)"down":{.*/\1/' "$1"; else sed 's/.*"down":{//' "$1"; fi |
    grep -o "\"$3\":-\?[0-9.]*" | head -n 1 | cut -d: -f2
}
# jpeer FILE NAME KEY: KEY of the peer called NAME in a gvoip --stats file.
jpeer() { grep -o "{\"id\":[0-9]*,\"name\":\"$2\"[^}]*}" "$1" | grep -o "\"$3\":-\?[0-9.]*" | cut -d: -f2; }

# calc EXPR [FORMAT]: floating-point arithmetic through awk.
# The parentheses keep a comparison from reading as printf's "> file".
calc() { awk "BEGIN { printf \"${2:-%.2f}\", ($1) }"; }

# cpu_watch PID OUT [SKIP]: samples /proc/PID/stat every 0.1 s until PID exits,
# then writes "cpu_seconds wall_seconds" (utime + stime over the process's
# life up to the last sample) to OUT. Run it in the background with bg.
# With SKIP (seconds), what the process used before it was SKIP seconds
# old is left out of both figures: its steady state after starting up.
cpu_watch() {
  local pid=$1 out=$2 skip=${3:-0} stat rest ticks=0 start=0 up=0 f t0=0 u0=""
  while [ -r "/proc/$pid/stat" ]; do
    read -r stat <"/proc/$pid/stat" 2>/dev/null || break
    rest=${stat##*) }
    read -r -a f <<<"$rest"
    [ "${f[0]}" = Z ] && break
    ticks=$((f[11] + f[12]))
    start=${f[19]}
    read -r up _ </proc/uptime
    if [ "$skip" != 0 ] && [ -z "$u0" ] && awk -v u="$up" -v s="$start" -v k="$skip" -v hz="$CLK_TCK" 'BEGIN { exit !(u - s / hz >= k) }'; then
      t0=$ticks
      u0=$up
    fi
    sleep 0.1
  done
  [ -n "$u0" ] || u0=$(awk -v s="$start" -v hz="$CLK_TCK" 'BEGIN { print s / hz }')
  awk -v t="$((ticks - t0))" -v u0="$u0" -v u="$up" -v hz="$CLK_TCK" \
    'BEGIN { printf "%.3f %.3f\n", t / hz, u - u0 }' >"$out"
}

# cpu_watch_fine PID OUT SKIP: as cpu_watch, from the scheduler's own
# nanosecond count of each of the process's threads (/proc/PID/task/*/
# schedstat) rather than 10 ms ticks, which at half a percent of a core
# over 17 s is about 8 ticks: one more or less moved the figure by 0.06%.
# Counts the threads alive at each sample; the window ends before the
# first thread that ends (a client's sound-server thread ends as it
# leaves, and with it its time left the sum: the quiet room read -0.23%).
cpu_watch_fine() {
  local pid=$1 out=$2 skip=$3 stat rest f start up ns n0="" u0="" t n last_ns=0 last_up=0
  read -r stat <"/proc/$pid/stat" 2>/dev/null || { echo "0 0" >"$out"; return; }
  rest=${stat##*) }
  read -r -a f <<<"$rest"
  start=${f[19]}
  while [ -r "/proc/$pid/stat" ]; do
    read -r stat <"/proc/$pid/stat" 2>/dev/null || break
    rest=${stat##*) }
    [ "${rest%% *}" = Z ] && break
    ns=0
    for t in /proc/"$pid"/task/*/schedstat; do
      read -r n _ <"$t" 2>/dev/null && ns=$((ns + n))
    done
    read -r up _ </proc/uptime
    if [ -z "$u0" ] && awk -v u="$up" -v s="$start" -v k="$skip" -v hz="$CLK_TCK" 'BEGIN { exit !(u - s / hz >= k) }'; then
      n0=$ns
      u0=$up
    fi
    [ "$ns" -ge "$last_ns" ] || break
    last_ns=$ns last_up=$up
    sleep 0.1
  done
  if [ -z "$u0" ]; then echo "0 0" >"$out"; return; fi
  awk -v n="$((last_ns - n0))" -v u0="$u0" -v u="$last_up" 'BEGIN { printf "%.6f %.3f\n", n / 1e9, u - u0 }' >"$out"
}

# percentile P FILE: nearest-rank percentile of the numbers in FILE.
percentile() {
  sort -g "$2" | awk -v p="$1" '{ v[NR] = $1 } END { if (NR == 0) { print "n/a"; exit }
    k = int(p / 100 * NR + 0.999999); if (k < 1) k = 1; if (k > NR) k = NR; printf "%.1f", v[k] }'
}

# speech FILE SECONDS: generated speech (espeak-ng) at least SECONDS long.
speech() {
  local text="Hello everyone, this is a test of the voice chat. The quick brown fox jumps over the lazy dog.
Please call Stella. Ask her to bring six spoons of fresh snow peas from the store.
One, two, three, four, five. Can you hear me clearly? I am speaking from a generated file."
  local all="$text"
  for _ in 1 2 3 4 5; do all="$all $text"; done
  espeak-ng -s 150 -w "$1.full.wav" "$all"
  sox "$1.full.wav" "$1" trim 0 "$2"
  rm -f "$1.full.wav"
}

# plot SCRIPT: runs gnuplot on a script file (PNGs stay small: 640x360).
plot() { gnuplot "$1"; }
