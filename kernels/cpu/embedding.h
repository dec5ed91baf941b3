// Token embedding lookup: one dequantized row per token id, for any weight type the
// matmul reads (so a tied Q8_0 embedding/output table serves both).
#pragma once

#include <cstdint>

#include "kernels/cpu/matmul.h"

namespace radixserve::kernels::cpu {

// out[t, :] = dequantize(table row ids[t]), out: [num_tokens, table.k] float32.
// Preconditions: MatmulSupports(table.dtype); 0 <= ids[t] < table.n (validated by the
// caller: token ids come from users). pool may be null.
void EmbeddingLookup(const MatmulWeight& table, const int32_t* ids, int64_t num_tokens, float* out,
                     ThreadPool* pool = nullptr);

}  // namespace radixserve::kernels::cpu
