// Run-time choice of the SIMD code path for the CPU kernels.
//
// The library is built without -march flags; SIMD variants are compiled per file with
// their own ISA flags and picked here from what the running CPU reports, so one binary
// runs on the build machine, CI and anything else x86-64 (or non-x86: scalar only).
#pragma once

#include <string_view>

namespace radixserve::kernels::cpu {

// Ordered: a higher level implies every lower one is usable.
enum class CpuIsa : int {
  kScalar = 0,  // portable C++
  kAvx2 = 1,    // AVX2 + FMA + F16C
  kAvx512 = 2,  // AVX-512 F/BW/VL/DQ + VNNI (Zen 4, Ice Lake and later)
  kAvx512Bf16 = 3,  // kAvx512 + AVX512-BF16 (vdpbf16ps; Zen 4, Cooper / Sapphire Rapids)
};

std::string_view CpuIsaName(CpuIsa isa);

// What this CPU (and OS, via XSAVE state) supports. Computed once; thread-safe.
CpuIsa DetectedCpuIsa();

// The path the kernels use: min(detected, override). Thread-safe.
CpuIsa ActiveCpuIsa();

// Caps the path used by every kernel, e.g. to test the scalar and AVX2 paths on an
// AVX-512 machine or to benchmark them. Requests above the detected level are clamped.
// Not meant to be flipped while kernels run on other threads (a kernel may then use
// either path; both are correct).
void SetCpuIsaOverride(CpuIsa max_isa);
void ClearCpuIsaOverride();

// RAII override for tests and benchmarks.
class ScopedCpuIsa {
 public:
  explicit ScopedCpuIsa(CpuIsa max_isa);
  ~ScopedCpuIsa();
  ScopedCpuIsa(const ScopedCpuIsa&) = delete;
  ScopedCpuIsa& operator=(const ScopedCpuIsa&) = delete;

 private:
  int previous_;
};

}  // namespace radixserve::kernels::cpu
