# A fleet of three nodes on one private redis-server (no mocks): each node
# registers under a lease; 300 lobbies allocated at once from 8 processes
# land on exactly one node each and spread by load; a join sent to the
# wrong node is redirected (sealed) to the right one and heard there; a
# node killed with -9 loses its lease and its lobby goes elsewhere on the
# next allocation; with Redis killed, running lobbies keep talking and
# allocations fail clearly, and once Redis is back empty the nodes
# register again and keep their lobbies (nothing split); a node stopped
# past its lease is fenced: its lobby went to another node, and its
# players are moved there. The nodes share one server key (the fleet's
# own certificates are not built yet, docs/operations.md).
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
    --advertise 127.0.0.1:0 \
    --json --stats "$TMP/$1.json"
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

# Killed with -9: the lease lapses within 3 s, and the next allocation
# places the lobby on a live node, where players hear each other.
victim=$(node_on "$talk_port" n1 n2 n3)
kill -9 "$(pid_of "$victim")"
start_s=$SECONDS
until now=$(allocate talk) && [ "$now" != "$talk" ]; do
  [ $((SECONDS - start_s)) -lt 8 ] || fail "lobby talk is still placed on the dead node after 8 s"
  sleep 0.2
done
echo "after node $victim was killed, lobby talk went to $now within $((SECONDS - start_s)) s"
"$LOAD" --server "$now" --lobby talk --players 4 --speakers 2 --duration 3 --continuous >"$TMP/talk.out" \
  2>"$TMP/talk.err" || fail "players of lobby talk could not join its new node"
below "$(num "$TMP/talk.out" loss_pct)" 1 || fail "lobby talk lost $(num "$TMP/talk.out" loss_pct)% on its new node"
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
sleep 1
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
start mover join "$fence" --lobby fence --name mover --no-capture --no-playback --json --duration 20
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

for n in "${alive[@]}"; do
  kill -TERM "$(pid_of "$n")"
  expect_exit "$n" 0 10
  wait_for "$n" '"event":"fleet","state":"left"'
done
echo "PASS"
