#include "backend/cpu/cpu_weights.h"

#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "model/dequantize.h"
#include "model/mapped_file.h"

namespace radixserve::backend::cpu {
namespace {

using kernels::cpu::MatmulWeight;

absl::StatusOr<const model::WeightTensor*> Get(const model::ModelSource& source, const std::string& name) {
  const model::WeightTensor* t = source.Find(name);
  if (t == nullptr) return absl::InvalidArgumentError(absl::StrCat("model has no tensor ", name));
  return t;
}

// `matrices` collects the tensor of every matrix, for MoveToHugePages.
absl::StatusOr<MatmulWeight> GetMatrix(const model::ModelSource& source, const std::string& name,
                                       std::vector<const model::WeightTensor*>& matrices) {
  ASSIGN_OR_RETURN(const model::WeightTensor* t, Get(source, name));
  matrices.push_back(t);
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

// Copies the matrices into one WeightArena (weight_arena.h: decode streams them faster
// from huge pages) and points `w` at the copies; the file pages they came from are
// released, so the weights are not held twice. Leaves `w` as it is when the copies would
// not fit in memory (WeightArena::Fits).
absl::Status MoveToHugePages(const std::vector<const model::WeightTensor*>& matrices, CpuWeights& w) {
  absl::flat_hash_map<const void*, const void*> moved;  // file bytes -> copy
  size_t total = 0;
  for (const model::WeightTensor* t : matrices) {
    if (moved.emplace(t->data.data(), nullptr).second) total += WeightArena::RoundedSize(t->data.size());
  }
  if (!WeightArena::Fits(total)) return absl::OkStatus();  // stays in the file mapping
  ASSIGN_OR_RETURN(std::unique_ptr<WeightArena> arena, WeightArena::Create(total));
  for (const model::WeightTensor* t : matrices) {
    const void*& copy = moved[t->data.data()];
    if (copy != nullptr) continue;
    copy = arena->Copy(t->data);
    if (copy == nullptr) return absl::InternalError(absl::StrCat("weight arena overflow at ", t->name));
    if (t->file_mapped) model::ReleasePages(t->data.data(), t->data.size());
  }
  auto repoint = [&](MatmulWeight& m) { m.data = moved.at(m.data); };
  repoint(w.token_embd);
  repoint(w.output);
  for (CpuLayerWeights& l : w.layers) {
    for (MatmulWeight* m : {&l.q, &l.k, &l.v, &l.o, &l.gate, &l.up, &l.down}) repoint(*m);
  }
  w.arena = std::move(arena);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<CpuWeights> LoadCpuWeights(const model::ModelSource& source, WeightPlacement placement) {
  const model::ModelConfig& config = source.config();
  CpuWeights w;
  std::vector<const model::WeightTensor*> matrices;
  ASSIGN_OR_RETURN(w.token_embd, GetMatrix(source, "token_embd.weight", matrices));
  if (source.Find("output.weight") != nullptr) {
    ASSIGN_OR_RETURN(w.output, GetMatrix(source, "output.weight", matrices));
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
    ASSIGN_OR_RETURN(l.q, GetMatrix(source, p + "attn_q.weight", matrices));
    ASSIGN_OR_RETURN(l.k, GetMatrix(source, p + "attn_k.weight", matrices));
    ASSIGN_OR_RETURN(l.v, GetMatrix(source, p + "attn_v.weight", matrices));
    if (config.attention_bias) {
      ASSIGN_OR_RETURN(l.q_bias, GetVector(source, p + "attn_q.bias"));
      ASSIGN_OR_RETURN(l.k_bias, GetVector(source, p + "attn_k.bias"));
      ASSIGN_OR_RETURN(l.v_bias, GetVector(source, p + "attn_v.bias"));
    }
    ASSIGN_OR_RETURN(l.o, GetMatrix(source, p + "attn_output.weight", matrices));
    ASSIGN_OR_RETURN(l.ffn_norm, GetVector(source, p + "ffn_norm.weight"));
    ASSIGN_OR_RETURN(l.gate, GetMatrix(source, p + "ffn_gate.weight", matrices));
    ASSIGN_OR_RETURN(l.up, GetMatrix(source, p + "ffn_up.weight", matrices));
    ASSIGN_OR_RETURN(l.down, GetMatrix(source, p + "ffn_down.weight", matrices));
  }
  if (placement == WeightPlacement::kAuto) {
    placement = WeightArena::HugePagesAvailable() ? WeightPlacement::kArena : WeightPlacement::kFileMapping;
  }
  if (placement == WeightPlacement::kArena) RETURN_IF_ERROR(MoveToHugePages(matrices, w));
  return w;
}

}  // namespace radixserve::backend::cpu
