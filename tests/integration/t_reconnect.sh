# The server killed under two players who talk (alice direct, bob through
# gvoip-netem with 100 ms of round trip), then started again a second
# later on the same port with the same key: both come back within 3 s of
# the restart as newcomers (the new server knows nothing of them), see
# each other again, and their recordings hold the other's voice before the
# kill and after the return, and nothing in between. Then the server is
# replaced by one with another key: a player (through the relay) refuses
# to reconnect to it and gives up (exit 4), saying why.
source "$(dirname "$0")/lib.sh"

now() { date +%s.%N; }
# heard NAME FROM LENGTH: the RMS level of NAME's recording in that window.
heard() { sox "$TMP/$1.wav" -n trim "$2" "$3" remix 1 stat 2>&1 | awk '/^RMS +amplitude/ { print $3 }'; }
after() { awk -v a="$1" -v b="$2" -v d="$3" 'BEGIN { printf "%.2f", a - b + d }'; }

espeak-ng -g 0 -w "$TMP/a1.wav" "Alice speaking, one two three four five six seven eight nine ten."
espeak-ng -g 0 -v en+f3 -w "$TMP/b1.wav" "Bob here, counting again: ten nine eight seven six five four three."
sox "$TMP/a1.wav" -r 48000 "$TMP/a.wav" repeat 4
sox "$TMP/b1.wav" -r 48000 "$TMP/b.wav" repeat 4

start server server --port 0 --json --key "$TMP/server.key"
port=$(port_of server)
start_netem relay --listen 0 --to "127.0.0.1:$port" --delay 50
rport=$(port_of relay)
t_alice=$(now)
start alice join "127.0.0.1:$port" --name alice --json --no-playback --input-file "$TMP/a.wav" \
  --record "$TMP/alice.wav" --duration 12
t_bob=$(now)
start bob join "127.0.0.1:$rport" --name bob --json --no-playback --input-file "$TMP/b.wav" \
  --record "$TMP/bob.wav" --duration 12
wait_for alice '"event":"player_connected","id":[0-9]+,"name":"bob"'
wait_for bob '"event":"player_connected","id":[0-9]+,"name":"alice"'
sleep 2

t_kill=$(now)
kill -9 "$(pid_of server)"
wait_for alice '"event":"connection_interrupted"' 3
sleep 1
start server2 server --port "$port" --json --key "$TMP/server.key"
t_back=$(now)
wait_for server2 '"event":"listening"'
for c in alice bob; do
  wait_for "$c" '"event":"reconnecting"' 3
  wait_for "$c" '"event":"reconnected","resumed":false' 3
done
wait_for alice '"event":"player_connected","id":[0-9]+,"name":"bob"' 3
wait_for bob '"event":"player_connected","id":[0-9]+,"name":"alice"' 3
t_joined=$(now)
echo "both back $(awk -v a="$t_joined" -v b="$t_back" 'BEGIN { printf "%.1f", a - b }') s after the restart"
sleep 3
for c in alice bob; do
  grep -q '"event":"server_disconnected"' "$TMP/$c.out" && fail "$c gave up although the server came back"
done

# Each heard the other's speech before the kill and after the return, and
# nothing while the server was gone.
before_a=$(heard alice "$(after "$t_kill" "$t_alice" -2)" 1.8)
gone_a=$(heard alice "$(after "$t_kill" "$t_alice" 0.5)" 0.5)
after_a=$(heard alice "$(after "$t_joined" "$t_alice" 0.5)" 2)
before_b=$(heard bob "$(after "$t_kill" "$t_bob" -2)" 1.8)
after_b=$(heard bob "$(after "$t_joined" "$t_bob" 0.5)" 2)
echo "alice heard rms $gone_a while the server was gone"
awk -v v="$gone_a" 'BEGIN { exit !(v < 0.01) }' || fail "alice heard something while the server was gone (rms $gone_a)"
echo "alice heard bob at rms $before_a before, $after_a after; bob heard alice at $before_b, $after_b"
for v in "$before_a" "$after_a" "$before_b" "$after_b"; do
  awk -v v="$v" 'BEGIN { exit !(v > 0.03) }' || fail "a recording lacks the other's voice (rms $v)"
done
expect_exit alice 0 15
expect_exit bob 0 15

# A server with another key on the same port: refused on reconnecting
# (carol through the relay too).
start carol join "127.0.0.1:$rport" --name carol "${NOAUDIO[@]}" --reconnect-s 30
wait_for carol '"event":"connected"'
kill -9 "$(pid_of server2)"
start server3 server --port "$port" --json --key "$TMP/other.key"
wait_for server3 '"event":"listening"'
wait_for carol '"event":"server_disconnected","reason":"SERVER KEY CHANGED' 10
expect_exit carol 4
[ "$(count server3 '"event":"player_connected"')" -eq 0 ] || fail "carol joined a server with another key"
kill -INT "$(pid_of server3)"
expect_exit server3 0
echo "PASS"
