#!/usr/bin/env bash
# The clean-input stages (echo cancellation, noise and residual-echo
# suppression, automatic gain) against libspeexdsp's (as Mumble uses it)
# and webrtc-audio-processing 0.3's, on the same generated material in the
# same run (tools/cleanbench). Offline: no devices, no network; a minute
# or two for the full set. BENCH_QUICK=1: one noise, one SNR, one echo
# scene, one level, 4 s of speech.
#
# usage: bench/sections/46-clean-input.sh OUT.md [BUILD_DIR]
set -euo pipefail
out=${1:?usage: $0 OUT.md [BUILD_DIR]}
build=$(cd "${2:-${GVOIP_BUILD_DIR:-build}}" && pwd)
tool="$build/tools/cleanbench/gvoip-cleanbench"
if [ ! -x "$tool" ]; then
  echo "$0: $tool is missing: it is built only when webrtc-audio-processing is installed (scripts/deps.sh)" >&2
  exit 2
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

args=(--seed 1)
if [ "${BENCH_QUICK:-0}" = 1 ]; then
  args+=(--seconds 4 --noises pink --snrs 10 --scenes dt6 --levels -20)
fi
echo "bench:   gvoip-cleanbench ${args[*]}" >&2
start=$(date +%s)
"$tool" "${args[@]}" >"$tmp/tables.md"
took=$(($(date +%s) - start))

{
  echo
  echo "## Clean input: echo, noise and gain against speexdsp and webrtc 0.3"
  echo
  echo "Command: \`$tool ${args[*]}\` (run by \`bench/sections/46-clean-input.sh\`; ${took} s here)."
  echo "Every cell below comes from that one run: the tool generates the material, runs the three"
  echo "engines on the same files and scores their outputs itself (\`--keep DIR\` writes every input and"
  echo "output as WAV). The load on the machine changes the CPU figures, nothing else."
  echo
  echo "**Material** (48 kHz mono, deterministic for the seed). Speech is espeak-ng's (\`en\` for the"
  echo "near talker, \`en+f3\` for the far end), resampled with speexdsp. Noise scenes: 3 s of noise, then"
  echo "the talker at -26 dBFS active level; noises pink, brown (1/f and 1/f² power above 20 Hz, shaped in"
  echo "one FFT), white, fan hum (pink plus 120 Hz with 7 harmonics at equal power), keyboard (bursts"
  echo "decaying in 4 ms, mean gap 150 ms) and babble (four other espeak-ng voices at equal levels). SNR"
  echo "is the speech's active power (the mean over its 10 ms frames within 40 dB of the loudest) over"
  echo "the noise's mean power across the whole file. Echo scenes: the far end plays all the time at"
  echo "-20 dBFS active; the echo is it convolved with a generated room (Gaussian noise under an"
  echo "exponential envelope falling 60 dB in RT60, after a 20-60 ms bulk delay), set to the stated"
  echo "level against the near talker's -26 dBFS, over a pink floor at -85 dBFS. Double talk: the near"
  echo "talker speaks in the middle third. The clipping scene plays at -12 dBFS through"
  echo "0.5·tanh(x/0.5) before the room; the path-change scene switches to another room half way (what"
  echo "was played before keeps decaying in the old one). Every engine gets the far end as played"
  echo "(before the loudspeaker) as its reference. Gain scenes: the talker at -40, -20 and -6 dBFS"
  echo "over pink noise 30 dB down, clipped at full scale as a converter would (so the loudest input"
  echo "reads below -6)."
  echo
  echo "**Engines.** gvoip: \`gv_echo\` (defaults) -> \`gv_denoise\` (defaults, given the echo estimate)"
  echo "-> \`gv_agc\` (defaults, given \`gv_denoise_speech_probability\`); it is not told the bulk delay."
  echo "speexdsp $(pkg-config --modversion speexdsp): \`speex_echo_state_init(480, 7200)\` (150 ms"
  echo "filter) and \`speex_preprocess\` on 480-sample frames with denoise on, noise suppression -30 dB"
  echo "(Mumble's default), VAD and dereverb off, the echo state attached for residual-echo suppression"
  echo "(as Mumble does); AGC target 30000 (Mumble's), max gain 30 dB; 16-bit samples; its reference is"
  echo "delayed by the true bulk delay. webrtc-audio-processing $(pkg-config --modversion webrtc-audio-processing):"
  echo "float \`ProcessStream\` at 48 kHz, \`noise_suppression()\` kHigh, \`echo_cancellation()\` at its"
  echo "default suppression level with \`set_stream_delay_ms\` given the true bulk delay before every"
  echo "frame (what a device reports), \`gain_control()\` kAdaptiveDigital with its default target (3) and"
  echo "compression gain; no high-pass filter. Each table runs only the stages it names."
  echo
  echo "**Measures.** Outputs are aligned by each engine's own delay (last table), found by"
  echo "cross-correlating output with input on a probe. Noise: from 2 s to the end of speech, SI-SDR"
  echo "against the clean talker and its improvement over the unprocessed mix; pause attenuation ="
  echo "input over output power in the frames where the talker is silent (60 dB down, 100 ms from any"
  echo "speech); ΔSTOI = STOI(output) - STOI(mix) (\`gvoip_quality_core\`, 10 kHz). Echo: ERLE = echo"
  echo "power at the microphone over output power on the far-end-only stretches, skipping 2 s after the"
  echo "start and after a path change (and 100 ms after double talk); convergence = the first 0.5 s window"
  echo "(far end talking, within 10 dB of its active level) whose ERLE reaches 30 dB, from the start or"
  echo "from the path change; DT SI-SDR and STOI: the output against the near talker over the"
  echo "double-talk third. Gain (noise and gain stages on; times from the talker's first word, after"
  echo "0.5 s of noise): output active level from 3 s on; reach = end of the first 0.5 s window whose"
  echo "gain brings the input's active level within 3 dB of -20 dBFS; pause rise = pause power with the"
  echo "gain stage over pause power without it (same engine, same file), from 3 s on; max = the largest"
  echo "output sample. CPU: thread CPU time (\`CLOCK_THREAD_CPUTIME_ID\`) over audio time."
  echo
  cat "$tmp/tables.md"
} >>"$out"
