# A server killed under its clients (no goodbye) that never comes back: a
# second later they say the connection is interrupted; from two seconds on
# they try to connect anew, and when --reconnect-s (4 s here, 120 by
# default) has passed they say the server is gone and exit with 4. Without
# reconnecting (--reconnect-s 0) the peer timeout (3 s) ends them. A join
# to nothing fails with 3. A client stopped longer than the server's peer
# timeout and its resume grace (0 here) is dropped.
source "$(dirname "$0")/lib.sh"

start server server --port 0 --json
port=$(port_of server)
start a join "127.0.0.1:$port" --name alice "${NOAUDIO[@]}" --peer-timeout-s 3 --reconnect-s 4
wait_for a '"event":"connected"'
start b join "127.0.0.1:$port" --name bob "${NOAUDIO[@]}" --peer-timeout-s 3 --reconnect-s 0
wait_for a '"event":"player_connected","id":3,"name":"bob"'
wait_for b '"event":"connected"'
kill -9 "$(pid_of server)"
wait_for a '"event":"connection_interrupted"' 5
wait_for a '"event":"server_disconnected"' 15
wait_for b '"event":"server_disconnected"' 15
expect_exit a 4
expect_exit b 4
for c in a b; do
  grep -n '"event":"\(connection_interrupted\|server_disconnected\)"' "$TMP/$c.out" | head -n 1 |
    grep -q connection_interrupted || fail "$c did not say the connection was interrupted before giving up"
done
grep -q '"event":"reconnecting","attempt":2,' "$TMP/a.out" || fail "alice did not try to reconnect (twice)"
grep -q '"event":"server_disconnected","reason":"the server did not come back' "$TMP/a.out" ||
  fail "alice did not say she gave up reconnecting"
grep -q '"event":"reconnecting"' "$TMP/b.out" && fail "bob reconnected with --reconnect-s 0"

# The other way round: a client stopped for longer than the server's
# peer timeout (2 s here) is dropped by it, and the others are told.
start server2 server --port 0 --json --peer-timeout-s 2 --resume-grace-s 0
port2=$(port_of server2)
start c join "127.0.0.1:$port2" --name carol "${NOAUDIO[@]}" --reconnect-s 0
wait_for c '"event":"connected"'
start d join "127.0.0.1:$port2" --name dave "${NOAUDIO[@]}"
wait_for d '"event":"player_connected","id":[0-9]+,"name":"carol"'
kill -STOP "$(pid_of c)"
wait_for server2 '"event":"player_disconnected","id":[0-9]+,"name":"carol"' 8
wait_for d '"event":"player_disconnected","id":[0-9]+,"name":"carol"' 4
kill -9 "$(pid_of c)"
kill -INT "$(pid_of d)"
expect_exit d 0
kill -INT "$(pid_of server2)"
expect_exit server2 0

start nobody join "127.0.0.1:$port" --name lonely "${NOAUDIO[@]}"
expect_exit nobody 3 15
wait_for nobody '"event":"connection_failed"'
echo "PASS"
