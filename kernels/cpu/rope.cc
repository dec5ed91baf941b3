#include "kernels/cpu/rope.h"

#include <cmath>
#include <numbers>
#include <type_traits>

#include "kernels/cpu/element.h"
#include "kernels/cpu/vec_ops.h"

namespace radixserve::kernels::cpu {
namespace {

int32_t RotaryDim(const RopeParams& p) { return p.rotary_dim > 0 ? p.rotary_dim : p.head_dim; }

void CosSin(const std::vector<double>& inv_freq, int32_t pos, float* cos_out, float* sin_out) {
  for (size_t i = 0; i < inv_freq.size(); ++i) {
    const double a = static_cast<double>(pos) * inv_freq[i];
    cos_out[i] = static_cast<float>(std::cos(a));
    sin_out[i] = static_cast<float>(std::sin(a));
  }
}

// Rotates num_heads head vectors of one token. cs: [half] cos then [half] sin.
template <typename T>
void RotateHeads(T* base, int32_t num_heads, int32_t head_dim, int32_t half, RopeStyle style, const float* cs) {
  const float* c = cs;
  const float* s = cs + half;
  for (int32_t h = 0; h < num_heads; ++h) {
    T* v = base + static_cast<int64_t>(h) * head_dim;
    for (int32_t i = 0; i < half; ++i) {
      const int32_t ia = style == RopeStyle::kNormal ? 2 * i : i;
      const int32_t ib = style == RopeStyle::kNormal ? 2 * i + 1 : i + half;
      const float a = ToFloat(v[ia]), b = ToFloat(v[ib]);
      v[ia] = FromFloat<T>(a * c[i] - b * s[i]);
      v[ib] = FromFloat<T>(b * c[i] + a * s[i]);
    }
  }
}

}  // namespace

std::vector<double> RopeInvFreq(const RopeParams& p) {
  const int32_t rd = RotaryDim(p);
  std::vector<double> inv(rd / 2);
  for (int32_t i = 0; i < rd / 2; ++i) {
    double f = std::pow(static_cast<double>(p.theta), -2.0 * i / rd);
    if (p.maybe_freq_factors != nullptr) {  // GGUF rope_freqs: replaces `scaling`
      f /= p.maybe_freq_factors[i];
    } else if (p.scaling == RopeScaling::kLinear) {
      f /= p.factor;
    } else if (p.scaling == RopeScaling::kLlama3) {
      const double wavelen = 2.0 * std::numbers::pi / f;
      const double low_wavelen = p.original_max_position / static_cast<double>(p.low_freq_factor);
      const double high_wavelen = p.original_max_position / static_cast<double>(p.high_freq_factor);
      if (wavelen < high_wavelen) {
        // high frequency: unchanged
      } else if (wavelen > low_wavelen) {
        f /= p.factor;
      } else {
        const double smooth = (p.original_max_position / wavelen - p.low_freq_factor) /
                              (static_cast<double>(p.high_freq_factor) - p.low_freq_factor);
        f = (1.0 - smooth) * f / p.factor + smooth * f;
      }
    }
    inv[i] = f;
  }
  return inv;
}

RopeTable::RopeTable(const RopeParams& p, int32_t max_positions, RopeAngles angles)
    : max_positions_(max_positions), half_(RotaryDim(p) / 2), angles_(angles), inv_freq_(RopeInvFreq(p)),
      data_(static_cast<size_t>(max_positions) * 2 * half_) {
  if (angles_ == RopeAngles::kLlamaCpp) {
    const int32_t rd = RotaryDim(p);
    theta_scale_ = std::pow(static_cast<float>(p.theta), -2.0f / static_cast<float>(rd));
    ff_.assign(half_, 1.0f);
    if (p.maybe_freq_factors != nullptr) {
      for (int32_t i = 0; i < half_; ++i) ff_[i] = p.maybe_freq_factors[i];
    } else if (p.scaling == RopeScaling::kLinear) {
      freq_scale_ = 1.0f / p.factor;
    } else if (p.scaling == RopeScaling::kLlama3) {  // the scaled frequencies as factors
      for (int32_t i = 0; i < half_; ++i) {
        ff_[i] = static_cast<float>(std::pow(static_cast<double>(p.theta), -2.0 * i / rd) / inv_freq_[i]);
      }
    }
  }
  for (int32_t pos = 0; pos < max_positions; ++pos) {
    float* row = data_.data() + static_cast<int64_t>(pos) * 2 * half_;
    CosSin(pos, row, row + half_);
  }
}

void RopeTable::CosSin(int32_t pos, float* cos_out, float* sin_out) const {
  if (angles_ == RopeAngles::kDouble) {
    radixserve::kernels::cpu::CosSin(inv_freq_, pos, cos_out, sin_out);
    return;
  }
  float theta = static_cast<float>(pos);
  for (int32_t i = 0; i < half_; ++i) {
    ::sincosf(freq_scale_ * (theta / ff_[i]), &sin_out[i], &cos_out[i]);
    theta *= theta_scale_;
  }
}

void ApplyRope(const RopeParams& p, const RopeTable* maybe_table, ThreadPool* pool) {
  const int32_t half = RotaryDim(p) / 2;
  const std::vector<double> inv = RopeInvFreq(p);
  const internal::VecOps& ops = internal::ActiveVecOps();
  const int64_t q_stride = p.q_token_stride > 0 ? p.q_token_stride : int64_t{p.num_q_heads} * p.head_dim;
  const int64_t k_stride = p.k_token_stride > 0 ? p.k_token_stride : int64_t{p.num_kv_heads} * p.head_dim;
  VisitScalarType(p.dtype, [&](auto tag) {
    using T = decltype(tag);
    MaybeParallelFor(p.num_tokens >= 16 ? pool : nullptr, p.num_tokens, 4, [&](int64_t b, int64_t e) {
      std::vector<float> cs(2 * half);
      for (int64_t t = b; t < e; ++t) {
        const int32_t pos = p.positions[t];
        const float* row;
        if (maybe_table != nullptr && pos < maybe_table->max_positions()) {
          row = maybe_table->Row(pos);
        } else if (maybe_table != nullptr) {
          maybe_table->CosSin(pos, cs.data(), cs.data() + half);
          row = cs.data();
        } else {
          CosSin(inv, pos, cs.data(), cs.data() + half);
          row = cs.data();
        }
        if constexpr (std::is_same_v<T, float>) {
          const bool interleaved = p.style == RopeStyle::kNormal;
          for (int32_t h = 0; h < p.num_q_heads; ++h) {
            ops.rope_rotate(static_cast<float*>(p.q) + t * q_stride + int64_t{h} * p.head_dim, half, interleaved,
                            row, row + half);
          }
          for (int32_t h = 0; p.k != nullptr && h < p.num_kv_heads; ++h) {
            ops.rope_rotate(static_cast<float*>(p.k) + t * k_stride + int64_t{h} * p.head_dim, half, interleaved,
                            row, row + half);
          }
        } else {
          RotateHeads(static_cast<T*>(p.q) + t * q_stride, p.num_q_heads, p.head_dim, half, p.style, row);
          if (p.k != nullptr) {
            RotateHeads(static_cast<T*>(p.k) + t * k_stride, p.num_kv_heads, p.head_dim, half, p.style, row);
          }
        }
      }
    });
  });
}

}  // namespace radixserve::kernels::cpu
