# Speaking means voice activity in every transmit mode: a player sending
# digital silence in continuous mode (50 packets a second) never shows as
# speaking, neither to the others nor to itself; one who talks shows as
# speaking while the words last and stops after them.
source "$(dirname "$0")/lib.sh"

espeak-ng -w "$TMP/words.wav" "Hello there, this is a short sentence."
sox -n -r "$(soxi -r "$TMP/words.wav")" -c 1 "$TMP/silence.wav" trim 0 3
sox "$TMP/silence.wav" "$TMP/words.wav" "$TMP/silence.wav" "$TMP/talk.wav"

start server server --port 0 --json
port=$(port_of server)
start lis join "127.0.0.1:$port" --name lis --no-capture --no-playback --json --duration 14
wait_for lis '"event":"connected"'

start mute join "127.0.0.1:$port" --name quiet --input-file "$TMP/silence.wav" --no-playback --json --duration 4 \
  --stats "$TMP/mute.json"
expect_exit mute 0 10
packets=$(grep -o '"voice_packets":[0-9]*' "$TMP/mute.json" | head -n 1 | cut -d: -f2)
[ "${packets:-0}" -ge 100 ] || fail "continuous mode sent only ${packets:-0} packets of silence"
grep -q '"event":"speaking"' "$TMP/mute.out" && fail "digital silence showed its sender as speaking"
grep -q '"event":"speaking".*"name":"quiet"' "$TMP/lis.out" && fail "digital silence showed as speaking to the others"

start talk join "127.0.0.1:$port" --name talker --input-file "$TMP/talk.wav" --no-playback --json --duration 9
expect_exit talk 0 15
wait_for lis '"event":"speaking","id":[0-9]*,"on":true,"name":"talker"'
wait_for lis '"event":"speaking","id":[0-9]*,"on":false,"name":"talker"'
on=$(grep -c '"event":"speaking".*"on":true.*"name":"talker"' "$TMP/lis.out")
[ "$on" -le 4 ] || fail "the talker's indicator flickered: $on times on"
echo "PASS"
