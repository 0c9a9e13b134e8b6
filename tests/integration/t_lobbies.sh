# Many lobbies in one server, measured with gvoip-load: 200 players in 50
# lobbies of 4 (--max-players 4), two talking in each, every player from a
# loopback address of its own. Every player joins; no voice reaches another
# lobby (each packet carries its sender's lobby); each lobby loses under 1%
# of what its own talkers sent; the server opened 50 lobbies and its
# --stats lists each with its 4 players. Then a 51st lobby against
# --max-lobbies 50: the players of whichever lobby comes last (joins race,
# on two workers too) are refused, and gvoip-load says so.
source "$(dirname "$0")/lib.sh"

LOAD="${GVOIP_BUILD_DIR:?}/tools/load/gvoip-load"
[ -x "$LOAD" ] || fail "gvoip-load is not built ($LOAD)"

# num FILE KEY: the first number after "KEY":; list FILE KEY: the numbers
# of the array "KEY":[...], one a line.
num() { grep -o "\"$2\":-\?[0-9.]*" "$1" | head -n 1 | cut -d: -f2; }
list() { grep -o "\"$2\":\[[^]]*\]" "$1" | head -n 1 | sed 's/.*\[//; s/\]//' | tr ',' '\n'; }
below() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }

# Every talker relayed to every listener of its lobby (--max-talkers 0),
# so that what is not heard is lost.
start server server --port 0 --max-lobbies 50 --max-players 4 --max-talkers 0 --json --stats "$TMP/server.json"
port=$(port_of server)
"$LOAD" --server "127.0.0.1:$port" --lobbies 50 --players 200 --speakers 100 --duration 10 --seed 5 \
  --source-addresses --join-timeout 30 >"$TMP/load.out" 2>"$TMP/load.err" || fail "the run failed (exit $?)"
kill -INT "$(pid_of server)"
expect_exit server 0

l="$TMP/load.out"
echo "200 players in 50 lobbies: joined $(num "$l" joined) in $(num "$l" join_s) s; sent $(num "$l" sent)," \
  "received $(num "$l" received) of $(num "$l" expected), loss $(num "$l" loss_pct)% (worst lobby" \
  "$(num "$l" worst_lobby_loss_pct)%), latency p50 $(num "$l" p50) ms, foreign $(num "$l" foreign_packets)"
[ "$(num "$l" joined)" = 200 ] || fail "$(num "$l" joined) of 200 players joined"
[ "$(num "$l" removed)" = 0 ] || fail "the server removed $(num "$l" removed) players"
[ "$(num "$l" foreign_packets)" = 0 ] || fail "$(num "$l" foreign_packets) voice packets reached another lobby"
[ "$(num "$l" roster_ok)" = 200 ] || fail "only $(num "$l" roster_ok) players' rosters list exactly their lobby"
# A packet is expected by the 3 others of its lobby, not by all 199.
sent=$(num "$l" sent) expected=$(num "$l" expected)
[ "$sent" -gt 0 ] || fail "nothing was sent"
[ "$expected" = $((sent * 3)) ] || fail "$expected packets expected, $((sent * 3)) for lobbies of 4"
[ "$(list "$l" lobby_loss_pct | wc -l)" = 50 ] || fail "the report does not give 50 lobbies' loss"
while read -r loss; do
  below "$loss" 1 || fail "a lobby lost $loss% of its voice"
done < <(list "$l" lobby_loss_pct)

opened=$(count server '"event":"lobby_opened"')
[ "$opened" = 50 ] || fail "the server opened $opened lobbies, expected 50"
for i in $(seq 0 49); do
  grep -q "\"event\":\"lobby_opened\",\"lobby\":\"load-$i\"" "$TMP/server.out" || fail "lobby load-$i was not opened"
done
# The --stats file, written at exit: the players have left by then, and the
# lobbies linger (30 s by default), each having admitted its 4.
s="$TMP/server.json"
lobbies=$(grep -o '{"name":"load-[0-9]*"[^}]*}' "$s" || true)
[ "$(grep -c . <<<"$lobbies")" = 50 ] || fail "--stats lists $(grep -c . <<<"$lobbies") lobbies, expected 50"
[ "$(grep -c '"joined":4,' <<<"$lobbies")" = 50 ] || fail "not every lobby in --stats admitted 4 players"
[ "$(grep -c '"max_players":4,' <<<"$lobbies")" = 50 ] || fail "not every lobby in --stats holds 4 players"
[ "$(num "$s" lobbies_opened)" = 50 ] || fail "--stats counts $(num "$s" lobbies_opened) lobbies opened"

# The negative: one lobby more than the server may open. Its players are
# refused (code 13) and the run ends without traffic.
start server2 server --port 0 --max-lobbies 50 --max-players 4 --max-talkers 0 --json
port=$(port_of server2)
rc=0
"$LOAD" --server "127.0.0.1:$port" --lobbies 51 --players 204 --speakers 0 --duration 1 --source-addresses \
  --join-timeout 20 >"$TMP/over.out" 2>"$TMP/over.err" || rc=$?
kill -INT "$(pid_of server2)"
expect_exit server2 0
echo "51 lobbies against --max-lobbies 50: gvoip-load exit $rc, $(head -n 1 "$TMP/over.err")"
[ "$rc" != 0 ] || fail "51 lobbies joined a server that may open 50"
grep -Eq '\(lobby "load-[0-9]+"\) could not join.*\(refused, code 13\)' "$TMP/over.err" ||
  fail "gvoip-load did not say that a lobby was refused"
[ "$(count server2 '"event":"lobby_opened"')" = 50 ] || fail "server2 opened $(count server2 '"event":"lobby_opened"') lobbies"
echo "PASS"
