// Rotary position embedding in place on Q and K rows: the CPU twin of kernels::RopeParams
// (kernels/rope_params.h states the pairing styles, the Llama 3 / linear frequency
// scaling and the precision rule: angles and cos/sin in double, rotation in float).
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/cpu/thread_pool.h"
#include "kernels/rope_params.h"

namespace radixserve::kernels::cpu {

// inv_freq[i], i < rotary_dim / 2, with the params' scaling applied (double precision).
std::vector<double> RopeInvFreq(const RopeParams& p);

// How a table computes its angles.
//  kDouble: the shared rule (rope_params.h): angle pos * inv_freq[i] and cos/sin in double.
//  kLlamaCpp: as llama.cpp's CPU backend does, in float: theta_0 = pos, theta_{i+1} =
//    theta_i * powf(base, -2 / rotary_dim) (a float recurrence), angle = freq_scale *
//    (theta_i / ff_i) with ff_i the frequency factor (1 without one; the Llama 3 scaling
//    expressed as factors), cos/sin by sincosf. Differs from kDouble by ~1e-7 relative
//    per step of the recurrence: what the CPU backend uses, so that its rotated Q and K
//    equal llama.cpp's bit for bit (greedy parity of quantized models depends on it).
enum class RopeAngles { kDouble, kLlamaCpp };

// Precomputed cos/sin for positions 0 .. max_positions-1, shared by every layer of a
// model (the per-call cost is then a table lookup). Immutable after construction, so
// it is safe to share across threads. Only the frequency fields of p are read.
class RopeTable {
 public:
  RopeTable(const RopeParams& p, int32_t max_positions, RopeAngles angles = RopeAngles::kDouble);
  // cos then sin ([half] each) of any position, computed as the table's are.
  void CosSin(int32_t pos, float* cos_out, float* sin_out) const;
  int32_t max_positions() const { return max_positions_; }
  int32_t half() const { return half_; }
  // [rotary_dim / 2] cos values then [rotary_dim / 2] sin values for position pos.
  const float* Row(int32_t pos) const { return data_.data() + static_cast<int64_t>(pos) * 2 * half_; }

 private:
  int32_t max_positions_;
  int32_t half_;
  RopeAngles angles_;
  std::vector<double> inv_freq_;  // kDouble
  float theta_scale_ = 1.0f, freq_scale_ = 1.0f;  // kLlamaCpp
  std::vector<float> ff_;                         // kLlamaCpp: [half]
  std::vector<float> data_;  // [max_positions, 2, half]
};

// Applies RoPE to p.q (and p.k when not null) for every dtype. With a table, positions
// below table->max_positions() use it and others are computed as the table would; the
// table must have been built from params with the same theta / scaling / rotary_dim.
// Float rows rotate as a' = fma(a, c, -(b s)), b' = fma(a, s, b c) (vec_ops.h).
// Preconditions: rotary_dim even and <= head_dim; positions >= 0. pool may be null.
void ApplyRope(const RopeParams& p, const RopeTable* maybe_table = nullptr, ThreadPool* pool = nullptr);

}  // namespace radixserve::kernels::cpu
