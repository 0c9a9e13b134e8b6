# The device path itself: SDL's disk driver stands in for a sound card.
# Alice talks into a "microphone" that reads raw samples from a file and
# hears through a "speaker" that writes raw samples to a file; Bob uses
# files. Each must hear the other. Also: `gvoip devices`, and a clear error
# (never a hang) when a device cannot be opened.
# ctest: run serial
source "$(dirname "$0")/lib.sh"
quality="$GVOIP_BUILD_DIR/tools/quality/gvoip-quality"

SDL_AUDIODRIVER=dummy start list devices
expect_exit list 0
grep -q "capture devices" "$TMP/list.out" || fail "gvoip devices listed nothing"

SDL_AUDIODRIVER=dummy start missing join 127.0.0.1:9 --input-device "no such microphone" --no-playback --json
expect_exit missing 1 10
grep -q "no such microphone" "$TMP/missing.err" || fail "no clear error for a missing device"

# No sound card through ALSA: gvoip's one line, not ALSA's own complaints
# first (those only with --verbose).
SDL_AUDIODRIVER=alsa start nocard join 127.0.0.1:9 --no-playback --json
expect_exit nocard 1 10
[ "$(wc -l <"$TMP/nocard.err")" -eq 1 ] || fail "more than gvoip's own line without a sound card: $(cat "$TMP/nocard.err")"
grep -q "^gvoip: audio: " "$TMP/nocard.err" || fail "no clear error without a sound card"

espeak-ng -w "$TMP/alice.wav" "Hello, this is Alice on a real audio device. One, two, three, four."
espeak-ng -v en+f3 -w "$TMP/bob.wav" "Bob here, talking from a file. Can you hear me through the speaker?"
# The disk driver's microphone reads the device format: 48 kHz mono float.
sox "$TMP/alice.wav" -r 48000 -c 1 -b 32 -e floating-point -t raw "$TMP/alice.f32"

start server server --port 0 --json
port=$(port_of server)

# One exchange; sets s1/d1 (bob in alice's speaker) and s2/d2 (alice's
# microphone at bob). The disk driver's timing is at the mercy of the
# machine's load (it sleeps a whole buffer between callbacks, on top of the
# callback itself, so its "microphone" runs slow by up to a few percent, a
# drift far beyond real hardware's that the jitter buffer follows by
# concealing); a bad exchange is tried once more and both are reported.
exchange() {
  local n=$1
  SDL_AUDIODRIVER=disk SDL_DISKAUDIOFILEIN="$TMP/alice.f32" SDL_DISKAUDIOFILE="$TMP/alice$n.speaker" \
    start "alice$n" join "127.0.0.1:$port" --name "alice$n" --json --duration 8 --stats "$TMP/alice$n.json" --verbose
  start "bob$n" join "127.0.0.1:$port" --name "bob$n" --json --input-file "$TMP/bob.wav" --no-playback \
    --record "$TMP/bob$n.hears.wav" --duration 8 --stats "$TMP/bob$n.json"
  expect_exit "alice$n" 0 20
  expect_exit "bob$n" 0 20
  # SDL's own warning, let through by --verbose, names its driver.
  grep -q "disk" "$TMP/alice$n.err" || fail "alice did not use the disk driver"
  # The speaker file: 48 kHz stereo float, as SDL opened it.
  sox -r 48000 -c 2 -b 32 -e floating-point -t raw "$TMP/alice$n.speaker" "$TMP/alice$n.hears.wav"
  secs=$(soxi -D "$TMP/alice$n.hears.wav")
  awk -v s="$secs" 'BEGIN { exit !(s > 6 && s < 10) }' || fail "the speaker played ${secs}s in an 8 s run"
  # Piecewise: the slow "microphone" makes bob's jitter buffer wait, so
  # the delay grows during the run.
  read -r d1 s1 < <("$quality" "$TMP/bob.wav" "$TMP/alice$n.hears.wav" --piecewise 1000 | sed -n 's/.*delay_ms=\([-0-9.]*\) stoi=\([0-9.]*\).*/\1 \2/p')
  read -r d2 s2 < <("$quality" "$TMP/alice.wav" "$TMP/bob$n.hears.wav" --piecewise 1000 | sed -n 's/.*delay_ms=\([-0-9.]*\) stoi=\([0-9.]*\).*/\1 \2/p')
  echo "exchange $n: alice's speaker has bob: stoi $s1 at ${d1} ms; bob hears alice's microphone: stoi $s2 at ${d2} ms"
  echo "  alice sent: $(grep -o '"sent":{[^}]*}' "$TMP/alice$n.json")"
  echo "  bob got: $(grep -o '"peers":.*' "$TMP/bob$n.json")"
  awk -v a="$s1" -v b="$s2" -v d="$d2" 'BEGIN { exit !(a >= 0.7 && b >= 0.6 && d > 0 && d < 1000) }'
}
# Own-voice (absent) scores lie near 0.2; a working exchange scores 0.85-0.98.
exchange 1 || exchange 2 || fail "the device path did not carry voice both ways (twice)"
echo "PASS"
