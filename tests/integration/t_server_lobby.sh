# A dedicated server with three joins and one leave: everyone gets the
# roster on joining and the events afterwards; the server reports them too.
source "$(dirname "$0")/lib.sh"

start server server --port 0 --json
port=$(port_of server)

start a join "127.0.0.1:$port" --name alice "${NOAUDIO[@]}"
wait_for a '"event":"connected","id":2,"name":"alice"'
start b join "127.0.0.1:$port" --name bob "${NOAUDIO[@]}"
wait_for b '"event":"connected","id":3,"name":"bob"'
wait_for b '"event":"player_connected","id":2,"name":"alice"'
start c join "127.0.0.1:$port" --name carol "${NOAUDIO[@]}" --duration 1.5
wait_for c '"event":"connected","id":4,"name":"carol"'
wait_for c '"event":"player_connected","id":2,"name":"alice"'
wait_for c '"event":"player_connected","id":3,"name":"bob"'
wait_for a '"event":"player_connected","id":3,"name":"bob"'
wait_for a '"event":"player_connected","id":4,"name":"carol"'

expect_exit c 0
wait_for a '"event":"player_disconnected","id":4,"name":"carol"'
wait_for b '"event":"player_disconnected","id":4,"name":"carol"'
wait_for server '"event":"player_disconnected","id":4,"name":"carol"'
[ "$(count server '"event":"player_connected"')" -eq 3 ] || fail "server saw $(count server player_connected) joins"
[ "$(count a '"event":"player_disconnected"')" -eq 1 ] || fail "alice saw an extra leave"
# Nobody is told about themselves.
[ "$(count a '"event":"player_connected","id":2')" -eq 0 ] || fail "alice was announced to herself"

# SIGTERM ends a player cleanly: the others see a leave, not a timeout.
kill -TERM "$(pid_of b)"
expect_exit b 0
wait_for a '"event":"player_disconnected","id":3,"name":"bob"' 3
# A dedicated server going down may be restarting: alice waits for it and
# connects anew (a host ending its lobby ends its players: t_host_lobby).
kill -INT "$(pid_of server)"
expect_exit server 0
wait_for a '"event":"connection_interrupted","reason":"the server is shutting down"' 3
wait_for a '"event":"reconnecting","attempt":1,' 3
grep -q '"event":"server_disconnected"' "$TMP/a.out" && fail "alice gave up at once"
kill -INT "$(pid_of a)"
expect_exit a 0
echo "PASS"
