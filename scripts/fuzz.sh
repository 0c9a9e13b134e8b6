#!/usr/bin/env bash
# Runs every libFuzzer target in BUILD_DIR/fuzz for SECONDS each, starting
# from the seeds in fuzz/corpus/<target>/ if present. Fails on any crash,
# and when no target was built (a silent pass would hide a broken build).
# A crashing input is kept as BUILD_DIR/<target>-crash-<sha1> and printed
# in hex; rerun it with: BUILD_DIR/fuzz/<target> <that file>.
set -euo pipefail
build=${1:?usage: fuzz.sh BUILD_DIR [SECONDS]}
seconds=${2:-20}
root=$(cd "$(dirname "$0")/.." && pwd)
status=0
ran=0
for target in "$build"/fuzz/fuzz_*; do
  [ -f "$target" ] && [ -x "$target" ] || continue
  name=$(basename "$target")
  ran=$((ran + 1))
  work=$(mktemp -d)
  [ -d "$root/fuzz/corpus/$name" ] && cp -r "$root/fuzz/corpus/$name/." "$work/"
  echo "fuzz: $name for ${seconds}s"
  # -timeout: one input running for 10 s is a hang, not slowness.
  # -use_value_profile: comparisons guide the search, so that multi-byte
  # constants (UTF-8 ranges, ENet command bytes) are found in seconds.
  if ! "$target" -max_total_time="$seconds" -max_len=4096 -timeout=10 -use_value_profile=1 \
       -print_final_stats=1 -artifact_prefix="$build/$name-" "$work" >"$build/$name.log" 2>&1; then
    echo "fuzz: $name FAILED, see $build/$name.log" >&2
    tail -n 30 "$build/$name.log" >&2
    for artifact in "$build/$name"-crash-* "$build/$name"-leak-* "$build/$name"-timeout-*; do
      [ -f "$artifact" ] || continue
      echo "fuzz: reproducer $artifact (hex, first 1 KiB):" >&2
      od -An -tx1 -v "$artifact" | head -n 64 >&2 || true
    done
    status=1
  else
    grep -E "stat::(number_of_executed_units|average_exec_per_sec)" "$build/$name.log" || true
  fi
  rm -rf "$work"
done
if [ "$ran" -eq 0 ]; then
  echo "fuzz: no fuzz targets in $build/fuzz (configure with -DGVOIP_FUZZ=ON)" >&2
  exit 1
fi
exit $status
