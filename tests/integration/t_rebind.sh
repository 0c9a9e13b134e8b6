# NAT rebinding: a speaker and a silent listener reach the server through
# gvoip-netem, which at 3 s gives each a new upstream port, as a home
# router that lost its mappings does. The server's replies to the old ports
# are lost from then on and the clients' datagrams come from new addresses.
# The speaker must keep its session (no disconnect, exit 0, one join) and a
# listener connected directly must hear at least 90% of its voice packets
# across the change: its next voice datagram moves it. The silent listener
# sends no voice: after a second without a word from the server it says
# "I am here", which moves it, so it too keeps its session well past ENet's
# timeout and hears the speaker again, missing at most two seconds.
source "$(dirname "$0")/lib.sh"

# num FILE KEY: the first number after "KEY": in FILE; speaker FILE KEY:
# the same within the speaker's entry of FILE's peers; empty when there is
# none, so the checks below say what is missing.
num() { grep -o "\"$2\":[0-9.]*" "$1" | head -n 1 | cut -d: -f2 || true; }
speaker() {
  grep -o '{"id":[0-9]*,"name":"speaker"[^}]*}' "$1" | grep -o "\"$2\":[0-9.]*" | head -n 1 | cut -d: -f2 || true
}

# A rebind time must be positive, and there are at most eight of them.
start_netem zero --listen 0 --to 127.0.0.1:9 --rebind-at 0
expect_exit zero 2
grep -q -- "--rebind-at takes a positive number of seconds" "$TMP/zero.err" || fail "no usage message for --rebind-at 0"
nine=()
for i in 1 2 3 4 5 6 7 8 9; do nine+=(--rebind-at "$i"); done
start_netem nine --listen 0 --to 127.0.0.1:9 "${nine[@]}"
expect_exit nine 2
grep -q -- "--rebind-at is allowed at most 8 times" "$TMP/nine.err" || fail "nine rebinds were accepted"

sox -n -r 48000 -c 1 "$TMP/tone.wav" synth 8 sine 440 vol 0.3

start server server --port 0 --json --stats "$TMP/server.json"
port=$(port_of server)
start_netem relay --listen 0 --to "127.0.0.1:$port" --rebind-at 3 --stats "$TMP/relay.json"
rport=$(port_of relay)

start listener join "127.0.0.1:$port" --name listener "${NOAUDIO[@]}" --stats "$TMP/lis.json" --duration 9
wait_for listener '"event":"connected"'
start quiet join "127.0.0.1:$rport" --name quiet "${NOAUDIO[@]}" --stats "$TMP/quiet.json" --duration 12
wait_for quiet '"event":"connected"'
start speaker join "127.0.0.1:$rport" --name speaker --json --no-playback --input-file "$TMP/tone.wav" \
  --stats "$TMP/spk.json" --duration 7
wait_for speaker '"event":"connected"'
# Its exit code is judged after the summary below, which says what happened.
speaker_code=0
wait "$(pid_of speaker)" || speaker_code=$?
expect_exit listener 0 20
quiet_code=0
wait "$(pid_of quiet)" || quiet_code=$?
kill -TERM "$(pid_of relay)"
expect_exit relay 0
kill -TERM "$(pid_of server)"
expect_exit server 0

rebinds=$(num "$TMP/relay.json" rebinds)
sent=$(num "$TMP/spk.json" voice_packets)
got=$(speaker "$TMP/lis.json" voice_packets)
got_quiet=$(speaker "$TMP/quiet.json" voice_packets)
moved=$(num "$TMP/server.json" rebinds)
echo "relay: $(num "$TMP/relay.json" clients) client(s), $rebinds rebind(s); server moved $moved player(s);" \
  "speaker sent ${sent:-?} voice packets, the listener got ${got:-?}, the silent one ${got_quiet:-?}"
[ "$rebinds" = 2 ] || fail "the relay rebound $rebinds upstream sockets, expected 2"
[ "$moved" = 2 ] || fail "the server moved $moved players, expected 2"
[ "$quiet_code" -eq 0 ] || fail "the silent listener exited with $quiet_code, expected 0"
grep -E '"event":"(server_disconnected|connection_failed)"' "$TMP/quiet.out" &&
  fail "the silent listener lost its session at the rebind"
[ "${got_quiet:-0}" -ge $((sent - 100)) ] || fail "the silent listener got ${got_quiet:-0} of $sent voice packets"
[ "$speaker_code" -eq 0 ] || fail "the speaker exited with $speaker_code, expected 0"
grep -E '"event":"(server_disconnected|connection_failed)"' "$TMP/speaker.out" &&
  fail "the speaker lost its session at the rebind"
[ -n "$sent" ] && [ "$sent" -gt 0 ] || fail "the speaker sent no voice packets"
[ "$(count listener '"event":"player_connected","id":[0-9]+,"name":"speaker"')" -eq 1 ] || fail "the speaker joined more than once"
[ "${got:-0}" -ge $((sent * 9 / 10)) ] || fail "the listener got ${got:-0} of the $sent voice packets sent across the rebind"
echo "PASS"
