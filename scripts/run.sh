#!/usr/bin/env bash
# `make run`: starts the radixserve gRPC server on the given model and says how to call
# it. PORT / METRICS_PORT override the ports; Ctrl-C (SIGINT) shuts it down gracefully.
set -euo pipefail
build_dir=$1; model=$2
port=${PORT:-50051}; metrics_port=${METRICS_PORT:-9090}
cat <<EOM
Starting radixserve on $model: gRPC on :$port, Prometheus metrics on :$metrics_port/metrics.
From another terminal:
  .venv/bin/python tests/python/radixserve_client.py --port $port "What is a KV cache?"
  curl -s localhost:$metrics_port/metrics | grep ^radixserve_
  grpcurl -plaintext localhost:$port list      # server reflection, if grpcurl is installed
Ctrl-C stops the server.
EOM
exec "$build_dir/service/radixserve" --model "$model" --port "$port" --metrics_port "$metrics_port"
