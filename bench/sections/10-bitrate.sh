#!/usr/bin/env bash
# On-the-wire bit rate per speaker, raw baseline against Opus at each bit
# rate and frame size; the largest datagram as the relay sees it.
set -euo pipefail
. "$BENCH_SRC/bench/lib.sh"
cd "$BENCH_WORK"

secs=8
[ "$BENCH_QUICK" = 1 ] && secs=2
speech ref.wav $((secs + 4))

# label codec bitrate frame_ms
configs=("raw raw 0 20" "opus-12k opus 12000 20" "opus-16k opus 16000 20" "opus-24k opus 24000 20"
  "opus-32k opus 32000 20" "opus-48k opus 48000 20" "opus-24k-10ms opus 24000 10"
  "opus-24k-40ms opus 24000 40" "opus-24k-60ms opus 24000 60")
[ "$BENCH_QUICK" = 1 ] && configs=("raw raw 0 20" "opus-24k opus 24000 20")

# One lobby per configuration: a server, a gvoip-netem relay with no
# impairment (it measures every datagram exactly), a listener, a speaker.
run_one() {
  local label=$1 codec=$2 rate=$3 frame=$4 d="$BENCH_WORK/$1" port np
  mkdir -p "$d"
  bg "$d/srv.out" "$d/srv.err" "$GVOIP" server --port 0 --allow-raw --json --duration $((secs + 4)) --stats "$d/srv.json"
  local srv=$BG_PID
  port=$(wait_port "$d/srv.out")
  bg "$d/netem.out" "$d/netem.err" "$NETEM" --listen 0 --to "127.0.0.1:$port" --duration $((secs + 3)) --stats "$d/netem.json"
  local nm=$BG_PID
  np=$(wait_port "$d/netem.out")
  local v=(--codec "$codec" --frame-ms "$frame")
  [ "$codec" = opus ] && v+=(--bitrate "$rate")
  bg "$d/lis.out" "$d/lis.err" "$GVOIP" join "127.0.0.1:$np" --name listener "${v[@]}" --no-capture --no-playback \
    --json --duration $((secs + 1)) --stats "$d/lis.json"
  local lis=$BG_PID
  sleep 0.3
  bg "$d/spk.out" "$d/spk.err" "$GVOIP" join "127.0.0.1:$np" --name speaker "${v[@]}" --input-file ref.wav \
    --no-playback --json --duration "$secs" --stats "$d/spk.json"
  local spk=$BG_PID
  wait "$spk" "$lis" "$nm" "$srv"
  echo "$GVOIP join 127.0.0.1:PORT --name speaker ${v[*]} --input-file speech.wav --no-playback --duration $secs --stats spk.json" >"$d/cmd"
}

rows=()
for c in "${configs[@]}"; do
  read -r label codec rate frame <<<"$c"
  echo "bench:   $label" >&2
  run_one "$label" "$codec" "$rate" "$frame"
done

tsv="$BENCH_WORK/bitrate.tsv"
: >"$tsv"
for c in "${configs[@]}"; do
  read -r label codec rate frame <<<"$c"
  d="$BENCH_WORK/$label"
  s=$(jsub "$d/spk.json" sent seconds)
  wire=$(jsub "$d/spk.json" sent wire_bytes)
  dg=$(jsub "$d/spk.json" sent datagrams)
  vp=$(jsub "$d/spk.json" sent voice_packets)
  vb=$(jsub "$d/spk.json" sent voice_payload_bytes)
  maxs=$(jsub "$d/spk.json" sent max_datagram_bytes)
  up=$(jdir "$d/netem.json" up max_datagram_bytes)
  down=$(jdir "$d/netem.json" down max_datagram_bytes)
  heard=$(jpeer "$d/lis.json" speaker voice_packets)
  kb=$(calc "$wire * 8 / $s / 1000" %.1f)
  kbh=$(calc "($wire + 28 * $dg) * 8 / $s / 1000" %.1f)
  kbv=$(calc "$vb * 8 / $s / 1000" %.1f)
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$kb" "$kbh" "$kbv" "$vp" "$dg" "$maxs" "$up" "$down" "${heard:-0}" "$s" "$codec" "$frame" >>"$tsv"
done

get() { awk -F'\t' -v l="$1" -v c="$2" '$1 == l { print $c }' "$tsv"; }
raw_kb=$(get raw 2)
def_kb=$(get opus-24k 2)
raw_kbh=$(get raw 3)
def_kbh=$(get opus-24k 3)
# The voice datagrams alone: each is its payload plus 23 bytes up
# (docs/protocol.md), plus 28 of IPv4 and UDP.
def_voice=$(calc "($(jsub "$BENCH_WORK/opus-24k/spk.json" sent voice_payload_bytes) + 51 * $(get opus-24k 5)) * 8 / $(get opus-24k 11) / 1000" %.1f)
ratio=$(calc "$raw_kb / $def_kb" %.0f)
ratioh=$(calc "$raw_kbh / $def_kbh" %.0f)
max_opus=$(awk -F'\t' '$12 == "opus" { if ($8 > m) m = $8; if ($9 > m) m = $9 } END { print m + 0 }' "$tsv")
raw_up=$(get raw 8)

verdict() { if [ "$1" = 1 ]; then echo "**met**"; else echo "**missed**"; fi; }
{
  echo "## Bit rate on the wire per speaker"
  echo
  echo "One lobby per row: \`gvoip server --port 0 --allow-raw\`, a \`gvoip-netem\` relay with no impairment"
  echo "in front of it, a listener (\`gvoip join ... --no-capture --no-playback\`) and one speaker reading"
  echo "${secs} s of generated speech (espeak-ng, continuous sentences), for example:"
  echo
  echo '```'
  cat "$BENCH_WORK/opus-24k/cmd"
  echo '```'
  echo
  echo "Figures come from the speaker's \`--stats\` file: *wire* is \`sent.wire_bytes\` (every UDP payload"
  echo "byte it sent: voice, ENet acks and pings, the handshake, loss reports) x 8 / \`sent.seconds\`;"
  echo "*+IP/UDP* adds 28 bytes per \`sent.datagrams\`; *Opus only* is \`sent.voice_payload_bytes\`, the codec's"
  echo "bytes alone. *Largest (relay)* is the largest datagram \`gvoip-netem\` received from the clients"
  echo "(\`up.max_datagram_bytes\`) and from the server (\`down.max_datagram_bytes\`), measured on every datagram;"
  echo "*largest (sender)* is the speaker's own \`sent.max_datagram_bytes\`. *Heard* is the voice packets the"
  echo "listener's jitter buffer received from the speaker."
  echo
  echo "| configuration | wire kbit/s | +IP/UDP kbit/s | Opus only kbit/s | voice packets | datagrams | largest (sender) | largest (relay) up / down | heard |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
  awk -F'\t' '{ printf "| %s | %s | %s | %s | %s | %s | %s | %s / %s | %s |\n", $1, $2, $3, ($12 == "raw" ? "(raw " $4 ")" : $4), $5, $6, $7, $8, $9, $10 }' "$tsv"
  echo
  echo "Targets at the default settings (Opus 24 kbit/s, 20 ms frames):"
  echo
  echo "| target | measured | |"
  echo "|---|---|---|"
  echo "| at most 48 kbit/s per speaker on the wire (UDP payload, as \`--stats\` counts it) | ${def_kb} kbit/s | $(verdict "$(calc "$def_kb <= 48" %d)") |"
  echo "| the same with 28 bytes of IPv4 + UDP headers per datagram | ${def_kbh} kbit/s | $(verdict "$(calc "$def_kbh <= 48" %d)") |"
  echo "| at most 44.5 kbit/s per speaker with IPv4 + UDP headers, everything the speaker sent (protocol 2, voice in ENet: 55.2 in the run of 87aaffc; 45.1 at fa625e1, before the passive keepalive) | ${def_kbh} kbit/s | $(verdict "$(calc "$def_kbh <= 44.5" %d)") |"
  echo "| the voice datagrams alone: Opus + 23 bytes of framing + 28 of IPv4 and UDP per packet | ${def_voice} kbit/s | $(verdict "$(calc "$def_voice <= 44.5" %d)") |"
  echo "| everything else the speaker sent, with IPv4 + UDP (the join's handshake, ENet's pings and acknowledgements, the leave; 2.1 at fa625e1) | $(calc "$def_kbh - $def_voice" %.1f) kbit/s | |"
  echo "| at least 50 x less than \`--codec raw\` | ${ratio} x (UDP payload), ${ratioh} x (with headers) | $(verdict "$(calc "$raw_kb / $def_kb >= 50" %d)") |"
  echo "| no datagram over 1392 bytes | Opus rows: largest ${max_opus} bytes at the relay | $(verdict "$(calc "$max_opus <= 1392" %d)") |"
  echo
  echo "What is not voice: the server does not ping a player whose voice it hears (the voice proves them"
  echo "there), so a talking player acknowledges no pings; its own pings to the server stay (twice a second"
  echo "when nothing reliable came back, about 0.5 kbit/s with headers), and a listener reports loss only"
  echo "for a second in which it lost something (docs/protocol.md, ENet settings and LOSS_REPORT)."
  echo
  echo "The raw baseline sends 1024 float32 stereo frames (8 KiB) per message, which ENet fragments:"
  echo "the relay saw datagrams of ${raw_up} bytes from it."
  if [ "$(calc "$raw_up > 1392" %d)" = 1 ]; then
    echo "That is **over 1392**, by $((raw_up - 1392)) bytes: ENet fills a datagram up to \`host->mtu\` without"
    echo "counting the 4-byte CRC32 checksum that gvoip turns on, so a full fragment of a large message"
    echo "goes over. The sender's own \`max_datagram_bytes\` clamps at the MTU and reports 1392. Only the"
    echo "raw baseline sends messages large enough to fragment; no Opus datagram comes near it."
  fi
  echo
  echo "![bit rate per speaker]($BENCH_PLOTS_REL/bitrate.png)"
  echo
} >>"$BENCH_OUT"

cat >"$BENCH_WORK/bitrate.gp" <<GP
set terminal pngcairo size 720,400 font ",9"
set output "$BENCH_PLOTS/bitrate.png"
set title "Bit rate per speaker on the wire (log scale)"
set ylabel "kbit/s"
set logscale y
set yrange [5:*]
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set xtics rotate by -30 scale 0
set key top right
set grid ytics
set datafile separator "\t"
plot "$tsv" using 2:xtic(1) title "UDP payload", "" using 3 title "with IP+UDP headers", \
     48 with lines dt 2 lc rgb "red" title "48 kbit/s target"
GP
plot "$BENCH_WORK/bitrate.gp"
