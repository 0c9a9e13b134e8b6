# A server killed under its clients (no goodbye): they notice, say so and
# exit with 4. A join to nothing fails with 3.
source "$(dirname "$0")/lib.sh"

start server server --port 0 --json
port=$(port_of server)
start a join "127.0.0.1:$port" --name alice "${NOAUDIO[@]}"
wait_for a '"event":"connected"'
start b join "127.0.0.1:$port" --name bob "${NOAUDIO[@]}"
wait_for a '"event":"player_connected","id":3,"name":"bob"'
wait_for b '"event":"connected"'
kill -9 "$(pid_of server)"
wait_for a '"event":"server_disconnected"' 15
wait_for b '"event":"server_disconnected"' 15
expect_exit a 4
expect_exit b 4

start nobody join "127.0.0.1:$port" --name lonely "${NOAUDIO[@]}"
expect_exit nobody 3 15
wait_for nobody '"event":"connection_failed"'
echo "PASS"
