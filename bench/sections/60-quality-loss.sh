#!/usr/bin/env bash
# Speech quality (STOI) and mouth-to-ear latency under packet loss, end to
# end with real processes: a server, a gvoip-netem relay impairing only the
# speaker -> server direction, a speaker playing espeak-ng speech from a
# file and a listener recording what it hears. Random loss of 0..20% and
# Gilbert bursts (mean burst 3), each with the default protection (in-band
# FEC, redundancy under heavy loss), FEC only, and concealment only,
# averaged over seeds. Then, offline (gvoip-degrade), in-band FEC against
# redundancy at the same bit rate: the table the default was chosen from.
#
# usage: bench/sections/60-quality-loss.sh OUT.md [BUILD_DIR]
# Appends a Markdown section to OUT.md and writes $BENCH_PLOTS (default bench/plots)/quality_loss.png.
# BENCH_SEEDS (default "1 2 3") and BENCH_QUICK=1 (one seed, three
# conditions: a check that it runs) shorten it.
set -euo pipefail
out=${1:?usage: $0 OUT.md [BUILD_DIR]}
build=$(cd "${2:-${GVOIP_BUILD_DIR:-build}}" && pwd)
root=$(cd "$(dirname "$0")/../.." && pwd)
plots=${BENCH_PLOTS:-$root/bench/plots}
rel=${BENCH_PLOTS_REL:-bench/plots}
gvoip="$build/gvoip"
netem="$build/tools/netem/gvoip-netem"
quality="$build/tools/quality/gvoip-quality"
degrade="$build/tools/quality/gvoip-degrade"
for b in "$gvoip" "$netem" "$quality" "$degrade"; do
  [ -x "$b" ] || { echo "$0: build $b first" >&2; exit 2; }
done
command -v espeak-ng >/dev/null || { echo "$0: espeak-ng is needed" >&2; exit 2; }
mkdir -p "$plots"

modes="default fec none"
if [ "${BENCH_QUICK:-0}" = 1 ]; then
  seeds=${BENCH_SEEDS:-1}
  conditions=("loss 0" "loss 10" "burst 10")
  offline_seeds="1"
  offline_conditions=("loss 0" "loss 10")
else
  seeds=${BENCH_SEEDS:-1 2 3}
  conditions=("loss 0" "loss 2" "loss 5" "loss 10" "loss 20" "burst 5" "burst 10")
  offline_seeds="1 2 3 4 5 6"
  offline_conditions=("loss 0" "loss 2" "loss 3" "loss 5" "loss 10" "loss 15" "loss 20" "burst 10" "burst 20")
fi

tmp=$(mktemp -d)
# Runs go on in background subshells: their process ids are kept in a file.
cleanup() {
  [ -f "$tmp/pids" ] && while read -r p; do kill -9 "$p" 2>/dev/null || true; done <"$tmp/pids"
  rm -rf "$tmp"
}
trap cleanup EXIT
export GVOIP_HOME="$tmp/home"
unset GVOIP_PASSWORD

ref="$tmp/ref.wav"
speech="Please call Stella. Ask her to bring these things with her from the store: \
six spoons of fresh snow peas, five thick slabs of blue cheese, and maybe a snack for her brother Bob."
# A run's STOI varies by about 0.015 with where the losses fall; over 11 s
# of speech that is the size of the effects compared. The full run talks
# for about 35 s (the Harvard sentences of list 1 and 2 added), which
# also makes the few seconds the sender takes to learn the loss rate a
# small part of it, as in a real conversation.
if [ "${BENCH_QUICK:-0}" != 1 ]; then
  speech="$speech The birch canoe slid on the smooth planks. Glue the sheet to the dark blue background. \
It is easy to tell the depth of a well. These days a chicken leg is a rare dish. \
Rice is often served in round bowls. The juice of lemons makes fine punch. \
The box was thrown beside the parked truck. The hogs were fed chopped corn and garbage. \
Four hours of steady work faced us. A large size in stockings is hard to sell."
fi
espeak-ng -s 165 -w "$ref" "$speech"
ref_s=$(soxi -D "$ref" 2>/dev/null || echo 11)

wait_line() { # FILE REGEX SECONDS
  local deadline=$((SECONDS + $3))
  until grep -Eq "$2" "$1" 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || { echo "$0: no '$2' in $1" >&2; return 1; }
    sleep 0.05
  done
}
port_in() { sed -n 's/.*"event":"listening","port":\([0-9]*\).*/\1/p' "$1" | head -n 1; }
num() { grep -o "\"$2\":[-0-9.]*" "$1" | head -n 1 | cut -d: -f2; }

# run KIND PCT MODE SEED: one end-to-end run; MODE is default, fec (no
# redundancy) or none (no FEC, no redundancy); prints "stoi estoi
# mouth_to_ear_ms lost fec_recovered late playout_delay_ms voice_packets
# redundant_recovered".
run() {
  local kind=$1 pct=$2 mode=$3 seed=$4 d="$tmp/run-$3"
  rm -rf "$d"; mkdir -p "$d"
  local imp=(--up-loss "$pct")
  [ "$kind" = burst ] && imp=(--up-burst-loss "$pct" --up-burst-len 3)
  local fecopt=()
  [ "$mode" = default ] || fecopt=(--no-redundancy)
  [ "$mode" = none ] && fecopt+=(--no-fec)
  "$gvoip" server --port 0 --json --key "$tmp/server.key" >"$d/server.out" 2>"$d/server.err" &
  local spid=$!; echo "$spid" >>"$tmp/pids"
  wait_line "$d/server.out" '"listening"' 10
  local port; port=$(port_in "$d/server.out")
  "$netem" --listen 0 --to "127.0.0.1:$port" --seed "$seed" "${imp[@]}" >"$d/relay.out" 2>"$d/relay.err" &
  local rpid=$!; echo "$rpid" >>"$tmp/pids"
  wait_line "$d/relay.out" '"listening"' 10
  local rport; rport=$(port_in "$d/relay.out")
  local dur; dur=$(awk -v s="$ref_s" 'BEGIN { printf "%d", s + 4 }')
  "$gvoip" join "127.0.0.1:$port" --name listener --json --no-capture --no-playback "${fecopt[@]}" \
    --record "$d/heard.wav" --stats "$d/listener.json" --duration $((dur + 3)) >"$d/listener.out" 2>"$d/listener.err" &
  local lpid=$!; echo "$lpid" >>"$tmp/pids"
  wait_line "$d/listener.out" '"connected"' 10
  "$gvoip" join "127.0.0.1:$rport" --name speaker --json --no-playback "${fecopt[@]}" \
    --input-file "$ref" --stats "$d/speaker.json" --duration "$dur" >"$d/speaker.out" 2>"$d/speaker.err" &
  local kpid=$!; echo "$kpid" >>"$tmp/pids"
  wait "$kpid" || { echo "$0: speaker failed: $(tail -n 3 "$d/speaker.err")" >&2; return 1; }
  wait "$lpid" || { echo "$0: listener failed: $(tail -n 3 "$d/listener.err")" >&2; return 1; }
  kill -TERM "$rpid" "$spid" 2>/dev/null || true
  wait "$rpid" 2>/dev/null || true
  wait "$spid" 2>/dev/null || true
  local in_ms rec_ms guess q
  in_ms=$(num "$d/speaker.json" input_start_unix_ms)
  rec_ms=$(num "$d/listener.json" record_start_unix_ms)
  guess=$(awk -v a="$in_ms" -v b="$rec_ms" 'BEGIN { x = a - b; if (x < 0) x = -x; printf "%d", x + 1500 }')
  q=$("$quality" "$ref" "$d/heard.wav" --max-delay-ms "$guess" --piecewise 1000)
  local delay stoi estoi
  delay=$(sed -n 's/.*delay_ms=\([-0-9.]*\).*/\1/p' <<<"$q")
  stoi=$(sed -n 's/.* stoi=\([0-9.]*\).*/\1/p' <<<"$q")
  estoi=$(sed -n 's/.*estoi=\([0-9.]*\).*/\1/p' <<<"$q")
  # The listener's only peer is the speaker.
  local peer; peer=$(grep -o '"peers":\[{.*' "$d/listener.json")
  echo "$stoi $estoi $(awk -v r="$rec_ms" -v d="$delay" -v s="$in_ms" 'BEGIN { printf "%.1f", r + d - s }')" \
    "$(grep -o '"lost":[0-9]*' <<<"$peer" | head -n 1 | cut -d: -f2)" \
    "$(grep -o '"fec_recovered":[0-9]*' <<<"$peer" | head -n 1 | cut -d: -f2)" \
    "$(grep -o '"late":[0-9]*' <<<"$peer" | head -n 1 | cut -d: -f2)" \
    "$(grep -o '"playout_delay_ms":[0-9.]*' <<<"$peer" | head -n 1 | cut -d: -f2)" \
    "$(grep -o '"voice_packets":[0-9]*' <<<"$peer" | head -n 1 | cut -d: -f2)" \
    "$(grep -o '"redundant_recovered":[0-9]*' <<<"$peer" | head -n 1 | cut -d: -f2)"
}

data="$tmp/quality_loss.dat"
skipped=""
: >"$data"
rows=()
i=0
for cond in "${conditions[@]}"; do
  read -r kind pct <<<"$cond"
  line="$i \"$kind $pct%\""
  row="| $kind | $pct |"
  # The three modes run side by side (each run is a few light processes).
  for seed in $seeds; do
    for mode in $modes; do
      # A join can fail when the handshake meets heavy loss: one retry.
      { run "$kind" "$pct" "$mode" "$seed" || run "$kind" "$pct" "$mode" "$seed"; } >"$tmp/res-$mode" &
    done
    wait
    for mode in $modes; do
      if [ ! -s "$tmp/res-$mode" ]; then
        echo "$0: $kind $pct% $mode seed $seed failed twice; left out of the mean" >&2
        skipped="$skipped $kind-$pct%-$mode-seed-$seed"
        continue
      fi
      echo "quality-loss: $kind $pct% $mode seed $seed: $(cat "$tmp/res-$mode")" >&2
      cat "$tmp/res-$mode" >>"$tmp/agg-$mode"
    done
  done
  for mode in $modes; do
    touch "$tmp/agg-$mode"
    # mean and min..max of STOI, means of the rest
    read -r m lo hi lat lost rec copies < <(awk '
      { s += $1; if (NR == 1 || $1 < lo) lo = $1; if (NR == 1 || $1 > hi) hi = $1;
        l += $3; lo2 += $4; r += $5; v += $8; c += $9 }
      END { n = NR; if (n == 0) { print "0 0 0 0 0 0 0"; exit } printf "%.3f %.3f %.3f %.0f %.1f %.1f %.1f\n",
            s/n, lo, hi, l/n, 100*lo2/(lo2+v), r/n, c/n }' "$tmp/agg-$mode")
    rm -f "$tmp/agg-$mode"
    line="$line $m $lo $hi $lat"
    row="$row $m ($lo..$hi) | $lat | $lost | $rec | $copies |"
  done
  echo "$line" >>"$data"
  rows+=("$row")
  i=$((i + 1))
done

# Offline, the same bits two ways: Opus at 24 kbit/s with in-band FEC
# (expected loss = the loss), or at 12 kbit/s with each packet repeated in
# the next; plain 24 kbit/s for reference.
offline_rows=()
for cond in "${offline_conditions[@]}"; do
  read -r kind pct <<<"$cond"
  burst=()
  [ "$kind" = burst ] && burst=(--burst 3)
  row="| $kind | $pct |"
  for how in "--bitrate 24000 --no-fec" "--bitrate 24000 --fec" "--bitrate 12000 --no-fec --redundancy"; do
    sum=0 kbps=0 n=0
    for seed in $offline_seeds; do
      # shellcheck disable=SC2086
      kbps=$("$degrade" "$ref" "$tmp/deg.wav" $how --loss "$pct" "${burst[@]}" --seed "$seed" | sed 's/.*kbps=//')
      st=$("$quality" "$ref" "$tmp/deg.wav" | sed -n 's/.* stoi=\([0-9.]*\).*/\1/p')
      sum=$(awk -v a="$sum" -v b="$st" 'BEGIN { print a + b }')
      n=$((n + 1))
    done
    row="$row $(awk -v s="$sum" -v n="$n" 'BEGIN { printf "%.3f", s / n }') | $kbps |"
  done
  offline_rows+=("$row")
done

cat >"$tmp/plot.gp" <<EOF
set terminal pngcairo size 900,420 font ",10"
set output "$plots/quality_loss.png"
set multiplot layout 1,2 title "gvoip end to end, 24 kbit/s 20 ms, loss on the speaker's uplink (mean of seeds $seeds)"
set style data histogram
set style histogram errorbars gap 1 lw 1
set style fill solid 0.6 border -1
set ylabel "STOI"
set yrange [0.5:1]
set xtics rotate by -30
set key bottom left
plot "$data" using 3:4:5:xtic(2) title "default (FEC, redundancy)", "" using 7:8:9 title "FEC only", \
     "" using 11:12:13 title "concealment only"
set style histogram clustered gap 1
set ylabel "mouth-to-ear latency (ms)"
set yrange [0:*]
plot "$data" using 6:xtic(2) title "default", "" using 10 title "FEC only", "" using 14 title "concealment only"
unset multiplot
EOF
gnuplot "$tmp/plot.gp"

{
  echo
  echo "## Quality and latency under packet loss: FEC, redundancy, concealment"
  echo
  echo "Command: \`bench/sections/60-quality-loss.sh OUT.md $build\` (seeds: $seeds)."
  echo "Machine: ${BENCH_MACHINE:-$(uname -srm), $(nproc) CPUs}."
  echo
  echo "End to end on loopback: \`gvoip server\`, \`gvoip-netem --seed S\` with the loss on the"
  echo "speaker -> server direction only, a speaker (\`gvoip join --input-file\`, ${ref_s%.*} s of espeak-ng"
  echo "speech, 24 kbit/s, 20 ms frames) and a listener recording what it hears (\`--record\`), in"
  echo "three modes: the default (in-band FEC with the expected loss the receivers report, and from"
  echo "6% reported loss redundancy instead: each packet also carries the previous one, Opus at half"
  echo "the bit rate), \"FEC only\" (\`--no-redundancy\`) and \"concealment only\" (\`--no-fec"
  echo "--no-redundancy\`). STOI from \`gvoip-quality REF heard.wav --piecewise 1000\` (mean and"
  echo "min..max over the seeds): each 1 s piece is aligned on its own, since the jitter buffer's"
  echo "insertions and cuts move the delay during a run and one whole-file alignment would score"
  echo "those moves, not the audio (the delay is in the latency column). Mouth-to-ear latency = the"
  echo "listener's record start + the delay the alignment found - the speaker's input start (wall"
  echo "clock, both on this machine). \"lost %\" is the share of the speaker's packets the listener's"
  echo "jitter buffer did without (mean per run); of those, \"FEC\" were rebuilt from the next"
  echo "packet's in-band FEC (without FEC data the decoder conceals them) and the rest concealed;"
  echo "\"copies\" were played from the copy in the next packet and are not lost. Bursty: Gilbert"
  echo "loss at that stationary rate with mean burst length 3 packets."
  echo
  echo "| loss | % | STOI, default | latency ms | lost % | FEC | copies | STOI, FEC only | latency ms | lost % | FEC | copies | STOI, concealment only | latency ms | lost % | FEC | copies |"
  echo "|---|---:|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---|---:|---:|---:|---:|"
  printf '%s\n' "${rows[@]}"
  echo
  [ -z "$skipped" ] || echo "Runs whose speaker could not join through the loss (twice) and are left out:$skipped."
  echo
  echo "![quality vs loss](${rel}/quality_loss.png)"
  echo
  echo "Plot: \`bench/sections/60-quality-loss.sh OUT.md $build\`."
  echo
  echo "### In-band FEC or redundancy, per bit (offline)"
  echo
  echo "Command: \`gvoip-degrade REF OUT ARGS --loss P [--burst 3] --seed S\` then \`gvoip-quality REF OUT\`,"
  echo "seeds $offline_seeds (mean STOI), on the same speech; no network, no jitter buffer: each lost"
  echo "frame is rebuilt from the next packet when that one arrived, else concealed. kbit/s is the"
  echo "payload rate including the copies."
  echo
  echo "| loss | % | plain 24 kbit/s | kbit/s | in-band FEC, 24 kbit/s | kbit/s | redundancy, 12 kbit/s x 2 | kbit/s |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|"
  printf '%s\n' "${offline_rows[@]}"
  echo
  echo "Where redundancy scores above FEC for about the same bits, the sender switches to it: from a"
  echo "mean reported loss of 6% (off again below 3%)."
} >>"$out"
