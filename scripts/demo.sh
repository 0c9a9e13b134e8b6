#!/usr/bin/env bash
# The local demo behind `make run`: a host and two players on loopback talk
# from generated speech, each recording what it hears. Then, per speaker:
# bit rate on the wire, largest datagram, loss, and mouth-to-ear latency
# measured from the recordings (alignment against what was said).
set -euo pipefail
gvoip=${1:-build/gvoip}
build=$(dirname "$gvoip")
quality="$build/tools/quality/gvoip-quality"
seconds=${GVOIP_DEMO_SECONDS:-9}
work=$(mktemp -d "${TMPDIR:-/tmp}/gvoip-demo.XXXXXX")
export GVOIP_HOME="$work/home"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT

say() { espeak-ng -s 150 -w "$work/$1.wav" "$2"; }
say host "Welcome to the lobby. I am the host, and this is a test of gvoip."
say alice "Hello everyone, this is Alice. The quick brown fox jumps over the lazy dog."
say bob "Bob here. Can you hear me clearly? One, two, three, four, five."

common=(--json --no-playback --duration "$seconds")
"$gvoip" host --port 0 --name host --input-file "$work/host.wav" --record "$work/host.hears.wav" \
  --stats "$work/host.json" "${common[@]}" >"$work/host.out" 2>"$work/host.err" &
pids+=($!)
for _ in $(seq 100); do grep -q '"listening"' "$work/host.out" && break; sleep 0.05; done
port=$(sed -n 's/.*"event":"listening","port":\([0-9]*\).*/\1/p' "$work/host.out")
[ -n "$port" ] || { echo "demo: the host did not start" >&2; cat "$work/host.err" >&2; exit 1; }
echo "host listening on UDP port $port; alice and bob join and everyone talks for ${seconds}s"
for who in alice bob; do
  "$gvoip" join "127.0.0.1:$port" --name "$who" --input-file "$work/$who.wav" --record "$work/$who.hears.wav" \
    --stats "$work/$who.json" "${common[@]}" >"$work/$who.out" 2>"$work/$who.err" &
  pids+=($!)
done
wait "${pids[@]}"
pids=()

field() { grep -o "\"$2\":[0-9.]*" "$1" | head -n 1 | cut -d: -f2; }
# The stats of listener $1 about speaker $2: "packets lost".
peer_field() { grep -o "{\"id\":[0-9]*,\"name\":\"$2\"[^}]*}" "$1" | grep -o "\"$3\":[0-9.]*" | cut -d: -f2; }

printf '\n%-7s %10s %9s %8s  %s\n' speaker "kbit/s" "max dgram" "loss" "mouth-to-ear latency (ms) as heard by the others"
for s in host alice bob; do
  wire=$(field "$work/$s.json" wire_bytes)
  secs=$(field "$work/$s.json" seconds)
  maxd=$(field "$work/$s.json" max_datagram_bytes)
  start=$(field "$work/$s.json" input_start_unix_ms)
  sent=0 lost=0 lat=""
  for l in host alice bob; do
    [ "$l" = "$s" ] && continue
    p=$(peer_field "$work/$l.json" "$s" voice_packets); sent=$((sent + ${p:-0}))
    x=$(peer_field "$work/$l.json" "$s" lost); lost=$((lost + ${x:-0}))
    rec=$(field "$work/$l.json" record_start_unix_ms)
    d=$("$quality" "$work/$s.wav" "$work/$l.hears.wav" 2>/dev/null | sed -n 's/.*delay_ms=\([-0-9.]*\).*/\1/p')
    if [ -n "$d" ] && [ -n "$rec" ] && [ -n "$start" ]; then
      lat="$lat $l:$(awk -v r="$rec" -v d="$d" -v s="$start" 'BEGIN { printf "%.0f", r + d - s }')"
    fi
  done
  kbps=$(awk -v b="$wire" -v t="$secs" 'BEGIN { printf "%.1f", b * 8 / t / 1000 }')
  loss=$(awk -v l="$lost" -v n="$sent" 'BEGIN { printf "%.1f%%", n ? 100 * l / (n + l) : 0 }')
  printf '%-7s %10s %9s %8s %s\n' "$s" "$kbps" "$maxd" "$loss" "$lat"
done
echo
echo "(bit rate: all UDP payload bytes the player sent, handshake included; latency: from the moment"
echo " a sample left the speaker's input file to the moment the listener's recording played it)"
