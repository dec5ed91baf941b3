#!/usr/bin/env bash
# `make run`: the main job on the given model. Until the gRPC service lands this runs the
# whole in-process path: inspect the model, then answer a chat prompt with the CPU backend.
set -euo pipefail
build_dir=$1; model=$2
"$build_dir/model/radixserve-model" inspect "$model" | head -40
echo
"$build_dir/backend/radixserve-generate" --model "$model" --chat --max-tokens 64 \
  "${PROMPT:-Explain in two sentences what a KV cache is.}"
