#include "kernels/cpu/quantize.h"

#include <cmath>

namespace radixserve::kernels::cpu {

bool IsCpuWeightType(DType t) {
  switch (t) {
    case DType::kF32:
    case DType::kF16:
    case DType::kBF16:
    case DType::kQ8_0:
    case DType::kQ4_0:
    case DType::kQ4_1:
      return true;
    default:
      return false;
  }
}

float RoundToFp16(float x) { return Fp16ToFloat(FloatToFp16(x)); }

void QuantizeRowQ8(const float* x, int64_t k, int8_t* qs, float* d, float* s) {
  for (int64_t b = 0; b < k / kQkBlock; ++b) {
    const float* xb = x + b * kQkBlock;
    float amax = 0.0f;
    for (int i = 0; i < kQkBlock; ++i) amax = std::fmax(amax, std::fabs(xb[i]));
    const float db = amax / 127.0f;
    // 127 / amax, not 1 / db: the two differ in the last bit for some amax, and a
    // product near .5 then rounds the other way.
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    int sum = 0;
    for (int i = 0; i < kQkBlock; ++i) {
      const int q = static_cast<int>(std::nearbyint(xb[i] * id));  // default mode: half-even
      qs[b * kQkBlock + i] = static_cast<int8_t>(q);
      sum += q;
    }
    d[b] = RoundToFp16(db);
    s[b] = RoundToFp16(db * static_cast<float>(sum));
  }
}

void DequantizeRow(DType t, const void* row, int64_t k, float* out) {
  switch (t) {
    case DType::kF32: {
      const float* r = static_cast<const float*>(row);
      for (int64_t i = 0; i < k; ++i) out[i] = r[i];
      return;
    }
    case DType::kF16: {
      const uint16_t* r = static_cast<const uint16_t*>(row);
      for (int64_t i = 0; i < k; ++i) out[i] = Fp16ToFloat(r[i]);
      return;
    }
    case DType::kBF16: {
      const uint16_t* r = static_cast<const uint16_t*>(row);
      for (int64_t i = 0; i < k; ++i) out[i] = Bf16ToFloat(r[i]);
      return;
    }
    case DType::kQ8_0: {
      const BlockQ8_0* b = static_cast<const BlockQ8_0*>(row);
      for (int64_t j = 0; j < k / kQkBlock; ++j) {
        const float d = Fp16ToFloat(b[j].d);
        for (int i = 0; i < kQkBlock; ++i) out[j * kQkBlock + i] = b[j].qs[i] * d;
      }
      return;
    }
    case DType::kQ4_0: {
      const BlockQ4_0* b = static_cast<const BlockQ4_0*>(row);
      for (int64_t j = 0; j < k / kQkBlock; ++j) {
        const float d = Fp16ToFloat(b[j].d);
        float* o = out + j * kQkBlock;
        for (int i = 0; i < kQkBlock / 2; ++i) {
          o[i] = static_cast<float>((b[j].qs[i] & 0x0F) - 8) * d;
          o[i + kQkBlock / 2] = static_cast<float>((b[j].qs[i] >> 4) - 8) * d;
        }
      }
      return;
    }
    case DType::kQ4_1: {
      const BlockQ4_1* b = static_cast<const BlockQ4_1*>(row);
      for (int64_t j = 0; j < k / kQkBlock; ++j) {
        const float d = Fp16ToFloat(b[j].d);
        const float m = Fp16ToFloat(b[j].m);
        float* o = out + j * kQkBlock;
        for (int i = 0; i < kQkBlock / 2; ++i) {
          o[i] = static_cast<float>(b[j].qs[i] & 0x0F) * d + m;
          o[i + kQkBlock / 2] = static_cast<float>(b[j].qs[i] >> 4) * d + m;
        }
      }
      return;
    }
    default:
      return;  // precondition violated; callers validate with IsCpuWeightType
  }
}

}  // namespace radixserve::kernels::cpu
