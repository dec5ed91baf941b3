// Dequantization against hand-computed blocks.
#include <cstring>
#include <vector>

#include "gtest/gtest.h"
#include "model/dequantize.h"
#include "tests/model/test_status.h"

namespace radixserve::model {
namespace {

template <typename T>
std::vector<uint8_t> Bytes(const T& v) {
  std::vector<uint8_t> b(sizeof(T));
  std::memcpy(b.data(), &v, sizeof(T));
  return b;
}

TEST(DequantizeTest, Q4_0) {
  BlockQ4_0 blk{};
  blk.d = FloatToFp16(0.5f);
  for (int i = 0; i < 16; ++i) blk.qs[i] = static_cast<uint8_t>(i | ((15 - i) << 4));
  std::vector<float> out(32);
  ASSERT_TRUE(Dequantize(DType::kQ4_0, Bytes(blk), out).ok());
  for (int i = 0; i < 16; ++i) {
    EXPECT_EQ(out[i], (i - 8) * 0.5f) << i;
    EXPECT_EQ(out[16 + i], (15 - i - 8) * 0.5f) << i;
  }
}

TEST(DequantizeTest, Q4_1AndQ8_0) {
  BlockQ4_1 b1{};
  b1.d = FloatToFp16(0.25f);
  b1.m = FloatToFp16(-1.0f);
  for (int i = 0; i < 16; ++i) b1.qs[i] = static_cast<uint8_t>(i | (i << 4));
  std::vector<float> out(32);
  ASSERT_TRUE(Dequantize(DType::kQ4_1, Bytes(b1), out).ok());
  EXPECT_EQ(out[3], 3 * 0.25f - 1.0f);
  EXPECT_EQ(out[19], 3 * 0.25f - 1.0f);

  BlockQ8_0 b8{};
  b8.d = FloatToFp16(2.0f);
  for (int i = 0; i < 32; ++i) b8.qs[i] = static_cast<int8_t>(i - 16);
  ASSERT_TRUE(Dequantize(DType::kQ8_0, Bytes(b8), out).ok());
  EXPECT_EQ(out[0], -32.0f);
  EXPECT_EQ(out[31], 30.0f);
}

TEST(DequantizeTest, FloatTypes) {
  const std::vector<uint16_t> h = {FloatToFp16(1.5f), FloatToBf16(-2.25f)};
  std::vector<uint8_t> b(4);
  std::memcpy(b.data(), h.data(), 4);
  std::vector<float> out(1);
  ASSERT_TRUE(Dequantize(DType::kF16, std::span(b).first(2), out).ok());
  EXPECT_EQ(out[0], 1.5f);
  ASSERT_TRUE(Dequantize(DType::kBF16, std::span(b).subspan(2), out).ok());
  EXPECT_EQ(out[0], -2.25f);
}

TEST(DequantizeTest, Errors) {
  std::vector<float> out(32);
  std::vector<uint8_t> b(144);
  EXPECT_STATUS(Dequantize(DType::kQ4_K, b, std::span(out).first(32)), kUnimplemented, "Q4_K");
  EXPECT_STATUS(Dequantize(DType::kQ4_0, std::span(b).first(17), out), kInvalidArgument,
                "need 18 bytes");
  EXPECT_STATUS(Dequantize(DType::kQ8_0, b, std::span(out).first(31)), kInvalidArgument,
                "block size 32");
  EXPECT_STATUS(ByteSizeOf(DType::kF32, -1).status(), kInvalidArgument, "non-negative");
  EXPECT_STATUS(ByteSizeOf(static_cast<DType>(99), 4).status(), kUnimplemented, "99");
  EXPECT_EQ(*ByteSizeOf(DType::kQ4_1, 64), 40u);
}

}  // namespace
}  // namespace radixserve::model
