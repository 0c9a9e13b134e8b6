# Duplicate names, a full lobby, a bad name: each refused (or renamed) with
# a reason both sides can print. (A protocol version mismatch needs a
# client of another version: tests/unit/test_api.c makes one.)
source "$(dirname "$0")/lib.sh"

start server server --port 0 --max-players 2 --json
port=$(port_of server)

start a1 join "127.0.0.1:$port" --name alice "${NOAUDIO[@]}"
wait_for a1 '"event":"connected","id":2,"name":"alice"'
start a2 join "127.0.0.1:$port" --name alice "${NOAUDIO[@]}"
wait_for a2 '"event":"connected","id":3,"name":"alice2"'

start full join "127.0.0.1:$port" --name carol "${NOAUDIO[@]}"
expect_exit full 3
wait_for full '"event":"connection_failed","reason":"lobby is full \(2 of 2 players\)"'

kill -TERM "$(pid_of a2)"
expect_exit a2 0
wait_for a1 '"event":"player_disconnected","id":3'

start badname join "127.0.0.1:$port" --name "$(printf 'bad\tname')" "${NOAUDIO[@]}"
expect_exit badname 3
wait_for badname '"reason":"bad name: name contains a control character"'
start longname join "127.0.0.1:$port" --name "abcdefghijklmnopqrstuvwxyz0123456" "${NOAUDIO[@]}"
expect_exit longname 3
wait_for longname '"reason":"bad name: name is longer than 32 bytes"'
start badutf8 join "127.0.0.1:$port" --name "$(printf 'x\xc3\x28')" "${NOAUDIO[@]}"
expect_exit badutf8 3
wait_for badutf8 '"reason":"bad name: name is not valid UTF-8"'

# Nobody could join in the meantime: alice saw no one else.
[ "$(count a1 '"event":"player_connected"')" -eq 1 ] || fail "alice saw refused players"

# A usage error is exit 2, with the reason on stderr.
start usage join
expect_exit usage 2
grep -q "join needs an address" "$TMP/usage.err" || fail "no usage reason"
start pw join "127.0.0.1:$port" --password secret
expect_exit pw 2
echo "PASS"
