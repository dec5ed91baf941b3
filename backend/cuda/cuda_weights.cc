#include "backend/cuda/cuda_weights.h"

#include "backend/cuda/weight_repack.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/tensor_types.h"
#include "kernels/quant_gemm_params.h"
#include "model/dequantize.h"

namespace radixserve::backend::cuda {
namespace {

using model::WeightTensor;

absl::StatusOr<const WeightTensor*> Get(const model::ModelSource& source, const std::string& name) {
  const WeightTensor* t = source.Find(name);
  if (t == nullptr) return absl::InvalidArgumentError(absl::StrCat("model has no tensor ", name));
  return t;
}

int64_t NumElements(const WeightTensor& t) {
  int64_t n = 1;
  for (int64_t d : t.shape) n *= d;
  return n;
}

bool IsFloatType(DType t) { return t == DType::kF32 || t == DType::kF16 || t == DType::kBF16; }

absl::Status Upload(DeviceBuffer& dst, const void* src, int64_t bytes) {
  RETURN_IF_ERROR(dst.Allocate(bytes));
  RS_CUDA_OK(cudaMemcpy(dst.get(), src, static_cast<size_t>(bytes), cudaMemcpyHostToDevice));
  return absl::OkStatus();
}

// A tensor as bf16, converted on the host unless it already is bf16.
absl::StatusOr<std::vector<uint16_t>> ToBf16(const WeightTensor& t) {
  const int64_t n = NumElements(t);
  std::vector<uint16_t> out(static_cast<size_t>(n));
  if (t.dtype == DType::kBF16) {
    std::memcpy(out.data(), t.data.data(), out.size() * sizeof(uint16_t));
    return out;
  }
  ASSIGN_OR_RETURN(std::vector<float> f, model::DequantizeToVector(t.dtype, t.data, n));
  for (int64_t i = 0; i < n; ++i) out[i] = FloatToBf16(f[i]);
  return out;
}

absl::StatusOr<DeviceBuffer> UploadBf16Vector(const model::ModelSource& source, const std::string& name) {
  ASSIGN_OR_RETURN(const WeightTensor* t, Get(source, name));
  ASSIGN_OR_RETURN(std::vector<uint16_t> v, ToBf16(*t));
  DeviceBuffer b;
  RETURN_IF_ERROR(Upload(b, v.data(), static_cast<int64_t>(v.size() * sizeof(uint16_t))));
  return b;
}

// Stacks the row blocks of `parts` (each {k, n_i} in GGML order) into one linear
// [sum n_i, k] in the form the dominant (first) part's type asks for.
absl::StatusOr<LinearWeight> LoadLinear(const model::ModelSource& source, const std::vector<std::string>& parts,
                                        const std::vector<std::string>& bias_parts) {
  std::vector<const WeightTensor*> ts;
  int64_t k = -1, n = 0;
  for (const std::string& name : parts) {
    ASSIGN_OR_RETURN(const WeightTensor* t, Get(source, name));
    if (t->shape.size() != 2 || (k >= 0 && t->shape[0] != k)) {
      return absl::InvalidArgumentError(absl::StrCat("tensor ", name, " does not fit its fused matrix"));
    }
    k = t->shape[0];
    n += t->shape[1];
    ts.push_back(t);
  }
  LinearWeight w;
  w.n = static_cast<int32_t>(n);
  w.k = static_cast<int32_t>(k);
  const DType type = ts[0]->dtype;
  if (IsFloatType(type)) {
    w.kind = LinearKind::kBf16;
  } else if ((type == DType::kQ4_0 || type == DType::kQ4_1) && k % kernels::kInt4GroupSize == 0) {
    w.kind = LinearKind::kInt4;
  } else if (type == DType::kQ8_0 || type == DType::kQ4_0 || type == DType::kQ4_1) {
    if (k % 16 != 0) return absl::InvalidArgumentError(absl::StrCat("tensor ", parts[0], ": k = ", k, " is not a multiple of 16"));
    w.kind = LinearKind::kInt8;
  } else {
    return absl::InvalidArgumentError(absl::StrCat("tensor ", parts[0], " has type ",
                                                   std::string(GetDTypeTraits(type).name),
                                                   ", which the CUDA backend cannot compute on"));
  }

  if (w.kind == LinearKind::kBf16) {
    std::vector<uint16_t> all;
    all.reserve(static_cast<size_t>(n * k));
    for (const WeightTensor* t : ts) {
      ASSIGN_OR_RETURN(std::vector<uint16_t> v, ToBf16(*t));
      all.insert(all.end(), v.begin(), v.end());
    }
    RETURN_IF_ERROR(Upload(w.w_storage, all.data(), static_cast<int64_t>(all.size() * sizeof(uint16_t))));
  } else {
    std::vector<float> rows(static_cast<size_t>(n * k));
    int64_t at = 0;
    for (const WeightTensor* t : ts) {
      const int64_t count = NumElements(*t);
      RETURN_IF_ERROR(model::Dequantize(t->dtype, t->data, std::span<float>(rows.data() + at, count)));
      at += count;
    }
    if (w.kind == LinearKind::kInt8) {
      std::vector<int8_t> q(static_cast<size_t>(n * k));
      std::vector<uint16_t> scales(static_cast<size_t>(n));
      QuantizeInt8Rows(rows.data(), n, k, q.data(), scales.data());
      RETURN_IF_ERROR(Upload(w.w_storage, q.data(), n * k));
      RETURN_IF_ERROR(Upload(w.scale_storage, scales.data(), n * 2));
    } else {
      std::vector<uint8_t> q(static_cast<size_t>(n * k / 2));
      std::vector<uint16_t> scales(static_cast<size_t>(n * (k / kernels::kInt4GroupSize)));
      QuantizeInt4Rows(rows.data(), n, k, q.data(), scales.data());
      std::vector<uint8_t> tiled(static_cast<size_t>(kernels::Int4TiledBytes(n, k)));
      TileInt4ForGpu(q.data(), n, k, tiled.data());  // the layout the tensor-core kernel streams
      RETURN_IF_ERROR(Upload(w.w_storage, tiled.data(), static_cast<int64_t>(tiled.size())));
      RETURN_IF_ERROR(Upload(w.scale_storage, scales.data(), static_cast<int64_t>(scales.size() * 2)));
    }
    w.scales = w.scale_storage.as<const uint16_t>();
  }
  w.w = w.w_storage.get();

  if (!bias_parts.empty()) {
    std::vector<uint16_t> bias;
    for (const std::string& name : bias_parts) {
      ASSIGN_OR_RETURN(const WeightTensor* t, Get(source, name));
      ASSIGN_OR_RETURN(std::vector<uint16_t> v, ToBf16(*t));
      bias.insert(bias.end(), v.begin(), v.end());
    }
    if (static_cast<int64_t>(bias.size()) != n) {
      return absl::InvalidArgumentError(absl::StrCat("bias of ", parts[0], " has ", bias.size(), " elements, not ", n));
    }
    RETURN_IF_ERROR(Upload(w.bias_storage, bias.data(), n * 2));
    w.bias = w.bias_storage.as<const uint16_t>();
  }
  return w;
}

}  // namespace

absl::StatusOr<CudaWeights> LoadCudaWeights(const model::ModelSource& source) {
  const model::ModelConfig& config = source.config();
  CudaWeights w;
  {
    ASSIGN_OR_RETURN(const WeightTensor* t, Get(source, "token_embd.weight"));
    ASSIGN_OR_RETURN(std::vector<uint16_t> v, ToBf16(*t));
    RETURN_IF_ERROR(Upload(w.token_embd, v.data(), static_cast<int64_t>(v.size() * 2)));
  }
  if (source.Find("output.weight") != nullptr) {
    ASSIGN_OR_RETURN(w.output, LoadLinear(source, {"output.weight"}, {}));
  } else {  // tied: the embedding table is the output matrix, in bf16
    w.output.kind = LinearKind::kBf16;
    w.output.n = static_cast<int32_t>(config.vocab_size);
    w.output.k = static_cast<int32_t>(config.hidden_size);
    w.output.w = w.token_embd.get();
  }
  ASSIGN_OR_RETURN(w.output_norm, UploadBf16Vector(source, "output_norm.weight"));
  if (const WeightTensor* t = source.Find("rope_freqs.weight"); t != nullptr) {
    ASSIGN_OR_RETURN(std::vector<float> f, model::DequantizeToVector(t->dtype, t->data, NumElements(*t)));
    RETURN_IF_ERROR(Upload(w.rope_freq_factors, f.data(), static_cast<int64_t>(f.size() * sizeof(float))));
  }
  w.rope_style = config.arch == model::Arch::kQwen2 ? kernels::RopeStyle::kNeox : kernels::RopeStyle::kNormal;

  w.layers.resize(config.num_layers);
  w.device_bytes = w.token_embd.bytes() + w.output.bytes() + w.output_norm.bytes() + w.rope_freq_factors.bytes();
  for (int64_t i = 0; i < config.num_layers; ++i) {
    CudaLayerWeights& l = w.layers[i];
    const std::string p = absl::StrCat("blk.", i, ".");
    const bool bias = config.attention_bias;
    ASSIGN_OR_RETURN(l.attn_norm, UploadBf16Vector(source, p + "attn_norm.weight"));
    ASSIGN_OR_RETURN(l.ffn_norm, UploadBf16Vector(source, p + "ffn_norm.weight"));
    ASSIGN_OR_RETURN(l.qkv, LoadLinear(source, {p + "attn_q.weight", p + "attn_k.weight", p + "attn_v.weight"},
                                       bias ? std::vector<std::string>{p + "attn_q.bias", p + "attn_k.bias",
                                                                       p + "attn_v.bias"}
                                            : std::vector<std::string>{}));
    ASSIGN_OR_RETURN(l.o, LoadLinear(source, {p + "attn_output.weight"}, {}));
    ASSIGN_OR_RETURN(l.gate_up, LoadLinear(source, {p + "ffn_gate.weight", p + "ffn_up.weight"}, {}));
    ASSIGN_OR_RETURN(l.down, LoadLinear(source, {p + "ffn_down.weight"}, {}));
    w.device_bytes += l.attn_norm.bytes() + l.ffn_norm.bytes() + l.qkv.bytes() + l.o.bytes() +
                      l.gate_up.bytes() + l.down.bytes();
  }
  return w;
}

}  // namespace radixserve::backend::cuda
