// CpuBackend: the linked-in backend. Weights stay in the file mapping; the KV pools are
// float32 blocks in RAM; every kernel is a CPU twin from kernels/cpu on one thread pool.
#pragma once

#include <memory>

#include "backend/backend.h"

namespace radixserve::backend {

std::unique_ptr<Backend> CreateCpuBackend();

}  // namespace radixserve::backend
