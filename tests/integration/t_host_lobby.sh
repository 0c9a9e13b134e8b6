# A listen server is also player 1; two joins see it and each other.
source "$(dirname "$0")/lib.sh"

start host host --port 0 --name hostess "${NOAUDIO[@]}"
port=$(port_of host)
wait_for host '"event":"connected","id":1,"name":"hostess"'
start a join "127.0.0.1:$port" --name alice "${NOAUDIO[@]}"
wait_for a '"event":"connected","id":2,"name":"alice"'
wait_for a '"event":"player_connected","id":1,"name":"hostess"'
start b join "127.0.0.1:$port" --name bob "${NOAUDIO[@]}"
wait_for b '"event":"player_connected","id":1,"name":"hostess"'
wait_for b '"event":"player_connected","id":2,"name":"alice"'
wait_for host '"event":"player_connected","id":2,"name":"alice"'
wait_for host '"event":"player_connected","id":3,"name":"bob"'
wait_for a '"event":"player_connected","id":3,"name":"bob"'
# The host's own server events are not printed twice.
[ "$(count host '"event":"player_connected","id":2')" -eq 1 ] || fail "host printed alice twice"

kill -TERM "$(pid_of host)"
expect_exit host 0
wait_for a '"event":"server_disconnected"' 3
wait_for b '"event":"server_disconnected"' 3
expect_exit a 4
expect_exit b 4
echo "PASS"
