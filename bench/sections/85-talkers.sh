#!/usr/bin/env bash
# The loudest-talkers limit: what a listener is sent at 128 players with 16
# talking continuously, with the limit off (--max-talkers 0) and at its
# default (6), in the same run.
set -euo pipefail
. "$BENCH_SRC/bench/lib.sh"
cd "$BENCH_WORK"

seconds=10
[ "$BENCH_QUICK" = 1 ] && seconds=2
field() { tr ',{}' '\n\n\n' <"$1" | sed -n "s/^\"$2\":\(.*\)$/\1/p" | head -n 1; }

rows=""
for limit in 0 6; do
  bg srv.out srv.err "$GVOIP" server --port 0 --max-players 256 --max-lobbies 1 --max-talkers "$limit" --json --stats "srv-$limit.json"
  srv=$BG_PID
  port=$(wait_port srv.out)
  "$LOAD" --server "127.0.0.1:$port" --players 128 --speakers 16 --duration "$seconds" --continuous >"load-$limit.json"
  kill -INT "$srv"
  wait "$srv" || true
  relayed=$(field "srv-$limit.json" relayed_packets)
  bytes=$(field "srv-$limit.json" bytes_out)
  limited=$(field "srv-$limit.json" talkers_limited)
  rows+=$(awk -v l="$limit" -v r="$relayed" -v b="$bytes" -v h="$limited" -v s="$seconds" -v f="$(field "load-$limit.json" forward_rate_mean)" \
    'BEGIN { printf "| %s | %s | %.0f | %.1f | %s |\n", l == 0 ? "off (0)" : l, f, r / 128 / s, b * 8 / 128 / s / 1000, h }')
  rows+=$'\n'
done

{
  echo
  echo "## Loudest talkers: what a listener is sent"
  echo
  echo "Each row: a fresh \`gvoip server --max-players 256 --max-lobbies 1 --max-talkers N\` and"
  echo "\`gvoip-load --players 128 --speakers 16 --duration $seconds --continuous\` (20 ms packets of"
  echo "60 bytes, every speaker equally loud, so the first six to speak keep their places)."
  echo "Per listener: the server's relayed packets and bytes sent (\`--stats\`, over the server's"
  echo "whole life, joins included) divided by the 128 listeners and the $seconds s of talk."
  echo
  echo "| max talkers | forwarded/s (load) | packets/s per listener | kbit/s per listener (all server traffic) | held back |"
  echo "|---|---:|---:|---:|---:|"
  printf '%s' "$rows"
} >>"$BENCH_OUT"
