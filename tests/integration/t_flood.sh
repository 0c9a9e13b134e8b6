# Hostile lobby members, measured with gvoip-load: a player flooding at 20
# times its voice budget is removed for "flooding" while eight others keep
# their loss and latency; players sending malformed messages, VOICE_RELAY
# in another's name or voice datagrams under another's receiver index are
# dropped, counted, and never heard as anyone.
source "$(dirname "$0")/lib.sh"

LOAD="${GVOIP_BUILD_DIR:?}/tools/load/gvoip-load"
[ -x "$LOAD" ] || fail "gvoip-load is not built ($LOAD)"

# val FILE KEY [OBJECT]: the first value of "KEY" in FILE's JSON, or the
# one inside "OBJECT":{...} when given.
val() {
  local text
  text=$(cat "$1")
  [ $# -lt 3 ] || text=$(grep -o "\"$3\":{[^}]*}" <<<"$text" | head -n 1)
  tr ',{}' '\n\n\n' <<<"$text" | sed -n "s/^\"$2\":\(.*\)$/\1/p" | head -n 1
}
within() { # within A B LIMIT: A - B <= LIMIT
  awk -v a="$1" -v b="$2" -v l="$3" 'BEGIN { exit !(a - b <= l) }'
}

start server server --port 0 --max-players 32 --max-talkers 0 --json --stats "$TMP/server-stats.json"
port=$(port_of server)
common=(--server "127.0.0.1:$port" --players 8 --speakers 8 --duration 4 --seed 7 --continuous)

"$LOAD" "${common[@]}" >"$TMP/base.out" 2>"$TMP/base.err" || fail "baseline run failed"
"$LOAD" "${common[@]}" --flood-factor 20 >"$TMP/flood.out" 2>"$TMP/flood.err" || fail "flood run failed"
"$LOAD" "${common[@]}" --duration 3 --malformed --impersonate >"$TMP/hostile.out" 2>"$TMP/hostile.err" ||
  fail "hostile run failed"
kill -INT "$(pid_of server)"
expect_exit server 0

for run in base flood hostile; do
  [ "$(val "$TMP/$run.out" joined)" = 8 ] || fail "$run: not all 8 players joined"
  [ "$(val "$TMP/$run.out" removed)" = 0 ] || fail "$run: a normal player was removed"
  [ "$(val "$TMP/$run.out" received)" -gt 0 ] || fail "$run: nothing was relayed"
done
base_loss=$(val "$TMP/base.out" loss_pct)
base_p95=$(val "$TMP/base.out" p95)
within "$base_loss" 0 1 || fail "baseline already loses $base_loss%"

# The flooder: removed for flooding, and only its budget got through
# before that (67 packets a second for 20 ms frames, at most three windows
# to each of 8 players; a flat 130/s budget would let 390 through).
[ "$(val "$TMP/flood.out" removed flood)" = true ] || fail "the flooder was not removed"
[ "$(val "$TMP/flood.out" reason flood)" = '"flooding"' ] || fail "the flooder was removed for another reason"
wait_for server '"event":"player_disconnected","id":[0-9]+,"name":"flooder","reason":"flooding"'
within "$(val "$TMP/flood.out" removed_after_s flood)" 0 3.5 || fail "the flooder was removed only after $(val "$TMP/flood.out" removed_after_s flood) s"
relayed=$(val "$TMP/flood.out" relayed flood)
[ "$relayed" -gt 0 ] && [ "$relayed" -le $((8 * 3 * 68)) ] || fail "the flooder got $relayed packets relayed"
flood_loss=$(val "$TMP/flood.out" loss_pct)
flood_p95=$(val "$TMP/flood.out" p95)
within "$flood_loss" "$base_loss" 1 || fail "loss under flood $flood_loss% against $base_loss% without"
within "$flood_p95" "$base_p95" 5 || fail "latency p95 under flood $flood_p95 ms against $base_p95 ms without"

# Malformed and impersonating players: dropped with a protocol error,
# counted by the server, and nothing they sent was heard as anyone.
[ "$(val "$TMP/hostile.out" impostor_received)" = 0 ] || fail "a VOICE_RELAY from a client was relayed"
[ "$(val "$TMP/hostile.out" removed malformed)" = true ] || fail "the malformed player was not removed"
[ "$(val "$TMP/hostile.out" refuse_code malformed)" = 7 ] || fail "the malformed player was removed with another code"
[ "$(val "$TMP/hostile.out" removed impersonator)" = true ] || fail "the impersonator was not removed"
[ "$(val "$TMP/hostile.out" refuse_code long_name)" = 3 ] || fail "a 200-byte name was not refused as a bad name"
wait_for server '"name":"rogue","reason":"protocol error"'
wait_for server '"name":"impostor","reason":"protocol error"'
within "$(val "$TMP/hostile.out" loss_pct)" "$base_loss" 1 || fail "others lost $(val "$TMP/hostile.out" loss_pct)% next to hostile players"
malformed=$(val "$TMP/server-stats.json" malformed)
[ "$malformed" -ge 32 ] || fail "the server counted $malformed malformed messages, expected at least 32"
[ "$(val "$TMP/server-stats.json" over_budget)" -gt 0 ] || fail "the server counted no over-budget messages"
# The impostor's voice datagrams under a neighbour's receiver index cannot
# carry that player's tag: counted, and charged to nobody (no normal
# player was removed, above).
[ "$(val "$TMP/server-stats.json" auth_failed)" -gt 0 ] || fail "forged voice datagrams were not counted"

echo "flood: loss $base_loss% -> $flood_loss%, p95 $base_p95 -> $flood_p95 ms, flooder removed after" \
  "$(val "$TMP/flood.out" removed_after_s flood) s; server counted $malformed malformed"
echo "PASS"
