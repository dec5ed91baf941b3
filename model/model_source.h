// ModelSource: one description of a model whatever its file format — a ModelConfig plus
// named weight tensors — which the backends load from.
//
// CANONICAL DESCRIPTION (the contract with the backends)
//
// Names are GGUF's: token_embd.weight, output_norm.weight, output.weight (absent when
// tie_word_embeddings), rope_freqs.weight (optional, see below), and per layer N:
//   blk.N.attn_norm.weight  blk.N.attn_q.weight  blk.N.attn_k.weight  blk.N.attn_v.weight
//   blk.N.attn_q.bias  blk.N.attn_k.bias  blk.N.attn_v.bias  (when attention_bias)
//   blk.N.attn_output.weight  blk.N.ffn_norm.weight
//   blk.N.ffn_gate.weight  blk.N.ffn_up.weight  blk.N.ffn_down.weight
//
// Shapes are in GGML order: shape[0] is the contiguous dimension. A linear layer
// y = W x with W of HF shape [out, in] is described as shape {in, out}: `out` rows of
// `in` contiguous elements (so HF row-major bytes are unchanged). Examples, with
// H = hidden, D = head_dim, Q = num_heads * D, K = num_kv_heads * D, F = intermediate:
//   token_embd.weight {H, vocab}   attn_q.weight {H, Q}   attn_k/v.weight {H, K}
//   attn_output.weight {Q, H}      ffn_gate/up.weight {H, F}   ffn_down.weight {F, H}
//
// ROPE CONVENTION. Q and K rows (and Q/K biases) are in GGUF's layout, whatever the source:
//  * arch llama / mistral: rows are PERMUTED as llama.cpp's converter does, so within each
//    head the rotary pairs are ADJACENT: dimension pair i of a head is (2i, 2i+1),
//    i = 0 .. D/2-1, rotated by angle pos * theta_i. This is GGML's "normal" rope
//    (mode 0). For HF safetensors we apply that permutation at load: canonical row
//    (h, 2i + j) = HF row (h, j * D/2 + i), j in {0, 1}, with h over num_heads for Q and
//    num_kv_heads for K. (HF's rotate_half pairs (i, i + D/2) in its own row order; it is
//    the same math.)
//  * arch qwen2: rows are NOT permuted (neither format permutes them); rotary pairs are
//    (i, i + D/2) within each head: NEOX-style rope (GGML mode 2), as in HF.
//  theta_i = rope_theta ^ (-2i / D) / freq_factor_i, where freq_factor_i is
//  rope_freqs.weight[i] when that tensor exists (F32 {D/2}; Llama 3.x scaling; ModelSource
//  synthesises it from HF's llama3 rope_scaling exactly as llama.cpp's converter does) and
//  1 otherwise; for rope_scaling linear, positions are divided by rope_scaling.factor.
//
// Data: `data` spans the tensor's bytes in its DType layout (common/tensor_types.h), either
// inside the file mapping or inside a buffer the ModelSource owns (permuted HF Q/K,
// synthesised rope_freqs). Valid for the ModelSource's lifetime.
// Thread safety: immutable after Open(); readable from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "common/tensor_types.h"
#include "model/gguf.h"
#include "model/model_config.h"

namespace radixserve::model {

enum class ModelFormat { kGguf, kSafetensors };
std::string_view ModelFormatName(ModelFormat f);  // "gguf", "safetensors"

struct WeightTensor {
  std::string name;               // canonical (GGUF-style) name
  DType dtype;
  std::vector<int64_t> shape;     // GGML order: shape[0] is contiguous
  std::span<const uint8_t> data;  // see the file comment for ownership
  std::string source_name;        // the name in the file (HF name for safetensors)
  bool file_mapped = false;       // data lies in a file mapping (not permuted / synthesised)
};

class SafetensorsCheckpoint;

class ModelSource {
 public:
  // `path`: a .gguf file; an HF directory (config.json, generation_config.json optional,
  // model.safetensors or model.safetensors.index.json + shards); a single .safetensors
  // file or an index .json with config.json beside it. Validates the config and that every
  // tensor the architecture needs is present with the expected shape and a supported dtype.
  static absl::StatusOr<std::unique_ptr<ModelSource>> Open(const std::string& path);

  ~ModelSource();
  ModelSource(const ModelSource&) = delete;
  ModelSource& operator=(const ModelSource&) = delete;

  ModelFormat format() const { return format_; }
  // Directory holding the model's side files (tokenizer.json etc.): the HF directory, or the
  // directory of the .gguf file.
  const std::string& directory() const { return directory_; }
  const ModelConfig& config() const { return config_; }
  const std::vector<WeightTensor>& tensors() const { return tensors_; }
  const WeightTensor* Find(std::string_view name) const;
  // The underlying GGUF file (tokenizer metadata lives there); nullptr for safetensors.
  const GgufFile* gguf() const { return gguf_.get(); }

 private:
  ModelSource() = default;
  absl::Status LoadSafetensors(const std::string& weights_path);
  absl::Status AddTensor(WeightTensor t);
  absl::Status CheckWeights() const;

  ModelFormat format_ = ModelFormat::kGguf;
  std::string directory_;
  ModelConfig config_;
  std::unique_ptr<GgufFile> gguf_;
  std::unique_ptr<SafetensorsCheckpoint> safetensors_;
  std::vector<std::unique_ptr<std::vector<uint8_t>>> owned_;  // permuted / synthesised data
  std::vector<WeightTensor> tensors_;
  absl::flat_hash_map<std::string, size_t> index_;
};

// Row permutation applied to HF Q/K weights (and biases) of llama/mistral models:
// `data` holds `rows` rows of `row_bytes` bytes, rows = n_heads * head_dim; returns the
// rows reordered so canonical row (h, 2i + j) = source row (h, j * head_dim/2 + i).
std::vector<uint8_t> PermuteQkRows(std::span<const uint8_t> data, int64_t n_heads,
                                   int64_t head_dim, size_t row_bytes);

// Llama 3 rope frequency divisors for rope_freqs.weight ({head_dim/2} floats), computed as
// llama.cpp's converter does from rope_theta and the llama3 rope_scaling parameters.
std::vector<float> Llama3RopeFreqFactors(const ModelConfig& config);

}  // namespace radixserve::model
