# Proximity on the server (--spatial 2d --max-distance 50, so a margin of
# 5): a listener 200 away is sent none of a speaker's voice; one that
# starts 200 away and walks to 10 away after 2.5 s is sent it again from
# then on; one 10 away all along gets it throughout. Positions still reach
# everyone.
source "$(dirname "$0")/lib.sh"

espeak-ng -w "$TMP/raw.wav" "One two three four five six seven eight nine ten. One two three four five six seven eight nine ten."
sox -n -r 22050 -c 1 "$TMP/lead.wav" trim 0 1.0
sox "$TMP/lead.wav" "$TMP/raw.wav" "$TMP/speech.wav"

start server server --port 0 --json --spatial 2d --max-distance 50 --stats "$TMP/server.json"
port=$(port_of server)
listen=(--no-capture --no-playback --json --duration 7)
start far join "127.0.0.1:$port" --name far --position 200,0 --stats "$TMP/far.json" "${listen[@]}"
start mover join "127.0.0.1:$port" --name mover --position 0,200 --move-after 2.5 10,0 --stats "$TMP/mover.json" \
  "${listen[@]}"
start near join "127.0.0.1:$port" --name near --position -10,0 --stats "$TMP/near.json" "${listen[@]}"
for who in far mover near; do wait_for "$who" '"event":"connected"'; done
start speaker join "127.0.0.1:$port" --name speaker --position 0,0 --transmit continuous \
  --input-file "$TMP/speech.wav" --no-playback --json --duration 6
for who in speaker far mover near; do expect_exit "$who" 0 20; done
kill -TERM "$(pid_of server)"
expect_exit server 0

# packets_from LISTENER SPEAKER: voice packets LISTENER received from SPEAKER (0 if absent).
packets_from() {
  local n
  n=$(grep -o "\"name\":\"$2\",\"voice_packets\":[0-9]*" "$TMP/$1.json" | head -n 1 | sed 's/.*://')
  echo "${n:-0}"
}
far=$(packets_from far speaker)
mover=$(packets_from mover speaker)
near=$(packets_from near speaker)
culled=$(grep -o '"culled_packets":[0-9]*' "$TMP/server.json" | head -n 1 | cut -d: -f2)
relayed=$(grep -o '"positions_relayed":[0-9]*' "$TMP/server.json" | cut -d: -f2)
echo "voice packets received: far $far, mover $mover, near $near; server culled $culled, relayed $relayed positions"
[ "$near" -ge 200 ] || fail "the near listener got only $near packets"
[ "$far" -eq 0 ] || fail "the far listener was sent $far voice packets"
[ "$mover" -ge 50 ] || fail "the listener who walked into range got only $mover packets"
# It walked in 2.5 s after starting, about 2 s after the speaker did: it
# must have missed a good part of what the near listener got.
awk -v m="$mover" -v n="$near" 'BEGIN { exit !(m < 0.85 * n) }' || fail "mover got $mover of $near: not culled before it moved"
[ "$culled" -ge "$near" ] || fail "server culled only $culled packets"
[ "$relayed" -ge 6 ] || fail "server relayed only $relayed positions"
echo "PASS"
