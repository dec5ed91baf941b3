// AVX-512 (F/BW/VL/DQ) + VNNI build of the SIMD matmul (flags set per file in CMakeLists.txt).
#define RS_SIMD_NS avx512
#include "kernels/cpu/matmul_simd.inc"

namespace radixserve::kernels::cpu::internal {
const MatmulIsa& Avx512MatmulIsa() { return avx512::GetIsa(); }
}  // namespace radixserve::kernels::cpu::internal
