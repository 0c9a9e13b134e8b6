# The microphone check: with --echo-test a player hears their own voice,
# sent through the server and back; without it, never (t_voice.sh).
# ctest: run serial
source "$(dirname "$0")/lib.sh"
quality="$GVOIP_BUILD_DIR/tools/quality/gvoip-quality"

espeak-ng -w "$TMP/me.wav" "Testing my microphone. One, two, three. Can I hear myself?"
start server server --port 0 --json
port=$(port_of server)
start me join "127.0.0.1:$port" --name me --echo-test --input-file "$TMP/me.wav" --no-playback \
  --record "$TMP/me.hears.wav" --json --duration 6
expect_exit me 0 15
read -r delay stoi < <("$quality" "$TMP/me.wav" "$TMP/me.hears.wav" | sed -n 's/.*delay_ms=\([-0-9.]*\) stoi=\([0-9.]*\).*/\1 \2/p')
echo "echo test: stoi $stoi at ${delay} ms"
awk -v x="$stoi" 'BEGIN { exit !(x >= 0.7) }' || fail "the echo test did not bring my voice back (stoi $stoi)"
awk -v d="$delay" 'BEGIN { exit !(d > 0 && d < 500) }' || fail "implausible echo delay ${delay} ms"
echo "PASS"
