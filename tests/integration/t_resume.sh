# A player whose connection the server gave up on resumes it. The server
# drops carol after 2 s of silence (she is stopped for 4 s, through
# gvoip-netem with 150 ms of round trip) but keeps her place: dave hears
# she is reconnecting, not that she left. When she wakes she connects
# anew, presents her resumption secret and gets her id back: dave hears
# she is back, nobody sees a leave or a join, and the server counts one
# resume. Then carol leaves on purpose: gone at once, no grace.
source "$(dirname "$0")/lib.sh"

start server server --port 0 --json --peer-timeout-s 2 --stats "$TMP/server.json"
port=$(port_of server)
start_netem relay --listen 0 --to "127.0.0.1:$port" --delay 75
rport=$(port_of relay)
start carol join "127.0.0.1:$rport" --name carol "${NOAUDIO[@]}"
wait_for carol '"event":"connected","id":2,'
start dave join "127.0.0.1:$port" --name dave "${NOAUDIO[@]}"
wait_for dave '"event":"player_connected","id":2,"name":"carol"'

kill -STOP "$(pid_of carol)"
wait_for server '"event":"player_reconnecting","id":2,"name":"carol"' 6
wait_for dave '"event":"player_reconnecting","id":2,"name":"carol"' 3
sleep 1
kill -CONT "$(pid_of carol)"
wait_for carol '"event":"reconnected","resumed":true,"id":2,"name":"carol"' 6
wait_for dave '"event":"player_reconnected","id":2,"name":"carol"' 3
wait_for server '"event":"player_reconnected","id":2,"name":"carol"' 3
for c in carol dave server; do
  grep -q '"event":"player_disconnected"' "$TMP/$c.out" && fail "$c saw someone leave"
done
[ "$(count dave '"event":"player_connected"')" -eq 1 ] || fail "dave saw carol join twice"

kill -INT "$(pid_of carol)"
expect_exit carol 0
wait_for dave '"event":"player_disconnected","id":2,"name":"carol"' 2
kill -INT "$(pid_of dave)"
expect_exit dave 0
kill -INT "$(pid_of server)"
expect_exit server 0
grep -q '"resumed":1' "$TMP/server.json" || fail "the server's statistics do not count one resume: $(cat "$TMP/server.json")"
echo "PASS"
