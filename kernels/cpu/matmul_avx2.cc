// AVX2 + FMA + F16C build of the SIMD matmul (flags set per file in CMakeLists.txt).
#define RS_SIMD_NS avx2
#include "kernels/cpu/matmul_simd.inc"

namespace radixserve::kernels::cpu::internal {
const MatmulIsa& Avx2MatmulIsa() { return avx2::GetIsa(); }
}  // namespace radixserve::kernels::cpu::internal
