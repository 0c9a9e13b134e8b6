# Duplicate names, a full lobby, a bad name: each refused (or renamed,
# "alice#2") with a reason both sides can print. (A protocol version mismatch needs a
# client of another version: tests/unit/test_api.c makes one.)
source "$(dirname "$0")/lib.sh"

start server server --port 0 --max-players 2 --json
port=$(port_of server)

start a1 join "127.0.0.1:$port" --name alice "${NOAUDIO[@]}"
wait_for a1 '"event":"connected","id":2,"name":"alice"'
start a2 join "127.0.0.1:$port" --name alice "${NOAUDIO[@]}"
wait_for a2 '"event":"connected","id":3,"name":"alice#2"'

start full join "127.0.0.1:$port" --name carol "${NOAUDIO[@]}"
expect_exit full 3
wait_for full '"event":"connection_failed","reason":"lobby is full \(2 of 2 players\)"'

kill -TERM "$(pid_of a2)"
expect_exit a2 0
wait_for a1 '"event":"player_disconnected","id":3'

# A name the server would refuse is refused before anything starts (exit 2).
bad_name() {
  start "$1" join "127.0.0.1:$port" --name "$2" "${NOAUDIO[@]}"
  expect_exit "$1" 2
  grep -qF "bad --name: $3" "$TMP/$1.err" || fail "$1: no reason '$3'"
}
bad_name badname "$(printf 'bad\tname')" "name contains a control character"
bad_name longname "abcdefghijklmnopqrstuvwxyz0123456" "name is longer than 32 bytes"
bad_name badutf8 "$(printf 'x\xc3\x28')" "name is not valid UTF-8"
bad_name blank " " "name is only white space"
bad_name rtl "$(printf '\xe2\x80\xaeecila')" "name contains an invisible formatting character"
bad_name hash "alice#2" "name contains '#'"
start badhost host --port 0 --name " " "${NOAUDIO[@]}"
expect_exit badhost 2
[ -s "$TMP/badhost.out" ] && fail "a host with a bad name started its server"

# Nobody could join in the meantime: alice saw no one else.
[ "$(count a1 '"event":"player_connected"')" -eq 1 ] || fail "alice saw refused players"

# A usage error is exit 2, with the reason on stderr.
start usage join
expect_exit usage 2
grep -q "join needs the server's address first" "$TMP/usage.err" || fail "no usage reason"
start pw join "127.0.0.1:$port" --password secret
expect_exit pw 2
start port0 join 127.0.0.1 --port 0 "${NOAUDIO[@]}"
expect_exit port0 2
grep -q "a server's port is 1..65535" "$TMP/port0.err" || fail "port 0 not explained"

# Help and version: exit 0, on stdout; a command's help lists its options only.
start help join --help
expect_exit help 0
grep -q "^usage: gvoip join ADDRESS" "$TMP/help.out" || fail "no join usage"
grep -q -- "--max-players" "$TMP/help.out" && fail "join's help lists a server option"
grep -q -- "--server-key" "$TMP/help.out" || fail "join's help misses --server-key"
start version --version
expect_exit version 0
grep -Eq "^gvoip [0-9]+\.[0-9]+\.[0-9]+ \(protocol [0-9]+\)$" "$TMP/version.out" || fail "bad --version line"

# A --stats file that cannot be written stops gvoip before it starts (exit 1).
start nostats join "127.0.0.1:$port" --stats "$TMP/no/such/dir/s.json" "${NOAUDIO[@]}"
expect_exit nostats 1
grep -q "cannot write the --stats file $TMP/no/such/dir/s.json: No such file or directory" "$TMP/nostats.err" ||
  fail "no reason for the unwritable --stats file"

# A host that does not resolve is named, with what gvoip accepts.
start nohost join nosuch.invalid "${NOAUDIO[@]}"
expect_exit nohost 3
grep -q "cannot join nosuch.invalid: no such host (gvoip speaks IPv4" "$TMP/nohost.err" ||
  fail "the unresolved host is not named"
echo "PASS"
