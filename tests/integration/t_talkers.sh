# The loudest-talkers limit: four players talk at once in a lobby whose
# server sends a listener at most two talkers (--max-talkers 2). The
# listener is sent about two talkers' worth of voice, not four; the server
# counts what it held back; and the gaps it left in each talker's stream
# are not counted as lost by the listener (the packet after a gap opens a
# talk spurt).
source "$(dirname "$0")/lib.sh"

num() { grep -o "\"$2\":[0-9]*" "$1" | head -n 1 | cut -d: -f2 || true; }

texts=("Alice here, one two three four five six seven eight nine ten, and again from the start."
  "Bob speaking now, the quick brown fox jumps over the lazy dog, over and over again."
  "Carol talking too, she sells sea shells by the sea shore, the shells she sells are sea shells."
  "Dave as well, peter piper picked a peck of pickled peppers, how many did he pick.")
names=(alice bob carol dave)

start server server --port 0 --json --max-talkers 2 --stats "$TMP/server.json"
port=$(port_of server)
start lis join "127.0.0.1:$port" --name lis --no-capture --no-playback --json --duration 10 --stats "$TMP/lis.json"
wait_for lis '"event":"connected"'
for i in 0 1 2 3; do
  espeak-ng -g 0 -w "$TMP/${names[$i]}1.wav" "${texts[$i]}"
  sox "$TMP/${names[$i]}1.wav" "$TMP/${names[$i]}.wav" repeat 1
  start "${names[$i]}" join "127.0.0.1:$port" --name "${names[$i]}" --no-playback --json \
    --input-file "$TMP/${names[$i]}.wav" --duration 7 --stats "$TMP/${names[$i]}.json"
done
for n in "${names[@]}"; do expect_exit "$n" 0 15; done
expect_exit lis 0 10
kill -INT "$(pid_of server)"
expect_exit server 0

sent=0
for n in "${names[@]}"; do sent=$((sent + $(num "$TMP/$n.json" voice_packets))); done
heard=0 never=0
for n in "${names[@]}"; do
  peer=$(grep -o "{\"id\":[0-9]*,\"name\":\"$n\"[^}]*}" "$TMP/lis.json" || true)
  h=$(echo "$peer" | grep -o '"voice_packets":[0-9]*' | cut -d: -f2)
  l=$(echo "$peer" | grep -o '"lost":[0-9]*' | cut -d: -f2)
  t=$(echo "$peer" | grep -o '"late":[0-9]*' | cut -d: -f2)
  echo "$n: the listener was sent ${h:-0} packets, counted ${l:-0} lost (${t:-0} late)"
  heard=$((heard + ${h:-0}))
  never=$((never + ${l:-0} - ${t:-0}))
done
limited=$(num "$TMP/server.json" talkers_limited)
echo "four talkers sent $sent packets; the listener was sent $heard; the server held back ${limited:-0}"
[ "${limited:-0}" -gt 0 ] || fail "the server held nothing back"
[ $((heard * 100)) -lt $((sent * 70)) ] || fail "the listener was sent $heard of $sent packets: more than two talkers' worth"
[ "$heard" -gt $((sent / 4)) ] || fail "the listener was sent only $heard of $sent packets"
[ "$never" -le $((heard / 50 + 5)) ] || fail "the listener counted $never packets lost that the limit held back"
echo "PASS"
