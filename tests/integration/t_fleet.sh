# A fleet of three nodes on one private redis-server (no mocks): each node
# registers under a lease; 300 lobbies allocated at once from 8 processes
# land on exactly one node each and spread by load; a join sent to the
# wrong node is redirected (sealed) to the right one and heard there; a
# node killed with -9 loses its lease and its lobby goes elsewhere on the
# next allocation; with Redis killed, running lobbies keep talking and
# allocations fail clearly, and once Redis is back empty the nodes
# register again and keep their lobbies (nothing split); a node stopped
# past its lease is fenced: its lobby went to another node, and its
# players are moved there; with --drain-s, a node stopping moves its
# lobby and its player to another node first. The nodes share one server
# key here (t_fleet_cert.sh gives each its own, with a certificate).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/redis.sh"
LOAD=$GVOIP_BUILD_DIR/tools/load/gvoip-load

num() { grep -o "\"$2\":-\?[0-9.]*" "$1" | head -n 1 | cut -d: -f2; }
below() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }
# allocate LOBBY: the node's address, as `gvoip allocate` prints it.
allocate() { "$GVOIP" allocate --redis "$REDIS_URL" --lobby "$1" | cut -d' ' -f1; }

redis_start
"$GVOIP" server --port 0 --key "$TMP/fleet.key" --duration 0.1 >/dev/null 2>&1 || true
[ -s "$TMP/fleet.key" ] || fail "no server key was made"

# node NAME: a node on a free port, advertising it, with the shared key.
node() {
  start "$1" server --port 0 --threads 1 --max-lobbies 200 --key "$TMP/fleet.key" --redis "$REDIS_URL" \
    --advertise 127.0.0.1:0 --drain-s 5 --json --stats "$TMP/$1.json"
  wait_for "$1" '"event":"fleet","state":"registered"'
  eval "port_$1=$(port_of "$1")"
}
# node_on PORT NODES...: which of the nodes listens on PORT.
node_on() {
  local port=$1 n p
  shift
  for n in "$@"; do
    eval "p=\$port_$n"
    if [ "$p" = "$port" ]; then echo "$n"; fi
  done
}
node n1
node n2
node n3
echo "nodes on ports $port_n1, $port_n2, $port_n3"

# 300 lobbies at once, from 8 processes: each lives on one node, and a
# second allocation from another process agrees with the first.
seq 1 300 | xargs -P 8 -I{} sh -c "\"$GVOIP\" allocate --redis \"$REDIS_URL\" --lobby match-{} | \
  sed 's/^/match-{} /'" >"$TMP/first.txt" || fail "an allocation failed"
seq 1 300 | xargs -P 8 -I{} sh -c "\"$GVOIP\" allocate --redis \"$REDIS_URL\" --lobby match-{} --json" \
  >"$TMP/second.txt" || fail "a second allocation failed"
[ "$(wc -l <"$TMP/first.txt")" = 300 ] || fail "$(wc -l <"$TMP/first.txt") of 300 lobbies allocated"
while read -r lobby address fingerprint; do
  grep -q "\"lobby\":\"$lobby\",\"address\":\"$address\"" "$TMP/second.txt" ||
    fail "$lobby: first on $address, then $(grep "\"lobby\":\"$lobby\"" "$TMP/second.txt")"
done <"$TMP/first.txt"
for p in $port_n1 $port_n2 $port_n3; do
  n=$(grep -c " 127.0.0.1:$p " "$TMP/first.txt" || true)
  echo "node on port $p: $n lobbies"
  [ "$n" -ge 60 ] && [ "$n" -le 140 ] || fail "node on port $p got $n of 300 lobbies"
done
"$GVOIP" allocate --redis "$REDIS_URL" --lobby match-1 --json | grep -q '"fingerprint":"SHA256:' ||
  fail "allocate --json has no fingerprint"

# A join sent to the wrong node is redirected to the lobby's, and heard.
talk=$(allocate talk)
talk_port=${talk##*:}
for p in $port_n1 $port_n2 $port_n3; do [ "$p" != "$talk_port" ] && wrong=$p; done
sox -n -r 48000 -c 1 "$TMP/tone.wav" synth 4 sine 440
start listener join "127.0.0.1:$wrong" --lobby talk --name listener --no-capture --no-playback --json \
  --record "$TMP/heard.wav" --duration 5
wait_for listener '"event":"connected"' 10
start talker join "127.0.0.1:$talk_port" --lobby talk --name talker --input-file "$TMP/tone.wav" --no-playback \
  --json --duration 4
expect_exit talker 0 15
expect_exit listener 0 15
below 0.01 "$(rms "$TMP/heard.wav" 1)" || fail "the redirected listener heard nothing"
echo "a join sent to port $wrong was redirected to $talk_port and heard the tone"

# Killed with -9, the node hosting a talking lobby whose players know
# every node: its lease lapses within 3 s, the players ask the other
# nodes in turn (at most 2 s apart), one places the lobby again and sends
# them there, and they hear each other again within 8 s.
all_nodes="127.0.0.1:$port_n1,127.0.0.1:$port_n2,127.0.0.1:$port_n3"
fo=$(allocate failover)
sox -n -r 48000 -c 1 "$TMP/long.wav" synth 30 sine 440
start fo_listener join "$fo,$all_nodes" --lobby failover --name folistener --no-capture --no-playback --json \
  --record "$TMP/fo.wav" --duration 24
wait_for fo_listener '"event":"connected"' 10
start fo_talker join "$fo,$all_nodes" --lobby failover --name fotalker --input-file "$TMP/long.wav" --no-playback \
  --json --duration 24
wait_for fo_talker '"event":"connected"' 10
sleep 2
victim=$(node_on "${fo##*:}" n1 n2 n3)
kill -9 "$(pid_of "$victim")"
killed_at=$(date +%s.%N)
for p in fo_listener fo_talker; do
  wait_for "$p" '"event":"reconnected"' 10
done
back_at=$(date +%s.%N)
now=$(allocate failover)
[ "$now" != "$fo" ] || fail "lobby failover is still placed on the dead node"
expect_exit fo_talker 0 30
expect_exit fo_listener 0 30
# The tone in the recording's last 6 s: the listener hears the talker on
# the new node (the file holds 24 s; the kill came about 4 s in).
sox "$TMP/fo.wav" "$TMP/fo_tail.wav" trim 16 6
below 0.02 "$(rms "$TMP/fo_tail.wav" 1)" || fail "after the failover the listener did not hear the talker"
echo "after node $victim was killed (-9), lobby failover moved to $now and both players were back in" \
  "$(awk -v a="$killed_at" -v b="$back_at" 'BEGIN { printf "%.1f", b - a }') s; the tone heard again"
awk -v a="$killed_at" -v b="$back_at" 'BEGIN { exit !(b - a <= 8) }' || fail "the failover took more than 8 s"
alive=()
for n in n1 n2 n3; do [ "$n" != "$victim" ] && alive+=("$n"); done

# Redis killed: a running lobby keeps talking, allocations fail clearly;
# Redis back empty: the nodes register again and keep their lobbies.
kept=$(allocate kept)
spawn kept "$LOAD" --server "$kept" --lobby kept --players 4 --speakers 2 --duration 6 --continuous
sleep 1
redis_stop
if "$GVOIP" allocate --redis "$REDIS_URL" --lobby other >"$TMP/down.out" 2>"$TMP/down.err"; then
  fail "an allocation succeeded with Redis down"
fi
grep -q "Redis\|redis" "$TMP/down.err" || fail "allocate with Redis down said: $(cat "$TMP/down.err")"
# A node that found Redis gone refuses a join for a lobby it does not
# hold, saying why (exit 3), while its own lobby talks on.
kept_node=$(node_on "${kept##*:}" "${alive[@]}")
wait_for "$kept_node" '"event":"fleet","state":"unreachable"' 5
rc=0
"$GVOIP" join "$kept" --lobby newcomer --name newcomer "${NOAUDIO[@]}" --duration 5 >"$TMP/newcomer.out" 2>&1 || rc=$?
[ "$rc" = 3 ] || fail "a join for a new lobby with Redis down exited $rc"
grep -q "the fleet cannot place the lobby now" "$TMP/newcomer.out" ||
  fail "the join refused with Redis down said: $(cat "$TMP/newcomer.out")"
redis_start "$REDIS_PORT"
for n in "${alive[@]}"; do
  deadline=$((SECONDS + 8))
  until [ "$(count "$n" '"event":"fleet","state":"registered"')" -ge 2 ]; do
    [ $SECONDS -lt $deadline ] || fail "node $n did not register again after Redis came back"
    sleep 0.1
  done
done
wait "$(pid_of kept)" || fail "the lobby kept through the Redis outage failed"
below "$(num "$TMP/kept.out" loss_pct)" 1 || fail "lobby kept lost $(num "$TMP/kept.out" loss_pct)% across the outage"
[ "$(allocate kept)" = "$kept" ] || fail "lobby kept moved from $kept to $(allocate kept) after Redis came back"
echo "Redis restarted empty: lobby kept talked on (loss $(num "$TMP/kept.out" loss_pct)%) and stayed on $kept"

# Fenced: a node stopped past its lease lost its lobby to another node;
# when it wakes it lets the lobby go and its player is moved there.
fence=$(allocate fence)
fence_node=$(node_on "${fence##*:}" "${alive[@]}")
start mover join "$fence" --lobby fence --name mover --no-capture --no-playback --json --duration 40
wait_for mover '"event":"connected"' 10
kill -STOP "$(pid_of "$fence_node")"
sleep 4
moved_to=$(allocate fence)
kill -CONT "$(pid_of "$fence_node")"
[ "$moved_to" != "$fence" ] || fail "lobby fence stayed on the stopped node"
wait_for "$fence_node" '"state":"lobby_moved","node":"[0-9a-f]*","epoch":[0-9]*,"lobby":"fence"' 10
deadline=$((SECONDS + 15))
until [ "$(count mover '"event":"(reconnected|connected)"')" -ge 2 ]; do
  [ $SECONDS -lt $deadline ] || fail "the player of lobby fence did not follow it to $moved_to"
  sleep 0.1
done
echo "node $fence_node, stopped past its lease, gave lobby fence up to $moved_to; its player followed"

# Drained: at SIGTERM a node with --drain-s moves its lobby to the other
# node, its player follows, and then it leaves.
drain=$(allocate drain)
drain_node=$(node_on "${drain##*:}" "${alive[@]}")
start drainee join "$drain,$all_nodes" --lobby drain --name drainee --no-capture --no-playback --json --duration 20
wait_for drainee '"event":"connected"' 10
kill -TERM "$(pid_of "$drain_node")"
wait_for "$drain_node" '"state":"lobby_moved","node":"[0-9a-f]*","epoch":[0-9]*,"lobby":"drain"' 10
wait_for drainee '"event":"reconnected"' 10
expect_exit "$drain_node" 0 15
wait_for "$drain_node" '"event":"fleet","state":"left"'
[ "$(allocate drain)" != "$drain" ] || fail "lobby drain is still placed on the drained node"
echo "node $drain_node drained: lobby drain went to $(allocate drain), its player with it"

for n in "${alive[@]}"; do
  [ "$n" = "$drain_node" ] && continue
  kill -TERM "$(pid_of "$n")"
  expect_exit "$n" 0 15
  wait_for "$n" '"event":"fleet","state":"left"'
done
echo "PASS"
