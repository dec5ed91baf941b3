#include "kernels/cpu/cpu_features.h"

#include <algorithm>
#include <atomic>

namespace radixserve::kernels::cpu {
namespace {

CpuIsa Detect() {
#if defined(RADIXSERVE_KERNELS_X86) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  // __builtin_cpu_supports checks CPUID and the OS-enabled XSAVE state (ymm/zmm).
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                    __builtin_cpu_supports("f16c");
  if (!avx2) return CpuIsa::kScalar;
  const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
                      __builtin_cpu_supports("avx512vnni");
  if (!avx512) return CpuIsa::kAvx2;
  return __builtin_cpu_supports("avx512bf16") ? CpuIsa::kAvx512Bf16 : CpuIsa::kAvx512;
#else
  return CpuIsa::kScalar;
#endif
}

constexpr int kNoOverride = 1 << 20;
std::atomic<int> g_override{kNoOverride};

}  // namespace

std::string_view CpuIsaName(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::kScalar: return "scalar";
    case CpuIsa::kAvx2: return "avx2";
    case CpuIsa::kAvx512: return "avx512";
    case CpuIsa::kAvx512Bf16: return "avx512bf16";
  }
  return "unknown";
}

CpuIsa DetectedCpuIsa() {
  static const CpuIsa detected = Detect();
  return detected;
}

CpuIsa ActiveCpuIsa() {
  const int cap = g_override.load(std::memory_order_relaxed);
  return static_cast<CpuIsa>(std::min(static_cast<int>(DetectedCpuIsa()), cap));
}

void SetCpuIsaOverride(CpuIsa max_isa) { g_override.store(static_cast<int>(max_isa)); }
void ClearCpuIsaOverride() { g_override.store(kNoOverride); }

ScopedCpuIsa::ScopedCpuIsa(CpuIsa max_isa) : previous_(g_override.load()) {
  SetCpuIsaOverride(max_isa);
}
ScopedCpuIsa::~ScopedCpuIsa() { g_override.store(previous_); }

}  // namespace radixserve::kernels::cpu
