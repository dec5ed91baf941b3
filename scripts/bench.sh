#!/usr/bin/env bash
# `make bench`: the CPU backend and llama.cpp on the same model file, thread count and
# workload (pp512 / tg128 at batch 1, 4, 16), one after the other in the same run.
# llama.cpp comes from llama-cpp-python, built from PyPI into .venv-fixtures (minutes, once).
set -euo pipefail
build_dir=$1; model=$2
threads=${THREADS:-$(nproc)}
batches=${BATCHES:-1,4,16}
root=$(cd "$(dirname "$0")/.." && pwd)
venv=$root/.venv-fixtures
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import llama_cpp" 2>/dev/null; then
  echo "bench: building llama-cpp-python into $venv (one time)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q numpy llama-cpp-python
fi
mkdir -p "$build_dir/bench-results"
echo "== radixserve CpuBackend ($threads threads)"
"$build_dir/bench/bench_cpu_model" --model "$model" --threads "$threads" --batches "$batches" \
  --json "$build_dir/bench-results/radixserve.json"
echo "== llama.cpp ($threads threads)"
"$venv/bin/python" "$root/bench/llama_cpp_bench.py" --model "$model" --threads "$threads" \
  --batches ${batches//,/ } --json "$build_dir/bench-results/llama_cpp.json"
