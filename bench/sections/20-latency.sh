#!/usr/bin/env bash
# Mouth-to-ear latency on loopback (median, 95th percentile) by
# segment-wise alignment of what a listener recorded against what the
# speaker said; and CPU per client for one speaker and one listener,
# measured in the same runs.
set -euo pipefail
. "$BENCH_SRC/bench/lib.sh"
cd "$BENCH_WORK"

runs=4 secs=12
[ "$BENCH_QUICK" = 1 ] && runs=1 secs=3
# The speaker's transmit mode: voice activation, whose 20 ms pre-roll every
# talk spurt pays; 21-latency-continuous runs this again continuous.
transmit=${BENCH_LATENCY_TRANSMIT:-voice}
tag=""
[ "$transmit" = voice ] || tag="-$transmit"
speech ref.wav $((secs + 2))

run_one() {
  local d="$BENCH_WORK/run$1" port
  mkdir -p "$d"
  bg "$d/srv.out" "$d/srv.err" "$GVOIP" server --port 0 --json --duration $((secs + 3)) --stats "$d/srv.json"
  local srv=$BG_PID
  port=$(wait_port "$d/srv.out")
  bg "$d/lis.out" "$d/lis.err" "$GVOIP" join "127.0.0.1:$port" --name listener --no-capture --no-playback \
    --record "$d/lis.wav" --json --duration $((secs + 1)) --stats "$d/lis.json"
  local lis=$BG_PID
  bg /dev/null /dev/null cpu_watch "$lis" "$d/lis.cpu"
  local w1=$BG_PID
  sleep 0.3
  bg "$d/spk.out" "$d/spk.err" "$GVOIP" join "127.0.0.1:$port" --name speaker --input-file ref.wav --no-playback \
    --transmit "$transmit" --json --duration "$secs" --stats "$d/spk.json"
  local spk=$BG_PID
  bg /dev/null /dev/null cpu_watch "$spk" "$d/spk.cpu"
  wait "$spk" "$lis" "$srv" "$w1" "$BG_PID"
}

# Cuts the reference into 1 s pieces; finds each in the listener's
# recording, searched from 100 ms before where it would be with no delay.
# Wall-clock start times of the input file and the recording come from
# the two --stats files (input_start_unix_ms, record_start_unix_ms).
segments() {
  local d="$BENCH_WORK/run$1" in rec off k res delay stoi
  in=$(jnum "$d/spk.json" input_start_unix_ms)
  rec=$(jnum "$d/lis.json" record_start_unix_ms)
  for ((k = 0; k < secs - 1; k++)); do
    off=$(calc "($in - $rec) / 1000 + $k - 0.1" %.4f)
    if [ "$(calc "$off < 0" %d)" = 1 ]; then continue; fi
    sox ref.wav "$d/ref$k.wav" trim "$k" 1
    sox "$d/lis.wav" "$d/win$k.wav" trim "$off" 1.6
    if res=$("$QUALITY" "$d/ref$k.wav" "$d/win$k.wav" --max-delay-ms 500 2>/dev/null); then
      delay=$(echo "$res" | sed -n 's/.*delay_ms=\([-0-9.]*\).*/\1/p')
      stoi=$(echo "$res" | sed -n 's/.* stoi=\([0-9.]*\).*/\1/p')
      printf '%s\t%s\t%s\t%s\n' "$1" "$k" "$(calc "$delay - 100" %.2f)" "$stoi" >>"$BENCH_WORK/segments.tsv"
    else
      printf '%s\t%s\tskipped\n' "$1" "$k" >>"$BENCH_WORK/skipped.tsv"
    fi
  done
}

: >segments.tsv
: >skipped.tsv
for ((r = 1; r <= runs; r++)); do
  echo "bench:   run $r of $runs" >&2
  run_one "$r"
  segments "$r"
done

# A piece whose best match scores under 0.6 STOI was not found reliably.
awk -F'\t' '$4 >= 0.6 { print $3 }' segments.tsv >lat.txt
n=$(wc -l <lat.txt)
bad=$(awk -F'\t' '$4 < 0.6' segments.tsv | wc -l)
skipped=$(wc -l <skipped.tsv)
p50=$(percentile 50 lat.txt)
p95=$(percentile 95 lat.txt)
lo=$(sort -g lat.txt | head -n 1)
hi=$(sort -g lat.txt | tail -n 1)
per_run=""
for ((r = 1; r <= runs; r++)); do
  awk -F'\t' -v r="$r" '$1 == r && $4 >= 0.6 { print $3 }' segments.tsv >"lat$r.txt"
  per_run="$per_run${per_run:+, }$(percentile 50 "lat$r.txt")"
done
mean_over() { # mean_over FILEPATTERN-FIELD: averages a number over the runs
  local sum=0 x
  for ((r = 1; r <= runs; r++)); do x=$($1 "$r"); sum=$(calc "$sum + $x" %.6f); done
  calc "$sum / $runs" "${2:-%.2f}"
}
jb_of() { jpeer "$BENCH_WORK/run$1/lis.json" speaker playout_delay_ms; }
jit_of() { jpeer "$BENCH_WORK/run$1/lis.json" speaker jitter_ms; }
loss_of() { jpeer "$BENCH_WORK/run$1/lis.json" speaker lost; }
share() { read -r c w <"$BENCH_WORK/run$1/$2.cpu"; calc "100 * $c / $w" %.6f; }
spk_cpu() { share "$1" spk; }
lis_cpu() { share "$1" lis; }
jb=$(mean_over jb_of %.1f)
jit=$(mean_over jit_of %.2f)
lost=$(mean_over loss_of %.1f)
cpu_spk=$(mean_over spk_cpu %.1f)
cpu_lis=$(mean_over lis_cpu %.1f)
# Fixed parts of the budget (see the text): frame, Opus lookahead, capture
# resampler (speexdsp quality 3: 48 taps, 24 input samples at 22.05 kHz),
# mix block, paced playback lead.
rs=$(calc "24 / 22.05" %.1f)
fixed=$(calc "20 + 6.5 + $rs + 2.5 + 10 + $jb" %.1f)
rest=$(calc "$p50 - $fixed" %.1f)

verdict() { if [ "$1" = 1 ]; then echo "**met**"; else echo "**missed**"; fi; }
{
  echo "## Mouth-to-ear latency on loopback, \`--transmit $transmit\`"
  echo
  echo "$runs runs, each a fresh \`gvoip server --port 0\` with two clients on loopback, no impairment,"
  echo "default settings (Opus 24 kbit/s, 20 ms frames, FEC on):"
  echo
  echo '```'
  echo "gvoip join 127.0.0.1:PORT --name listener --no-capture --no-playback --record lis.wav --duration $((secs + 1)) --stats lis.json"
  echo "gvoip join 127.0.0.1:PORT --name speaker --input-file speech.wav --no-playback --duration $secs --stats spk.json"
  echo '```'
  echo
  echo "How it is measured: the speaker's input (${secs} s of espeak-ng speech, 22.05 kHz) is cut into"
  echo "1 s pieces with \`sox\`. Piece k left the speaker's input file at \`input_start_unix_ms\` + k s"
  echo "(the file is paced in real time from that wall-clock instant), and sample j of the listener's"
  echo "recording was played at \`record_start_unix_ms\` + j / 48 kHz. For each piece \`sox\` cuts the"
  echo "recording from 100 ms before the zero-delay position, 1.6 s long, and \`gvoip-quality PIECE"
  echo "WINDOW --max-delay-ms 500\` finds the piece in it by cross-correlation (0.1 ms resolution); the"
  echo "latency is that delay minus the 100 ms. Pieces it cannot score (too little speech: ${skipped})"
  echo "or whose best match scores under 0.6 STOI (${bad}) are left out: ${n} pieces are counted."
  echo "Both start times are whole milliseconds of one machine's clock."
  echo
  echo "| | mouth-to-ear |"
  echo "|---|---:|"
  echo "| median | **${p50} ms** |"
  echo "| 95th percentile | **${p95} ms** |"
  echo "| min / max | ${lo} / ${hi} ms |"
  echo "| median of each run (ms) | ${per_run} |"
  echo "| target: under 60 ms | $(verdict "$(calc "$p95 < 60" %d)") (95th percentile) |"
  echo
  echo "![latency distribution]($BENCH_PLOTS_REL/latency$tag.png)"
  echo
  echo "Where the median goes (ms). Fixed by design, from the code; the jitter buffer's figure is the"
  echo "listener's \`playout_delay_ms\` for the speaker (arrival of a packet to its decoding, smoothed),"
  echo "averaged over the runs (jitter ${jit} ms, ${lost} packets lost per run):"
  echo
  echo "| stage | ms | |"
  echo "|---|---:|---|"
  echo "| codec: one frame is captured before it is encoded | 20.0 | \`--frame-ms 20\` |"
  echo "| codec: Opus lookahead | 6.5 | libopus algorithmic delay at 48 kHz |"
  echo "| buffers: capture resampler 22.05 to 48 kHz | ${rs} | speexdsp quality 3 (48-tap filter, half of it at the input rate) |"
  echo "| buffers: jitter buffer, packet arrival to decode | ${jb} | measured (\`playout_delay_ms\`) |"
  echo "| buffers: mixer works one 2.5 ms block ahead | 2.5 | \`MIX_BLOCK\` 120 samples |"
  echo "| buffers: playback resampler | 0.0 | the recording is at 48 kHz: none |"
  echo "| devices: paced playback lead of the \`--record\` path | 10.0 | a virtual device with one 10 ms buffer |"
  echo "| **sum of the above** | **${fixed}** | |"
  echo "| rest: 2 ms main-loop tick (capture read, network service), network and relay on loopback, rounding | ${rest} | median minus the sum |"
  echo
  echo "With real sound cards the devices add their own buffers (SDL asks for 10 ms, 480 frames, on each"
  echo "side) on top; the file and record paths stand in for one 10 ms playback buffer and no capture buffer."
  echo
  echo "## CPU per client, one speaker and one listener, \`--transmit $transmit\`"
  echo
  echo "The same $runs runs. Each \`gvoip join\` process's utime + stime from \`/proc/PID/stat\`, sampled every"
  echo "0.1 s until it exits, divided by its wall-clock lifetime (\`starttime\` to the last sample),"
  echo "averaged over the runs; 100% is one core."
  echo
  echo "| client | share of one core |"
  echo "|---|---:|"
  echo "| speaker (file input, resample, Opus encode, seal, send; no playback) | ${cpu_spk}% |"
  echo "| listener (receive, open, jitter buffer, decode, mix, limiter, WAV recording) | ${cpu_lis}% |"
  echo
} >>"$BENCH_OUT"

cat >latency.gp <<GP
set terminal pngcairo size 720,360 font ",9"
set output "$BENCH_PLOTS/latency$tag.png"
set title "Mouth-to-ear latency on loopback, 1 s pieces of speech ($n pieces, $runs runs)"
set xlabel "ms"
set ylabel "pieces"
set style fill solid 0.7 border -1
set boxwidth 0.9
set grid ytics
set key top left
bin(x) = floor(x) + 0.5
set arrow from $p50, graph 0 to $p50, graph 1 nohead dt 2 lc rgb "black"
set arrow from $p95, graph 0 to $p95, graph 1 nohead dt 3 lc rgb "blue"
set arrow from 60, graph 0 to 60, graph 1 nohead lw 2 lc rgb "red"
set label "median" at $p50, graph 0.95 right offset -0.5,0
set label "p95" at $p95, graph 0.88 left offset 0.5,0
set label "target 60" at 60, graph 0.95 left offset 0.5,0
set xrange [0:*]
set yrange [0:*]
plot "lat.txt" using (bin(\$1)):(1) smooth frequency with boxes notitle
GP
plot latency.gp
