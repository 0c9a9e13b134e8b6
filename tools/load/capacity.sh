#!/bin/bash
# Server capacity on loopback: one `gvoip server` process per cell, lobbies
# of 8, 32 and 128 players with 1, 4 and 16 of them talking continuously
# (20 ms packets of 60 bytes), driven by gvoip-load. Prints a Markdown
# table: forwarded packets a second, loss, relay latency as the players
# measured it, and the server's CPU time (utime + stime from /proc) per
# forwarded packet, over the measured window and over the process's life
# (relayed_packets from --stats).
#
# usage: tools/load/capacity.sh [BUILD_DIR] [SECONDS]
set -euo pipefail
build=${1:-build}
seconds=${2:-10}
gvoip="$build/gvoip"
load="$build/tools/load/gvoip-load"
[ -x "$gvoip" ] && [ -x "$load" ] || { echo "build gvoip and gvoip-load in $build first" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export GVOIP_HOME="$tmp/home"

field() { tr ',{}' '\n\n\n' <"$1" | sed -n "s/^\"$2\":\(.*\)$/\1/p" | head -n 1; }
ticks=$(getconf CLK_TCK)

echo "| players | speakers | forwarded/s | loss % | latency p50 / p95 ms | server CPU us/fwd (window) | server CPU us/fwd (life) |"
echo "|---:|---:|---:|---:|---:|---:|---:|"
for players in 8 32 128; do
  for wanted in 1 4 16; do
    speakers=$((wanted < players ? wanted : players))
    [ "$wanted" -le "$players" ] || [ "$wanted" -eq 16 ] || continue
    "$gvoip" server --port 0 --max-players 256 --max-lobbies 1 --max-talkers 0 --json --key "$tmp/server.key" --stats "$tmp/stats.json" \
      >"$tmp/server.out" 2>"$tmp/server.err" &
    spid=$!
    for _ in $(seq 100); do grep -q '"listening"' "$tmp/server.out" && break; sleep 0.05; done
    port=$(sed -n 's/.*"event":"listening","port":\([0-9]*\).*/\1/p' "$tmp/server.out" | head -n 1)
    "$load" --server "127.0.0.1:$port" --server-pid "$spid" --players "$players" --speakers "$speakers" \
      --duration "$seconds" --continuous >"$tmp/load.json"
    read -r utime stime < <(awk '{ sub(/.*\) /, ""); print $12, $13 }' "/proc/$spid/stat")
    kill -INT "$spid"
    wait "$spid"
    life=$(awk -v u="$utime" -v s="$stime" -v t="$ticks" -v n="$(field "$tmp/stats.json" relayed_packets)" \
      'BEGIN { printf "%.2f", n ? (u + s) / t * 1e6 / n : 0 }')
    printf "| %d | %d | %s | %s | %s / %s | %s | %s |\n" "$players" "$speakers" \
      "$(field "$tmp/load.json" forward_rate_mean)" "$(field "$tmp/load.json" loss_pct)" \
      "$(field "$tmp/load.json" p50)" "$(field "$tmp/load.json" p95)" \
      "$(field "$tmp/load.json" server_cpu_us_per_forwarded)" "$life"
  done
done
