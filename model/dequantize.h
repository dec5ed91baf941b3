// Dequantization of weight rows to float32, for the element types the model layer
// supports (F32, F16, BF16, Q8_0, Q4_0, Q4_1; layouts in common/tensor_types.h).
//
// The results are bit-exact with the reference formulas (and with the Python `gguf`
// package's dequantize): Q8_0 x = q * d, Q4_0 x = (q - 8) * d, Q4_1 x = q * d + m with
// the multiply rounded to float before the add (no fused multiply-add).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "common/tensor_types.h"

namespace radixserve::model {

// Bytes occupied by `num_elements` consecutive elements of `type`. InvalidArgument when
// num_elements is negative or not a multiple of the type's block size; Unimplemented for
// a type without a known layout.
absl::StatusOr<uint64_t> ByteSizeOf(DType type, int64_t num_elements);

// Dequantizes dst.size() elements stored in `src` (which must hold exactly
// ByteSizeOf(type, dst.size()) bytes) into `dst`. Unimplemented for types the model
// layer does not dequantize (K-quants, Q5_*), naming the type.
absl::Status Dequantize(DType type, std::span<const uint8_t> src, std::span<float> dst);

// Convenience: a whole tensor of `num_elements` elements into a new vector.
absl::StatusOr<std::vector<float>> DequantizeToVector(DType type, std::span<const uint8_t> src,
                                                      int64_t num_elements);

}  // namespace radixserve::model
