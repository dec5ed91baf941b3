#include "kernels/cpu/embedding.h"

#include "kernels/cpu/quantize.h"

namespace radixserve::kernels::cpu {

void EmbeddingLookup(const MatmulWeight& table, const int32_t* ids, int64_t num_tokens, float* out,
                     ThreadPool* pool) {
  const int64_t row_bytes = RowBytes(table.dtype, table.k);
  const uint8_t* base = static_cast<const uint8_t*>(table.data);
  MaybeParallelFor(num_tokens >= 64 ? pool : nullptr, num_tokens, 8, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      DequantizeRow(table.dtype, base + ids[t] * row_bytes, table.k, out + t * table.k);
    }
  });
}

}  // namespace radixserve::kernels::cpu
