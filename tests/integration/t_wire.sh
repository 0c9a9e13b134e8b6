# Nothing readable on the wire: every datagram between the players and the
# server passes a relay that records it. A player with a known name and a
# known password joins and talks, and simulated players send voice whose
# bytes follow a known pattern (byte i = i * 131 + c). Neither the name, the
# password, nor any run of that pattern may appear in the recording.
source "$(dirname "$0")/lib.sh"
load="$GVOIP_BUILD_DIR/tools/load/gvoip-load"

# find_pattern FILE: counts 12-byte runs whose successive bytes differ by 131.
find_pattern() {
  od -An -v -tu1 -w1 "$1" | awk '
    { b = $1; if (n > 0 && (b - prev + 256) % 256 == 131) run++; else run = 0; if (run >= 11) hits++; prev = b; n++ }
    END { print hits + 0 }'
}
# The search itself must be able to fail: a plain pattern is found.
awk 'BEGIN { for (i = 0; i < 64; i++) printf "%c", (i * 131 + 7) % 256 }' LC_ALL=C >"$TMP/plain.bin"
[ "$(find_pattern "$TMP/plain.bin")" -gt 0 ] || fail "the pattern search finds nothing in plain text"

printf 'hunter2-very-secret\n' >"$TMP/pw"
start server server --port 0 --json --password-file "$TMP/pw"
port=$(port_of server)
start_netem relay --listen 0 --to "127.0.0.1:$port" --capture "$TMP/wire.cap"
relay_pid=$(pid_of relay)
rport=$(port_of relay)

espeak-ng -w "$TMP/talk.wav" "My name is Zebulon Quixote and this is a private conversation."
start zeb join "127.0.0.1:$rport" --name ZebulonQuixote --password-file "$TMP/pw" --json \
  --input-file "$TMP/talk.wav" --no-playback --transmit continuous --duration 5
wait_for zeb '"event":"connected"'
GVOIP_PASSWORD='hunter2-very-secret' "$load" --server "127.0.0.1:$rport" --players 3 --speakers 3 \
  --continuous --payload-bytes 200 --duration 3 >"$TMP/load.out" 2>"$TMP/load.err" || fail "gvoip-load failed"
grep -q '"received":[1-9]' "$TMP/load.out" || fail "the simulated players heard nothing"
expect_exit zeb 0 15
kill -TERM $relay_pid
wait $relay_pid || true

size=$(stat -c %s "$TMP/wire.cap")
echo "captured $size bytes"
[ "$size" -gt 100000 ] || fail "the capture is too small to mean anything"
grep -c -a -F "ZebulonQuixote" "$TMP/wire.cap" >/dev/null && fail "the player's name is readable on the wire"
grep -c -a -F "Zebulon" "$TMP/wire.cap" >/dev/null && fail "part of the name is readable on the wire"
grep -c -a -F "hunter2" "$TMP/wire.cap" >/dev/null && fail "the password is readable on the wire"
hits=$(find_pattern "$TMP/wire.cap")
[ "$hits" -eq 0 ] || fail "voice payload bytes are readable on the wire ($hits runs)"
echo "PASS"
