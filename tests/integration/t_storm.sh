# Connection floods, measured with gvoip-load on loopback: while 1000
# source addresses (127.0.x.y) open ENet connections and never start the
# handshake, a real player still gets in within 2 seconds (the server
# answers with stateless cookies once half-open connections pile up, and
# the real client retries with its cookie). And the server never sends an
# address that does not answer more bytes than it received from it.
source "$(dirname "$0")/lib.sh"

LOAD="${GVOIP_BUILD_DIR:?}/tools/load/gvoip-load"
[ -x "$LOAD" ] || fail "gvoip-load is not built ($LOAD)"

val() { # val FILE KEY [OBJECT], as in t_flood.sh
  local text
  text=$(cat "$1")
  [ $# -lt 3 ] || text=$(grep -o "\"$3\":{[^}]*}" <<<"$text" | head -n 1)
  tr ',{}' '\n\n\n' <<<"$text" | sed -n "s/^\"$2\":\(.*\)$/\1/p" | head -n 1
}
ms() { echo $(($(date +%s%N) / 1000000)); }

# 1. A storm of half-open connections while a real player joins.
start server server --port 0 --json
port=$(port_of server)
spawn storm "$LOAD" --server "127.0.0.1:$port" --players 0 --storm 1000 --storm-rate 1000 --duration 4
storm_pid=$(pid_of storm)
sleep 1
t0=$(ms)
start real join "127.0.0.1:$port" --name real "${NOAUDIO[@]}" --known-servers "$TMP/known" --duration 1
while ! grep -q '"event":"connected"' "$TMP/real.out" 2>/dev/null; do
  [ $(($(ms) - t0)) -lt 5000 ] || break
  sleep 0.02
done
took=$(($(ms) - t0))
grep -q '"event":"connected"' "$TMP/real.out" || fail "the real player did not get in during the storm"
[ "$took" -le 2000 ] || fail "the real player took $took ms to get in during the storm"
expect_exit real 0 5
wait "$storm_pid" || fail "the storm run failed"
[ "$(val "$TMP/storm.out" attempts storm)" -ge 1000 ] || fail "the storm made too few attempts"
[ "$(val "$TMP/storm.out" cookies storm)" -gt 0 ] || fail "the server never answered with a cookie"
wait_for server '"event":"player_connected","id":[0-9]+,"name":"real"'
kill -INT "$(pid_of server)"
expect_exit server 0

# 2. CONNECTs that never get answered, below the cookie threshold: ENet
# answers each with one VERIFY_CONNECT (52 bytes for 56) and drops the
# peer instead of repeating it.
start quiet server --port 0 --json --stats "$TMP/quiet-stats.json"
port=$(port_of quiet)
"$LOAD" --server "127.0.0.1:$port" --players 0 --storm 100 --storm-rate 5 --storm-mode connect --duration 3 \
  >"$TMP/quiet-storm.out" 2>"$TMP/quiet-storm.err" || fail "the quiet storm run failed"
kill -INT "$(pid_of quiet)"
expect_exit quiet 0
in=$(val "$TMP/quiet-stats.json" bytes_in)
out=$(val "$TMP/quiet-stats.json" bytes_out)
[ "$in" -gt 0 ] && [ "$out" -le "$in" ] || fail "unanswered CONNECTs: $in bytes in, $out bytes out"

# 3. The same at a rate that keeps the server under load: cookies, 12 bytes
# each, answer what is not let through.
start busy server --port 0 --json --stats "$TMP/busy-stats.json"
port=$(port_of busy)
"$LOAD" --server "127.0.0.1:$port" --players 0 --storm 1000 --storm-rate 2000 --storm-mode connect --duration 2 \
  >"$TMP/busy-storm.out" 2>"$TMP/busy-storm.err" || fail "the busy storm run failed"
kill -INT "$(pid_of busy)"
expect_exit busy 0
[ "$(val "$TMP/busy-storm.out" cookies storm)" -gt 0 ] || fail "no cookies under a connect storm"
busy_in=$(val "$TMP/busy-stats.json" bytes_in)
busy_out=$(val "$TMP/busy-stats.json" bytes_out)
[ "$busy_out" -le "$busy_in" ] || fail "connect storm: $busy_in bytes in, $busy_out bytes out"

echo "storm: real player in after $took ms; unanswered CONNECTs $in -> $out bytes; under load $busy_in -> $busy_out bytes"
echo "PASS"
