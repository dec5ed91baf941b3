#include "model/model_source.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <numbers>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "model/hf_names.h"
#include "model/safetensors.h"

namespace radixserve::model {
namespace fs = std::filesystem;

std::string_view ModelFormatName(ModelFormat f) {
  return f == ModelFormat::kGguf ? "gguf" : "safetensors";
}

ModelSource::~ModelSource() = default;

std::vector<uint8_t> PermuteQkRows(std::span<const uint8_t> data, int64_t n_heads,
                                   int64_t head_dim, size_t row_bytes) {
  std::vector<uint8_t> out(data.size());
  const int64_t half = head_dim / 2;
  for (int64_t h = 0; h < n_heads; ++h) {
    for (int64_t i = 0; i < half; ++i) {
      for (int64_t j = 0; j < 2; ++j) {
        const size_t dst = static_cast<size_t>(h * head_dim + 2 * i + j);
        const size_t src = static_cast<size_t>(h * head_dim + j * half + i);
        std::memcpy(out.data() + dst * row_bytes, data.data() + src * row_bytes, row_bytes);
      }
    }
  }
  return out;
}

std::vector<float> Llama3RopeFreqFactors(const ModelConfig& c) {
  const RopeScaling& s = c.rope_scaling;
  const double old_ctx = static_cast<double>(s.original_max_position_embeddings);
  const double low_wavelen = old_ctx / s.low_freq_factor;
  const double high_wavelen = old_ctx / s.high_freq_factor;
  std::vector<float> out;
  for (int64_t i = 0; i < c.head_dim; i += 2) {
    // Base frequency in float32, as the converter computes it with numpy.
    const float freq = 1.0f / powf(static_cast<float>(c.rope_theta),
                                   static_cast<float>(i) / static_cast<float>(c.head_dim));
    const double wavelen = 2 * std::numbers::pi / static_cast<double>(freq);
    double factor;
    if (wavelen < high_wavelen) {
      factor = 1.0;
    } else if (wavelen > low_wavelen) {
      factor = s.factor;
    } else {
      const double smooth =
          (old_ctx / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
      factor = 1.0 / ((1 - smooth) / s.factor + smooth);
    }
    out.push_back(static_cast<float>(factor));
  }
  return out;
}

absl::StatusOr<std::unique_ptr<ModelSource>> ModelSource::Open(const std::string& path) {
  auto src = std::unique_ptr<ModelSource>(new ModelSource());
  std::error_code ec;
  const bool is_dir = fs::is_directory(path, ec);
  if (!is_dir && !fs::exists(path, ec)) {
    return absl::NotFoundError(absl::StrFormat("model path '%s' does not exist", path));
  }
  if (!is_dir && path.ends_with(".gguf")) {
    src->format_ = ModelFormat::kGguf;
    src->directory_ = fs::path(path).parent_path().string();
    ASSIGN_OR_RETURN(src->gguf_, GgufFile::Open(path));
    auto config = ModelConfigFromGguf(*src->gguf_);
    if (!config.ok()) {
      return absl::Status(config.status().code(),
                          absl::StrCat(path, ": ", config.status().message()));
    }
    src->config_ = *std::move(config);
    for (const GgufTensorInfo& t : src->gguf_->tensors()) {
      RETURN_IF_ERROR(src->AddTensor({t.name, t.type, t.shape, t.data, t.name, /*file_mapped=*/true}));
    }
  } else if (is_dir || path.ends_with(".safetensors") || path.ends_with(".json")) {
    src->format_ = ModelFormat::kSafetensors;
    fs::path dir = is_dir ? fs::path(path) : fs::path(path).parent_path();
    src->directory_ = (dir.empty() ? fs::current_path(ec) : dir).string();
    ASSIGN_OR_RETURN(src->config_, ModelConfigFromHfDir(src->directory_));
    RETURN_IF_ERROR(src->LoadSafetensors(path));
  } else {
    return absl::InvalidArgumentError(absl::StrFormat(
        "'%s' is not a .gguf file, a .safetensors file or a Hugging Face directory", path));
  }
  if (absl::Status s = src->CheckWeights(); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat(path, ": ", s.message()));
  }
  return src;
}

const WeightTensor* ModelSource::Find(std::string_view name) const {
  auto it = index_.find(absl::string_view(name.data(), name.size()));
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

absl::Status ModelSource::AddTensor(WeightTensor t) {
  if (!index_.emplace(t.name, tensors_.size()).second) {
    return absl::InvalidArgumentError(
        absl::StrFormat("two tensors map to the canonical name '%s'", t.name));
  }
  tensors_.push_back(std::move(t));
  return absl::OkStatus();
}

absl::Status ModelSource::LoadSafetensors(const std::string& weights_path) {
  ASSIGN_OR_RETURN(safetensors_, SafetensorsCheckpoint::Open(weights_path));
  const ModelConfig& c = config_;
  const bool permute = c.arch == Arch::kLlama || c.arch == Arch::kMistral;
  for (const auto& [hf_name, st] : safetensors_->tensors()) {
    if (IsIgnoredHfTensor(hf_name)) continue;
    std::optional<std::string> name = CanonicalNameFromHf(hf_name);
    if (!name.has_value()) {
      return absl::InvalidArgumentError(
          absl::StrFormat("safetensors tensor '%s' is not a known %s parameter", hf_name,
                          ArchName(c.arch)));
    }
    ASSIGN_OR_RETURN(DType dtype, SafetensorsFile::LoadableDType(*st));
    WeightTensor t{*name, dtype, std::vector<int64_t>(st->shape.rbegin(), st->shape.rend()),
                   st->data, hf_name, /*file_mapped=*/true};
    const bool is_q = name->ends_with(".attn_q.weight") || name->ends_with(".attn_q.bias");
    const bool is_k = name->ends_with(".attn_k.weight") || name->ends_with(".attn_k.bias");
    if (permute && (is_q || is_k)) {
      const int64_t heads = is_q ? c.num_heads : c.num_kv_heads;
      const int64_t rows = t.shape.empty() ? 0 : t.shape.back();
      if (rows != heads * c.head_dim || t.data.empty()) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "safetensors tensor '%s' has %d rows; expected %d heads x head_dim %d", hf_name,
            rows, heads, c.head_dim));
      }
      const size_t row_bytes = t.data.size() / static_cast<size_t>(rows);
      owned_.push_back(std::make_unique<std::vector<uint8_t>>(
          PermuteQkRows(t.data, heads, c.head_dim, row_bytes)));
      t.data = *owned_.back();
      t.file_mapped = false;
    }
    RETURN_IF_ERROR(AddTensor(std::move(t)));
  }
  if (c.rope_scaling.type == RopeScalingType::kLlama3 && Find("rope_freqs.weight") == nullptr) {
    const std::vector<float> f = Llama3RopeFreqFactors(c);
    auto bytes = std::make_unique<std::vector<uint8_t>>(f.size() * sizeof(float));
    std::memcpy(bytes->data(), f.data(), bytes->size());
    owned_.push_back(std::move(bytes));
    RETURN_IF_ERROR(AddTensor({"rope_freqs.weight", DType::kF32,
                               {static_cast<int64_t>(f.size())}, *owned_.back(), ""}));
  }
  return absl::OkStatus();
}

// Every tensor the architecture needs must be present, shaped as the config says, and of
// a dtype the model layer supports.
absl::Status ModelSource::CheckWeights() const {
  const ModelConfig& c = config_;
  const int64_t h = c.hidden_size, q = c.num_heads * c.head_dim, k = c.num_kv_heads * c.head_dim;
  const int64_t f = c.intermediate_size;
  auto expect = [&](const std::string& name, std::vector<int64_t> shape,
                    bool required) -> absl::Status {
    const WeightTensor* t = Find(name);
    if (t == nullptr) {
      if (!required) return absl::OkStatus();
      return absl::InvalidArgumentError(absl::StrFormat("missing tensor '%s'", name));
    }
    if (t->shape != shape) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "tensor '%s' has shape {%s}, expected {%s} (GGML order)", name,
          absl::StrJoin(t->shape, ", "), absl::StrJoin(shape, ", ")));
    }
    if (!GetDTypeTraits(t->dtype).supported) {
      return absl::UnimplementedError(absl::StrFormat(
          "tensor '%s' has type %s, which is not supported (supported: F32, F16, BF16, Q8_0, "
          "Q4_0, Q4_1)",
          name, GetDTypeTraits(t->dtype).name));
    }
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(expect("token_embd.weight", {h, c.vocab_size}, true));
  RETURN_IF_ERROR(expect("output_norm.weight", {h}, true));
  RETURN_IF_ERROR(expect("output.weight", {h, c.vocab_size}, !c.tie_word_embeddings));
  RETURN_IF_ERROR(expect("rope_freqs.weight", {c.head_dim / 2}, false));
  for (int64_t i = 0; i < c.num_layers; ++i) {
    const std::string b = absl::StrCat("blk.", i, ".");
    RETURN_IF_ERROR(expect(absl::StrCat(b, "attn_norm.weight"), {h}, true));
    RETURN_IF_ERROR(expect(absl::StrCat(b, "attn_q.weight"), {h, q}, true));
    RETURN_IF_ERROR(expect(absl::StrCat(b, "attn_k.weight"), {h, k}, true));
    RETURN_IF_ERROR(expect(absl::StrCat(b, "attn_v.weight"), {h, k}, true));
    RETURN_IF_ERROR(expect(absl::StrCat(b, "attn_q.bias"), {q}, c.attention_bias));
    RETURN_IF_ERROR(expect(absl::StrCat(b, "attn_k.bias"), {k}, c.attention_bias));
    RETURN_IF_ERROR(expect(absl::StrCat(b, "attn_v.bias"), {k}, c.attention_bias));
    RETURN_IF_ERROR(expect(absl::StrCat(b, "attn_output.weight"), {q, h}, true));
    RETURN_IF_ERROR(expect(absl::StrCat(b, "attn_output.bias"), {h}, false));
    RETURN_IF_ERROR(expect(absl::StrCat(b, "ffn_norm.weight"), {h}, true));
    RETURN_IF_ERROR(expect(absl::StrCat(b, "ffn_gate.weight"), {h, f}, true));
    RETURN_IF_ERROR(expect(absl::StrCat(b, "ffn_up.weight"), {h, f}, true));
    RETURN_IF_ERROR(expect(absl::StrCat(b, "ffn_down.weight"), {f, h}, true));
  }
  return absl::OkStatus();
}

}  // namespace radixserve::model
