# A fleet's failover over a slow network: three nodes, each reached
# through its own gvoip-netem relay adding 50 ms each way (100 ms of round
# trip), which is the address each advertises. A talker and a listener in
# one lobby, given every node's relay; the node hosting the lobby killed
# with -9; both players must be back in, and the listener hearing the
# talker, within 8 s; and no node was asked to resume a session it never
# had (a player presents its secret only to the node that gave it).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/redis.sh"

below() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }
free_udp_port() {
  python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

redis_start
"$GVOIP" server --port 0 --key "$TMP/fleet.key" --duration 0.1 >/dev/null 2>&1 || true

# node NAME: a node advertising a relay of its own, 50 ms each way.
nodes=""
node() {
  local relay port
  relay=$(free_udp_port)
  start "$1" server --port 0 --threads 1 --max-lobbies 20 --key "$TMP/fleet.key" --redis "$REDIS_URL" \
    --advertise "127.0.0.1:$relay" --json --stats "$TMP/$1.json"
  wait_for "$1" '"event":"fleet","state":"registered"'
  port=$(port_of "$1")
  start_netem "relay_$1" --listen "127.0.0.1:$relay" --to "127.0.0.1:$port" --delay 50
  eval "relay_$1=$relay"
  nodes="${nodes:+$nodes,}127.0.0.1:$relay"
}
node n1
node n2
node n3

lobby=$("$GVOIP" allocate --redis "$REDIS_URL" --lobby slow | cut -d' ' -f1)
sox -n -r 48000 -c 1 "$TMP/long.wav" synth 30 sine 440
start listener join "$lobby,$nodes" --lobby slow --name listener --no-capture --no-playback --json \
  --record "$TMP/heard.wav" --duration 22
wait_for listener '"event":"connected"' 10
start talker join "$lobby,$nodes" --lobby slow --name talker --input-file "$TMP/long.wav" --no-playback --json \
  --duration 22
wait_for talker '"event":"connected"' 10
sleep 2
for n in n1 n2 n3; do
  eval "r=\$relay_$n"
  [ "127.0.0.1:$r" = "$lobby" ] && victim=$n
done
kill -9 "$(pid_of "$victim")"
killed_at=$(date +%s.%N)
wait_for listener '"event":"reconnected"' 10
wait_for talker '"event":"reconnected"' 10
back_at=$(date +%s.%N)
took=$(awk -v a="$killed_at" -v b="$back_at" 'BEGIN { printf "%.1f", b - a }')
expect_exit talker 0 30
expect_exit listener 0 30
sox "$TMP/heard.wav" "$TMP/tail.wav" trim 14 6
level=$(rms "$TMP/tail.wav" 1)
echo "100 ms round trip: node $victim killed, both players back in $took s; the tone heard after at rms $level"
below "$took" 8 || fail "the failover took $took s over 100 ms of round trip"
below 0.02 "$level" || fail "after the failover the listener did not hear the talker (rms $level)"
for n in n1 n2 n3; do
  [ "$n" = "$victim" ] && continue
  kill -TERM "$(pid_of "$n")"
  expect_exit "$n" 0 10
  refused=$(grep -o '"refused":[0-9]*' "$TMP/$n.json" | head -n 1 | cut -d: -f2)
  [ "$refused" = 0 ] || fail "node $n refused $refused joins or resumes"
done
echo "PASS"
