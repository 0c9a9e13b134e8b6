# A playback device that underruns gets a longer buffer, unless the user
# chose its length: a player stopped for 200 ms (SIGSTOP) misses the sound
# server's requests, its 10 ms stream runs dry, and the PulseAudio
# backend asks for half as long again after each underrun, up to 40 ms;
# with --audio-buffer-ms 10 given it keeps asking for 10. Speech still
# reaches both afterwards.
# ctest: run serial
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/pulse.sh"

lobby_with_bob 20
pulse_start mic_auto spk_auto:2 mic_fixed spk_fixed:2

# playback_ms NAME: the playback buffer_ms in NAME's --stats.
playback_ms() { grep -o '"playback":{[^}]*}' "$TMP/$1.json" | grep -o '"buffer_ms":[0-9.]*' | cut -d: -f2; }
underruns() { grep -o '"playback":{[^}]*}' "$TMP/$1.json" | grep -o '"underruns":[0-9]*' | cut -d: -f2; }

for who in auto fixed; do
  pulse_player "mic_$who" "spk_$who"
  extra=()
  [ "$who" = fixed ] && extra=(--audio-buffer-ms 10)
  spawn "$who" "${PULSE_PLAYER[@]}" "$GVOIP" join "127.0.0.1:$port" --name "$who" --json --audio-backend pulse \
    --duration 8 --stats "$TMP/$who.json" "${extra[@]}"
  wait_for "$who" '"event":"connected"'
done
for who in auto fixed; do
  wait_for "$who" '"event":"speaking","id":[0-9]+,"on":true,"name":"bob"'
done
# Three stops, each long enough to drain any buffer up to 40 ms.
for _ in 1 2 3; do
  kill -STOP "$(pid_of auto)" "$(pid_of fixed)"
  sleep 0.2
  kill -CONT "$(pid_of auto)" "$(pid_of fixed)"
  sleep 0.5
done
heard_on spk_auto
heard_on spk_fixed
expect_exit auto 0 20
expect_exit fixed 0 20

for who in auto fixed; do
  echo "$who: $(underruns "$who") underruns, playback buffer $(playback_ms "$who") ms granted"
  [ "$(underruns "$who")" -ge 1 ] || fail "$who: no underrun counted while stopped for 200 ms"
done
# A 10 ms request is granted at most 10.5 ms (PulseAudio 16 gives the
# stream's queue 7.5 of it, the sink the rest); grown once, auto asks 15 ms
# or more and is granted more than fixed, which asked 10.
awk -v a="$(playback_ms auto)" -v f="$(playback_ms fixed)" 'BEGIN { exit !(a > f) }' ||
  fail "auto: the playback buffer stayed at $(playback_ms auto) ms after underruns ($(playback_ms fixed) ms fixed)"
awk -v f="$(playback_ms fixed)" 'BEGIN { exit !(f <= 10.5) }' ||
  fail "fixed: --audio-buffer-ms 10 was given, yet the buffer grew to $(playback_ms fixed) ms"
kill -TERM "$(pid_of server)"
expect_exit server 0
echo "PASS"
