#!/usr/bin/env bash
# Runs every libFuzzer target in BUILD_DIR/tests/fuzz for SECONDS each, seeded with the
# committed corpus. A crash fails the run and leaves the reproducer in build/fuzz/crashes.
set -euo pipefail
build_dir=$1; seconds=$2
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$build_dir/crashes"
shopt -s nullglob
for fuzzer in "$build_dir"/tests/fuzz/fuzz_*; do
  [ -x "$fuzzer" ] || continue
  name=$(basename "$fuzzer")
  corpus="$build_dir/corpus/$name"; mkdir -p "$corpus"
  seeds="$root/tests/fuzz/corpus/$name"
  echo "fuzz: $name for ${seconds}s"
  "$fuzzer" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 \
    -artifact_prefix="$build_dir/crashes/$name-" "$corpus" $( [ -d "$seeds" ] && echo "$seeds" ) \
    2>"$build_dir/$name.log" || { tail -40 "$build_dir/$name.log"; exit 1; }
  grep -E "^(Done|#[0-9]+ +DONE)" "$build_dir/$name.log" | tail -1 || true
done
