// AVX-512 + VNNI + AVX512-BF16 build of the SIMD matmul (flags set per file in
// CMakeLists.txt): the AVX-512 path plus vdpbf16ps products for BF16 weights.
#define RS_SIMD_NS avx512bf16
#include "kernels/cpu/matmul_simd.inc"

namespace radixserve::kernels::cpu::internal {
const MatmulIsa& Avx512Bf16MatmulIsa() { return avx512bf16::GetIsa(); }
}  // namespace radixserve::kernels::cpu::internal
