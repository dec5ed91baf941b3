// What every backend derives the same way from a loaded model: the ModelInfo it reports
// and the RoPE parameters its kernels take (kernels/rope_params.h).
#pragma once

#include <string>

#include "backend/backend.h"
#include "kernels/rope_params.h"
#include "model/model_source.h"

namespace radixserve::backend {

// Name (GGUF general.name, else the path's basename), format, parameter count and the
// weight type of the attention projections (else of the largest tensor).
ModelInfo DescribeModel(const model::ModelSource& source, const std::string& path);

// The model's frequency fields (theta, linear scaling, optional llama3 divisors) for a
// kernel of `dtype`; per-step fields (pointers, token counts, strides) left unset.
kernels::RopeParams RopeParamsFor(const model::ModelConfig& config, kernels::RopeStyle style,
                                  kernels::ScalarType dtype, const float* maybe_freq_factors);

}  // namespace radixserve::backend
