# ctest: run serial
# The device path through a real sound server: a private PulseAudio daemon
# (pulse.sh) whose null sinks are each player's microphone and speaker,
# two players joined through SDL2's PulseAudio driver, and espeak-ng speech
# played into both players' microphones at once while gvoip-devrec records
# each microphone and the other player's speaker on one timeline. Speech
# must cross two real device streams in each direction. First the method
# proves itself on the same daemon: one source recorded twice reads 0 ms,
# and PulseAudio's own module-loopback reads its configured latency.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/pulse.sh"
devrec="$GVOIP_BUILD_DIR/tools/devrec/gvoip-devrec"
quality="$GVOIP_BUILD_DIR/tools/quality/gvoip-quality"
[ -x "$devrec" ] || fail "no gvoip-devrec at $devrec"

# 200 ms between words: each word is an utterance of its own, aligned on
# its own, so a delay that moves while the jitter buffer settles is
# followed word by word.
espeak-ng -g 20 -w "$TMP/a.wav" "Hello, this is Alice. One, two, three, four. Can you hear me?"
espeak-ng -g 20 -v en+f3 -w "$TMP/b.wav" "Bob here, on the sound server. The quick brown fox jumps."

pulse_start mic_a spk_a:2 mic_b spk_b:2 lb_in lb_out:2

# field FILE KEY: a key=value field of gvoip-quality's first line.
field() { head -n 1 "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
# channels WAV: its channels as WAV-1.wav, WAV-2.wav, ...
channels() {
  local c n
  n=$(soxi -c "$1")
  for ((c = 1; c <= n; c++)); do sox "$1" "${1%.wav}-$c.wav" remix "$c" 2>/dev/null; done
}

# The method: lb_in recorded twice, the second stream started 70 ms after
# the first, must line up within 0.5 ms; module-loopback at 20 ms from
# lb_in to lb_out must read 20 ms give or take its own regulation, once
# the mouth's render block is taken back out (gvoip-devrec places the
# mouth as a microphone, a block earlier than the sink's own clock, which
# module-loopback's 20 ms is counted on).
pulse_loopback lb_in.monitor lb_out 20
"$devrec" --play "$TMP/a.wav" --sink lb_in --record lb_in.monitor,lb_out.monitor,lb_in.monitor \
  --stagger-ms 70 --out "$TMP/proof.wav" --seconds 6 >"$TMP/proof.out" || fail "gvoip-devrec failed"
channels "$TMP/proof.wav"
"$quality" "$TMP/proof-1.wav" "$TMP/proof-3.wav" >"$TMP/same.q"
"$quality" "$TMP/proof-1.wav" "$TMP/proof-2.wav" --utterances >"$TMP/loop.q"
same=$(field "$TMP/same.q" delay_ms)
block=$(sed -n '1s/.* mouth_block_ms=\([0-9.]*\).*/\1/p' "$TMP/proof.out")
[ -n "$block" ] || fail "gvoip-devrec gave no mouth_block_ms for lb_in.monitor: $(head -n 1 "$TMP/proof.out")"
loop=$(awk -v d="$(field "$TMP/loop.q" delay_median_ms)" -v b="$block" 'BEGIN { printf "%.2f", d - b }')
echo "method: one source twice ${same} ms apart; module-loopback latency_msec=20 reads ${loop} ms on the sink's clock (median of $(field "$TMP/loop.q" used) utterances; the mouth's block ${block} ms)"
within "$same" 0 0.5 || fail "one source recorded twice reads ${same} ms, not 0"
within "$loop" 20 5 || fail "module-loopback at 20 ms reads ${loop} ms on the sink's clock"

start server server --port 0 --json
port=$(port_of server)
pulse_player mic_a spk_a
spawn a "${PULSE_PLAYER[@]}" "$GVOIP" join "127.0.0.1:$port" --name a --json --duration 12 --stats "$TMP/a.json"
pulse_player mic_b spk_b
spawn b "${PULSE_PLAYER[@]}" "$GVOIP" join "127.0.0.1:$port" --name b --json --duration 12 --stats "$TMP/b.json"
wait_for a '"event":"connected"' 10
wait_for b '"event":"connected"' 10

# Both players' devices are streams of this daemon, nothing else.
streams() { pactl list "$1" | grep -c 'application.name = "gvoip"' || true; }
[ "$(streams source-outputs)" = 2 ] || fail "gvoip has $(streams source-outputs) capture streams on the daemon, not 2"
[ "$(streams sink-inputs)" = 2 ] || fail "gvoip has $(streams sink-inputs) playback streams on the daemon, not 2"

# Both talk at once, each mouth recorded with the other's ear: both
# directions are measured over the same seconds, full duplex.
spawn rec_ab "$devrec" --play "$TMP/a.wav" --sink mic_a --record mic_a.monitor,spk_b.monitor \
  --out "$TMP/a_to_b.wav" --seconds 8
spawn rec_ba "$devrec" --play "$TMP/b.wav" --sink mic_b --record mic_b.monitor,spk_a.monitor \
  --out "$TMP/b_to_a.wav" --seconds 8
expect_exit rec_ab 0 20
expect_exit rec_ba 0 20

# direction NAME: scores the ear of NAME.wav against its mouth, utterance
# by utterance. A direction that fails is reported after both players have
# left, beside their --stats, which say where the time went (jitter buffer,
# device buffers, underruns, dropped playout).
problems=()
direction() {
  channels "$TMP/$1.wav"
  "$quality" "$TMP/$1-1.wav" "$TMP/$1-2.wav" --utterances >"$TMP/$1.q"
  local stoi median p95 spread used
  stoi=$(field "$TMP/$1.q" utterance_stoi)
  median=$(field "$TMP/$1.q" delay_median_ms)
  p95=$(field "$TMP/$1.q" delay_p95_ms)
  spread=$(field "$TMP/$1.q" delay_spread_ms)
  used=$(field "$TMP/$1.q" used)
  echo "$1: STOI $stoi, mouth to ear median $median ms, p95 $p95 ms, spread $spread ms ($used of $(field "$TMP/$1.q" utterances) utterances)"
  if [ "$stoi" = n/a ]; then
    problems+=("$1: no speech reached the ear ($(head -n 1 "$TMP/$1.q"))")
  elif ! awk -v s="$stoi" -v d="$median" 'BEGIN { exit !(s >= 0.6 && d > 0 && d < 1000) }'; then
    problems+=("$1: STOI $stoi (want 0.6 or more), median delay $median ms (want 0..1000)")
  fi
}
# Own-voice scores lie near 0.2; a working direction scores 0.7-0.95.
direction a_to_b
direction b_to_a

expect_exit a 0 20
expect_exit b 0 20
for who in a b; do echo "$who's devices: $(grep -o '"devices":{.*}}' "$TMP/$who.json" || echo "not in --stats")"; done
if [ ${#problems[@]} -gt 0 ]; then
  for who in a b; do echo "$who --stats: $(cat "$TMP/$who.json")"; done
  fail "${problems[*]}"
fi
# The thread serving both devices asks for real-time priority, which root
# or an RLIMIT_RTPRIO limit grants and nothing else does.
if [ "$(id -u)" = 0 ] || [ "$(ulimit -r)" = unlimited ] || [ "$(ulimit -r)" -ge 1 ]; then rt=true; else rt=false; fi
for who in a b; do
  got=$(grep -o '"playback":{[^}]*}' "$TMP/$who.json" | grep -o '"realtime":[a-z]*' | cut -d: -f2)
  [ "$got" = "$rt" ] || fail "$who: devices.playback.realtime is '$got', want $rt (uid $(id -u), ulimit -r $(ulimit -r))"
done
kill -TERM "$(pid_of server)"
expect_exit server 0
echo "PASS"
