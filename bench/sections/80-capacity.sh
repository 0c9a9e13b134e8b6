#!/usr/bin/env bash
# Server capacity: one `gvoip server` process per lobby of 8, 32 and 128
# players with 1, 4 and 16 talking, driven by gvoip-load; the measurement
# itself is tools/load/capacity.sh (see tools/load/README.md).
#
# usage: bench/sections/80-capacity.sh OUT.md [BUILD_DIR]
# Appends a Markdown section to OUT.md. BENCH_QUICK=1 measures 2 s a cell.
set -euo pipefail
out=${1:?usage: $0 OUT.md [BUILD_DIR]}
build=$(cd "${2:-${GVOIP_BUILD_DIR:-build}}" && pwd)
root=$(cd "$(dirname "$0")/../.." && pwd)
seconds=10
[ "${BENCH_QUICK:-0}" = 1 ] && seconds=2
table=$("$root/tools/load/capacity.sh" "$build" "$seconds")
{
  echo
  echo "## Server capacity"
  echo
  echo "Command: \`tools/load/capacity.sh $build $seconds\` (run by \`bench/sections/80-capacity.sh\`)."
  echo "Machine: $(uname -srm), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')),"
  echo "build type $(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$build/CMakeCache.txt"); server and load generator share the machine."
  echo
  echo "Each cell: a fresh \`gvoip server --max-talkers 0\` (every talker to every listener), \`gvoip-load --players P --speakers K --duration $seconds --continuous\`"
  echo "(20 ms packets of 60 bytes, loss reports on). CPU per forwarded packet = the server's utime + stime"
  echo "over the window (\"window\") or its whole life (\"life\", joins included) / packets forwarded."
  echo "Compare ratios within this run, not absolute times across runs. The lobby of 8 has all 8 talking"
  echo "in its 16-speaker row. Sessions are sealed as they come: $(grep -qw aes /proc/cpuinfo && grep -qw pclmulqdq /proc/cpuinfo && echo "AES-256-GCM (this CPU has AES-NI; the"
  echo "ChaCha20-Poly1305 figure for the same lobby is in the relay CPU section above)" || echo "ChaCha20-Poly1305 (this CPU has no AES-NI)")."
  echo
  echo "$table"
} >>"$out"
