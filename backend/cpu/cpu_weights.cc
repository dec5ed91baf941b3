#include "backend/cpu/cpu_weights.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "model/dequantize.h"

namespace radixserve::backend::cpu {
namespace {

using kernels::cpu::MatmulWeight;

absl::StatusOr<const model::WeightTensor*> Get(const model::ModelSource& source, const std::string& name) {
  const model::WeightTensor* t = source.Find(name);
  if (t == nullptr) return absl::InvalidArgumentError(absl::StrCat("model has no tensor ", name));
  return t;
}

absl::StatusOr<MatmulWeight> GetMatrix(const model::ModelSource& source, const std::string& name) {
  ASSIGN_OR_RETURN(const model::WeightTensor* t, Get(source, name));
  if (t->shape.size() != 2) {
    return absl::InvalidArgumentError(absl::StrCat("tensor ", name, " is not a matrix"));
  }
  if (!kernels::cpu::MatmulSupports(t->dtype)) {
    return absl::InvalidArgumentError(absl::StrCat("tensor ", name, " has type ",
                                                   std::string(GetDTypeTraits(t->dtype).name),
                                                   ", which the CPU backend cannot compute on"));
  }
  return MatmulWeight{t->dtype, t->data.data(), t->shape[1], t->shape[0]};
}

absl::StatusOr<std::vector<float>> GetVector(const model::ModelSource& source, const std::string& name) {
  ASSIGN_OR_RETURN(const model::WeightTensor* t, Get(source, name));
  int64_t n = 1;
  for (int64_t d : t->shape) n *= d;
  return model::DequantizeToVector(t->dtype, t->data, n);
}

}  // namespace

absl::StatusOr<CpuWeights> LoadCpuWeights(const model::ModelSource& source) {
  const model::ModelConfig& config = source.config();
  CpuWeights w;
  ASSIGN_OR_RETURN(w.token_embd, GetMatrix(source, "token_embd.weight"));
  if (source.Find("output.weight") != nullptr) {
    ASSIGN_OR_RETURN(w.output, GetMatrix(source, "output.weight"));
  } else {
    w.output = w.token_embd;
  }
  ASSIGN_OR_RETURN(w.output_norm, GetVector(source, "output_norm.weight"));
  if (source.Find("rope_freqs.weight") != nullptr) {
    ASSIGN_OR_RETURN(w.rope_freq_factors, GetVector(source, "rope_freqs.weight"));
  }
  // See model/model_source.h: llama/mistral Q/K rows are in GGUF's adjacent-pair order.
  w.rope_style = config.arch == model::Arch::kQwen2 ? kernels::RopeStyle::kNeox : kernels::RopeStyle::kNormal;

  w.layers.resize(config.num_layers);
  for (int64_t i = 0; i < config.num_layers; ++i) {
    CpuLayerWeights& l = w.layers[i];
    const std::string p = absl::StrCat("blk.", i, ".");
    ASSIGN_OR_RETURN(l.attn_norm, GetVector(source, p + "attn_norm.weight"));
    ASSIGN_OR_RETURN(l.q, GetMatrix(source, p + "attn_q.weight"));
    ASSIGN_OR_RETURN(l.k, GetMatrix(source, p + "attn_k.weight"));
    ASSIGN_OR_RETURN(l.v, GetMatrix(source, p + "attn_v.weight"));
    if (config.attention_bias) {
      ASSIGN_OR_RETURN(l.q_bias, GetVector(source, p + "attn_q.bias"));
      ASSIGN_OR_RETURN(l.k_bias, GetVector(source, p + "attn_k.bias"));
      ASSIGN_OR_RETURN(l.v_bias, GetVector(source, p + "attn_v.bias"));
    }
    ASSIGN_OR_RETURN(l.o, GetMatrix(source, p + "attn_output.weight"));
    ASSIGN_OR_RETURN(l.ffn_norm, GetVector(source, p + "ffn_norm.weight"));
    ASSIGN_OR_RETURN(l.gate, GetMatrix(source, p + "ffn_gate.weight"));
    ASSIGN_OR_RETURN(l.up, GetMatrix(source, p + "ffn_up.weight"));
    ASSIGN_OR_RETURN(l.down, GetMatrix(source, p + "ffn_down.weight"));
  }
  return w;
}

}  // namespace radixserve::backend::cpu
