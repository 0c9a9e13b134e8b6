# The fleet's command lines: what gvoip allocate and gvoip server --redis
# refuse and why (exit 2), a Redis with a password (the URL only from
# GVOIP_REDIS_URL: a right password lets a node register and a backend
# allocate, a wrong one is exit 2), and allocate's answers when the fleet
# has no live node (exit 1) or no room (exit 1), said on stderr.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/redis.sh"

# refused EXPECTED-TEXT COMMAND...: exits 2 saying so.
refused() {
  local want=$1 rc=0
  shift
  "$@" >"$TMP/out.txt" 2>"$TMP/err.txt" || rc=$?
  [ "$rc" = 2 ] || fail "'$*' exited $rc, expected 2 (stderr: $(cat "$TMP/err.txt"))"
  grep -q -- "$want" "$TMP/err.txt" || fail "'$*' said: $(cat "$TMP/err.txt"), not '$want'"
}

refused "needs --lobby" "$GVOIP" allocate --redis redis://127.0.0.1:1
refused "never taken on the command line" "$GVOIP" allocate --lobby x --redis redis://:pw@127.0.0.1:1
refused "needs --advertise HOST:PORT and --redis" "$GVOIP" server --port 0 --redis redis://127.0.0.1:1
refused "never taken on the command line" "$GVOIP" server --port 0 --redis redis://:pw@127.0.0.1:1 \
  --advertise 127.0.0.1:0
refused "--drain-s moves lobbies" "$GVOIP" server --port 0 --drain-s 5
refused "--advertise takes" "$GVOIP" server --port 0 --redis redis://127.0.0.1:1 --advertise "a b:7000"
refused "a fleet is made of dedicated servers" "$GVOIP" join 127.0.0.1:7000 --redis redis://127.0.0.1:1
refused "bad address" "$GVOIP" join 127.0.0.1:7000,nowhere --no-capture --no-playback

# Redis with a password.
port=$(free_tcp_port)
REDIS_PORT=$port
spawn redis redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --requirepass s3cret
deadline=$((SECONDS + 10))
until redis-cli -p "$port" -a s3cret --no-auth-warning ping 2>/dev/null | grep -q PONG; do
  [ $SECONDS -lt $deadline ] || fail "redis-server did not answer on port $port"
  sleep 0.05
done

# No node yet: allocate says so, exit 1; a wrong password is exit 2.
rc=0
GVOIP_REDIS_URL="redis://:s3cret@127.0.0.1:$port" "$GVOIP" allocate --lobby x >"$TMP/out.txt" 2>"$TMP/err.txt" ||
  rc=$?
[ "$rc" = 1 ] || fail "allocate with no node exited $rc: $(cat "$TMP/err.txt")"
grep -qi "no live" "$TMP/err.txt" || fail "allocate with no node said: $(cat "$TMP/err.txt")"
rc=0
GVOIP_REDIS_URL="redis://:wrong@127.0.0.1:$port" "$GVOIP" allocate --lobby x >"$TMP/out.txt" 2>"$TMP/err.txt" ||
  rc=$?
[ "$rc" = 2 ] || fail "allocate with a wrong password exited $rc: $(cat "$TMP/err.txt")"
grep -q "s3cret\|wrong" "$TMP/err.txt" && fail "allocate printed the password: $(cat "$TMP/err.txt")"
rc=0
GVOIP_REDIS_URL="redis://:wrong@127.0.0.1:$port" "$GVOIP" server --port 0 --advertise 127.0.0.1:0 --duration 2 \
  >"$TMP/out.txt" 2>"$TMP/err.txt" || rc=$?
[ "$rc" = 2 ] || fail "a node with a wrong Redis password exited $rc: $(cat "$TMP/err.txt")"

# The right password from the environment: the node registers and has
# room for one lobby; a second allocation finds the fleet full.
export GVOIP_REDIS_URL="redis://:s3cret@127.0.0.1:$port"
start node server --port 0 --threads 1 --max-lobbies 1 --advertise 127.0.0.1:0 --json
wait_for node '"event":"fleet","state":"registered"'
node_port=$(port_of node)
"$GVOIP" allocate --lobby one >"$TMP/one.txt" || fail "allocate failed with the node registered"
grep -q "^127.0.0.1:$node_port SHA256:" "$TMP/one.txt" || fail "allocate printed: $(cat "$TMP/one.txt")"
rc=0
"$GVOIP" allocate --lobby two >"$TMP/out.txt" 2>"$TMP/err.txt" || rc=$?
[ "$rc" = 1 ] || fail "allocate on a full fleet exited $rc"
grep -q "full" "$TMP/err.txt" || fail "allocate on a full fleet said: $(cat "$TMP/err.txt")"
# A join for a lobby the full fleet cannot place is refused (exit 3).
rc=0
"$GVOIP" join "127.0.0.1:$node_port" --lobby three --name p "${NOAUDIO[@]}" --duration 5 >"$TMP/p.out" 2>&1 || rc=$?
[ "$rc" = 3 ] || fail "a join for a lobby the fleet has no room for exited $rc"
grep -q "full" "$TMP/p.out" || fail "the refused join said: $(cat "$TMP/p.out")"
kill -TERM "$(pid_of node)"
expect_exit node 0 10
echo "PASS"
