# Server identity and lobby passwords: each failure refused with its own
# clear message and exit code.
source "$(dirname "$0")/lib.sh"

# A key file others can read is refused before anything listens (exit 2).
mkdir -p "$TMP/keys"
start mk server --port 0 --json --key "$TMP/keys/a.key" --duration 0.2
expect_exit mk 0
[ "$(stat -c %a "$TMP/keys/a.key")" = 600 ] || fail "key file not created with mode 0600"
chmod 640 "$TMP/keys/a.key"
start unsafe server --port 0 --json --key "$TMP/keys/a.key"
expect_exit unsafe 2
grep -q "chmod 600" "$TMP/unsafe.err" || fail "no advice for the group-readable key file"
chmod 600 "$TMP/keys/a.key"

# A password-protected lobby.
printf 'correct horse\n' >"$TMP/pw"
start server server --port 0 --json --key "$TMP/keys/a.key" --password-file "$TMP/pw"
port=$(port_of server)
fp=$(sed -n 's/.*"fingerprint":"\([^"]*\)".*/\1/p' "$TMP/server.out" | head -n 1)

start good join "127.0.0.1:$port" --name good --password-file "$TMP/pw" "${NOAUDIO[@]}"
wait_for good '"event":"connected"'
wait_for_text good "\"event\":\"server_key\",\"fingerprint\":\"$fp\",\"first_use\":true"
GVOIP_PASSWORD=wrong start bad join "127.0.0.1:$port" --name bad "${NOAUDIO[@]}"
expect_exit bad 3
wait_for bad '"event":"connection_failed","reason":"wrong password"'
start none join "127.0.0.1:$port" --name none "${NOAUDIO[@]}"
expect_exit none 3
wait_for none '"reason":"this lobby needs a password'
GVOIP_PASSWORD='correct horse' start env join "127.0.0.1:$port" --name env "${NOAUDIO[@]}"
wait_for env '"event":"connected"'
[ "$(count good '"event":"player_connected"')" -eq 1 ] || fail "a refused player was announced"

# A pinned fingerprint that does not match (exit 3, both keys shown).
other="SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
start pinned join "127.0.0.1:$port" --name p --password-file "$TMP/pw" --server-key "$other" "${NOAUDIO[@]}"
expect_exit pinned 3
wait_for_text pinned "does not match the pinned key: server has $fp, --server-key is $other"
start pinok join "127.0.0.1:$port" --name q --password-file "$TMP/pw" --server-key "$fp" "${NOAUDIO[@]}"
wait_for pinok '"event":"connected"'

# Guessing is rate-limited per address: after a burst of wrong passwords the
# server stops even checking.
limited=0
for i in 1 2 3 4 5 6; do
  GVOIP_PASSWORD="guess$i" start "g$i" join "127.0.0.1:$port" --name "g$i" "${NOAUDIO[@]}"
  expect_exit "g$i" 3
  grep -q "too many wrong passwords" "$TMP/g$i.out" && limited=1
done
[ $limited -eq 1 ] || fail "six wrong passwords in a row were never rate-limited"
# The limit is per address and refills slowly: right now even the right
# password from here is turned away.
start later join "127.0.0.1:$port" --name later --password-file "$TMP/pw" "${NOAUDIO[@]}"
expect_exit later 3
wait_for later "too many wrong passwords"


# The server's key changes under the same address: refused (exit 3) with both
# fingerprints and what to do.
kill -TERM "$(pid_of server)"
expect_exit server 0
start server2 server --port "$port" --json --key "$TMP/keys/b.key" --password-file "$TMP/pw"
wait_for server2 '"event":"listening"'
fp2=$(sed -n 's/.*"fingerprint":"\([^"]*\)".*/\1/p' "$TMP/server2.out" | head -n 1)
[ "$fp" != "$fp2" ] || fail "two key files gave the same key"
start changed join "127.0.0.1:$port" --name good --password-file "$TMP/pw" "${NOAUDIO[@]}"
expect_exit changed 3
wait_for_text changed "SERVER KEY CHANGED for 127.0.0.1:$port: known $fp, now $fp2"
grep -q "known_servers" "$TMP/changed.out" || fail "no hint where the known key lives"

# A known-servers file that cannot be read is not a changed key: the join
# is refused (exit 3) saying so.
mkdir "$TMP/unreadable"
start unreadable join "127.0.0.1:$port" --name good --password-file "$TMP/pw" --known-servers "$TMP/unreadable" \
  "${NOAUDIO[@]}"
expect_exit unreadable 3
wait_for_text unreadable "cannot check the server key of 127.0.0.1:$port against $TMP/unreadable"
grep -q "CHANGED" "$TMP/unreadable.out" "$TMP/unreadable.err" && fail "an unreadable file reported as a changed key"
echo "PASS"
