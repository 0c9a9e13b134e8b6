#!/usr/bin/env bash
# The fleet (docs/operations.md, "A fleet"): three `gvoip server --redis`
# nodes on a private redis-server. (1) How fast placements are made and
# found: gvoip-fleetload with 1, 2 and 4 callers, each on a fresh fleet,
# and `gvoip allocate` as a process. (2) Failover: the node hosting a
# talking lobby killed with -9, from the kill to the listener hearing the
# talker again, from the players' events and from the recording; once on
# loopback, once through one gvoip-netem relay per node (50 ms each way).
# (3) The load each node reports in Redis against what it measured itself,
# while gvoip-load drives six lobbies spread over the nodes.
# BENCH_QUICK=1: fewer and shorter runs, no relay row; it only checks that
# all of it runs.
set -euo pipefail
. "$BENCH_SRC/bench/lib.sh"
cd "$BENCH_WORK"
FLEETLOAD="$BENCH_BUILD/tools/fleetload/gvoip-fleetload"
for b in "$GVOIP" "$NETEM" "$LOAD" "$FLEETLOAD"; do
  [ -x "$b" ] || { echo "bench: build $b first" >&2; exit 2; }
done
for c in redis-server redis-cli sox python3; do
  command -v "$c" >/dev/null || { echo "bench: 87-fleet needs $c" >&2; exit 2; }
done

reps=5 per_thread=2000 procs=50 fo_runs=10 netem_runs=10 load_s=30
[ "$BENCH_QUICK" = 1 ] && reps=1 per_thread=300 procs=10 fo_runs=2 netem_runs=0 load_s=6
threads_list=(1 2 4)
fo_lobbies=16 load_lobbies=16 max_players=32

# A free port: TCP for Redis, UDP for a node (a node killed and started
# again, or behind a relay, keeps its port).
free_port() {
  python3 -c 'import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM if sys.argv[1] == "tcp" else socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' "$1"
}
# wait_line FILE REGEX SECONDS
wait_line() {
  local deadline=$((SECONDS + $3))
  until grep -Eq "$2" "$1" 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || { echo "bench: no '$2' in $1 within $3 s" >&2; return 1; }
    sleep 0.02
  done
}
# ticks PID: utime + stime of a live process, in clock ticks.
ticks() {
  local stat rest f
  read -r stat <"/proc/$1/stat"
  rest=${stat##*) }
  read -r -a f <<<"$rest"
  echo $((f[11] + f[12]))
}
# ours: the CPU ticks of this section so far: its shell, every child it
# has waited for (with theirs), and Redis. Each part ends with all of its
# processes waited for.
ours() {
  local stat rest f
  read -r stat <"/proc/$$/stat"
  rest=${stat##*) }
  read -r -a f <<<"$rest"
  echo $((f[11] + f[12] + f[13] + f[14] + $(ticks "$redis_pid")))
}
# busy: the machine's busy and total jiffies so far (every CPU), from /proc/stat.
busy() { awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t; exit }' /proc/stat; }
# cores_busy "B0 T0" "B1 T1" O0 O1: how many of the CPUs were busy in
# between, "ALL (OURS of them)", OURS from ours() at both ends.
cores_busy() {
  local all
  all=$(calc "$(nproc) * (${2% *} - ${1% *}) / (${2#* } - ${1#* })")
  echo "$all ($(calc "$all * ($4 - $3) / (${2% *} - ${1% *})") of them this section's)"
}
# wall EPOCH: the time of day, to the millisecond.
wall() { date -u -d "@$1" '+%H:%M:%S.%3N'; }
# quant P FILE [FORMAT]: nearest-rank percentile, as lib.sh's percentile
# but to the precision asked (default 2 decimals).
quant() {
  sort -g "$2" | awk -v p="$1" -v f="${3:-%.2f}" '{ v[NR] = $1 } END { if (NR == 0) { print "n/a"; exit }
    k = int(p / 100 * NR + 0.999999); if (k < 1) k = 1; if (k > NR) k = NR; printf f, v[k] }'
}
median() { quant 50 "$1" "${2:-%.2f}"; }
worst() { quant 100 "$1" "${2:-%.2f}"; }
# oncpu_ns PID: the CPU time of a process's main thread, in nanoseconds
# (Redis runs its commands on its main thread).
oncpu_ns() { cut -d' ' -f1 "/proc/$1/schedstat"; }

# What else runs: one 1 s sample of top, before this section starts anything.
others=$(top -b -n 2 -d 1 -w 200 | awk '/^top -/ { n++ } n == 2 && $1 ~ /^[0-9]+$/ && $9 + 0 >= 5 { printf "%s%s %.0f%%", sep, $12, $9; sep = ", " }')
[ -n "$others" ] || others="nothing above 5% of a CPU"
rport=$(free_port tcp)
url="redis://127.0.0.1:$rport"
bg redis.out redis.err redis-server --bind 127.0.0.1 --port "$rport" --save '' --appendonly no --daemonize no \
  --dir "$BENCH_WORK"
redis_pid=$BG_PID
for _ in $(seq 200); do redis-cli -p "$rport" ping 2>/dev/null | grep -q PONG && break; sleep 0.05; done
redis-cli -p "$rport" ping | grep -q PONG || { echo "bench: redis-server did not answer" >&2; exit 1; }
"$GVOIP" server --port 0 --key fleet.key --duration 0.1 >/dev/null 2>&1 || true
[ -s fleet.key ] || { echo "bench: no server key" >&2; exit 1; }

load_start=$(cut -d' ' -f1-3 /proc/loadavg)

# node I PORT ADVERTISE_PORT MAX_LOBBIES: node I of the fleet, on PORT (0:
# any), advertising ADVERTISE_PORT (0: its own); once registered, its pid
# is in node_pid[I], its id in node_id[I], its port in node_port[I].
declare -a node_pid node_id node_port
node() {
  local i=$1 port=$2 adv=$3 lobbies=$4
  bg "node$i.out" "node$i.err" "$GVOIP" server --port "$port" --threads 1 --max-lobbies "$lobbies" \
    --max-players "$max_players" --key fleet.key --redis "$url" --advertise "127.0.0.1:$adv" --json \
    --stats "node$i.json"
  node_pid[i]=$BG_PID
  wait_line "node$i.out" '"state":"registered"' 10
  node_id[i]=$(sed -n 's/.*"state":"registered","node":"\([0-9a-f]*\)".*/\1/p' "node$i.out" | head -n 1)
  node_port[i]=$(wait_port "node$i.out")
}
# fleet_up MAX_LOBBIES: three nodes on ports of their own.
fleet_up() { for i in 1 2 3; do node "$i" 0 0 "$1"; done; }
# fleet_down: each node leaves (SIGTERM), taking its placements along.
fleet_down() {
  for i in 1 2 3; do kill -TERM "${node_pid[i]}" 2>/dev/null || true; done
  for i in 1 2 3; do wait "${node_pid[i]}" || true; done
}
# live: how many nodes hold a lease now.
live() { redis-cli -p "$rport" --scan --pattern 'gvoip:node:*' | grep -vc ':lobbies$' || true; }

# ---- 1. Allocation: latency and throughput ----
echo "bench:   allocations, $reps x threads ${threads_list[*]}, $per_thread lobbies each" >&2
b0=$(busy) o0=$(ours)
for rep in $(seq "$reps"); do
  order=("${threads_list[@]}")
  [ $((rep % 2)) = 0 ] && order=(4 2 1)
  for t in "${order[@]}"; do
    fleet_up 4000
    # Each phase alone, with Redis's own account of its scripts
    # (INFO commandstats: EVALSHA's calls and microseconds) and its main
    # thread's CPU time, the network included.
    for ph in new placed; do
      redis-cli -p "$rport" CONFIG RESETSTAT >/dev/null
      r0=$(oncpu_ns "$redis_pid")
      "$FLEETLOAD" --redis "$url" --threads "$t" --lobbies "$per_thread" --name "r$rep-" --phase "$ph" \
        >"alloc-$t-$rep-$ph.json" 2>"alloc-$t-$rep-$ph.err" || { cat "alloc-$t-$rep-$ph.err" >&2; exit 1; }
      echo "$(($(oncpu_ns "$redis_pid") - r0))" \
        "$(redis-cli -p "$rport" INFO commandstats | sed -n 's/^cmdstat_evalsha:calls=\([0-9]*\),usec=\([0-9]*\),.*/\1 \2/p')" \
        >"alloc-$t-$rep-$ph.redis"
    done
    # The last fleet stays up for gvoip allocate as a process.
    if [ "$rep" != "$reps" ] || [ "$t" != "${order[2]}" ]; then fleet_down; fi
  done
done
# gvoip allocate as a shell-scripted backend runs it: a process per call,
# alternating with the program's start alone (--help: no Redis).
ms_since() { calc "($EPOCHREALTIME - $1) * 1000" %.2f; }
: >proc-true.txt
: >proc-help.txt
: >proc-new.txt
: >proc-placed.txt
for i in $(seq "$procs"); do
  s=$EPOCHREALTIME
  /bin/true
  ms_since "$s" >>proc-true.txt
  echo >>proc-true.txt
  s=$EPOCHREALTIME
  "$GVOIP" allocate --help >/dev/null
  ms_since "$s" >>proc-help.txt
  echo >>proc-help.txt
  s=$EPOCHREALTIME
  "$GVOIP" allocate --redis "$url" --lobby "proc-$i" >/dev/null
  ms_since "$s" >>proc-new.txt
  echo >>proc-new.txt
  s=$EPOCHREALTIME
  "$GVOIP" allocate --redis "$url" --lobby "proc-$i" >/dev/null
  ms_since "$s" >>proc-placed.txt
  echo >>proc-placed.txt
done
fleet_down
alloc_busy=$(cores_busy "$b0" "$(busy)" "$o0" "$(ours)")

# One row per thread count: medians over the repetitions, the worst max.
# field FILE PHASE KEY: KEY of "PHASE":{...} (latency keys included).
field() { grep -o "\"$2\":{\"calls[^}]*}" "$1" | grep -o "\"$3\":-\?[0-9.]*" | head -n 1 | cut -d: -f2; }
# Columns of alloc-*.redis: Redis's CPU ns, its scripts' calls and microseconds.
alloc_rows=""
declare -A redis_us
for t in "${threads_list[@]}"; do
  for ph in new placed; do
    row="| $t | $ph | $((t * per_thread))"
    for k in per_s p50 p95 p99 max; do
      for rep in $(seq "$reps"); do field "alloc-$t-$rep-$ph.json" "$ph" "$k"; done >col.txt
      case $k in
        per_s) row+=" | $(median col.txt %.0f) ($(quant 0 col.txt %.0f)-$(worst col.txt %.0f))" ;;
        p50) row+=" | $(median col.txt %.1f)" ;;
        max) row+=" / $(worst col.txt %.0f)" ;;
        *) row+=" / $(median col.txt %.1f)" ;;
      esac
    done
    calls=$((t * per_thread))
    for rep in $(seq "$reps"); do read -r ns _ _ <"alloc-$t-$rep-$ph.redis"; calc "$ns / 1000 / $calls" %.2f; echo; done >col.txt
    redis_us[$t-$ph]=$(median col.txt %.1f)
    row+=" | ${redis_us[$t-$ph]}"
    for rep in $(seq "$reps"); do
      read -r _ n us <"alloc-$t-$rep-$ph.redis"
      # The nodes' lease renewals are scripts too, a few a second.
      [ "$n" -ge "$calls" ] || { echo "bench: $n scripts for $calls allocations" >&2; exit 1; }
      calc "$us / $n" %.2f
      echo
    done >col.txt
    row+=" | $(median col.txt %.1f)"
    for rep in $(seq "$reps"); do calc "1e6 * $(field "alloc-$t-$rep-$ph.json" "$ph" cpu_s) / $calls" %.2f; echo; done >col.txt
    row+=" | $(median col.txt %.1f) |"
    alloc_rows+="$row"$'\n'
  done
done
spread=$(grep -o '"nodes":{[^}]*}' "alloc-4-$reps-new.json" | grep -o '":[0-9][0-9]*' | tr -d '":' | paste -sd/)

# ---- 2. Failover ----
sox -n -r 48000 -c 1 tone.wav synth 60 sine 440 vol 0.5
# stamp: each line of stdin with the wall clock it arrived at.
stamp() { while IFS= read -r line; do printf '%s %s\n' "$EPOCHREALTIME" "$line"; done; }
# player NAME ARGS...: a gvoip join, its lines stamped as they come.
player() {
  local name=$1
  shift
  "$GVOIP" join "$@" --json > >(stamp >"$name.out") 2>"$name.err" &
  BG_PID=$!
  BENCH_PIDS+=("$BG_PID")
}
# at FILE REGEX: the stamp of the first line matching.
at() { grep -E "$2" "$1" | head -n 1 | cut -d' ' -f1; }
# gap WAV KILL_OFFSET: where, in the recording, the tone stops after the
# kill and comes back (3 windows of 10 ms in a row above a tenth of its
# level, the 75th percentile of the windows), as "stop back level" in
# seconds from the kill. The kill's place in the recording: the tone's
# first window is the talker's `connected` line, and the kill came
# KILL_OFFSET s after that; both ends pay the same jitter buffer.
gap() {
  sox "$1" -t dat - remix - |
    awk '/^;/ { next } { w = int($1 * 100); s[w] += $2 * $2; n[w]++; if (w > last) last = w }
         END { for (i = 0; i <= last; i++) printf "%.5f\n", n[i] ? sqrt(s[i] / n[i]) : 0 }' >"$1.rms"
  awk -v off="$2" -v level="$(quant 75 "$1.rms" %.5f)" '
    { r[NR - 1] = $1; last = NR - 1 }
    END {
      thr = level / 10
      for (first = 0; first <= last && r[first] < thr; first++) ;
      kill = first / 100 + off
      for (i = int(kill * 100) - 20; i <= last && r[i] >= thr; i++) ;
      stop = i
      for (; i + 2 <= last && !(r[i] >= thr && r[i + 1] >= thr && r[i + 2] >= thr); i++) ;
      if (i + 2 > last) { print "nan nan", level; exit }
      printf "%.3f %.3f %.4f\n", stop / 100 - kill, i / 100 - kill, level
    }' "$1.rms"
}

# failover MODE RUNS: RUNS kills of the node hosting a talking lobby; MODE
# plain (players reach the nodes) or netem (through a relay per node, 50
# ms each way). One line per run in fo-MODE.txt.
failover() {
  local mode=$1 runs=$2 i run lobby addr victim list lis tal t_conn t_kill t_lis t_tal rec stop back level
  local -a ports adv relay_pid
  for i in 1 2 3; do
    ports[i]=$(free_port udp)
    adv[i]=${ports[i]}
    if [ "$mode" = netem ]; then
      bg "relay$i.out" "relay$i.err" "$NETEM" --listen 0 --to "127.0.0.1:${ports[i]}" --delay 50
      relay_pid[i]=$BG_PID
      adv[i]=$(wait_port "relay$i.out")
    fi
    node "$i" "${ports[i]}" "${adv[i]}" "$fo_lobbies"
  done
  : >"fo-$mode.txt"
  for run in $(seq "$runs"); do
    for _ in $(seq 100); do [ "$(live)" = 3 ] && break; sleep 0.1; done
    [ "$(live)" = 3 ] || { echo "bench: $(live) live nodes, not 3" >&2; return 1; }
    lobby="fo-$mode-$run"
    addr=$("$GVOIP" allocate --redis "$url" --lobby "$lobby" | cut -d' ' -f1)
    victim=""
    list=$addr
    for i in 1 2 3; do
      if [ "127.0.0.1:${adv[i]}" = "$addr" ]; then victim=$i; else list+=",127.0.0.1:${adv[i]}"; fi
    done
    [ -n "$victim" ] || { echo "bench: $lobby placed on $addr, not a node of ours" >&2; return 1; }
    rec="fo-$mode-$run.wav"
    player "lis-$mode-$run" "$list" --lobby "$lobby" --name listener --no-capture --no-playback --record "$rec"
    lis=$BG_PID
    wait_line "lis-$mode-$run.out" '"event":"connected"' 10
    player "tal-$mode-$run" "$list" --lobby "$lobby" --name talker --input-file tone.wav --no-playback \
      --no-denoise --no-agc
    tal=$BG_PID
    wait_line "tal-$mode-$run.out" '"event":"connected"' 10
    sleep 3
    t_kill=$EPOCHREALTIME
    kill -9 "${node_pid[victim]}"
    wait_line "lis-$mode-$run.out" '"event":"reconnected"' 30
    wait_line "tal-$mode-$run.out" '"event":"reconnected"' 30
    sleep 3
    kill -INT "$lis" "$tal"
    wait "$lis" "$tal" || true
    wait "${node_pid[victim]}" 2>/dev/null || true
    sleep 0.2
    t_conn=$(at "tal-$mode-$run.out" '"event":"connected"')
    t_lis=$(at "lis-$mode-$run.out" '"event":"reconnected"')
    t_tal=$(at "tal-$mode-$run.out" '"event":"reconnected"')
    read -r stop back level < <(gap "$rec" "$(calc "$t_kill - $t_conn" %.3f)")
    [ "$back" != nan ] || { echo "bench: $rec: the tone never came back" >&2; return 1; }
    awk -v l="$level" 'BEGIN { exit !(l > 0.05) }' || { echo "bench: $rec: tone level $level" >&2; return 1; }
    echo "$run $victim $t_kill $t_lis $t_tal $stop $back" >>"fo-$mode.txt"
    node "$victim" "${ports[victim]}" "${adv[victim]}" "$fo_lobbies"
  done
  fleet_down
  if [ "$mode" = netem ]; then
    for i in 1 2 3; do kill -INT "${relay_pid[i]}"; wait "${relay_pid[i]}" || true; done
  fi
}

fo_rows=""
fo_summary=""
b0=$(busy) o0=$(ours)
for mode in plain netem; do
  runs=$fo_runs
  [ "$mode" = netem ] && runs=$netem_runs
  [ "$runs" -gt 0 ] || continue
  echo "bench:   failover ($mode), $runs runs" >&2
  failover "$mode" "$runs"
  # Columns: run victim t_kill t_lis t_tal stop back.
  while read -r run victim t_kill t_lis t_tal stop back; do
    both=$(calc "($t_lis > $t_tal ? $t_lis : $t_tal) - $t_kill" %.2f)
    fo_rows+="| $mode | $run | $victim | $(wall "$t_kill") | $(wall "$t_lis") ($(calc "$t_lis - $t_kill")) |"
    fo_rows+=" $(wall "$t_tal") ($(calc "$t_tal - $t_kill")) | $both | $(calc "1000 * $stop" %.0f) |"
    fo_rows+=" $(calc "$back") | $(calc "$back - $stop") |"$'\n'
  done <"fo-$mode.txt"
  awk '{ print ($4 > $5 ? $4 : $5) - $3 }' "fo-$mode.txt" >col-events.txt
  awk '{ print $7 }' "fo-$mode.txt" >col-back.txt
  awk '{ print $7 - $6 }' "fo-$mode.txt" >col-gap.txt
  fo_summary+="| $mode | $runs | $(median col-events.txt) / $(worst col-events.txt) |"
  fo_summary+=" $(median col-back.txt) / $(worst col-back.txt) | $(median col-gap.txt) / $(worst col-gap.txt) |"$'\n'
done
fo_busy=$(cores_busy "$b0" "$(busy)" "$o0" "$(ours)")

# ---- 3. Reported load against measured ----
# Six lobbies, allocated before anyone joins: with every node empty the
# fleet places them round the nodes in id order (most free slots first,
# then the smallest id), so the first node gets the two of 32, the next
# the two of 16 and the last the two of 8: three different loads.
echo "bench:   reported against measured load, ${load_s} s" >&2
sizes=(32 16 8 32 16 8)
fleet_up "$load_lobbies"
declare -a load_pid load_node
for k in "${!sizes[@]}"; do
  addr=$("$GVOIP" allocate --redis "$url" --lobby "load-$k" | cut -d' ' -f1)
  for i in 1 2 3; do [ "127.0.0.1:${node_port[i]}" = "$addr" ] && load_node[k]=$i; done
done
b0=$(busy) o0=$(ours)
t0=$EPOCHREALTIME
for k in "${!sizes[@]}"; do
  n=${sizes[k]}
  bg "load-$k.json" "load-$k.err" "$LOAD" --server "127.0.0.1:${node_port[load_node[k]]}" --lobby "load-$k" \
    --players "$n" --speakers $((n / 4)) --duration "$load_s" --continuous --source-addresses
  load_pid[k]=$BG_PID
done
# Each second: each node's hash in Redis and its CPU ticks from /proc.
: >samples.txt
running=1
while [ "$running" = 1 ]; do
  running=0
  for k in "${!sizes[@]}"; do kill -0 "${load_pid[k]}" 2>/dev/null && running=1; done
  for i in 1 2 3; do
    echo "$EPOCHREALTIME $i $(ticks "${node_pid[i]}")" \
      "$(redis-cli -p "$rport" HMGET "gvoip:node:${node_id[i]}" forwarded_per_s cpu players lobbies | paste -sd' ')"
  done >>samples.txt
  sleep 1
done
for k in "${!sizes[@]}"; do
  wait "${load_pid[k]}" || { cat "load-$k.err" >&2; exit 1; }
done
load_cpu=0
for k in "${!sizes[@]}"; do load_cpu=$(calc "$load_cpu + $(jnum "load-$k.json" load_cpu_s)" %.3f); done
node_ticks=()
for i in 1 2 3; do node_ticks[i]=$(ticks "${node_pid[i]}"); done
fleet_down
load_busy=$(cores_busy "$b0" "$(busy)" "$o0" "$(ours)")
# The window: from 2 s after the last load's traffic began (its joins and
# the 0.5 s it waits after them, whose handshakes are CPU too) to 0.5 s
# before the first one's ended.
join_max=0
for k in "${!sizes[@]}"; do join_max=$(calc "$(jnum "load-$k.json" join_s) > $join_max ? $(jnum "load-$k.json" join_s) : $join_max" %.3f); done
w0=$(calc "$t0 + $join_max + 0.5 + 2" %.3f)
w1=$(calc "$t0 + $join_max + 0.5 + $load_s - 0.5" %.3f)
load_rows=""
for i in 1 2 3; do
  lobbies=0 players=0 received=0
  for k in "${!sizes[@]}"; do
    [ "${load_node[k]}" = "$i" ] || continue
    lobbies=$((lobbies + 1))
    players=$((players + $(jnum "load-$k.json" joined)))
    received=$((received + $(jnum "load-$k.json" received)))
  done
  relayed=$(grep -o '"relayed_packets":[0-9]*' "node$i.json" | head -n 1 | cut -d: -f2)
  # Columns of samples.txt: stamp node ticks forwarded_per_s cpu players lobbies.
  read -r n_s fwd fwd_lo fwd_hi cpu rep_players rep_lobbies m_cpu < <(
    awk -v i="$i" -v w0="$w0" -v w1="$w1" -v hz="$CLK_TCK" '
      $2 == i && $1 >= w0 && $1 <= w1 {
        if (!n) { t0 = $1; k0 = $3 } else {
          f += $4; c += $5; if (lo == "" || $4 < lo) lo = $4; if ($4 > hi) hi = $4; m++ }
        n++; t1 = $1; k1 = $3; p = $6; l = $7 }
      END { if (m < 1) { print "0 0 0 0 0 0 0 0"; exit }
            printf "%d %.0f %.0f %.0f %.4f %d %d %.4f\n", m, f / m, lo, hi, c / m, p, l, (k1 - k0) / hz / (t1 - t0) }' samples.txt)
  [ "$n_s" -gt 0 ] || { echo "bench: no samples of node $i in the window" >&2; exit 1; }
  m_fwd=$(calc "$relayed / $load_s" %.0f)
  load_rows+="| ${node_port[i]} | $rep_lobbies / $lobbies | $rep_players / $players | $fwd ($fwd_lo-$fwd_hi) |"
  load_rows+=" $m_fwd | $(calc "$received / $load_s" %.0f) | $(calc "$fwd / $m_fwd" %.3f) |"
  load_rows+=" $(calc "$cpu" %.3f) | $(calc "$m_cpu" %.3f) | $(calc "$m_cpu > 0 ? $cpu / $m_cpu : 0" %.2f) |"$'\n'
done
window_s=$(calc "$w1 - $w0" %.0f)
node_life_cpu=0
for i in 1 2 3; do node_life_cpu=$(calc "$node_life_cpu + ${node_ticks[i]} / $CLK_TCK" %.2f); done

{
  echo
  echo "## A fleet: placements, failover, reported load"
  echo
  echo "Three \`gvoip server --redis\` nodes (one worker each) on one private \`redis-server\` (no persistence),"
  echo "sharing one server key, all on loopback; \`bench/sections/87-fleet.sh\`. Machine: $BENCH_MACHINE;"
  echo "Redis, the nodes, the players and the load generators all share its $(nproc) CPUs. Load average when the"
  echo "section started: $load_start; busiest other processes then (one 1 s sample of \`top\`): $others."
  echo "The machine's busy CPUs (\`/proc/stat\`), and of them this section's own processes (their utime + stime,"
  echo "Redis's included; the rest is other work): $alloc_busy during the allocations,"
  echo "$fo_busy during the failovers, $load_busy during the load. Figures are medians;"
  echo "ratios compare figures of this run."
  echo
  echo "### Placing lobbies"
  echo
  echo '```'
  echo "gvoip server --port 0 --threads 1 --max-lobbies 4000 --max-players $max_players --key fleet.key \\"
  echo "  --redis redis://127.0.0.1:PORT --advertise 127.0.0.1:0 --json      # x 3, a fresh fleet per run"
  echo "gvoip-fleetload --redis redis://127.0.0.1:PORT --threads T --lobbies $per_thread --name rREP- --phase new|placed"
  echo '```'
  echo
  echo "\`gvoip-fleetload\` (tools/fleetload) runs T threads, each with a \`gv_fleet\` connection of its own (as"
  echo "each process of a game's backend has), that call \`gv_fleet_allocate\` for $per_thread lobby names nobody placed"
  echo "(*new*: each call runs the placement script: the live node with the most free lobby slots, in one"
  echo "Lua script), then, in a second run with \`--phase placed\`, for the same names again (*placed*: the"
  echo "script finds the placement, as for every join after the first and a backend asking twice). The"
  echo "threads start together; allocations/s is every thread's calls over the phase's wall time. $reps runs of"
  echo "each T, alternating the order, each on a fresh fleet (its nodes left, so no placement was left over):"
  echo "medians of the runs, the range of allocations/s in brackets, max the worst call of all runs. *Redis"
  echo "CPU*: redis-server's main thread's CPU time (\`/proc/PID/schedstat\`: the network's system calls"
  echo "included, and the nodes' lease renewals, a few a second) per allocation; *script*: what Redis itself"
  echo "counted for the scripts (\`INFO commandstats\`, \`EVALSHA\`'s \`usec\` / \`calls\`, after \`CONFIG"
  echo "RESETSTAT\`; one script per allocation, and the few of the lease renewals); *client CPU*: the tool's own (every thread). The last run of"
  echo "T = 4 placed its lobbies $spread on the three nodes."
  echo
  echo "| callers | lobbies | calls | allocations/s | latency p50 / p95 / p99 / max us | Redis CPU us / call | script us / call | client CPU us / call |"
  echo "|---:|---|---:|---:|---|---:|---:|---:|"
  printf '%s' "$alloc_rows"
  echo
  echo "Redis runs the scripts on one thread: at its CPU per call with four callers, one core of it would"
  echo "make about $(calc "1e6 / ${redis_us[4-new]}" %.0f) new placements or $(calc "1e6 / ${redis_us[4-placed]}" %.0f) lookups a second; here the machine's"
  echo "$(nproc) CPUs also carry the callers, the idle nodes and the other work."
  echo
  echo "What a backend that runs \`gvoip allocate\` as a process pays, each call a process started by bash"
  echo "(wall clock around it, $procs of each, interleaved): a program that does nothing; gvoip's start alone with"
  echo "\`--help\`, which never reaches Redis; a new lobby; the same lobby again."
  echo
  echo "| command | median ms | p90 ms |"
  echo "|---|---:|---:|"
  echo "| \`/bin/true\` (bash's fork and exec alone) | $(median proc-true.txt) | $(quant 90 proc-true.txt) |"
  echo "| \`gvoip allocate --help\` | $(median proc-help.txt) | $(quant 90 proc-help.txt) |"
  echo "| \`gvoip allocate --redis URL --lobby proc-N\` (new) | $(median proc-new.txt) | $(quant 90 proc-new.txt) |"
  echo "| the same again (placed) | $(median proc-placed.txt) | $(quant 90 proc-placed.txt) |"
  echo
  echo "### Failover"
  echo
  echo '```'
  echo "gvoip server --port P --threads 1 --max-lobbies $fo_lobbies --max-players $max_players --key fleet.key \\"
  echo "  --redis redis://127.0.0.1:PORT --advertise 127.0.0.1:P|RELAY --json           # x 3"
  echo "gvoip-netem --listen 0 --to 127.0.0.1:P --delay 50                               # netem: one per node"
  echo "gvoip allocate --redis redis://127.0.0.1:PORT --lobby fo-MODE-N                  # -> NODE"
  echo "gvoip join NODE,OTHER1,OTHER2 --lobby fo-MODE-N --name listener --no-capture --no-playback --record fo.wav --json"
  echo "gvoip join NODE,OTHER1,OTHER2 --lobby fo-MODE-N --name talker --input-file tone.wav --no-playback \\"
  echo "  --no-denoise --no-agc --json"
  echo "kill -9 NODE's pid                                                               # 3 s after both joined"
  echo '```'
  echo
  echo "Each run allocates a new lobby; a listener and a talker (a 440 Hz tone) join it, both given every"
  echo "node's address, the lobby's first; 3 s later the node that hosts it is killed with -9, and when"
  echo "both are back and 3 s more have been heard they leave and the node is started again on its port"
  echo "(the next run waits until Redis has three live nodes). *Events*: the wall clock at which each"
  echo "player's \`{\"event\":\"reconnected\"...}\` line arrived (the players' stdout stamped line by line),"
  echo "seconds after the kill in brackets; *both back*: the later of the two. *Recording*: in 10 ms"
  echo "windows of the listener's \`--record\` (\`sox fo.wav -t dat - remix -\`), the tone's level is their 75th"
  echo "percentile; *stopped*: the first window below a tenth of it after the kill, *back*: the first of three"
  echo "in a row above it, both from the kill, placed in the recording by the tone's first window, which is"
  echo "the talker's \`connected\` line (that start and the resumption both pass through a fresh jitter"
  echo "buffer, so the offset cancels); *gap*: silence heard. *netem*: every packet between the players and"
  echo "a node crosses that node's relay, 50 ms each way (100 ms round trip); the nodes advertise their"
  echo "relay's address, which \`gvoip allocate\` hands out and the redirects name (\`gvoip-netem\` forwards"
  echo "to one fixed upstream, hence one relay per node)."
  echo
  echo "| path | runs | both back after the kill (events) s: median / worst | tone back after the kill (recording) s: median / worst | gap heard s: median / worst |"
  echo "|---|---:|---|---|---|"
  printf '%s' "$fo_summary"
  echo
  echo "Where the time goes: a node renews its 3 s lease every second, so the dead node's placements lapse 2"
  echo "to 3 s after the kill. A player connects anew after 2 s without its node, a try that cannot succeed"
  echo "yet (the lease still holds), and tries again 1 s later plus up to a quarter of it (\`retry_ms\` in its"
  echo "\`reconnecting\` line): that is where the loopback runs land. Through the relays that second try"
  echo "joins afresh (a player presents its resumption secret only to the node that gave it), at times"
  echo "through a redirect to the node the fleet placed the lobby on: each handshake costs round trips of"
  echo "100 ms, and the worst runs are those redirected. There the recording"
  echo "places the kill a little late: the talker's \`connected\` line arrives 50 ms after the node sent it"
  echo "and its first packet takes 100 ms more to reach the listener, while the last packets before the"
  echo "kill were already on their way, hence *stopped* before the kill."
  echo
  echo "<details><summary>Every run</summary>"
  echo
  echo "| path | run | node killed | killed at (UTC) | listener reconnected (s after) | talker reconnected (s after) | both back s | tone stopped ms after | tone back s after | gap s |"
  echo "|---|---:|---:|---|---|---|---:|---:|---:|---:|"
  printf '%s' "$fo_rows"
  echo
  echo "</details>"
  echo
  echo "### The load a node reports against what it measured"
  echo
  echo '```'
  echo "gvoip server --port 0 --threads 1 --max-lobbies $load_lobbies --max-players $max_players --key fleet.key \\"
  echo "  --redis redis://127.0.0.1:PORT --advertise 127.0.0.1:0 --json --stats node.json   # x 3"
  echo "gvoip allocate --redis redis://127.0.0.1:PORT --lobby load-K                        # K = 0..5"
  echo "gvoip-load --server NODE --lobby load-K --players N --speakers N/4 --duration $load_s --continuous --source-addresses"
  echo "redis-cli -p PORT HMGET gvoip:node:ID forwarded_per_s cpu players lobbies          # every second"
  echo '```'
  echo
  echo "Six lobbies of 32, 16, 8, 32, 16 and 8 players, a quarter of each talking all the time (fake 20 ms"
  echo "Opus packets), one \`gvoip-load\` each; allocated before anyone joined, they went round the nodes, so"
  echo "each node hosts two lobbies of one size. Every second, each node's hash in Redis (what the node"
  echo "writes at each lease renewal, about every second: its relayed packets and its process's CPU time"
  echo "since the last renewal) and its CPU ticks from \`/proc/PID/stat\`. The window: the ${window_s} s from 2 s after"
  echo "the last \`gvoip-load\`'s traffic began to 0.5 s before it ended. *Reported*: the mean of the samples in"
  echo "the window (forwarded/s: their range in brackets), players and lobbies as of its last sample;"
  echo "*measured*: \`relayed_packets\` of the node's \`--stats\` over the $load_s s of traffic, what its players"
  echo "received over the same, and \`/proc\` utime + stime over the window; lobbies hosted and players"
  echo "joined from \`gvoip allocate\` and \`gvoip-load\`. The six load generators used $load_cpu s of CPU in all;"
  echo "the three nodes $node_life_cpu s over their lives."
  echo
  echo "| node port | lobbies reported / hosted | players reported / joined | forwarded/s reported | forwarded/s measured | received by players /s | reported / measured | CPU cores reported | CPU cores measured | reported / measured |"
  echo "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|"
  printf '%s' "$load_rows"
  echo
  echo "A node's figure for one renewal is its relayed counter's growth since the last renewal, and that"
  echo "counter is the worker's as of its last publication (every 0.1 s), so one sample may be off by a"
  echo "tenth of a second's traffic either way (the range); over the window the means agree."
} >>"$BENCH_OUT"
