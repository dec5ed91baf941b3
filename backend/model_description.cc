#include "backend/model_description.h"

#include <filesystem>

namespace radixserve::backend {

ModelInfo DescribeModel(const model::ModelSource& source, const std::string& path) {
  ModelInfo info;
  info.config = source.config();
  info.format = std::string(model::ModelFormatName(source.format()));
  info.name = std::filesystem::path(path).filename().string();
  if (const model::GgufFile* gguf = source.gguf(); gguf != nullptr) {
    if (auto n = gguf->GetString("general.name"); n.ok()) info.name = *n;
  }
  int64_t largest = 0;
  for (const model::WeightTensor& t : source.tensors()) {
    int64_t n = 1;
    for (int64_t d : t.shape) n *= d;
    info.num_parameters += n;
    if (n > largest) {
      largest = n;
      info.weight_type = std::string(GetDTypeTraits(t.dtype).name);
    }
  }
  if (const model::WeightTensor* q = source.Find("blk.0.attn_q.weight"); q != nullptr) {
    info.weight_type = std::string(GetDTypeTraits(q->dtype).name);
  }
  return info;
}

kernels::RopeParams RopeParamsFor(const model::ModelConfig& config, kernels::RopeStyle style,
                                  kernels::ScalarType dtype, const float* maybe_freq_factors) {
  kernels::RopeParams p;
  p.dtype = dtype;
  p.style = style;
  p.num_q_heads = static_cast<int32_t>(config.num_heads);
  p.num_kv_heads = static_cast<int32_t>(config.num_kv_heads);
  p.head_dim = static_cast<int32_t>(config.head_dim);
  p.theta = static_cast<float>(config.rope_theta);
  if (config.rope_scaling.type == model::RopeScalingType::kLinear) {
    p.scaling = kernels::RopeScaling::kLinear;
    p.factor = static_cast<float>(config.rope_scaling.factor);
  }
  p.maybe_freq_factors = maybe_freq_factors;
  return p;
}

}  // namespace radixserve::backend
