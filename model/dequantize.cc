#include "model/dequantize.h"

#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"

namespace radixserve::model {
namespace {

template <typename Block>
Block LoadBlock(const uint8_t* p) {  // blocks in a mapping may be unaligned
  Block b;
  std::memcpy(&b, p, sizeof(Block));
  return b;
}

void DequantizeQ8_0(const uint8_t* src, size_t n, float* dst) {
  for (size_t b = 0; b < n / kQkBlock; ++b) {
    const auto blk = LoadBlock<BlockQ8_0>(src + b * sizeof(BlockQ8_0));
    const float d = Fp16ToFloat(blk.d);
    for (int i = 0; i < kQkBlock; ++i) dst[b * kQkBlock + i] = static_cast<float>(blk.qs[i]) * d;
  }
}

void DequantizeQ4_0(const uint8_t* src, size_t n, float* dst) {
  for (size_t b = 0; b < n / kQkBlock; ++b) {
    const auto blk = LoadBlock<BlockQ4_0>(src + b * sizeof(BlockQ4_0));
    const float d = Fp16ToFloat(blk.d);
    float* out = dst + b * kQkBlock;
    for (int i = 0; i < kQkBlock / 2; ++i) {
      out[i] = static_cast<float>((blk.qs[i] & 0x0f) - 8) * d;
      out[i + kQkBlock / 2] = static_cast<float>((blk.qs[i] >> 4) - 8) * d;
    }
  }
}

void DequantizeQ4_1(const uint8_t* src, size_t n, float* dst) {
  for (size_t b = 0; b < n / kQkBlock; ++b) {
    const auto blk = LoadBlock<BlockQ4_1>(src + b * sizeof(BlockQ4_1));
    const float d = Fp16ToFloat(blk.d);
    const float m = Fp16ToFloat(blk.m);
    float* out = dst + b * kQkBlock;
    for (int i = 0; i < kQkBlock / 2; ++i) {
      // Separate statements keep the compiler from contracting into an FMA.
      const float lo = static_cast<float>(blk.qs[i] & 0x0f) * d;
      const float hi = static_cast<float>(blk.qs[i] >> 4) * d;
      out[i] = lo + m;
      out[i + kQkBlock / 2] = hi + m;
    }
  }
}

}  // namespace

absl::StatusOr<uint64_t> ByteSizeOf(DType type, int64_t num_elements) {
  const DTypeTraits t = GetDTypeTraits(type);
  if (t.block_elems == 0) {
    return absl::UnimplementedError(
        absl::StrFormat("unknown element type id %d", static_cast<uint32_t>(type)));
  }
  if (num_elements < 0 || num_elements % t.block_elems != 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%d elements of %s: not a non-negative multiple of the block size %d", num_elements,
        t.name, t.block_elems));
  }
  uint64_t bytes = 0;
  if (__builtin_mul_overflow(static_cast<uint64_t>(num_elements) / t.block_elems,
                             uint64_t{t.block_bytes}, &bytes)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%d elements of %s: byte size overflows", num_elements, t.name));
  }
  return bytes;
}

absl::Status Dequantize(DType type, std::span<const uint8_t> src, std::span<float> dst) {
  const DTypeTraits t = GetDTypeTraits(type);
  if (!t.supported) {
    return absl::UnimplementedError(
        absl::StrFormat("dequantizing %s is not supported (supported: F32, F16, BF16, Q8_0, "
                        "Q4_0, Q4_1)",
                        t.name));
  }
  ASSIGN_OR_RETURN(uint64_t need, ByteSizeOf(type, static_cast<int64_t>(dst.size())));
  if (src.size() != need) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "dequantize %s: %d elements need %d bytes, got %d", t.name, dst.size(), need,
        src.size()));
  }
  const size_t n = dst.size();
  switch (type) {
    case DType::kF32:
      if (n != 0) std::memcpy(dst.data(), src.data(), n * sizeof(float));
      break;
    case DType::kF16:
      for (size_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, src.data() + 2 * i, 2);
        dst[i] = Fp16ToFloat(h);
      }
      break;
    case DType::kBF16:
      for (size_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, src.data() + 2 * i, 2);
        dst[i] = Bf16ToFloat(h);
      }
      break;
    case DType::kQ8_0: DequantizeQ8_0(src.data(), n, dst.data()); break;
    case DType::kQ4_0: DequantizeQ4_0(src.data(), n, dst.data()); break;
    case DType::kQ4_1: DequantizeQ4_1(src.data(), n, dst.data()); break;
    default:
      return absl::UnimplementedError(absl::StrFormat("dequantizing %s", t.name));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<float>> DequantizeToVector(DType type, std::span<const uint8_t> src,
                                                      int64_t num_elements) {
  ASSIGN_OR_RETURN(uint64_t need, ByteSizeOf(type, num_elements));
  if (src.size() != need) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "dequantize: %d elements need %d bytes, got %d", num_elements, need, src.size()));
  }
  std::vector<float> out(static_cast<size_t>(num_elements));
  RETURN_IF_ERROR(Dequantize(type, src, out));
  return out;
}

}  // namespace radixserve::model
