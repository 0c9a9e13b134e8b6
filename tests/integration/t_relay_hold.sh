# The busy relay's hold, forced on at any rate (--relay-hold-rate 0): each
# voice packet waits up to 2 ms for another, so listeners get fewer
# datagrams for the same relayed packets, nothing is lost, and the wait
# stays bounded. The same load with the hold off (--relay-hold-us 0) is the
# comparison. Simulated players (gvoip-load): 16 in the lobby, 4 talking.
source "$(dirname "$0")/lib.sh"
load="$GVOIP_BUILD_DIR/tools/load/gvoip-load"

num() { tr ',{}' '\n\n\n' <"$1" | sed -n "s/^\"$2\":\(.*\)$/\1/p" | head -n 1; }

for hold in 0 2000; do
  start "srv$hold" server --port 0 --json --relay-hold-us "$hold" --relay-hold-rate 0 --stats "$TMP/srv$hold.json"
  port=$(port_of "srv$hold")
  "$load" --server "127.0.0.1:$port" --players 16 --speakers 4 --duration 4 --continuous >"$TMP/load$hold.json" ||
    fail "gvoip-load failed"
  kill -INT "$(pid_of "srv$hold")"
  expect_exit "srv$hold" 0
  relayed=$(num "$TMP/srv$hold.json" relayed_packets)
  datagrams=$(num "$TMP/srv$hold.json" datagrams_out)
  loss=$(num "$TMP/load$hold.json" loss_pct)
  p50=$(num "$TMP/load$hold.json" p50)
  p95=$(num "$TMP/load$hold.json" p95)
  echo "hold ${hold} us: $relayed relayed in $datagrams datagrams, loss $loss%, latency p50 $p50 / p95 $p95 ms"
  eval "relayed_$hold=$relayed datagrams_$hold=$datagrams loss_$hold=$loss p50_$hold=$p50"
done

[ "$relayed_2000" -gt 10000 ] || fail "only $relayed_2000 packets relayed with the hold"
awk -v a="$loss_0" -v b="$loss_2000" 'BEGIN { exit !(a == 0 && b == 0) }' || fail "loss: $loss_0% without the hold, $loss_2000% with it"
[ "$datagrams_2000" -lt $((datagrams_0 * 9 / 10)) ] ||
  fail "the hold sent $datagrams_2000 datagrams against $datagrams_0 without it: nothing shared"
# The hold adds at most its 2 ms (plus scheduling) to the median.
awk -v a="$p50_0" -v b="$p50_2000" 'BEGIN { exit !(b <= a + 3.0) }' || fail "the hold added $p50_0 -> $p50_2000 ms"
echo "PASS"
