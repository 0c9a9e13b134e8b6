#!/usr/bin/env bash
# Many lobbies in one server: 200 lobbies of 8 players, 2 talking in each,
# every player from a loopback address of its own; what the server
# forwards, its CPU per forwarded packet, and the players' loss and latency.
# Rows: the talkers talking all the time, and in spurts (half the time),
# on one worker thread and on two.
set -euo pipefail
. "$BENCH_SRC/bench/lib.sh"
cd "$BENCH_WORK"

lobbies=200 size=8 talking=2
seconds=30
[ "$BENCH_QUICK" = 1 ] && seconds=5
players=$((lobbies * size)) speakers=$((lobbies * talking))
# top FILE KEY: the first number after "KEY": (the server's own figure in
# its --stats file, where each lobby repeats the key). jnum's head would
# leave grep writing into a closed pipe, which pipefail makes a failure.
top() { grep -o "\"$2\":-\?[0-9.]*" "$1" | sed -n '1s/.*://p'; }

# run NAME THREADS LOAD-OPTIONS...: a fresh server, its CPU watched over
# its life.
run() {
  local name=$1 threads=$2 srv w port
  shift 2
  bg "$name-srv.out" "$name-srv.err" "$GVOIP" server --port 0 --threads "$threads" --max-lobbies "$lobbies" \
    --max-players "$size" --max-talkers 0 --json --stats "$name-srv.json"
  srv=$BG_PID
  bg /dev/null /dev/null cpu_watch "$srv" "$name-srv.cpu"
  w=$BG_PID
  port=$(wait_port "$name-srv.out")
  "$LOAD" --server "127.0.0.1:$port" --lobbies "$lobbies" --players "$players" --speakers "$speakers" \
    --duration "$seconds" --source-addresses --server-pid "$srv" "$@" >"$name-load.json" 2>"$name-load.err"
  kill -INT "$srv"
  wait "$srv" "$w"
  [ "$(top "$name-srv.json" lobbies_opened)" = "$lobbies" ] ||
    { echo "bench: $name: the server opened $(top "$name-srv.json" lobbies_opened) lobbies" >&2; return 1; }
}

rows=""
for threads in 1 2; do
for mode in continuous spurts; do
  echo "bench:   $lobbies lobbies of $size, $talking talking ($mode), $threads worker(s)" >&2
  name="$mode-$threads"
  if [ "$mode" = continuous ]; then run "$name" "$threads" --continuous; else run "$name" "$threads"; fi
  l="$name-load.json"
  read -r cpu _ <"$name-srv.cpu"
  relayed=$(top "$name-srv.json" relayed_packets)
  rows+="| $mode | $threads | $(jnum "$l" joined) | $(jnum "$l" join_s) | $(jnum "$l" forward_rate_mean) |"
  rows+=" $(jnum "$l" server_cpu_us_per_forwarded) | $(calc "1e6 * $cpu / $relayed") |"
  rows+=" $(jnum "$l" loss_pct) | $(jnum "$l" worst_lobby_loss_pct) | $(jsub "$l" latency_ms p50) / $(jsub "$l" latency_ms p95) / $(jsub "$l" latency_ms p99) |"
  rows+=" $(jnum "$l" foreign_packets) | $(jnum "$l" load_cpu_s) |"
  rows+=$'\n'
done
done

{
  echo
  echo "## Many lobbies in one server"
  echo
  echo "One \`gvoip server\` holding $lobbies lobbies of $size players ($players in all), $talking talking in each"
  echo "($speakers talkers); every talker relayed to the other $((size - 1)) of its lobby (\`--max-talkers 0\`), never"
  echo "beyond it. Each row is a fresh server:"
  echo
  echo '```'
  echo "gvoip server --port 0 --threads 1|2 --max-lobbies $lobbies --max-players $size --max-talkers 0 --json --stats srv.json"
  echo "gvoip-load --server 127.0.0.1:PORT --lobbies $lobbies --players $players --speakers $speakers --duration $seconds \\"
  echo "  --source-addresses --server-pid PID [--continuous]"
  echo '```'
  echo
  echo "20 ms fake Opus packets of 60 bytes, loss reports on; *continuous*: the talkers send all the time"
  echo "($((speakers * 50 * (size - 1))) forwards a second expected); *spurts*: they talk and pause 1.5 s on average."
  echo "Every player joins from a loopback address of its own, so the server's limits per address see one"
  echo "player each. Each packet carries its sender's lobby; *foreign* counts packets a player heard from"
  echo "another lobby (gvoip-load fails the run on any). *us CPU / fwd (window)*: the server's utime + stime"
  echo "from \`/proc/PID/stat\` over the $seconds s of traffic / the packets the players received; *(life)*: over its"
  echo "whole life (the $players joins included) / \`relayed_packets\` from \`--stats\`. Loss is of what each"
  echo "player's own lobby sent; the worst lobby's is beside the total. The server, the load generator"
  echo "(one thread servicing $players sockets; its CPU in the last column) and the kernel's loopback work share"
  echo "the machine's $(nproc) CPUs: loss and latency at the top rate say as much about the machine as the server."
  echo "With two workers the lobbies are spread over both (fewest players first), each player redirected"
  echo "to its lobby's worker if it arrived at the other (one more handshake, in *join s*); the CPU columns"
  echo "are the whole process's, both workers together."
  echo
  echo "| talkers | workers | joined | join s | forwarded/s | us CPU / fwd (window) | us CPU / fwd (life) | loss % | worst lobby loss % | latency p50 / p95 / p99 ms | foreign | load generator CPU s |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|"
  printf '%s' "$rows"
} >>"$BENCH_OUT"
