#!/usr/bin/env bash
# Churn (issue 16): a lobby of 128 simulated players, each from a loopback
# address of its own, where 10,000 times a player leaves and a newcomer
# joins from a fresh address, while 4 of them talk throughout; the
# server's resident memory and open descriptors are sampled every 200
# cycles and must stay flat after the warm-up (the first 10% of cycles).
#
# usage: bench/sections/90-churn.sh OUT.md [BUILD_DIR]
# Appends a Markdown section to OUT.md. BENCH_QUICK=1: 200 cycles in a
# lobby of 32; it only checks that the churn runs.
set -euo pipefail
out=${1:?usage: $0 OUT.md [BUILD_DIR]}
build=$(cd "${2:-${GVOIP_BUILD_DIR:-build}}" && pwd)
gvoip="$build/gvoip"
load="$build/tools/load/gvoip-load"
for b in "$gvoip" "$load"; do
  [ -x "$b" ] || { echo "$0: build $b first" >&2; exit 2; }
done
players=128 speakers=4 cycles=10000 every=200 seed=1
[ "${BENCH_QUICK:-0}" = 1 ] && players=32 cycles=200 every=20
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
export GVOIP_HOME="$tmp/home"
unset GVOIP_PASSWORD

num() { grep -o "\"$2\":-\?[0-9.]*" "$1" | head -n 1 | cut -d: -f2; }
# obj FILE NAME KEY: KEY inside the first "NAME":{...}, before any object nested in it.
obj() { grep -o "\"$2\":{[^{}]*" "$1" | head -n 1 | grep -o "\"$3\":-\?[0-9.]*" | head -n 1 | cut -d: -f2; }

server_args=(server --port 0 --max-players 256 --max-talkers 0 --json --stats "$tmp/server.json")
load_args=(--players "$players" --speakers "$speakers" --continuous --churn "$cycles" --sample-every "$every"
  --seed "$seed")

"$gvoip" "${server_args[@]}" --key "$tmp/server.key" >"$tmp/server.out" 2>"$tmp/server.err" &
srv=$!
pids+=("$srv")
for _ in $(seq 200); do grep -q '"listening"' "$tmp/server.out" && break; sleep 0.05; done
port=$(sed -n 's/.*"event":"listening","port":\([0-9]*\).*/\1/p' "$tmp/server.out" | head -n 1)
[ -n "$port" ] || { echo "$0: the server did not start" >&2; exit 1; }
start=$(date +%s)
"$load" --server "127.0.0.1:$port" "${load_args[@]}" --server-pid "$srv" --server-events "$tmp/server.out" \
  >"$tmp/load.json" 2>"$tmp/load.err" || { cat "$tmp/load.err" >&2; exit 1; }
took=$(($(date +%s) - start))
kill -INT "$srv"
wait "$srv" || true

r="$tmp/load.json"
[ "$(obj "$r" churn done)" = "$cycles" ] || { echo "$0: the churn did not finish" >&2; exit 1; }
# The samples, one per line: cycle t_s joined rss_kb fds server_players server_cpu_s load_rss_kb.
grep -o '"samples":\[.*\]' "$r" | grep -o '{[^{}]*}' |
  awk 'function v(k,   m) { match($0, "\"" k "\":-?[0-9.]+"); m = substr($0, RSTART, RLENGTH); sub(/.*:/, "", m); return m }
       { print v("cycle"), v("t_s"), v("joined"), v("rss_kb"), v("fds"), v("server_players"), v("server_cpu_s"),
           v("load_rss_kb") }' \
  >"$tmp/samples.dat"
warm_cycle=$(obj "$r" warm cycle) rss0=$(obj "$r" warm rss_kb) fds0=$(obj "$r" warm fds)
rss1=$(obj "$r" last rss_kb) fds1=$(obj "$r" last fds) end_players=$(obj "$r" last server_players)
growth=$(num "$r" rss_growth_kb)
bound=$((rss0 / 10 > 2048 ? rss0 / 10 : 2048))
verdict="NOT flat"
[ "$growth" -lt "$bound" ] && [ "$fds1" -le "$fds0" ] && verdict=flat
lobby="NOT back to $players"
[ "$end_players" = "$players" ] && [ "$(num "$r" roster_ok)" = "$players" ] && lobby="back to $players"

{
  echo
  echo "## Churn: $cycles joins and leaves in a lobby of $players"
  echo
  echo "Command: \`bench/sections/90-churn.sh OUT.md $build\`, which runs:"
  echo
  echo '```'
  echo "gvoip ${server_args[*]/#$tmp\//} --key server.key"
  echo "gvoip-load --server 127.0.0.1:SERVER_PORT ${load_args[*]} --server-pid SERVER_PID --server-events server.out"
  echo '```'
  echo
  echo "Machine: ${BENCH_MACHINE:-$(uname -srm), $(nproc) CPUs}; server and load generator share it,"
  echo "and other work ran on it at times."
  echo
  echo "$players simulated players (\`gv_link\`, the library's client connection) join, each bound to a"
  echo "loopback address of its own (127.1.x.y: all of 127.0.0.0/8 is this machine's), so the server's"
  echo "limits per address are not what is measured. Then, $cycles times, a random player who does not talk"
  echo "leaves on purpose (\`gv_link_destroy\`, which tells the server, so its place is freed at once) and a"
  echo "newcomer joins in its place from an address never used before, at most 3 such cycles under way at"
  echo "once; $speakers players talk all the time (20 ms packets of 60 bytes). Every $every completed cycles"
  echo "gvoip-load samples the server's resident memory (VmRSS in /proc/PID/status), its open descriptors"
  echo "(/proc/PID/fd) and its lobby size (its \`player_connected\` minus \`player_disconnected\` events);"
  echo "the last sample is taken once everyone is in again and the lobby has settled (0.5 s). Its own"
  echo "memory is in the last column: every cycle creates and destroys a client connection there."
  echo
  echo "| cycle | s | players (load / server) | server RSS kB | fds | server CPU s | load generator RSS kB |"
  echo "|---:|---:|---:|---:|---:|---:|---:|"
  awk '{ printf "| %d | %.1f | %d / %d | %d | %d | %.2f | %d |\n", $1, $2, $3, $6, $4, $5, $7, $8 }' "$tmp/samples.dat"
  echo
  echo "The $cycles cycles took $(obj "$r" churn seconds) s ($(obj "$r" churn cycles_per_s) a second; $took s with the"
  echo "first joins and the report). Joins: $(obj "$r" joins count) welcomes, $(obj "$r" joins failures) failed attempts"
  echo "($(obj "$r" joins timeouts) timed out), from the first attempt to the welcome p50 $(obj "$r" joins p50_ms) ms,"
  echo "p95 $(obj "$r" joins p95_ms) ms, max $(obj "$r" joins max_ms) ms; leaving (\`gv_link_destroy\`) p50"
  echo "$(obj "$r" leave_ms p50) ms, max $(obj "$r" leave_ms max) ms. The talkers' voice, relayed meanwhile:"
  echo "latency p50 $(obj "$r" latency_ms p50) ms, p99 $(obj "$r" latency_ms p99) ms, max $(obj "$r" latency_ms max) ms;"
  echo "loss among the players who stayed throughout (the talkers, hearing each other) $(num "$r" loss_pct)%."
  echo "At the end the server counted $(num "$tmp/server.json" handshakes) handshakes and, once the load generator"
  echo "had left, $(num "$tmp/server.json" players) players and $(num "$tmp/server.json" away) kept away."
  echo
  echo "Verdict (warm-up: the first $(obj "$r" churn warmup_cycles) cycles):"
  echo
  echo "- memory: server RSS $rss0 kB at cycle $warm_cycle, $rss1 kB at the end ($growth kB; bound: less than"
  echo "  $bound kB, the larger of 2 MB and 10%); descriptors $fds0 then $fds1: **$verdict**."
  echo "- lobby: $end_players players in the server's lobby at the end, $(num "$r" roster_ok) of $players"
  echo "  rosters listing every other player: **$lobby**."
  echo "- the load generator's own memory, $(obj "$r" warm load_rss_kb) kB at cycle $warm_cycle and"
  echo "  $(obj "$r" last load_rss_kb) kB at the end."
} >>"$out"
