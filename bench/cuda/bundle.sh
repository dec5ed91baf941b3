#!/usr/bin/env bash
# Copies programs built here, the CUDA backend plugin and every shared library they need
# that a bare GPU machine lacks (gRPC, Abseil, protobuf, ...) into one folder to carry
# to the device machine. The CUDA runtime and cuBLASLt are left out: the GPU machine has
# them (its CUDA toolkit); run there with
#   export LD_LIBRARY_PATH=$BUNDLE/lib:/usr/local/cuda/lib64:$LD_LIBRARY_PATH
# Layout: $OUT/service/{radixserve,libradixserve_backend_cuda.so}, $OUT/backend/<tools>,
# $OUT/lib/*.so*  (the server finds the plugin beside itself).
#   bash bench/cuda/bundle.sh build/release .device/bundle
set -euo pipefail
build=${1:?build dir}
out=${2:?output dir}
rm -rf "$out"
mkdir -p "$out/service" "$out/backend" "$out/bench" "$out/client" "$out/tests" "$out/lib"
files=()
for f in service/radixserve service/libradixserve_backend_cuda.so backend/radixserve-backend-check \
         bench/radixserve-engine-bench client/radixctl tests/backend/backend_golden_test; do
  if [[ -e $build/$f ]]; then
    dst=$out/$f
    [[ $f == tests/backend/* ]] && dst=$out/tests/$(basename "$f")
    cp "$build/$f" "$dst"
    files+=("$dst")
  fi
done
ldd "${files[@]}" | awk '/=> \// {print $3}' | sort -u |
  grep -vE '/(libc|libm|libstdc\+\+|libgcc_s|libdl|libpthread|librt|ld-linux[^/]*|libcuda|libcudart|libcublas[^/]*)\.so' |
  while read -r lib; do cp -L "$lib" "$out/lib/"; done
du -sh "$out"
