# A join given several addresses for one server (the nodes of a fleet)
# goes on to the next when one answers nothing: the first address here is
# a relay into a port nobody listens on, the second the server. With no
# address answering, the join fails once, at its one deadline, naming the
# last address tried.
source "$(dirname "$0")/lib.sh"

start server server --port 0 --json
port=$(port_of server)
start_netem void --listen 0 --to 127.0.0.1:1
void=$(port_of void)

start player join "127.0.0.1:$void,127.0.0.1:$port" --name player "${NOAUDIO[@]}" --duration 6
wait_for player '"event":"connected","id":2,"name":"player"' 5
expect_exit player 0 10
[ "$(count player '"event":"connection_failed"')" -eq 0 ] || fail "the join failed although the second address answered"

start_netem void2 --listen 0 --to 127.0.0.1:1
void2=$(port_of void2)
start nobody join "127.0.0.1:$void,127.0.0.1:$void2" --name nobody "${NOAUDIO[@]}" --duration 15
expect_exit nobody 3 12
wait_for nobody "\"event\":\"connection_failed\",\"reason\":\"timed out joining 127.0.0.1:[0-9]+ \\(no gvoip server answered there, nor at the other addresses given\\)\"" 1
[ "$(count nobody '"event":"connection_failed"')" -eq 1 ] || fail "the failure was told more than once"
echo "PASS"
