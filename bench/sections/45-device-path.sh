#!/usr/bin/env bash
# The device path: mouth-to-ear through a real sound server, as a user
# hears it. A private PulseAudio daemon (tests/integration/pulse.sh) gives
# each player a null sink as microphone and one as speaker; speech is
# played into a microphone while gvoip-devrec records it and the other
# player's speaker on one timeline, and gvoip-quality --utterances finds
# each word's delay. Beside it, in the same run: PulseAudio's own floor
# (module-loopback), the file path of 20-latency on the same speech, a lossy
# network, device underruns, and CPU per client. See docs/devices.md.
set -euo pipefail
. "$BENCH_SRC/bench/lib.sh"
. "$BENCH_SRC/tests/integration/pulse.sh"
cd "$BENCH_WORK"
DEVREC="$BENCH_BUILD/tools/devrec/gvoip-devrec"

quick=$BENCH_QUICK
# 200 ms between words: each word is an utterance, aligned on its own.
# Each talker pauses for pause_s half way, as in a conversation: the words
# after it show what the pause costs (with others in the lobby playback
# sleeps only after 20 s of nobody heard; when it slept after 3 s, waking
# it put those words 8 ms late).
text_a=("Hello everyone, this is a test of the voice chat." "Please call Stella. One, two, three, four, five.")
text_b=("Bob here, talking through the sound server." "The quick brown fox jumps over the lazy dog.")
pause_s=4.5
# The idle client runs idle_secs; its steady share leaves out the first
# idle_skip (starting, joining, and the noise suppressor learning the room,
# which takes it about 5 s before it rests in the pauses), its life share
# does not. A client waits in a lobby for minutes: the steady share is its
# cost.
idle_secs=30
idle_skip=8
if [ "$quick" = 1 ]; then
  text_a=("Hello, this is Alice." "One, two.")
  text_b=("Bob here." "The quick brown fox.")
  pause_s=0.2
  idle_secs=3
  idle_skip=1
fi
# speak OUT.wav VOICE FIRST SECOND: both halves, pause_s apart.
speak() {
  espeak-ng -g 20 -v "$2" -w "$1.1.wav" "$3"
  espeak-ng -g 20 -v "$2" -w "$1.2.wav" "$4"
  sox "$1.1.wav" -p pad 0 "$pause_s" | sox - "$1.2.wav" "$1"
  rm -f "$1.1.wav" "$1.2.wav"
}
speak a.wav en "${text_a[@]}"
speak b.wav en+f3 "${text_b[@]}"
speech_s=$(soxi -D a.wav b.wav | sort -g | tail -n 1 | awk '{ printf "%d", $1 + 0.999 }')
rec_s=$((speech_s + 2))   # what gvoip-devrec records: lead, speech, the last word's delay
dur=$((rec_s + 4))        # a player's --duration: join, recording, margin

pulse_start mic_a spk_a:2 mic_b spk_b:2 mic_c spk_c:2 lb_in lb_out:2
server=$(pactl info | sed -n 's/^Server Name: //p')

# utterance_delays Q: the delays of the utterances gvoip-quality counted.
utterance_delays() {
  awk '/^utterance=/ { d = ""; m = ""
    for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "delay_ms") d = kv[2]; if (kv[1] == "match") m = kv[2] }
    if (m != "n/a" && m + 0 >= 0.3) print d }' "$1"
}
# field Q KEY: a key=value field of gvoip-quality's first line.
field() { head -n 1 "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
# channels WAV: its channels as WAV-1.wav, WAV-2.wav, ...
channels() {
  local c n
  n=$(soxi -c "$1")
  for ((c = 1; c <= n; c++)); do sox "$1" "${1%.wav}-$c.wav" remix "$c" 2>/dev/null; done
}
# delays NAME Q...: pools the counted utterances of the Q files into
# NAME.lat and sets row_* (median, p95, spread, count).
delays() {
  local name=$1
  shift
  : >"$name.lat"
  for q in "$@"; do utterance_delays "$q" >>"$name.lat"; done
  row_n=$(wc -l <"$name.lat")
  row_med=$(percentile 50 "$name.lat")
  row_p95=$(percentile 95 "$name.lat")
  row_spread=$(sort -g "$name.lat" | awk 'NR == 1 { lo = $1 } { hi = $1 } END { if (NR) printf "%.1f", hi - lo; else print "n/a" }')
}
# dev JSON DIR KEY: a device figure from a --stats file, n/a when absent.
dev() {
  local v
  v=$(jsub "$1" "$2" "$3" 2>/dev/null || true)
  echo "${v:-n/a}"
}
# backend JSON: the playback device's backend as --stats names it.
backend() {
  local v
  v=$(grep -o '"playback":{[^}]*}' "$1" | grep -o '"backend":"[^"]*"' | cut -d'"' -f4 || true)
  echo "${v:-n/a}"
}
share() { read -r c w <"$1"; calc "100 * $c / $w" %.1f; }
wait_connected() {
  for _ in $(seq 200); do grep -q '"event":"connected"' "$1" 2>/dev/null && return 0; sleep 0.05; done
  echo "bench: no connected event in $1" >&2
  return 1
}

# ---- PulseAudio's own floor, and the method's check ----------------------
pulse_loopback lb_in.monitor lb_out 20
"$DEVREC" --play a.wav --sink lb_in --record lb_in.monitor,lb_out.monitor,lb_in.monitor --stagger-ms 70 \
  --out floor.wav --seconds "$rec_s" >floor.rec
channels floor.wav
"$QUALITY" floor-1.wav floor-3.wav >same.q
"$QUALITY" floor-1.wav floor-2.wav --utterances >floor.q
same=$(field same.q delay_ms)
floor_block=$(sed -n '1s/.* mouth_block_ms=\([0-9.]*\).*/\1/p' floor.rec)
delays floor floor.q
floor_med=$row_med
floor_row="| the server's module-loopback, \`latency_msec=20\` (the floor) | n/a | **${row_med}** | ${row_p95} | ${row_spread} | ${row_n} | $(field floor.q utterance_stoi) | n/a | n/a | n/a | n/a | n/a |"

# ---- gvoip on the device path ----------------------------------------------
# device_once NAME [--netem NETEM-ARGS... --] GVOIP-ARGS...: a fresh server
# (behind gvoip-netem with NETEM-ARGS), players a and b on their sinks with
# GVOIP-ARGS, both talking at once; NAME/summary holds its figures, NAME/cells
# the row's device and CPU cells. Beside them PulseAudio's own player plays
# zeros into a third sink with gvoip's default playback buffer (10 ms, asked
# for in quarters): its underruns in the same seconds are the machine's and
# the server's, not gvoip's (pacat -v says "Stream underrun." for each).
device_once() {
  local name=$1
  shift
  local relay=()
  if [ "${1:-}" = --netem ]; then
    shift
    while [ "$1" != -- ]; do relay+=("$1"); shift; done
    shift
  fi
  local d="$BENCH_WORK/$name" port target srv rpid=""
  mkdir -p "$d"
  bg "$d/srv.out" "$d/srv.err" "$GVOIP" server --port 0 --json
  srv=$BG_PID
  port=$(wait_port "$d/srv.out")
  target=$port
  if [ ${#relay[@]} -gt 0 ]; then
    bg "$d/relay.out" "$d/relay.err" "$NETEM" --listen 0 --to "127.0.0.1:$port" --seed 1 "${relay[@]}"
    rpid=$BG_PID
    target=$(wait_port "$d/relay.out")
  fi
  local p=() who witness
  bg /dev/null "$d/witness.err" pacat -v --playback --device=spk_c --raw --latency-msec=10 --process-time-msec=2.5 \
    --rate=48000 --channels=2 --format=float32le /dev/zero
  witness=$BG_PID
  for who in a b; do
    pulse_player "mic_$who" "spk_$who"
    bg "$d/$who.out" "$d/$who.err" "${PULSE_PLAYER[@]}" "$GVOIP" join "127.0.0.1:$target" --name "$who" --json \
      --duration "$dur" --stats "$d/$who.json" "$@"
    p+=("$BG_PID")
    bg /dev/null /dev/null cpu_watch "$BG_PID" "$d/$who.cpu"
    p+=("$BG_PID")
    bg /dev/null /dev/null cpu_watch_fine "${p[-2]}" "$d/$who.steady.cpu" "$idle_skip"
    p+=("$BG_PID")
  done
  wait_connected "$d/a.out"
  wait_connected "$d/b.out"
  bg "$d/ab.rec" "$d/ab.err" "$DEVREC" --play a.wav --sink mic_a --record mic_a.monitor,spk_b.monitor \
    --out "$d/a_to_b.wav" --seconds "$rec_s"
  p+=("$BG_PID")
  bg "$d/ba.rec" "$d/ba.err" "$DEVREC" --play b.wav --sink mic_b --record mic_b.monitor,spk_a.monitor \
    --out "$d/b_to_a.wav" --seconds "$rec_s"
  p+=("$BG_PID")
  wait "${p[@]}"
  kill "$witness" 2>/dev/null || true
  wait "$witness" || true
  [ -z "$rpid" ] || kill -TERM "$rpid"
  kill -TERM "$srv"
  wait "$srv" ${rpid:+"$rpid"}
  local dir s1 s2
  for dir in a_to_b b_to_a; do
    channels "$d/$dir.wav"
    "$QUALITY" "$d/$dir-1.wav" "$d/$dir-2.wav" --utterances >"$d/$dir.q"
  done
  delays "$d/all" "$d/a_to_b.q" "$d/b_to_a.q"
  s1=$(field "$d/a_to_b.q" utterance_stoi)
  s2=$(field "$d/b_to_a.q" utterance_stoi)
  local cu co pu po cb pb pl
  cu="$(dev "$d/a.json" capture underruns)+$(dev "$d/b.json" capture underruns)"
  co="$(dev "$d/a.json" capture overruns)+$(dev "$d/b.json" capture overruns)"
  pu="$(dev "$d/a.json" playback underruns)+$(dev "$d/b.json" playback underruns)"
  po="$(dev "$d/a.json" playback overruns)+$(dev "$d/b.json" playback overruns)"
  cb=$(dev "$d/a.json" capture buffer_ms)
  pb=$(dev "$d/a.json" playback buffer_ms)
  pl="$(dev "$d/a.json" playback latency_ms) / $(dev "$d/b.json" playback latency_ms)"
  # Per direction, one run's words: their spread is what a listener hears
  # wander (the pooled figure also holds the two directions' difference).
  local sa sb
  sa=$(utterance_delays "$d/a_to_b.q" | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { if (NR) printf "%.1f", hi - lo; else print "n/a" }')
  sb=$(utterance_delays "$d/b_to_a.q" | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { if (NR) printf "%.1f", hi - lo; else print "n/a" }')
  echo "$row_med $row_p95 $row_spread $row_n $s1 $s2 $sa $sb $(dev "$d/a.json" playback underruns) $(dev "$d/b.json" playback underruns) $(grep -o 'Stream underrun' "$d/witness.err" | wc -l)" >"$d/summary"
  echo "$(backend "$d/a.json") | ${cu} / ${co} | ${pu} / ${po} | ${cb} / ${pb} | ${pl} | $(share "$d/a.cpu")% / $(share "$d/b.cpu")%" >"$d/cells"
}

# A run's figures move with what else this shared machine does at that
# moment: each row runs `runs` times.
runs=3
[ "$quick" = 0 ] || runs=1
# mid COLUMN FILE: the median (nearest rank) of a column, as written.
mid() { awk -v c="$1" '{ print $c }' "$2" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# device_run NAME LABEL [device_once's arguments]: device_once `runs` times
# (NAME.1, NAME.2, ...); appends to rows.md a row of the medians over the
# runs (the device and CPU cells: the run with the median delay's), to
# run_rows.md one row per run, and NAME/summary as device_once's, of the
# medians, with the playback underruns of all runs summed (and the
# witness's).
: >rows.md
: >run_rows.md
device_run() {
  local name=$1 label=$2 k
  shift 2
  local all="$BENCH_WORK/$name.runs"
  : >"$all"
  for ((k = 1; k <= runs; k++)); do
    device_once "$name.$k" "$@"
    echo "$(cat "$BENCH_WORK/$name.$k/summary") $k" >>"$all"
    read -r m p sp n s1 s2 sa sb ua ub wu _ <"$BENCH_WORK/$name.$k/summary"
    echo "| $label | $k | ${m} | ${p} | ${sa} / ${sb} | ${n} | ${s1} / ${s2} | ${ua}+${ub} | ${wu} |" >>run_rows.md
  done
  local c med=() middle ua ub wu
  for c in 1 2 3 4 5 6 7 8; do med+=("$(mid "$c" "$all")"); done
  middle=$(sort -g -k1,1 "$all" | awk '{ r[NR] = $NF } END { print r[int((NR + 1) / 2)] }')
  ua=$(awk '{ s += $9 } END { print s + 0 }' "$all")
  ub=$(awk '{ s += $10 } END { print s + 0 }' "$all")
  wu=$(awk '{ s += $11 } END { print s + 0 }' "$all")
  mkdir -p "$BENCH_WORK/$name"
  cp "$BENCH_WORK/$name.$middle/"{a,b}.cpu "$BENCH_WORK/$name.$middle/"{a,b}.steady.cpu "$BENCH_WORK/$name.$middle/a.json" \
    "$BENCH_WORK/$name/"
  echo "${med[0]} ${med[1]} ${med[4]} ${med[5]} ${med[6]} ${med[7]} $ua $ub $wu" >"$BENCH_WORK/$name/summary"
  local backend rest
  IFS='|' read -r backend rest <"$BENCH_WORK/$name.$middle/cells"
  echo "| $label | ${backend% } | **${med[0]}** | ${med[1]} | ${med[2]} | ${med[3]} | ${med[4]} / ${med[5]} |${rest} |" >>rows.md
}

# The help read whole first: grep -q stops at the match, and the
# program's SIGPIPE would then fail the pipeline (pipefail).
help_text=$("$GVOIP" --help 2>&1 || true)
has() { grep -q -- "$1" <<<"$help_text"; }
echo "bench:   device path, defaults" >&2
device_run defaults "gvoip, defaults"
if [ "$quick" = 0 ] || ! has --low-latency; then
  echo "bench:   device path, --frame-ms 10" >&2
  device_run frame10 "gvoip, \`--frame-ms 10\`" --frame-ms 10
fi
if has --low-latency; then
  echo "bench:   device path, --low-latency" >&2
  device_run lowlat "gvoip, \`--low-latency\`" --low-latency
fi
if [ "$quick" = 0 ]; then
  echo "bench:   device path, --audio-backend sdl" >&2
  device_run sdl "gvoip, \`--audio-backend sdl\` (SDL2's PulseAudio driver)" --audio-backend sdl
fi
if [ "$quick" = 0 ]; then
  # The device path's own CPU budget is before clean input (its issue's
  # 3%; clean input has 2% of its own on top): the same talk without it.
  echo "bench:   device path, clean input off" >&2
  device_run bare "gvoip, clean input off (\`--no-aec --no-denoise --no-agc\`)" --no-aec --no-denoise --no-agc
  echo "bench:   device path, --transmit voice" >&2
  device_run voice "gvoip, \`--transmit voice\` (voice activation: each word after a pause starts a talk spurt)" --transmit voice
fi
echo "bench:   device path, 10% loss with jitter" >&2
device_run loss "gvoip, defaults, 10% loss and 0..30 ms jitter on each sender's uplink" \
  --netem --up-loss 10 --up-jitter 30 -- 

# ---- The file path on the same speech (as 20-latency measures it) -------------
# file_run NAME LABEL [RELAY ARGS...]: the speaker joins through gvoip-netem
# with the arguments, when given, as the device path's loss run does.
file_run() {
  local name=$1 label=$2
  shift 2
  local fp="$BENCH_WORK/$name" port target fsrv flis fw1 fspk rpid=""
  mkdir -p "$fp"
  bg "$fp/srv.out" "$fp/srv.err" "$GVOIP" server --port 0 --json
  fsrv=$BG_PID
  port=$(wait_port "$fp/srv.out")
  target=$port
  if [ $# -gt 0 ]; then
    bg "$fp/relay.out" "$fp/relay.err" "$NETEM" --listen 0 --to "127.0.0.1:$port" --seed 1 "$@"
    rpid=$BG_PID
    target=$(wait_port "$fp/relay.out")
  fi
  bg "$fp/lis.out" "$fp/lis.err" "$GVOIP" join "127.0.0.1:$port" --name listener --no-capture --no-playback \
    --record "$fp/lis.wav" --json --duration $((speech_s + 4)) --stats "$fp/lis.json"
  flis=$BG_PID
  bg /dev/null /dev/null cpu_watch "$flis" "$fp/lis.cpu"
  fw1=$BG_PID
  wait_connected "$fp/lis.out"
  bg "$fp/spk.out" "$fp/spk.err" "$GVOIP" join "127.0.0.1:$target" --name speaker --input-file a.wav --no-playback \
    --json --duration $((speech_s + 2)) --stats "$fp/spk.json"
  fspk=$BG_PID
  bg /dev/null /dev/null cpu_watch "$fspk" "$fp/spk.cpu"
  wait "$fspk" "$flis" "$fw1" "$BG_PID"
  [ -z "$rpid" ] || { kill -TERM "$rpid"; wait "$rpid" || true; }
  kill -TERM "$fsrv"
  wait "$fsrv"
  # The recording's sample j was played at record_start_unix_ms + j / 48 kHz
  # and the file's sample i left at input_start_unix_ms + i / rate: cut (or
  # pad) the recording to start where the file did.
  local off
  off=$(calc "($(jnum "$fp/spk.json" input_start_unix_ms) - $(jnum "$fp/lis.json" record_start_unix_ms)) / 1000" %.4f)
  if [ "$(calc "$off >= 0" %d)" = 1 ]; then
    sox "$fp/lis.wav" "$fp/ear.wav" trim "$off"
  else
    sox "$fp/lis.wav" "$fp/ear.wav" pad "$(calc "-($off)" %.4f)"
  fi
  "$QUALITY" a.wav "$fp/ear.wav" --utterances >"$fp/file.q"
  delays "$fp/all" "$fp/file.q"
  echo "$row_med $(field "$fp/file.q" utterance_stoi)" >"$fp/summary"
  echo "| $label | none | **${row_med}** | ${row_p95} | ${row_spread} | ${row_n} | $(field "$fp/file.q" utterance_stoi) | none | none | none | n/a | $(share "$fp/spk.cpu")% / $(share "$fp/lis.cpu")% |" >>file_rows.md
}
: >file_rows.md
echo "bench:   file path" >&2
file_run file "gvoip, file path (\`--input-file\` / \`--record\`, as in 20-latency), defaults"
echo "bench:   file path, 10% loss with jitter" >&2
file_run file_loss "gvoip, file path, 10% loss and 0..30 ms jitter on the speaker's uplink" --up-loss 10 --up-jitter 30

# ---- CPU: one client alone in a silent lobby, voice activation -------------
# idle_run NAME NOISE.wav|- [OPTIONS]: the client's CPU share alone in a
# lobby, its microphone digital silence (-) or a quiet room's NOISE played
# into it: "steady life" (percent of one core, once joined and over its life).
idle_run() {
  local ip="$BENCH_WORK/$1" noise_wav=$2 isrv ic port noise=()
  shift 2
  mkdir -p "$ip"
  bg "$ip/srv.out" "$ip/srv.err" "$GVOIP" server --port 0 --json
  isrv=$BG_PID
  port=$(wait_port "$ip/srv.out")
  if [ "$noise_wav" != - ]; then
    bg /dev/null "$ip/noise.err" paplay --device=mic_c "$noise_wav"
    noise=("$BG_PID")
  fi
  pulse_player mic_c spk_c
  bg "$ip/c.out" "$ip/c.err" "${PULSE_PLAYER[@]}" "$GVOIP" join "127.0.0.1:$port" --name c --transmit voice --json \
    --duration "$idle_secs" --stats "$ip/c.json" "$@"
  ic=$BG_PID
  bg /dev/null /dev/null cpu_watch "$ic" "$ip/c.cpu"
  local life=$BG_PID
  bg /dev/null /dev/null cpu_watch_fine "$ic" "$ip/c.steady.cpu" "$idle_skip"
  wait "$ic" "$life" "$BG_PID"
  [ ${#noise[@]} -eq 0 ] || { kill "${noise[0]}" 2>/dev/null || true; wait "${noise[0]}" || true; }
  kill -TERM "$isrv"
  wait "$isrv"
  echo "$(share2 "$ip/c.steady.cpu") $(share2 "$ip/c.cpu")"
}
share2() { read -r c w <"$1"; calc "100 * $c / $w" %.2f; }
# The floor: PulseAudio's own recorder on the same quiet room, with the
# fragments the client's capture is granted (devices.capture.buffer_ms).
# Any client of this server wakes as often to take them.
floor_run() {
  local ip="$BENCH_WORK/idle_floor" rec frag
  mkdir -p "$ip"
  frag=$(jsub "$BENCH_WORK/idle_room/c.json" capture buffer_ms)
  frag=${frag%.*}
  bg /dev/null "$ip/noise.err" paplay --device=mic_c room.wav
  local np=$BG_PID
  bg /dev/null "$ip/rec.err" parec --device=mic_c.monitor --latency-msec="${frag:-20}" --rate=48000 --channels=1 \
    --format=float32le
  rec=$BG_PID
  bg /dev/null /dev/null cpu_watch_fine "$rec" "$ip/rec.cpu" "$idle_skip"
  local w=$BG_PID
  sleep "$idle_secs"
  kill "$rec" "$np" 2>/dev/null || true
  wait "$rec" "$np" "$w" || true
  echo "$(share2 "$ip/rec.cpu") ${frag:-20}"
}
# The floor of a talking client: PulseAudio's own recorder and player
# streaming at once, with the buffers gvoip asks for at its defaults (the
# capture fragments it was granted; playback 10 ms, asked for in quarters:
# programs/gvoip/audio_pulse.c), the player playing zeros. Any client of
# this server with those buffers pays this much: the two processes' sum.
talk_floor_run() {
  local ip="$BENCH_WORK/talk_floor" frag rec play
  mkdir -p "$ip"
  frag=$(jsub "$BENCH_WORK/defaults/a.json" capture buffer_ms)
  frag=${frag%.*}
  bg /dev/null "$ip/rec.err" parec --device=mic_c.monitor --latency-msec="${frag:-20}" --rate=48000 --channels=1 \
    --format=float32le
  rec=$BG_PID
  bg /dev/null "$ip/play.err" pacat --playback --device=spk_c --raw --latency-msec=10 --process-time-msec=2.5 \
    --rate=48000 --channels=2 --format=float32le /dev/zero
  play=$BG_PID
  bg /dev/null /dev/null cpu_watch "$rec" "$ip/rec.cpu"
  local w1=$BG_PID
  bg /dev/null /dev/null cpu_watch "$play" "$ip/play.cpu"
  local w2=$BG_PID
  sleep "$idle_secs"
  kill "$rec" "$play" 2>/dev/null || true
  wait "$rec" "$play" "$w1" "$w2" || true
  calc "$(share2 "$ip/rec.cpu") + $(share2 "$ip/play.cpu")" %.2f
}
# A quiet room: pink noise about 60 dB below full scale, what a laptop's
# microphone hears with nobody talking; the suppressor and gain run on it.
sox -n -r 48000 -c 1 -b 16 room.wav synth $((idle_secs + 3)) pinknoise gain -n -50 2>/dev/null
room_db=$(sox room.wav -n stat 2>&1 | awk '/RMS +amplitude/ { printf "%.0f", 20 * log($3) / log(10) }')
# The device path's own budget is before clean input (its issue's 0.5%;
# clean input has 2% of its own on top): the silent and the quiet room's
# microphone both without it, then the quiet room with it.
echo "bench:   idle client, clean input off" >&2
read -r idle_cpu idle_life < <(idle_run idle - --no-aec --no-denoise --no-agc)
echo "bench:   idle client, a quiet room's microphone" >&2
read -r room_cpu room_life < <(idle_run idle_room room.wav)
echo "bench:   idle client, a quiet room's microphone, no clean input" >&2
read -r bare_cpu bare_life < <(idle_run idle_bare room.wav --no-aec --no-denoise --no-agc)
echo "bench:   PulseAudio's recorder on the quiet room" >&2
read -r floor_cpu floor_frag < <(floor_run)
echo "bench:   PulseAudio's recorder and player at a talking client's buffers" >&2
talk_floor=$(talk_floor_run)
# Talking: once joined (as the idle client is judged: joining, keys and
# the handshake are paid once) and over the whole life.
talk_a=$(share2 "$BENCH_WORK/defaults/a.steady.cpu")
talk_b=$(share2 "$BENCH_WORK/defaults/b.steady.cpu")
talk_life_a=$(share "$BENCH_WORK/defaults/a.cpu")
talk_life_b=$(share "$BENCH_WORK/defaults/b.cpu")
bare_a=n/a
bare_b=n/a
if [ -f "$BENCH_WORK/bare/a.cpu" ]; then
  bare_a=$(share2 "$BENCH_WORK/bare/a.steady.cpu")
  bare_b=$(share2 "$BENCH_WORK/bare/b.steady.cpu")
  bare_life_a=$(share "$BENCH_WORK/bare/a.cpu")
  bare_life_b=$(share "$BENCH_WORK/bare/b.cpu")
fi

mouth_block=$(sed -n '1s/.* mouth_block_ms=\([0-9.]*\).*/\1/p' "$BENCH_WORK/defaults.1/ab.rec")
{
  echo "## The device path: mouth-to-ear through a sound server"
  echo
  echo "A private sound server, ${server} (\`tests/integration/pulse.sh\`; \`GVOIP_SOUND_SERVER=pipewire\` picks"
  echo "PipeWire), and no sound card: each player's"
  echo "microphone and speaker are 48 kHz null sinks kept running with zeros; a player opens them as its"
  echo "default devices (\`PULSE_SOURCE=mic_a.monitor PULSE_SINK=spk_a SDL_AUDIODRIVER=pulseaudio\`)."
  echo "espeak-ng speech with 200 ms between words and a ${pause_s} s pause half way (${speech_s} s; a pause in the"
  echo "conversation: with others in the lobby a player's playback sleeps only after 20 s of nobody heard) is played"
  echo "into both microphones at once;"
  echo "\`gvoip-devrec\` records each microphone and the other player's speaker on one clock, and"
  echo "\`gvoip-quality MOUTH EAR --utterances\` finds every word's own delay (words whose best match"
  echo "correlates under 0.3 are not counted). A run's figures pool both directions; STOI is"
  echo "scored with each word at its own delay, per direction (a to b / b to a). Recipe and meaning of"
  echo "each figure: docs/devices.md."
  echo
  echo '```'
  echo "gvoip join 127.0.0.1:PORT --name a --json --duration $dur --stats a.json [OPTIONS]   # and b"
  echo "gvoip-devrec --play a.wav --sink mic_a --record mic_a.monitor,spk_b.monitor --out a_to_b.wav --seconds $rec_s"
  echo "gvoip-quality a_to_b-1.wav a_to_b-2.wav --utterances"
  echo '```'
  echo
  echo "The method on the same daemon, same run: one source recorded by two streams started 70 ms apart"
  echo "reads **${same} ms**; the server's own \`module-loopback latency_msec=20\` reads the first row below,"
  echo "its 20 ms and the ${floor_block} ms block its own capture gets the microphone in."
  echo
  echo "Each microphone is placed as a sound card's: a null sink hands its monitor a whole render block (the"
  echo "smallest latency any capture of it asks for: gvoip's capture fragment, ${mouth_block} ms for player a at the"
  echo "defaults) as the block starts to play, so \`gvoip-devrec\` places the mouth a block earlier than the"
  echo "sink's clock (its \`mouth_block_ms\`), and each block reaches the player just after its last sample was"
  echo "spoken. Runs before 2026-12-07 read the mouth on the sink's clock, which made a client faster by its"
  echo "capture fragment: gvoip's 20 ms read 31.5 ms where a person would hear 49-55 (tools/devrec/README.md)."
  echo
  echo "| path | backend | median ms | p95 ms | spread ms | words | STOI | capture underruns / overruns | playback underruns / overruns | buffer ms capture / playback | playback latency ms (a / b) | CPU a / b |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  echo "$floor_row"
  cat rows.md
  cat file_rows.md
  echo
  echo "Each gvoip device row ran ${runs} times, each run a fresh server and players: the delays, word"
  echo "counts and STOI above are the medians over the runs (each figure's own), the device and CPU"
  echo "cells those of the run with the median delay; every run's own figures:"
  echo
  echo "| path | run | median ms | p95 ms | spread ms (a to b / b to a) | words | STOI | playback underruns | PulseAudio's own player beside them: underruns |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
  cat run_rows.md
  echo
  echo "Device figures come from each client's \`--stats\` (\`devices.capture\`, \`devices.playback\`, the backend"
  echo "as player a's stats name it; a+b"
  echo "for the counts, n/a where the build does not report them); CPU is utime + stime over each"
  echo "process's life as a share of one core (the file path: speaker / listener, no devices). The loss"
  echo "run puts \`gvoip-netem --up-loss 10 --up-jitter 30 --seed 1\` between both players and the server."
  echo "Beside every run, PulseAudio's own player (\`pacat -v --latency-msec=10 --process-time-msec=2.5\`, zeros,"
  echo "stereo, into a third null sink) asks for what gvoip's playback asks for at its defaults; its underruns in"
  echo "the same seconds are the machine's and the sound server's: where it underruns, a stall of the machine"
  echo "outlasted a 10 ms buffer, whoever fills it."
  echo
  verdict() { if [ "$(calc "$1" %d 2>/dev/null || echo 0)" = 1 ]; then echo met; else echo "**missed**"; fi; }
  read -r dm dp ds1 ds2 dsa dsb dua dub dwu <"$BENCH_WORK/defaults/summary"
  read -r fm fs <"$BENCH_WORK/file/summary"
  read -r flm _ <"$BENCH_WORK/file_loss/summary"
  read -r lm _ _ _ _ _ lua lub lwu <"$BENCH_WORK/loss/summary"
  echo "| target | this run | verdict |"
  echo "|---|---|---|"
  echo "| defaults: median at most 55 ms, p95 at most 10 ms above it | ${dm} / ${dp} ms | $(verdict "$dm <= 55 && $dp - $dm <= 10") |"
  if [ -f "$BENCH_WORK/lowlat/summary" ]; then
    read -r llm llp _ <"$BENCH_WORK/lowlat/summary"
    echo "| \`--low-latency\`: median at most 45 ms, p95 at most 10 ms above it | ${llm} / ${llp} ms | $(verdict "$llm <= 45 && $llp - $llm <= 10") |"
  fi
  echo "| STOI through the sound server within 0.01 of the file path's | ${ds1} / ${ds2} against ${fs} | $(verdict "$ds1 >= $fs - 0.01 && $ds2 >= $fs - 0.01") |"
  echo "| one run's word delays within a 3 ms spread, per direction (a to b / b to a) | ${dsa} / ${dsb} ms | $(verdict "$dsa <= 3 && $dsb <= 3") |"
  echo "| 10% loss with jitter: median at most the file path's with the same loss plus the floor | ${lm} against ${flm} + ${floor_med} ms | $(verdict "$lm <= $flm + $floor_med") |"
  echo "| no playback underruns (defaults; loss run; every run; PulseAudio's own player beside them: ${dwu}; ${lwu}) | ${dua}+${dub}; ${lua}+${lub} | $(verdict "$dua + $dub + $lua + $lub == 0") |"
  echo "| CPU alone in a silent lobby at most 0.5% of a core once joined, before clean input (\`--no-aec --no-denoise --no-agc\`; microphone digital silence; a quiet room's) | ${idle_cpu}%; ${bare_cpu}% | $(verdict "$idle_cpu <= 0.5 && $bare_cpu <= 0.5") |"
  echo "| the same with clean input, at most 0.5% plus the clean input's own 2% (a quiet room's microphone, defaults) | ${room_cpu}% | $(verdict "$room_cpu <= 2.5") |"
  if [ "$bare_a" != n/a ]; then
    echo "| CPU talking at most 3% once joined before clean input (the clean input off row: a / b; over its life ${bare_life_a}% / ${bare_life_b}%; PulseAudio's own recorder and player at the same buffers pay ${talk_floor}% of it) | ${bare_a}% / ${bare_b}% | $(verdict "$bare_a <= 3 && $bare_b <= 3") |"
    echo "| clean input's own CPU talking at most 2% (the defaults row less the clean input off row, once joined: a / b) | $(calc "$talk_a - $bare_a" %.1f)% / $(calc "$talk_b - $bare_b" %.1f)% | $(verdict "$talk_a - $bare_a <= 2 && $talk_b - $bare_b <= 2") |"
  fi
  echo "| CPU talking at most 3% before clean input plus the clean input's own 2%, once joined (the defaults row: a / b; over its life ${talk_life_a}% / ${talk_life_b}%) | ${talk_a}% / ${talk_b}% | $(verdict "$talk_a <= 5 && $talk_b <= 5") |"
  echo
  echo "Once joined: the scheduler's own count of the process's threads' time from ${idle_skip} s on"
  echo "(\`/proc/PID/task/*/schedstat\`, \`cpu_watch_fine\` in bench/lib.sh); over its life: utime + stime."
  echo
  echo "| CPU per client, device path | share of one core, once joined (from ${idle_skip} s on) | over its life |"
  echo "|---|---:|---:|"
  echo "| alone in a silent lobby, \`--transmit voice\`, devices open (${idle_secs} s), clean input off (\`--no-aec --no-denoise --no-agc\`), the microphone digital silence | ${idle_cpu}% | ${idle_life}% |"
  echo "| the same, the microphone a quiet room (pink noise, ${room_db} dBFS RMS) | ${bare_cpu}% | ${bare_life}% |"
  echo "| the same with clean input (the defaults) | ${room_cpu}% | ${room_life}% |"
  echo "| the floor: PulseAudio's \`parec --latency-msec=${floor_frag}\` on the same quiet room (the client's capture fragments) | ${floor_cpu}% | |"
  echo "| talking and listening (the defaults run above: a / b) | ${talk_a}% / ${talk_b}% | ${talk_life_a}% / ${talk_life_b}% |"
  echo "| the same, clean input off (a / b) | ${bare_a}% / ${bare_b}% | ${bare_life_a:-n/a}% / ${bare_life_b:-n/a}% |"
  echo "| the floor of a talking client: PulseAudio's \`parec --latency-msec=${floor_frag}\` and \`pacat --latency-msec=10 --process-time-msec=2.5\` (zeros, stereo) at once, the buffers gvoip asks for at its defaults, both processes | | ${talk_floor}% |"
  echo
  echo "What a talking client's share is made of (\`perf record -g\` over 30 s of a clean input off client,"
  echo "both players talking, 2026-12-07): about half is PulseAudio's client thread, and half of that the kernel"
  echo "waking it for each 2.5 ms playback request and each capture fragment, as the floor row pays too; the"
  echo "Opus encoder at complexity 8 over a quarter (complexity 6 would save about 0.4 points of a core but"
  echo "lowers STOI from 0.9905 to 0.9887 on the same speech: kept at 8); the decoder, the jitter buffer,"
  echo "mixer and limiter about a tenth. Asking for playback in halves instead of quarters costs \`pacat\`"
  echo "0.15-0.4 points less (\`--process-time-msec=5\` against 2.5: 1.15% and 0.90% against 1.30%, 20 s each,"
  echo "2026-12-07) and brought underruns back (docs/devices.md)."
  echo
  echo "What an idle client's share is made of (\`perf\`, \`strace -c\` and the threads' voluntary context"
  echo "switches on the quiet room's client, clean input off): mostly the kernel waking two threads. PulseAudio's"
  echo "client library's thread wakes about 70 times a second (every capture fragment, as the \`parec\` row"
  echo "pays alone, and its timing updates); the main loop 13 times a second: with voice activation, capture"
  echo "too quiet to start a transmission waits up to 100 ms for it (\`gv_wakegate\`) and a steady session's"
  echo "timers need it every 100 ms (\`gv_client_idle_ms\`). Before those two it woke 65 times a second, and"
  echo "the same hour's A/B read 0.60-0.66% (digital silence) and 0.62-0.81% (quiet room) against 0.37-0.41%"
  echo "and 0.50-0.55% (this section's \`idle_run\`, 30 s each, the two builds alternating). The figure moves with what"
  echo "else the machine does, by about a tenth of a percent of a core between runs of one build an hour apart."
  echo
} >>"$BENCH_OUT"
