# Voice activation (--transmit voice) on generated speech with
# 1.5 s pauses: the pauses are not sent (far fewer packets than the
# continuous 50 a second), the listener still understands the speech, and
# the first 100 ms of every talk spurt arrive (onsets not clipped).
# ctest: run serial
source "$(dirname "$0")/lib.sh"
quality="$GVOIP_BUILD_DIR/tools/quality/gvoip-quality"

# Three sentences, each trimmed to start exactly on its first sound, so the
# onsets in the reference are known: 0.5 s, then each after the previous
# one and 1.5 s of silence.
i=0
for text in "Good morning, everybody." "Please check the left flank now." "Thank you, that is all."; do
  i=$((i + 1))
  espeak-ng -w "$TMP/p$i.raw.wav" "$text"
  sox "$TMP/p$i.raw.wav" "$TMP/p$i.wav" silence 1 0.005 0.5% reverse silence 1 0.005 0.5% reverse
done
sox -n -r 22050 -c 1 "$TMP/gap.wav" trim 0 1.5
sox -n -r 22050 -c 1 "$TMP/lead.wav" trim 0 0.5
sox "$TMP/lead.wav" "$TMP/p1.wav" "$TMP/gap.wav" "$TMP/p2.wav" "$TMP/gap.wav" "$TMP/p3.wav" "$TMP/gap.wav" \
  "$TMP/ref.wav"
dur() { sox "$1" -n stat 2>&1 | awk '/^Length/ { print $3 }'; }
onsets=()
t=0.5
for i in 1 2 3; do
  onsets+=("$t")
  t=$(awk -v t="$t" -v d="$(dur "$TMP/p$i.wav")" 'BEGIN { print t + d + 1.5 }')
done
speech=$(awk -v a="$(dur "$TMP/p1.wav")" -v b="$(dur "$TMP/p2.wav")" -v c="$(dur "$TMP/p3.wav")" 'BEGIN { print a + b + c }')
total=$(dur "$TMP/ref.wav")

start server server --port 0 --json
port=$(port_of server)
start listener join "127.0.0.1:$port" --name listener --no-capture --no-playback --record "$TMP/heard.wav" --stats "$TMP/listener.json" \
  --json --duration 10
wait_for listener '"event":"connected"'
start speaker join "127.0.0.1:$port" --name speaker --input-file "$TMP/ref.wav" --no-playback --json --transmit voice \
  --stats "$TMP/speaker.json" --duration 8.5
expect_exit speaker 0 20
expect_exit listener 0 20
kill -TERM "$(pid_of server)"
expect_exit server 0

sent=$(grep -o '"voice_packets":[0-9]*' "$TMP/speaker.json" | head -n 1 | cut -d: -f2)
continuous=$(awk -v t="$total" 'BEGIN { if (t > 8.5) t = 8.5; printf "%d", t / 0.02 }')
needed=$(awk -v s="$speech" 'BEGIN { printf "%d", s / 0.02 }')
echo "speech ${speech}s of ${total}s: sent $sent packets; continuous would send $continuous in the same time, speech needs $needed"
[ "$sent" -ge "$needed" ] || fail "only $sent packets for $needed frames of speech"
awk -v s="$sent" -v c="$continuous" 'BEGIN { exit !(s < 0.8 * c) }' || fail "silence was sent: $sent packets of $continuous"
grep -q '"event":"speaking","id":[0-9]*,"on":true' "$TMP/listener.out" || fail "no speaking event at the listener"
grep -q '"event":"speaking","id":[0-9]*,"on":false' "$TMP/listener.out" || fail "no end of speaking at the listener"
[ "$(count listener '"event":"speaking".*"on":true')" -ge 3 ] || fail "fewer than three talk spurts seen by the listener"

read -r delay stoi < <("$quality" "$TMP/ref.wav" "$TMP/heard.wav" --max-delay-ms 6000 |
  sed -n 's/.*delay_ms=\([-0-9.]*\) stoi=\([0-9.]*\).*/\1 \2/p')
echo "listener: stoi $stoi at delay $delay ms"
awk -v x="$stoi" 'BEGIN { exit !(x >= 0.7) }' || fail "speech poorly received (stoi $stoi)"

rms_at() { sox "$1" -n remix 1 trim "$2" 0.1 stat 2>&1 | awk '/^RMS +amplitude/ { print $3 }'; }
# Each talk spurt is found on its own: the jitter buffer starts every spurt
# at the delay it wants then, so the whole file's delay is only a guess for
# where one begins. The first half second of speech is looked for within
# 100 ms of that guess; a clipped onset still shows as a quiet first 100 ms.
for o in "${onsets[@]}"; do
  ref=$(rms_at "$TMP/ref.wav" "$o")
  guess=$(awk -v o="$o" -v d="$delay" 'BEGIN { printf "%.4f", o + d / 1000 - 0.1 }')
  sox "$TMP/ref.wav" "$TMP/piece.wav" trim "$o" 0.5
  sox "$TMP/heard.wav" "$TMP/window.wav" trim "$guess" 0.7
  local_ms=$("$quality" "$TMP/piece.wav" "$TMP/window.wav" --max-delay-ms 200 | sed -n 's/^delay_ms=\([-0-9.]*\) .*/\1/p')
  at=$(awk -v g="$guess" -v d="$local_ms" 'BEGIN { printf "%.4f", g + d / 1000 }')
  got=$(rms_at "$TMP/heard.wav" "$at")
  db=$(awk -v g="$got" -v r="$ref" 'BEGIN { printf "%.1f", (g > 0 ? 20*log(g/r)/log(10) : -99) }')
  echo "onset at ${o}s (heard at ${at}s): first 100 ms at $db dB of the reference"
  awk -v d="$db" 'BEGIN { exit !(d >= -4) }' || fail "the onset at ${o}s was clipped ($db dB)"
done
echo "PASS"
