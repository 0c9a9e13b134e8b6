# End to end on loopback with real processes: three players, two speaking
# different generated speech at once, every one recording what it hears.
# Each recording holds each other speaker's speech (found by alignment
# against what they said, with a plausible mouth-to-ear delay) and none of
# its own; no datagram in either direction exceeds 1392 bytes.
# ctest: run serial
source "$(dirname "$0")/lib.sh"
quality="$GVOIP_BUILD_DIR/tools/quality/gvoip-quality"

espeak-ng -w "$TMP/alice.wav" "Hello, this is Alice speaking. The quick brown fox jumps over the lazy dog."
espeak-ng -v en+f3 -w "$TMP/bob.wav" "Bob here. Testing one, two, three. Can you hear me clearly, everybody?"

start server server --port 0 --json --stats "$TMP/server.json"
port=$(port_of server)
# Everyone reaches the server through a relay that sees every datagram.
start_netem relay --listen 0 --to "127.0.0.1:$port" --stats "$TMP/relay.json"
relay_pid=$(pid_of relay)
rport=$(port_of relay)

voice=(--json --no-playback --duration 8)
start alice join "127.0.0.1:$rport" --name alice --input-file "$TMP/alice.wav" --record "$TMP/alice.hears.wav" \
  --stats "$TMP/alice.json" "${voice[@]}"
start bob join "127.0.0.1:$rport" --name bob --input-file "$TMP/bob.wav" --record "$TMP/bob.hears.wav" \
  --stats "$TMP/bob.json" "${voice[@]}"
start carol join "127.0.0.1:$rport" --name carol --no-capture --record "$TMP/carol.hears.wav" \
  --stats "$TMP/carol.json" "${voice[@]}"
expect_exit alice 0 20
expect_exit bob 0 20
expect_exit carol 0 20
kill -TERM $relay_pid
wait $relay_pid || true
kill -TERM "$(pid_of server)"
expect_exit server 0

field() { grep -o "\"$2\":[0-9.]*" "$TMP/$1.json" | head -n 1 | cut -d: -f2; }

# score SPEAKER LISTENER -> "delay_ms stoi"
score() {
  "$quality" "$TMP/$1.wav" "$TMP/$2.hears.wav" | sed -n 's/.*delay_ms=\([-0-9.]*\) stoi=\([0-9.]*\).*/\1 \2/p'
}
check_hears() {
  local speaker=$1 listener=$2 min_stoi=$3
  read -r delay stoi < <(score "$speaker" "$listener")
  local start rec
  start=$(field "$speaker" input_start_unix_ms)
  rec=$(field "$listener" record_start_unix_ms)
  local latency
  latency=$(awk -v r="$rec" -v d="$delay" -v s="$start" 'BEGIN { printf "%.0f", r + d - s }')
  echo "$listener hears $speaker: stoi $stoi, mouth-to-ear ${latency} ms"
  awk -v x="$stoi" -v m="$min_stoi" 'BEGIN { exit !(x >= m) }' || fail "$listener hears $speaker too poorly (stoi $stoi < $min_stoi)"
  [ "$latency" -ge 5 ] && [ "$latency" -le 400 ] || fail "$listener hears $speaker at an implausible delay (${latency} ms)"
}
check_silent() {
  local speaker=$1
  read -r delay stoi < <(score "$speaker" "$speaker")
  echo "$speaker hears self: stoi $stoi"
  awk -v x="$stoi" 'BEGIN { exit !(x < 0.4) }' || fail "$speaker's own voice is in its recording (stoi $stoi)"
}
check_hears bob alice 0.7
check_hears alice bob 0.7
# Carol hears both at once: each is the other's interference.
check_hears alice carol 0.5
check_hears bob carol 0.5
check_silent alice
check_silent bob

for who in alice bob carol; do
  max=$(field "$who" max_datagram_bytes)
  [ "$max" -le 1392 ] || fail "$who sent a datagram of $max bytes"
done
grep -q '"lost":0' "$TMP/carol.json" || echo "note: carol lost packets on loopback"
# The relay's stats line has the "up" direction first, then "down".
up=$(grep -o '"max_datagram_bytes":[0-9]*' "$TMP/relay.json" | sed -n 1p | cut -d: -f2)
down=$(grep -o '"max_datagram_bytes":[0-9]*' "$TMP/relay.json" | sed -n 2p | cut -d: -f2)
echo "largest datagram on the wire: up $up, down $down bytes"
[ -n "$up" ] && [ "$up" -gt 60 ] && [ "$up" -le 1392 ] || fail "upstream datagrams: $up"
[ -n "$down" ] && [ "$down" -gt 60 ] && [ "$down" -le 1392 ] || fail "downstream datagrams: $down"
echo "PASS"
