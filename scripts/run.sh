#!/usr/bin/env bash
# `make run`: the main job on the given model. Until the gRPC service exists this shows
# the model layer end to end: inspect the model and tokenize a chat prompt.
set -euo pipefail
build_dir=$1; model=$2
"$build_dir/model/radixserve-model" inspect "$model"
"$build_dir/model/radixserve-model" tokenize "$model" \
  "<|im_start|>user
What is the capital of France?<|im_end|>
<|im_start|>assistant
"
