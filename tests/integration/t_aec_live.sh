# ctest: run serial
# Echo cancellation end to end, through a real sound server: player A's
# speaker is looped back into A's microphone (PulseAudio's module-loopback,
# 40 ms later and 10 dB down: a laptop on open speakers), and B talks. B
# must not hear itself again through A. The same run with A's canceller
# off proves the echo is there to remove: the canceller, the alignment of
# its reference by the devices' latencies and the delay it finds are
# judged together. (Scenes with rooms, double talk and drift are the
# benchmark's, bench/sections/46-clean-input.sh.)
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/pulse.sh"
devrec="$GVOIP_BUILD_DIR/tools/devrec/gvoip-devrec"
[ -x "$devrec" ] || fail "no gvoip-devrec at $devrec"

espeak-ng -g 10 -v en+m3 -w "$TMP/b1.wav" "Bob here, on the sound server. The quick brown fox jumps over the lazy dog. Can you hear an echo?"
sox "$TMP/b1.wav" "$TMP/b.wav" repeat 1

pulse_start mic_a spk_a:2 mic_b spk_b:2
pulse_loopback spk_a.monitor mic_a 40 -10 steady

start server server --port 0 --json
port=$(port_of server)

# echo_return NAME [A's options]: B talks alone for 14 s; prints B's voice
# at B's ear against B's mouth (dB) over the last 7 s, after the canceller
# had time to converge, and over the median of those seconds.
echo_return() {
  local name=$1
  shift
  pulse_player mic_a spk_a
  spawn "a_$name" "${PULSE_PLAYER[@]}" "$GVOIP" join "127.0.0.1:$port" --name "a$name" --json --duration 17 \
    --stats "$TMP/a_$name.json" "$@"
  pulse_player mic_b spk_b
  spawn "b_$name" "${PULSE_PLAYER[@]}" "$GVOIP" join "127.0.0.1:$port" --name "b$name" --json --duration 17
  wait_for "a_$name" '"event":"connected"' 10
  wait_for "b_$name" '"event":"connected"' 10
  "$devrec" --play "$TMP/b.wav" --sink mic_b --record mic_b.monitor,spk_b.monitor --out "$TMP/$name.wav" \
    --seconds 14 >"$TMP/rec_$name.out" || fail "gvoip-devrec failed ($name)"
  expect_exit "a_$name" 0 20
  expect_exit "b_$name" 0 20
  # The whole tail, and the median of its seven seconds.
  local t mouth ear
  for t in 7 8 9 10 11 12 13 all; do
    if [ "$t" = all ]; then sox "$TMP/$name.wav" "$TMP/${name}_s.wav" trim 7 7; else sox "$TMP/$name.wav" "$TMP/${name}_s.wav" trim "$t" 1; fi
    mouth=$(rms "$TMP/${name}_s.wav" 1)
    ear=$(rms "$TMP/${name}_s.wav" 2)
    awk -v t="$t" -v m="$mouth" -v e="$ear" 'BEGIN { if (e < 1e-7) e = 1e-7; printf "%s %.1f\n", t, 20 * log(e / m) / log(10) }'
  done >"$TMP/$name.ret"
  echo "$(awk '$1 == "all" { print $2 }' "$TMP/$name.ret") $(awk '$1 != "all" { print $2 }' "$TMP/$name.ret" | sort -g | sed -n 4p)"
}

read -r off off_median < <(echo_return off --no-aec)
read -r on on_median < <(echo_return on)
input=$(grep -o '"input":{[^}]*}' "$TMP/a_on.json" || echo "none")
echo "B's voice back at B's ear: ${off} dB without A's canceller, ${on} dB with it (median second: ${off_median} and ${on_median} dB); A's input stats: $input"
echo "second by second, without and with (dB): $(paste -d/ "$TMP/off.ret" "$TMP/on.ret" | awk -F'[ /]' '{ printf "%s %s/%s  ", $1, $2, $4 }')"
awk -v x="$off" 'BEGIN { exit !(x > -25) }' || fail "without a canceller B's echo is ${off} dB: the loop is not there"
# Most seconds of a run measure far below -40 dB, but a burst of echo now
# and then (a reference jump, or the suppressor taking the echo for a near
# talker for a moment) sets the whole run's figure: -14 to -78 dB seen,
# the worst under ASan, and once a single second at +2 dB (an ASan run in
# CI, the other six seconds near -65 dB) put a whole run only 5.9 dB below
# the run without the canceller. The median second says whether the
# canceller works; the whole run only that it makes things better, not
# how much. The benchmark (47-echo-live) reports the figures.
awk -v x="$on" -v o="$off" -v m="$on_median" -v om="$off_median" \
  'BEGIN { exit !(m < -30 && om - m >= 25 && x < o - 3) }' ||
  fail "with the canceller B's echo is ${on} dB, median second ${on_median} dB (want below -30 and 25 dB below ${off_median}; the run 3 dB below ${off})"
grep -q '"echo_cancel":true' "$TMP/a_on.json" || fail "A's stats do not say the canceller ran: $input"
kill -TERM "$(pid_of server)"
expect_exit server 0
echo "PASS"
