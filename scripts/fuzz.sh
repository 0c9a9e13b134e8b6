#!/usr/bin/env bash
# Runs every libFuzzer target in BUILD_DIR for SECONDS each, starting from
# the seeds in fuzz/corpus/<target>/ if present. Fails on any crash.
set -euo pipefail
build=${1:?usage: fuzz.sh BUILD_DIR [SECONDS]}
seconds=${2:-20}
root=$(cd "$(dirname "$0")/.." && pwd)
status=0
for target in "$build"/fuzz/fuzz_*; do
  [ -x "$target" ] || continue
  name=$(basename "$target")
  work=$(mktemp -d)
  [ -d "$root/fuzz/corpus/$name" ] && cp -r "$root/fuzz/corpus/$name/." "$work/"
  echo "fuzz: $name for ${seconds}s"
  if ! "$target" -max_total_time="$seconds" -max_len=4096 -print_final_stats=1 \
       -artifact_prefix="$build/" "$work" >"$build/$name.log" 2>&1; then
    echo "fuzz: $name FAILED, see $build/$name.log" >&2
    tail -n 30 "$build/$name.log" >&2
    status=1
  else
    grep -E "stat::number_of_executed_units" "$build/$name.log" || true
  fi
  rm -rf "$work"
done
exit $status
