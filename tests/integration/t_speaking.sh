# Speaking means voice activity in every transmit mode: a player sending
# digital silence in continuous mode never shows as speaking, neither to
# the others nor to itself, and sends it as Opus DTX (a comfort-noise frame
# every 400 ms, not 50 packets a second) that the listener does not count
# as lost; one who talks shows as speaking while the words last and stops
# after them.
source "$(dirname "$0")/lib.sh"

espeak-ng -w "$TMP/words.wav" "Hello there, this is a short sentence."
sox -n -r "$(soxi -r "$TMP/words.wav")" -c 1 "$TMP/silence.wav" trim 0 3
sox "$TMP/silence.wav" "$TMP/words.wav" "$TMP/silence.wav" "$TMP/talk.wav"

start server server --port 0 --json
port=$(port_of server)
start lis join "127.0.0.1:$port" --name lis --no-capture --no-playback --json --duration 14 \
  --stats "$TMP/lis.json"
wait_for lis '"event":"connected"'

start mute join "127.0.0.1:$port" --name quiet --input-file "$TMP/silence.wav" --no-playback --json --duration 4 \
  --stats "$TMP/mute.json"
expect_exit mute 0 10
packets=$(grep -o '"voice_packets":[0-9]*' "$TMP/mute.json" | head -n 1 | cut -d: -f2)
dtx=$(grep -o '"dtx_frames":[0-9]*' "$TMP/mute.json" | head -n 1 | cut -d: -f2)
echo "4 s of digital silence: ${packets:-?} packets sent, ${dtx:-?} frames left out (DTX)"
[ "${dtx:-0}" -ge 150 ] || fail "only ${dtx:-0} frames of 4 s of silence were left out"
[ "${packets:-0}" -ge 5 ] && [ "${packets:-0}" -le 30 ] ||
  fail "continuous mode sent ${packets:-0} packets in 4 s of silence (comfort noise every 400 ms: about 20)"
grep -q '"event":"speaking"' "$TMP/mute.out" && fail "digital silence showed its sender as speaking"
grep -q '"event":"speaking".*"name":"quiet"' "$TMP/lis.out" && fail "digital silence showed as speaking to the others"

kill -INT "$(pid_of lis)"
expect_exit lis 0
# What never arrived is lost - late (a comfort-noise frame may come late
# on a busy machine): the frames left out must not count.
quiet=$(grep -o '{"id":[0-9]*,"name":"quiet"[^}]*}' "$TMP/lis.json")
lost=$(echo "$quiet" | grep -o '"lost":[0-9]*' | cut -d: -f2)
late=$(echo "$quiet" | grep -o '"late":[0-9]*' | cut -d: -f2)
[ $((${lost:-1} - ${late:-0})) -eq 0 ] || fail "the listener counted the left-out silence as lost: $quiet"
start lis join "127.0.0.1:$port" --name lis --no-capture --no-playback --json --duration 10
wait_for lis '"event":"connected"'
start talk join "127.0.0.1:$port" --name talker --input-file "$TMP/talk.wav" --no-playback --json --duration 9
expect_exit talk 0 15
wait_for lis '"event":"speaking","id":[0-9]*,"on":true,"name":"talker"'
wait_for lis '"event":"speaking","id":[0-9]*,"on":false,"name":"talker"'
on=$(grep -c '"event":"speaking".*"on":true.*"name":"talker"' "$TMP/lis.out")
[ "$on" -le 4 ] || fail "the talker's indicator flickered: $on times on"
echo "PASS"
