#!/usr/bin/env bash
# One server on every core: the same load (two lobbies of simulated
# players, one gvoip-load per lobby) relayed by `gvoip server --threads 1`
# and `--threads 2`: forwarded packets a second, and server CPU per
# forwarded packet for each worker thread (its utime + stime from
# /proc/PID/task/TID/stat over a window inside the traffic), with the load
# generators' own CPU kept apart. Runs alternate between the two. Three
# relay settings: the defaults (a worker holds voice for a second packet
# from 40,000 relayed a second on: one worker at the whole load does, two
# at half of it each do not), the hold off, and the hold on at both
# (--relay-hold-rate 20000), so that like is compared with like.
set -euo pipefail
. "$BENCH_SRC/bench/lib.sh"
cd "$BENCH_WORK"

players=64 speakers=8 secs=14 skip=4 window=8 reps=2
if [ "$BENCH_QUICK" = 1 ]; then
  players=16 speakers=4 secs=5 skip=2 window=2 reps=1
fi
lobbies=(red blue)
modes=(default off on)
hold_args() {
  case $1 in
    off) echo --relay-hold-us 0 ;;
    on) echo --relay-hold-rate 20000 ;;
  esac
}
mode_label() {
  case $1 in
    default) echo "defaults (hold from 40,000/s per worker)" ;;
    off) echo "\`--relay-hold-us 0\` (no hold)" ;;
    on) echo "\`--relay-hold-rate 20000\` (hold in both)" ;;
  esac
}

# task_ticks PID: "TID ticks" for every thread of PID (utime + stime).
task_ticks() {
  local t stat rest f
  for t in /proc/"$1"/task/*; do
    read -r stat <"$t/stat" 2>/dev/null || continue
    rest=${stat##*) }
    read -r -a f <<<"$rest"
    echo "${t##*/} $((f[11] + f[12]))"
  done
}

# run_one MODE THREADS REP
run_one() {
  local n=$2 d="$BENCH_WORK/$1-t$2-$3" port srv l
  mkdir -p "$d"
  # shellcheck disable=SC2046
  bg "$d/srv.out" "$d/srv.err" "$GVOIP" server --threads "$n" --port 0 --max-players 256 --max-talkers 0 --json \
    --stats "$d/srv.json" $(hold_args "$1")
  srv=$BG_PID
  echo "$srv" >"$d/pid"
  port=$(wait_port "$d/srv.out")
  local loads=()
  for l in "${lobbies[@]}"; do
    bg "$d/$l.json" "$d/$l.err" "$LOAD" --server "127.0.0.1:$port" --lobby "$l" --players "$players" \
      --speakers "$speakers" --duration "$secs" --continuous
    loads+=("$BG_PID")
    # The first lobby is placed before the second asks: one per worker.
    for _ in $(seq 100); do grep -q "\"lobby_opened\",\"lobby\":\"$l\"" "$d/srv.out" && break; sleep 0.05; done
  done
  sleep "$skip"
  task_ticks "$srv" >"$d/ticks0"
  sleep "$window"
  task_ticks "$srv" >"$d/ticks1"
  wait "${loads[@]}"
  kill -TERM "$srv"
  wait "$srv"
}

for m in "${modes[@]}"; do
  for ((r = 1; r <= reps; r++)); do
    for n in 1 2; do
      echo "bench:   $m, --threads $n, run $r" >&2
      run_one "$m" "$n" "$r"
    done
  done
done

# The worker threads are the server's threads but its main one (which only
# waits for a signal), in the order they were created (ascending ids).
: >threads.tsv
for m in "${modes[@]}"; do for ((r = 1; r <= reps; r++)); do
  for n in 1 2; do
    d="$BENCH_WORK/$m-t$n-$r"
    pid=$(cat "$d/pid")
    # Each lobby's forwarded packets a second (what its players received),
    # and the worker that held it: the stats file lists worker 0's lobbies
    # first.
    rate_red=$(calc "$(jnum "$d/red.json" forward_rate_mean)" %.0f)
    rate_blue=$(calc "$(jnum "$d/blue.json" forward_rate_mean)" %.0f)
    load_cpu=$(calc "$(jnum "$d/red.json" load_cpu_s) + $(jnum "$d/blue.json" load_cpu_s)" %.2f)
    loss=$(calc "($(jnum "$d/red.json" loss_pct) + $(jnum "$d/blue.json" loss_pct)) / 2" %.3f)
    i=0
    join -j 1 <(sort "$d/ticks0") <(sort "$d/ticks1") | sort -n >"$d/ticks"
    if [ "$n" = 1 ]; then
      # One thread does everything: the main thread is the worker.
      workers=$(awk -v p="$pid" '$1 == p { print $1, $3 - $2 }' "$d/ticks")
    else
      workers=$(awk -v p="$pid" '$1 != p { print $1, $3 - $2 }' "$d/ticks")
    fi
    while read -r tid ticks; do
      cpu=$(calc "$ticks / $CLK_TCK / $window" %.3f)
      if [ "$n" = 1 ]; then rate=$(calc "$rate_red + $rate_blue" %.0f); else
        lobby=$(grep -o '"lobbies":\[{"name":"[a-z]*"' "$d/srv.json" | head -n 1 | sed 's/.*"name":"//;s/"//')
        if [ "$i" = 0 ]; then
          [ "$lobby" = red ] && rate=$rate_red || rate=$rate_blue
        else
          [ "$lobby" = red ] && rate=$rate_blue || rate=$rate_red
        fi
      fi
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$r" "$i" "$rate" "$cpu" \
        "$(calc "1e6 * $cpu / $rate" %.2f)" "$load_cpu" "$loss" "$m" >>threads.tsv
      i=$((i + 1))
    done <<<"$workers"
  done
done; done
# mean COLUMN THREADS MODE: over runs and workers.
mean() { awk -F'\t' -v c="$1" -v n="$2" -v m="$3" '$1 == n && $9 == m { s += $c; k++ }
  END { printf "%.2f", k ? s / k : 0 }' threads.tsv; }
# total THREADS MODE: forwarded a second by all workers, mean over runs.
total() { awk -F'\t' -v n="$1" -v m="$2" -v reps="$reps" '$1 == n && $9 == m { s += $4 } END { printf "%.0f", s / reps }' threads.tsv; }

{
  echo "## One server on every core (\`--threads\`)"
  echo
  echo "The same load relayed by one worker and by two: ${#lobbies[@]} lobbies (\`--lobby red\`, \`--lobby blue\`),"
  echo "each of $players simulated players with $speakers talking continuously (60-byte packets every 20 ms,"
  echo "every packet sent to the $((players - 1)) others), no talker limit. With \`--threads 2\` red's first join"
  echo "places it on worker 0 and blue on worker 1 (the one without players), whose joins are redirected"
  echo "to its port. Per worker: its thread's utime + stime (\`/proc/PID/task/TID/stat\`) over ${window} s"
  echo "inside the traffic (from ${skip} s after the second lobby's first join), against the packets its"
  echo "lobbies' players received a second (gvoip-load's \`forward_rate_mean\`). With \`--threads 1\` the"
  echo "main thread is the one worker; with 2, the main thread only waits for a signal (its CPU is left"
  echo "out; it is nil). The two load generators' own CPU (\`load_cpu_s\`, over their whole run) is"
  echo "apart. $(nproc) logical CPUs: server workers and load generators share them."
  echo
  echo '```'
  echo "gvoip server --threads 1|2 --port 0 --max-players 256 --max-talkers 0 --json --stats srv.json [--relay-hold-us 0 | --relay-hold-rate 20000]"
  echo "gvoip-load --server 127.0.0.1:PORT --lobby red|blue --players $players --speakers $speakers --duration $secs --continuous   # one per lobby"
  echo '```'
  echo
  echo "| relay hold | threads | run | worker | forwarded/s | worker CPU (cores) | us CPU / fwd | load generators' CPU s | loss % |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
  while IFS=$'\t' read -r n r i rate cpu per lcpu loss m; do
    echo "| $m | $n | $r | $i | $rate | $cpu | $per | $lcpu | $loss |"
  done <threads.tsv
  echo
  echo "| relay hold | forwarded/s (all workers) | us CPU / fwd, 1 worker | us CPU / fwd per worker, 2 workers | 2 against 1 | target <= 1.1x |"
  echo "|---|---:|---:|---:|---:|---|"
  for m in "${modes[@]}"; do
    one=$(mean 6 1 "$m")
    two=$(mean 6 2 "$m")
    ratio=$(calc "$two / $one" %.2f)
    echo "| $(mode_label "$m") | $(total 2 "$m") | $one | $two | ${ratio}x | $([ "$(calc "$ratio <= 1.1" %d)" = 1 ] && echo "**met**" || echo "**missed**") |"
  done
  echo
  echo "With the defaults one worker relaying both lobbies (50,400 packets a second at full size) is past"
  echo "\`--relay-hold-rate\`'s 40,000 and holds voice for a second packet, which saves it system calls;"
  echo "two workers at half the rate each are not, and do not (each has a core to spare: holding would"
  echo "only add latency). Compared at the same relay setting, the second worker's cost is the threading's."
  echo
} >>"$BENCH_OUT"
