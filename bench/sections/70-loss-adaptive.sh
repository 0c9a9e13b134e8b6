#!/usr/bin/env bash
# The loss-adaptive sender on a trace whose loss changes over time: the
# speaker's uplink goes through gvoip-netem with a schedule (no loss, then
# 4% random loss for 10 s, 15% for 10 s, then none again); a listener hears
# it and sends its loss reports through the server; the speaker (--json)
# prints an "encoder" event whenever its Opus expected-loss setting or its
# redundancy changes.
#
# usage: bench/sections/70-loss-adaptive.sh OUT.md [BUILD_DIR]
# Appends a Markdown section to OUT.md and writes $BENCH_PLOTS (default bench/plots)/loss_adaptive.png.
set -euo pipefail
out=${1:?usage: $0 OUT.md [BUILD_DIR]}
build=$(cd "${2:-${GVOIP_BUILD_DIR:-build}}" && pwd)
root=$(cd "$(dirname "$0")/../.." && pwd)
plots=${BENCH_PLOTS:-$root/bench/plots}
rel=${BENCH_PLOTS_REL:-bench/plots}
gvoip="$build/gvoip"
netem="$build/tools/netem/gvoip-netem"
for b in "$gvoip" "$netem"; do
  [ -x "$b" ] || { echo "$0: build $b first" >&2; exit 2; }
done
mkdir -p "$plots"
on=10 mid=20 off=30 total=45 low=4 pct=15
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
export GVOIP_HOME="$tmp/home"
unset GVOIP_PASSWORD

wait_line() { # FILE REGEX SECONDS
  local deadline=$((SECONDS + $3))
  until grep -Eq "$2" "$1" 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || { echo "$0: no '$2' in $1" >&2; exit 1; }
    sleep 0.05
  done
}
port_in() { sed -n 's/.*"event":"listening","port":\([0-9]*\).*/\1/p' "$1" | head -n 1; }

# Speech for the whole run: a few sentences, repeated.
espeak-ng -w "$tmp/one.wav" "Please call Stella. Ask her to bring six spoons of fresh snow peas from the store. \
Five thick slabs of blue cheese, and maybe a snack for her brother Bob."
sox "$tmp/one.wav" "$tmp/speech.wav" repeat 5

printf '# the speaker -> server direction loses %s%% from %ss, %s%% from %ss, nothing from %ss\n' \
  "$low" "$on" "$pct" "$mid" "$off" >"$tmp/schedule"
printf '%s up loss=%s duration=%s\n%s up loss=%s duration=%s\n' "$on" "$low" $((mid - on)) "$mid" "$pct" \
  $((off - mid)) >>"$tmp/schedule"

"$gvoip" server --port 0 --json --key "$tmp/server.key" >"$tmp/server.out" 2>"$tmp/server.err" &
srv=$!
pids+=("$srv")
wait_line "$tmp/server.out" '"listening"' 10
port=$(port_in "$tmp/server.out")
"$gvoip" join "127.0.0.1:$port" --name listener --json --no-capture --no-playback --duration $((total + 2)) \
  >"$tmp/listener.out" 2>"$tmp/listener.err" &
pids+=($!)
wait_line "$tmp/listener.out" '"connected"' 10
"$netem" --listen 0 --to "127.0.0.1:$port" --seed 1 --schedule "$tmp/schedule" --duration $((total + 1)) \
  >"$tmp/relay.out" 2>"$tmp/relay.err" &
pids+=($!)
wait_line "$tmp/relay.out" '"listening"' 10
rport=$(port_in "$tmp/relay.out")
# Schedule time 0 is the relay's start; the speaker starts right after it.
"$gvoip" join "127.0.0.1:$rport" --name speaker --json --no-playback --input-file "$tmp/speech.wav" \
  --duration "$total" --stats "$tmp/speaker.json" >"$tmp/speaker.out" 2>"$tmp/speaker.err" &
spk=$!
pids+=("$spk")
wait "$spk"
sleep 2
kill -TERM "$srv" 2>/dev/null || true
wait 2>/dev/null || true

data="$tmp/loss_adaptive.dat"
{
  echo "# seconds expected_loss_pct redundancy bitrate_kbps (the speaker's encoder; as configured until the first change)"
  echo "0 0 0 24"
  sed -n 's/.*"event":"encoder","expected_loss_pct":\([0-9]*\),"redundancy":\([a-z]*\),"bitrate":\([0-9]*\),"t_ms":\([0-9]*\).*/\4 \1 \2 \3/p' \
    "$tmp/speaker.out" | awk '{ printf "%.1f %d %d %g\n", $1 / 1000, $2, $3 == "true", $4 / 1000 }'
} >"$data"
last=$(tail -n 1 "$data" | cut -d' ' -f2-)
echo "$total $last" >>"$data"
final=$(grep -o '"expected_loss_pct":[0-9]*' "$tmp/speaker.json" | head -n 1 | cut -d: -f2)
copies=$(grep -o '"redundant_packets":[0-9]*' "$tmp/speaker.json" | head -n 1 | cut -d: -f2)
sent=$(grep -o '"voice_packets":[0-9]*' "$tmp/speaker.json" | head -n 1 | cut -d: -f2)

cat >"$tmp/plot.gp" <<EOF
set terminal pngcairo size 800,320 font ",9"
set output "$plots/loss_adaptive.png"
set title "Loss-adaptive sender: uplink loss $low% from ${on} s, $pct% from ${mid} s, none from ${off} s (netem schedule)"
set xlabel "seconds since the speaker started"
set ylabel "%, kbit/s"
set yrange [0:35]
set xrange [0:$total]
set object 1 rect from $on,0 to $mid,$low fc rgb "#f0c0c0" fs solid 0.5 noborder behind
set object 2 rect from $mid,0 to $off,$pct fc rgb "#f0c0c0" fs solid 0.5 noborder behind
set key top right
plot "$data" using 1:2 with steps lw 2 title "expected_loss_pct (Opus in-band FEC)", \
     "$data" using 1:4 with steps lw 2 dt 2 title "Opus bit rate, kbit/s (halved: redundancy on)", \
     NaN with boxes fc rgb "#f0c0c0" fs solid 0.5 title "loss on the uplink"
EOF
gnuplot "$tmp/plot.gp"

{
  echo
  echo "## Loss-adaptive sender"
  echo
  echo "Command: \`bench/sections/70-loss-adaptive.sh OUT.md $build\`."
  echo "Machine: ${BENCH_MACHINE:-$(uname -srm), $(nproc) CPUs}."
  echo
  echo "A speaker (\`gvoip join --json --input-file\`, speech throughout) reaches the server through"
  echo "\`gvoip-netem --seed 1 --schedule\` with \`$on up loss=$low duration=$((mid - on))\` and"
  echo "\`$mid up loss=$pct duration=$((off - mid))\`: no loss, $low% random loss on its uplink from ${on} s,"
  echo "$pct% from ${mid} s, none from ${off} s. A listener sends loss reports once a second. The speaker"
  echo "prints \`{\"event\":\"encoder\",\"expected_loss_pct\":N,\"redundancy\":B,\"bitrate\":R,\"t_ms\":T}\`"
  echo "when either changes (polled once a second); the relay's clock starts a few tens of ms before"
  echo "the speaker's. Moderate loss raises Opus' expected loss (in-band FEC); from a mean reported"
  echo "loss of 6% the sender switches to redundancy instead (each packet also carries the previous"
  echo "one, Opus at half the bit rate, in-band FEC off), back below 3%: the table in the section"
  echo "above shows why."
  echo
  echo "| seconds | expected_loss_pct | redundancy | Opus kbit/s |"
  echo "|---:|---:|---:|---:|"
  sed '1d;$d' "$data" | awk '{ printf "| %s | %s | %s | %s |\n", $1, $2, $3 ? "on" : "off", $4 }'
  echo
  echo "At exit (\`--stats\`, \"sent\"): expected_loss_pct $final; $copies of $sent packets carried a copy."
  echo
  echo "![loss-adaptive sender](${rel}/loss_adaptive.png)"
  echo
  echo "Plot: \`bench/sections/70-loss-adaptive.sh OUT.md $build\`."
} >>"$out"
