# A playback device that underruns gets a longer buffer, unless the user
# chose its length, and gets it back after a quiet while: a player stopped
# for 200 ms (SIGSTOP) misses the sound server's requests, its 10 ms stream
# runs dry, and the PulseAudio backend asks for half as long again after
# each stall (once however often the stream ran dry in it), up to 40 ms;
# 20 s without an underrun take it a step back (tests/unit/test_playbuf.c
# has the rules in virtual time; here, that the backend follows them). With
# --audio-buffer-ms 10 given it keeps asking for 10. Speech still reaches
# every player afterwards.
# ctest: run serial
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/pulse.sh"

lobby_with_bob 20
pulse_start mic_auto spk_auto:2 mic_back spk_back:2 mic_fixed spk_fixed:2

# playback_ms NAME: the playback buffer_ms in NAME's --stats.
playback_ms() { grep -o '"playback":{[^}]*}' "$TMP/$1.json" | grep -o '"buffer_ms":[0-9.]*' | cut -d: -f2; }
# playback NAME KEY: a counter of NAME's playback device.
playback() { grep -o '"playback":{[^}]*}' "$TMP/$1.json" | grep -o "\"$2\":[0-9]*" | cut -d: -f2; }

# auto leaves right after the stops, back 20 s later; both are stopped
# alike.
players=(auto back fixed)
for who in "${players[@]}"; do
  pulse_player "mic_$who" "spk_$who"
  extra=(--duration 8)
  [ "$who" = back ] && extra=(--duration 30)
  [ "$who" = fixed ] && extra=(--duration 8 --audio-buffer-ms 10)
  spawn "$who" "${PULSE_PLAYER[@]}" "$GVOIP" join "127.0.0.1:$port" --name "$who" --json --audio-backend pulse \
    --stats "$TMP/$who.json" "${extra[@]}"
  wait_for "$who" '"event":"connected"'
done
for who in "${players[@]}"; do
  wait_for "$who" '"event":"speaking","id":[0-9]+,"on":true,"name":"bob"'
done
pids() { for who in "${players[@]}"; do pid_of "$who"; done; }
# Three stops, each long enough to drain any buffer up to 40 ms.
for _ in 1 2 3; do
  # shellcheck disable=SC2046
  kill -STOP $(pids)
  sleep 0.2
  # shellcheck disable=SC2046
  kill -CONT $(pids)
  sleep 0.5
done
heard_on spk_auto
heard_on spk_fixed
expect_exit auto 0 20
expect_exit fixed 0 20
heard_on spk_back
expect_exit back 0 40

for who in "${players[@]}"; do
  echo "$who: $(playback "$who" underruns) underruns, lengthened $(playback "$who" buffer_grown) times," \
    "shortened $(playback "$who" buffer_shortened), playback buffer $(playback_ms "$who") ms granted"
  [ "$(playback "$who" underruns)" -ge 1 ] || fail "$who: no underrun counted while stopped for 200 ms"
done
[ "$(playback fixed buffer_grown)" = 0 ] || fail "fixed: lengthened though --audio-buffer-ms was given"
[ "$(playback auto buffer_grown)" -ge 1 ] || fail "auto: not lengthened after underruns"
# A 10 ms request is granted at most 10.5 ms (PulseAudio 16 gives the
# stream's queue 7.5 of it, the sink the rest); grown once, auto asks 15 ms
# or more and is granted more than fixed, which asked 10.
awk -v a="$(playback_ms auto)" -v f="$(playback_ms fixed)" 'BEGIN { exit !(a > f) }' ||
  fail "auto: the playback buffer stayed at $(playback_ms auto) ms after underruns ($(playback_ms fixed) ms fixed)"
awk -v f="$(playback_ms fixed)" 'BEGIN { exit !(f <= 10.5) }' ||
  fail "fixed: --audio-buffer-ms 10 was given, yet the buffer grew to $(playback_ms fixed) ms"
# back stalled as auto did, then went on for over 20 s without a stall of
# ours: it went back a step (this machine's own stalls may lengthen it
# again, so its final length says less).
[ "$(playback back buffer_shortened)" -ge 1 ] || fail "back: never shortened in 20 s after the stops"
kill -TERM "$(pid_of server)"
expect_exit server 0
echo "PASS"
