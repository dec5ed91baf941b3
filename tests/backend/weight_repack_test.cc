// The CUDA backend's load-time repacking of GGUF blocks into INT8-per-row / INT4-per-128
// (backend/cuda/weight_repack.h): layout, and the per-element error bound.
#include "backend/cuda/weight_repack.h"

#include <cmath>
#include <random>
#include <vector>

#include "common/tensor_types.h"
#include "gtest/gtest.h"
#include "kernels/quant_gemm_params.h"

namespace radixserve::backend::cuda {
namespace {

std::vector<float> RandomRows(int64_t rows, int64_t k, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(rows * k));
  for (auto& v : x) v = d(rng);
  x[3] = 0.0f;
  return x;
}

TEST(WeightRepackTest, Int8RowsRoundTripWithinHalfAStep) {
  const int64_t rows = 5, k = 96;
  std::vector<float> x = RandomRows(rows, k, 1);
  std::fill(x.begin() + 2 * k, x.begin() + 3 * k, 0.0f);  // an all-zero row
  std::vector<int8_t> q(rows * k);
  std::vector<uint16_t> scales(rows);
  QuantizeInt8Rows(x.data(), rows, k, q.data(), scales.data());
  for (int64_t r = 0; r < rows; ++r) {
    const float scale = Bf16ToFloat(scales[r]);
    float amax = 0;
    for (int64_t i = 0; i < k; ++i) amax = std::max(amax, std::fabs(x[r * k + i]));
    EXPECT_NEAR(scale, amax / 127.0f, amax / 127.0f * 1e-2 + 1e-30) << "row " << r;
    for (int64_t i = 0; i < k; ++i) {
      EXPECT_LE(std::abs(q[r * k + i]), 127);
      EXPECT_LE(std::fabs(q[r * k + i] * scale - x[r * k + i]), scale * 0.5f + amax * 1e-2f) << r << "," << i;
    }
  }
}

TEST(WeightRepackTest, Int4GroupsPackNibblesLowFirstWithinHalfAStep) {
  const int64_t rows = 3, k = 256;
  const std::vector<float> x = RandomRows(rows, k, 2);
  std::vector<uint8_t> q(rows * k / 2);
  std::vector<uint16_t> scales(rows * 2);
  QuantizeInt4Rows(x.data(), rows, k, q.data(), scales.data());
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t i = 0; i < k; ++i) {
      const float scale = Bf16ToFloat(scales[r * 2 + i / 128]);
      const uint8_t byte = q[(r * k + i) / 2];
      const int nibble = i % 2 == 0 ? (byte & 0xF) : (byte >> 4);
      const float back = static_cast<float>(nibble - 8) * scale;
      EXPECT_LE(std::fabs(back - x[r * k + i]), scale * 0.5f * 1.01f) << r << "," << i;
    }
  }
  // A value exactly on the grid comes back exactly: 7 * scale -> nibble 15.
  std::vector<float> grid(128, 0.0f);
  grid[0] = 7.0f;
  grid[1] = -7.0f;
  grid[2] = 3.0f;
  std::vector<uint8_t> gq(64);
  uint16_t gs = 0;
  QuantizeInt4Rows(grid.data(), 1, 128, gq.data(), &gs);
  EXPECT_EQ(Bf16ToFloat(gs), 1.0f);
  EXPECT_EQ(gq[0], 15 | (1 << 4));
  EXPECT_EQ(gq[1] & 0xF, 11);
}

TEST(WeightRepackTest, Int4TilesFollowTheTiledLayout) {
  // 13 rows (a partial last tile), 256 k (2 groups): every nibble read back through the
  // layout's definition in kernels/quant_gemm_params.h; padding rows hold q = 8.
  const int64_t rows = 13, k = 256;
  std::mt19937 rng(3);
  std::vector<uint8_t> q(rows * k / 2);
  for (auto& b : q) b = static_cast<uint8_t>(rng());
  std::vector<uint8_t> tiled(kernels::Int4TiledBytes(rows, k), 0);
  ASSERT_EQ(tiled.size(), 16u * k / 2);
  TileInt4ForGpu(q.data(), rows, k, tiled.data());
  const int nibble_k[8] = {0, 2, 4, 6, 1, 3, 5, 7};
  for (int64_t r = 0; r < 16; ++r) {
    for (int64_t i = 0; i < k; ++i) {
      const int64_t tile = r / 8, g = r % 8, group = i / 128, t = (i % 128) / 32, word = (i % 32) / 8;
      int n = 0;
      while (nibble_k[n] != i % 8) ++n;
      const uint8_t byte = tiled[tile * 4 * k + group * 512 + (4 * g + t) * 16 + 4 * word + n / 2];
      const int got = (byte >> (4 * (n % 2))) & 0xF;
      const int want = r < rows ? (q[(r * k + i) / 2] >> (4 * (i % 2))) & 0xF : 8;
      ASSERT_EQ(got, want) << "row " << r << " k " << i;
    }
  }
}

}  // namespace
}  // namespace radixserve::backend::cuda
