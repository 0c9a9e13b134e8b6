#!/usr/bin/env bash
# CPU per client in the 3-player demo (scripts/demo.sh's lobby: a
# host that is also player 1, and two players, all talking at once from
# generated speech, each recording what it hears).
set -euo pipefail
. "$BENCH_SRC/bench/lib.sh"
cd "$BENCH_WORK"

secs=9
[ "$BENCH_QUICK" = 1 ] && secs=3
espeak-ng -s 150 -w host.wav "Welcome to the lobby. I am the host, and this is a test of gvoip."
espeak-ng -s 150 -w alice.wav "Hello everyone, this is Alice. The quick brown fox jumps over the lazy dog."
espeak-ng -s 150 -w bob.wav "Bob here. Can you hear me clearly? One, two, three, four, five."

common=(--json --no-playback --duration "$secs")
bg host.out host.err "$GVOIP" host --port 0 --name host --input-file host.wav --record host.hears.wav \
  --stats host.json "${common[@]}"
pids=("$BG_PID")
bg /dev/null /dev/null cpu_watch "$BG_PID" host.cpu
pids+=("$BG_PID")
port=$(wait_port host.out)
for who in alice bob; do
  bg "$who.out" "$who.err" "$GVOIP" join "127.0.0.1:$port" --name "$who" --input-file "$who.wav" \
    --record "$who.hears.wav" --stats "$who.json" "${common[@]}"
  pids+=("$BG_PID")
  bg /dev/null /dev/null cpu_watch "$BG_PID" "$who.cpu"
  pids+=("$BG_PID")
done
wait "${pids[@]}"

{
  echo "## CPU per client, the 3-player demo"
  echo
  echo "The lobby of \`make run\` (\`scripts/demo.sh\`), for ${secs} s: a host (server and player 1) and two"
  echo "players, each reading its own espeak-ng sentence (2 to 5 s, then silence) as the microphone and"
  echo "recording what it hears; all three talk at once at the start."
  echo
  echo '```'
  echo "gvoip host --port 0 --name host --input-file host.wav --record host.hears.wav --stats host.json --json --no-playback --duration $secs"
  echo "gvoip join 127.0.0.1:PORT --name alice --input-file alice.wav --record alice.hears.wav --stats alice.json --json --no-playback --duration $secs"
  echo "gvoip join 127.0.0.1:PORT --name bob ... (the same)"
  echo '```'
  echo
  echo "CPU as in the table above (utime + stime from \`/proc/PID/stat\` over each process's lifetime):"
  echo
  echo "| process | CPU s | wall s | share of one core | voice packets sent |"
  echo "|---|---:|---:|---:|---:|"
  for who in host alice bob; do
    read -r c w <"$who.cpu"
    echo "| $who$([ "$who" = host ] && echo " (relays too)") | $c | $w | $(calc "100 * $c / $w" %.1f)% | $(jsub "$who.json" sent voice_packets) |"
  done
  echo
} >>"$BENCH_OUT"
