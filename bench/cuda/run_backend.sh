#!/usr/bin/env bash
# Everything the CUDA backend must show on the GPU machine, in one call (built here,
# carried there: bash bench/cuda/bundle.sh build/release .device/bundle, then run this
# there with `carry: [".device/bundle"]`):
#   1. golden:  the golden test's CUDA cases + the plugin test
#   2. server:  tests/python/test_service.py against `radixserve --backend=cuda`
#   3. hf:      scripts/hf_backend_check.py (logits vs transformers, real layer shapes)
#   4. bench:   a Llama-3-8B-shaped random model: transformers baseline + floor
#               (bench/cuda/hf_baseline.py), radixserve-engine-bench in-process, and
#               radixctl bench through the server
#   bash bench/cuda/run_backend.sh .device/bundle "$OUT" golden,server,hf,bench
set -uo pipefail
bundle=$(realpath "${1:?bundle dir}")
out=${2:?output dir}
parts=${3:-golden,server,hf,bench}
mkdir -p "$out"
# Everything also goes to $out/run_backend.log as it is printed, so a call stopped at its
# time limit still brings back how far it got (the device tool returns $OUT's files).
exec > >(tee "$out/run_backend.log") 2>&1
export PYTHONUNBUFFERED=1
export LD_LIBRARY_PATH=$bundle/lib:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
status=0
has() { [[ ",$parts," == *",$1,"* ]]; }

if has golden; then
  echo "== golden"
  RADIXSERVE_BUILD_DIR=$bundle "$bundle/tests/backend_golden_test" --gtest_filter='*cuda*:CudaPlugin*' 2>&1 | tail -25 || status=1
fi
if has server; then
  echo "== server"
  # grpcio-tools, grpcio and protobuf of matching versions travel as wheels (.whl)
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl
  PYTHONPATH=/tmp/site:${PYTHONPATH:-} RADIXSERVE_BUILD_DIR=$bundle RADIXSERVE_TEST_BACKEND=cuda python3 -m pytest -q tests/python/test_service.py 2>&1 | tail -5 || status=1
fi
if has hf; then
  echo "== hf"
  python3 scripts/hf_backend_check.py --tool "$bundle/backend/radixserve-backend-check" --out /tmp/hfcheck \
    ${HF_MODELS:+--models $HF_MODELS} 2>&1 |
    grep -v Writing | tail -12 || status=1
  cp /tmp/hfcheck/summary.json "$out/hf_check_summary.json"
fi
if has bench; then
  echo "== bench"
  python3 bench/cuda/hf_baseline.py --out /tmp/llama8b --batches "${HF_BATCHES:-32}" ${HF_SKIP:+--skip-hf} 2>&1 | grep -v Writing | tail -14
  cp /tmp/llama8b/hf_baseline.json "$out/" || status=1
  tok=tests/fixtures/models/llama-hd64/model-f32.gguf  # any tokenizer: the prompts are token ids
  "$bundle/bench/radixserve-engine-bench" --backend cuda --model /tmp/llama8b/model --tokenizer $tok \
    --workloads "${ENGINE_WORKLOADS:-decode1,offline,prefix}" --json "$out/engine_bench.json" || status=1
  echo "-- the same without CUDA graphs (RADIXSERVE_CUDA_GRAPHS=0)"
  RADIXSERVE_CUDA_GRAPHS=0 "$bundle/bench/radixserve-engine-bench" --backend cuda --model /tmp/llama8b/model \
    --tokenizer $tok --workloads decode1,offline --json "$out/engine_bench_nographs.json" | tail -3 || status=1
  echo "-- single rows through cuBLASLt and separate norms (RADIXSERVE_CUDA_GEMV=0)"
  RADIXSERVE_CUDA_GEMV=0 "$bundle/bench/radixserve-engine-bench" --backend cuda --model /tmp/llama8b/model \
    --tokenizer $tok --workloads decode1 --json "$out/engine_bench_nogemv.json" | tail -1 || status=1
  "$bundle/service/radixserve" --backend=cuda --model=/tmp/llama8b/model --tokenizer=$tok --port=50061 --metrics_port=-1 \
    --max_batch_tokens=8192 --max_running=128 --host_kv_blocks=0 --log_level=warning > /tmp/server.log 2>&1 &
  server=$!
  for _ in $(seq 120); do grep -q "listening" /tmp/server.log && break; sleep 1; done
  ctl="$bundle/client/radixctl --addr localhost:50061"
  $ctl bench --requests 1 --concurrency 1 --prompt-tokens 32 --output-tokens 128 --json "$out/grpc_decode1.json" --progress never | tail -12
  $ctl bench --requests 32 --concurrency 32 --prompt-tokens 512 --output-tokens 128 --json "$out/grpc_offline32.json" --progress never | tail -12
  kill -TERM $server; wait $server
fi
exit $status
