# gvoip-netem in front of a server: with no impairment the lobby works
# through it (one upstream address per client), with every client-to-server
# datagram lost a join times out; the stats line and the capture account for
# every datagram that crossed it.
source "$(dirname "$0")/lib.sh"

# stat_of NAME up|down KEY: a counter from NAME's final stats line.
stat_of() {
  local line part
  line=$(grep '"event":"stats"' "$TMP/$1.out" | tail -n 1)
  [ -n "$line" ] || fail "$1 printed no stats line"
  if [ "$2" = up ]; then
    part=${line#*\"up\":}
    part=${part%%\"down\":*}
  else
    part=${line#*\"down\":}
  fi
  local v
  v=$(grep -o "\"$3\":[0-9]*" <<<"$part" | head -n 1 | cut -d: -f2)
  [ -n "$v" ] || fail "$1 stats have no $2.$3"
  echo "$v"
}

# A malformed schedule is a usage error that names the line.
printf '0 delay=10\n5 up jitter=abc\n' >"$TMP/bad.sched"
start_netem badsched --listen 0 --to 127.0.0.1:9 --schedule "$TMP/bad.sched"
expect_exit badsched 2
grep -q "bad.sched:2: bad value 'abc' for jitter" "$TMP/badsched.err" || fail "no line number for the bad schedule"

start server server --port 0 --json
port=$(port_of server)

# No impairment now; the schedule only turns on loss long after the test.
printf '# far future\n600 both loss=100\n' >"$TMP/later.sched"
start_netem relay --listen 0 --to "127.0.0.1:$port" --seed 7 --schedule "$TMP/later.sched" \
  --capture "$TMP/capture.bin" --stats "$TMP/relay.stats"
rport=$(port_of relay)
[ "$rport" -gt 0 ] || fail "relay reported port $rport"

start a join "127.0.0.1:$rport" --name alice "${NOAUDIO[@]}"
wait_for a '"event":"connected","id":2,"name":"alice"'
start b join "127.0.0.1:$rport" --name bob "${NOAUDIO[@]}"
wait_for b '"event":"connected","id":3,"name":"bob"'
wait_for b '"event":"player_connected","id":2,"name":"alice"'
wait_for a '"event":"player_connected","id":3,"name":"bob"'
wait_for server '"event":"player_connected","id":3'

kill -TERM "$(pid_of b)"
expect_exit b 0
wait_for a '"event":"player_disconnected","id":3,"name":"bob"' 5
kill -TERM "$(pid_of a)"
expect_exit a 0
wait_for server '"event":"player_disconnected","id":2' 5
kill -TERM "$(pid_of relay)"
expect_exit relay 0

cmp -s <(grep '"event":"stats"' "$TMP/relay.out") "$TMP/relay.stats" || fail "--stats file differs from stdout"
grep -q '"clients":2,' "$TMP/relay.out" || fail "relay did not map two clients"
total=0
for dir in up down; do
  fwd=$(stat_of relay $dir forwarded)
  [ "$fwd" -gt 0 ] || fail "relay forwarded nothing $dir"
  [ "$(stat_of relay $dir received)" -eq "$fwd" ] || fail "relay lost datagrams $dir without impairment"
  for k in random burst queue overflow error delayed reordered duplicated; do
    [ "$(stat_of relay $dir $k)" -eq 0 ] || fail "relay counted $dir.$k without impairment"
  done
  max=$(stat_of relay $dir max_datagram_bytes)
  [ "$max" -gt 0 ] && [ "$max" -le 1392 ] || fail "$dir datagram of $max bytes (MTU 1392)"
  total=$((total + fwd))
done

# The capture holds exactly the forwarded datagrams as u/d, length, bytes.
records=$(od -An -v -tu1 "$TMP/capture.bin" | tr -s ' \n' '\n\n' | grep -v '^$' | awk '
  BEGIN { state = 0; n = 0 }
  state == 0 { if ($1 != 117 && $1 != 100) { print "bad"; exit } state = 1; next }
  state == 1 { len = $1 * 256; state = 2; next }
  state == 2 { len += $1; n++; state = len ? 3 : 0; next }
  state == 3 { if (--len == 0) state = 0; next }
  END { if (state != 0) print "truncated"; else print n }')
[ "$records" = "$total" ] || fail "capture has $records records, relay forwarded $total"
[ "$(head -c 1 "$TMP/capture.bin")" = u ] || fail "capture does not start with the client's first datagram"

# Every datagram from the client lost: the join times out (exit 3), the
# relay still ends by itself at --duration and says what it dropped.
start_netem lossy --listen 0 --to "127.0.0.1:$port" --up-loss 100 --duration 7
lport=$(port_of lossy)
start c join "127.0.0.1:$lport" --name carol "${NOAUDIO[@]}"
expect_exit c 3 10
wait_for c '"event":"connection_failed"'
expect_exit lossy 0 5
recv=$(stat_of lossy up received)
[ "$recv" -gt 0 ] || fail "lossy relay received nothing"
[ "$(stat_of lossy up random)" -eq "$recv" ] || fail "lossy relay did not drop every datagram"
[ "$(stat_of lossy up forwarded)" -eq 0 ] || fail "lossy relay forwarded upstream"
[ "$(stat_of lossy down received)" -eq 0 ] || fail "server answered a client it never heard"
[ "$(count server '"event":"player_connected"')" -eq 2 ] || fail "server saw carol"
echo "PASS"
