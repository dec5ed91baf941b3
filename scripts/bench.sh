#!/usr/bin/env bash
# `make bench`: the CPU backend and llama.cpp on the same model file, thread count and
# workload (pp512 / tg128 at batch 1, 4, 16), one after the other in the same run, for
# the default model and (FLOAT_MODELS=1, the default) the same model with F32 and BF16
# weights, made once by bench/make_float_model.py from the default file.
# llama.cpp comes from llama-cpp-python, built from PyPI into .venv-fixtures (minutes, once).
set -euo pipefail
build_dir=$1; model=$2
threads=${THREADS:-$(nproc)}
batches=${BATCHES:-1,4,16}
float_models=${FLOAT_MODELS:-1}
root=$(cd "$(dirname "$0")/.." && pwd)
venv=$root/.venv-fixtures
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import llama_cpp" 2>/dev/null; then
  echo "bench: building llama-cpp-python into $venv (one time)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q numpy llama-cpp-python
fi
mkdir -p "$build_dir/bench-results"

models=("$model")
if [ "$float_models" = 1 ]; then
  for type in F32 BF16; do
    out="${model%.*}.$type.gguf"
    out="$(dirname "$model")/$(basename "$out" | sed -E "s/\.Q[0-9A-Z_]+\.$type\.gguf$/.$type.gguf/")"
    if [ ! -f "$out" ]; then
      echo "bench: writing $out (the default model's weights as $type)"
      "$root/.venv/bin/python" "$root/bench/make_float_model.py" "$model" "$out" --type "${type,,}"
    fi
    models+=("$out")
  done
fi

for m in "${models[@]}"; do
  tag=$(basename "$m" .gguf)
  echo "== $tag: radixserve CpuBackend ($threads threads), load: $(cut -d' ' -f1-3 /proc/loadavg)"
  "$build_dir/bench/bench_cpu_model" --model "$m" --threads "$threads" --batches "$batches" \
    --json "$build_dir/bench-results/radixserve-$tag.json"
  echo "== $tag: llama.cpp ($threads threads), load: $(cut -d' ' -f1-3 /proc/loadavg)"
  "$venv/bin/python" "$root/bench/llama_cpp_bench.py" --model "$m" --threads "$threads" \
    --batches ${batches//,/ } --json "$build_dir/bench-results/llama_cpp-$tag.json"
done
