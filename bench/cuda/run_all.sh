#!/usr/bin/env bash
# Builds kernels/cuda standalone (plain nvcc, no gRPC/Abseil needed), runs every CUDA
# kernel test against PyTorch, then the benchmark, in one call on the GPU machine:
#   bash bench/cuda/run_all.sh            # build + tests + bench
#   SKIP_BENCH=1 bash bench/cuda/run_all.sh
# Logs and bench.json land in $OUT when set (the device tool), else in the build dir.
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build/cuda}
OUTDIR=${OUT:-$BUILD}
mkdir -p "$BUILD/obj" "$OUTDIR"
NVCC=${NVCC:-nvcc}
FLAGS=(-std=c++20 -O3 -I. -Werror=all-warnings -Xcompiler -fPIC
       -gencode=arch=compute_90a,code=sm_90a -gencode=arch=compute_80,code=compute_80)
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv,noheader || true
$NVCC --version | tail -1

SRCS=(kernels/cuda/*.cu tests/cuda/capi*.cu)
start=$(date +%s%N)
pids=()
for f in "${SRCS[@]}"; do
  (
    name=$(basename "$f" .cu)
    s=$(date +%s%N)
    if $NVCC "${FLAGS[@]}" -Xptxas -v -c "$f" -o "$BUILD/obj/$name.o" 2> "$BUILD/obj/$name.ptxas"; then
      echo "compiled $f in $(( ($(date +%s%N) - s) / 1000000 )) ms"
    else
      cat "$BUILD/obj/$name.ptxas"; echo "BUILD FAILED: $f"; exit 1
    fi
  ) &
  pids+=($!)
done
fail=0
for p in "${pids[@]}"; do wait "$p" || fail=1; done
[ $fail -ne 0 ] && { echo "build failed"; exit 1; }
$NVCC "${FLAGS[@]}" -shared "$BUILD"/obj/*.o -o "$BUILD/libradixserve_cuda_capi.so" -lcudart || exit 1
echo "build wall time (parallel): $(( ($(date +%s%N) - start) / 1000000 )) ms"
grep -h -E "registers|spill" "$BUILD"/obj/*.ptxas | sort | uniq -c | sort -rn | head -5 > "$OUTDIR/ptxas_summary.txt" || true

export PYTHONUNBUFFERED=1
python3 tests/cuda/run_tests.py --lib "$BUILD/libradixserve_cuda_capi.so" 2>&1 | tee "$OUTDIR/tests.log"
test_rc=${PIPESTATUS[0]}
grep -E "^\[FAIL\]|^== |TOTAL" "$OUTDIR/tests.log"

if [ -z "${SKIP_BENCH:-}" ]; then
  python3 bench/cuda/bench_kernels.py --lib "$BUILD/libradixserve_cuda_capi.so" 2>&1 | tee "$OUTDIR/bench.log"
fi
grep -E "^\[FAIL\]|^== |TOTAL" "$OUTDIR/tests.log"
exit $test_rc
