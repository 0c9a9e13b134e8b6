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

espeak-ng -w "$TMP/alice.wav" "Hello, this is Alice on a real audio device. One, two, three, four."
espeak-ng -v en+f3 -w "$TMP/bob.wav" "Bob here, talking from a file. Can you hear me through the speaker?"
# The disk driver's microphone reads the device format: 48 kHz mono float.
sox "$TMP/alice.wav" -r 48000 -c 1 -b 32 -e floating-point -t raw "$TMP/alice.f32"

start server server --port 0 --json
port=$(port_of server)
SDL_AUDIODRIVER=disk SDL_DISKAUDIOFILEIN="$TMP/alice.f32" SDL_DISKAUDIOFILE="$TMP/alice.speaker" \
  start alice join "127.0.0.1:$port" --name alice --json --duration 8
start bob join "127.0.0.1:$port" --name bob --json --input-file "$TMP/bob.wav" --no-playback \
  --record "$TMP/bob.hears.wav" --duration 8
expect_exit alice 0 20
expect_exit bob 0 20
grep -q "disk" "$TMP/alice.err" || fail "alice did not use the disk driver"

# The speaker file: 48 kHz stereo float, as SDL opened it.
sox -r 48000 -c 2 -b 32 -e floating-point -t raw "$TMP/alice.speaker" "$TMP/alice.hears.wav"
secs=$(soxi -D "$TMP/alice.hears.wav")
awk -v s="$secs" 'BEGIN { exit !(s > 6 && s < 10) }' || fail "the speaker played ${secs}s in an 8 s run"
read -r d1 s1 < <("$quality" "$TMP/bob.wav" "$TMP/alice.hears.wav" | sed -n 's/.*delay_ms=\([-0-9.]*\) stoi=\([0-9.]*\).*/\1 \2/p')
read -r d2 s2 < <("$quality" "$TMP/alice.wav" "$TMP/bob.hears.wav" | sed -n 's/.*delay_ms=\([-0-9.]*\) stoi=\([0-9.]*\).*/\1 \2/p')
echo "alice's speaker has bob: stoi $s1 at ${d1} ms; bob hears alice's microphone: stoi $s2 at ${d2} ms"
awk -v x="$s1" 'BEGIN { exit !(x >= 0.45) }' || fail "bob is not in alice's speaker output"
# SDL's disk driver sleeps a whole buffer between callbacks, on top of the
# time the callback takes, so its "microphone" runs slow by up to a few
# percent: a clock drift far beyond real hardware's, which the jitter buffer
# follows by concealing and which blurs a single whole-file alignment. The
# bar is set for that; own-voice (absent) scores lie near 0.2.
awk -v x="$s2" 'BEGIN { exit !(x >= 0.3) }' || fail "alice's microphone did not reach bob"
awk -v d="$d2" 'BEGIN { exit !(d > 0 && d < 1000) }' || fail "implausible delay ${d2} ms"
echo "PASS"
