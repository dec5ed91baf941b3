// The weights of a Llama-family model as the CPU forward reads them. Matmul weights are
// copied unchanged (whatever the type) into a WeightArena on transparent huge pages where
// the kernel offers them (weight_arena.h says why), else they point straight into the
// ModelSource; the small vectors (norm weights, biases, rope frequency divisors) are
// converted to float once.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "backend/cpu/weight_arena.h"
#include "kernels/cpu/matmul.h"
#include "kernels/rope_params.h"
#include "model/model_source.h"

namespace radixserve::backend::cpu {

struct CpuLayerWeights {
  std::vector<float> attn_norm;  // [hidden]
  kernels::cpu::MatmulWeight q, k, v;   // [q_dim, hidden], [kv_dim, hidden] x2
  std::vector<float> q_bias, k_bias, v_bias;  // empty unless attention_bias
  kernels::cpu::MatmulWeight o;         // [hidden, q_dim]
  std::vector<float> ffn_norm;   // [hidden]
  kernels::cpu::MatmulWeight gate, up;  // [ffn, hidden]
  kernels::cpu::MatmulWeight down;      // [hidden, ffn]
};

struct CpuWeights {
  kernels::cpu::MatmulWeight token_embd;  // [vocab, hidden]: rows dequantized on lookup
  kernels::cpu::MatmulWeight output;      // [vocab, hidden]: token_embd when tied
  std::vector<float> output_norm;         // [hidden]
  std::vector<float> rope_freq_factors;   // [head_dim / 2] or empty
  kernels::RopeStyle rope_style = kernels::RopeStyle::kNormal;
  std::vector<CpuLayerWeights> layers;
  std::shared_ptr<const WeightArena> arena;  // holds the matrices when they were copied
};

// Resolves every tensor the architecture needs (ModelSource::Open already checked that
// they exist with the right shapes). InvalidArgument for a weight type the CPU matmul
// cannot compute on, naming the tensor.
// kArena: the matrices are copied into a WeightArena when they fit (WeightArena::Fits),
// else they stay in the file mapping. kAuto: kArena when WeightArena::HugePagesAvailable(),
// else kFileMapping.
enum class WeightPlacement { kAuto, kFileMapping, kArena };
absl::StatusOr<CpuWeights> LoadCpuWeights(const model::ModelSource& source,
                                          WeightPlacement placement = WeightPlacement::kAuto);

}  // namespace radixserve::backend::cpu
