#!/usr/bin/env bash
# Clock drift on an injected clock: ten minutes of a sender whose clock
# runs 2% slow or fast, or of a device that pulls 2% fast or slow, against
# the same ten minutes without drift (the device path's drift target). The
# figures are those test_jbuf's test_clock_drift and
# test_clock_drift_device_blocks print; the test asserts the same targets,
# this section writes the figures down. Pure simulation, a few seconds.
#
# usage: bench/sections/51-drift.sh OUT.md [BUILD_DIR]
set -euo pipefail
out=${1:?usage: $0 OUT.md [BUILD_DIR]}
build=$(cd "${2:-${GVOIP_BUILD_DIR:-build}}" && pwd)
test_jbuf="$build/tests/test_jbuf"
[ -x "$test_jbuf" ] || { echo "$0: build $test_jbuf first" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$test_jbuf" >"$tmp/log" 2>&1 || { cat "$tmp/log" >&2; echo "$0: test_jbuf failed" >&2; exit 1; }

# One row per case: the scenario line (name, late packets, shortened and
# lengthened ms) and the delay line after it.
awk '
  /^\[ RUN +\] test_clock_drift$/ { on = 1; asked = "frame by frame"; next }
  /^\[ RUN +\] test_clock_drift_device_blocks$/ { on = 1; asked = "in 2.5 ms blocks"; next }
  /^\[ +(OK|FAILED) +\]/ { on = 0 }
  !on { next }
  /device asked frame by frame/ { asked = "frame by frame"; next }
  /device asked in blocks/ { asked = "in 2.5 ms blocks"; next }
  / recv [0-9]/ {
    line = $0
    name = substr(line, 1, index(line, " recv ") - 1); sub(/^ +/, "", name); sub(/ +$/, "", name)
    for (i = 1; i <= NF; i++) {
      if ($i == "late") late = $(i + 1)
      if ($i == "short") short_ms = $(i + 2)
      if ($i == "long") long_ms = $(i + 2)
    }
    next
  }
  /^ +delay [0-9.]+ ms/ {
    delay = $2
    win = $0; sub(/.*windows /, "", win); sub(/\).*/, "", win)
    lost = $0; sub(/.*LOST in speech /, "", lost); sub(/ .*/, "", lost)
    ins = "0"
    if ($0 ~ /inserted/) { ins = $0; sub(/.*inserted /, "", ins); sub(/\).*/, "", ins) }
    if (name ~ /^no drift/) { base_delay = delay; base_late = late }
    off = delay - base_delay
    verdict = (off <= 10 && off >= -10 && late <= base_late && ins == 0) ? "met" : "**missed**"
    if (name ~ /^no drift/) verdict = "(reference)"
    printf "| %s | %s | %.1f | %s | %+.1f | %s | %s | %s | %s / %s | %s |\n", name, asked, delay, win, off, late, lost, ins, short_ms, long_ms, verdict
  }
' "$tmp/log" >"$tmp/rows.md"
[ -s "$tmp/rows.md" ] || { echo "$0: no drift figures in test_jbuf's output" >&2; exit 1; }

{
  echo "## Clock drift (injected clock, ten minutes per case)"
  echo
  echo "A sender whose clock runs 2% slow or fast (a cheap USB microphone), or a playback device that pulls"
  echo "2% fast or slow, through the jitter buffer and playout logic on an injected clock: 20 ms frames,"
  echo "20 ms of network delay with up to 4 ms of jitter, talk spurts of 3 s with 1 s pauses or continuous"
  echo "speech, the device asking frame by frame or for 2.5 ms blocks ahead (as \`gv_playout\` does). Delay:"
  echo "arrival to playout after the first 30 s (mean; its 10 s windows' range); late: packets that arrived"
  echo "too late to play; LOST in speech: frames concealed inside a talk spurt; inserted: frames inserted or"
  echo "dropped inside speech to follow the drift (the target is none: the drift is followed by playing"
  echo "frames shorter or longer by whole pitch periods, the last column). Target: each drifting case's delay"
  echo "within 10 ms of the case without drift, no more late packets, nothing inserted inside speech."
  echo
  echo '```'
  echo "build/tests/test_jbuf   # test_clock_drift, test_clock_drift_device_blocks print these"
  echo '```'
  echo
  echo "| case | device asked | delay ms | 10 s windows ms | against no drift ms | late | LOST in speech | inserted in speech | shortened / lengthened ms | verdict |"
  echo "|---|---|---:|---|---:|---:|---:|---:|---:|---|"
  cat "$tmp/rows.md"
  echo
} >>"$out"
