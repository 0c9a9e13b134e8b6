#!/usr/bin/env bash
# One server on every core: the same load (two lobbies of simulated
# players, one gvoip-load per lobby) relayed by `gvoip server --threads 1`
# and `--threads 2`: forwarded packets a second, and server CPU per
# forwarded packet for each worker thread (its utime + stime from
# /proc/PID/task/TID/stat over a window inside the traffic), with the load
# generators' own CPU kept apart. Runs alternate between the two.
set -euo pipefail
. "$BENCH_SRC/bench/lib.sh"
cd "$BENCH_WORK"

players=64 speakers=8 secs=14 skip=4 window=8 reps=2
if [ "$BENCH_QUICK" = 1 ]; then
  players=16 speakers=4 secs=5 skip=2 window=2 reps=1
fi
lobbies=(red blue)

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

# run_one THREADS REP
run_one() {
  local n=$1 d="$BENCH_WORK/t$1-$2" port srv l
  mkdir -p "$d"
  bg "$d/srv.out" "$d/srv.err" "$GVOIP" server --threads "$n" --port 0 --max-players 256 --max-talkers 0 --json \
    --stats "$d/srv.json"
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

for ((r = 1; r <= reps; r++)); do
  for n in 1 2; do
    echo "bench:   --threads $n, run $r" >&2
    run_one "$n" "$r"
  done
done

# The worker threads are the server's threads but its main one (which only
# waits for a signal), in the order they were created (ascending ids).
: >threads.tsv
for ((r = 1; r <= reps; r++)); do
  for n in 1 2; do
    d="$BENCH_WORK/t$n-$r"
    pid=$(cat "$d/pid")
    # Each lobby's forwarded packets a second (what its players received),
    # and the worker that held it: the stats file lists worker 0's lobbies
    # first.
    rate_red=$(jnum "$d/red.json" forward_rate_mean)
    rate_blue=$(jnum "$d/blue.json" forward_rate_mean)
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
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$r" "$i" "$rate" "$cpu" \
        "$(calc "1e6 * $cpu / $rate" %.2f)" "$load_cpu" "$loss" >>threads.tsv
      i=$((i + 1))
    done <<<"$workers"
  done
done
# mean COLUMN THREADS: over runs and workers.
mean() { awk -F'\t' -v c="$1" -v n="$2" '$1 == n { s += $c; k++ } END { printf "%.2f", k ? s / k : 0 }' threads.tsv; }
# total THREADS: forwarded a second by all workers, mean over runs.
total() { awk -F'\t' -v n="$1" -v reps="$reps" '$1 == n { s += $4 } END { printf "%.0f", s / reps }' threads.tsv; }

one=$(mean 6 1)
two=$(mean 6 2)
ratio=$(calc "$two / $one" %.2f)
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
  echo "gvoip server --threads 1|2 --port 0 --max-players 256 --max-talkers 0 --json --stats srv.json"
  echo "gvoip-load --server 127.0.0.1:PORT --lobby red|blue --players $players --speakers $speakers --duration $secs --continuous   # one per lobby"
  echo '```'
  echo
  echo "| threads | run | worker | forwarded/s | worker CPU (cores) | us CPU / fwd | load generators' CPU s | loss % |"
  echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
  while IFS=$'\t' read -r n r i rate cpu per lcpu loss; do
    echo "| $n | $r | $i | $rate | $cpu | $per | $lcpu | $loss |"
  done <threads.tsv
  echo
  echo "| threads | forwarded/s (all workers) | us CPU / fwd per worker (mean) | against one worker | target <= 1.1x |"
  echo "|---:|---:|---:|---:|---|"
  echo "| 1 | $(total 1) | $one | 1.00x | |"
  echo "| 2 | $(total 2) | $two | ${ratio}x | $([ "$(calc "$ratio <= 1.1" %d)" = 1 ] && echo "**met**" || echo "**missed**") |"
  echo
} >>"$BENCH_OUT"
