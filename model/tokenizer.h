// Text <-> token ids for the Llama family's two tokenizer kinds, built from a
// TokenizerData (GGUF metadata or tokenizer.json):
//   byte-level BPE (SmolLM2, Llama 3, Qwen2): regex pre-tokenizer, GPT-2 byte mapping,
//     merges by rank;
//   SentencePiece BPE (Llama 2, Mistral): spaces become "▁", an optional "▁" prefix,
//     merges by piece score (GGUF) or by rank (tokenizer.json), <0xXX> byte fallback.
// Ids and text match llama.cpp and Hugging Face tokenizers (tests/tokenizer checks a
// corpus against both).
//
// Thread safety: immutable after Create() apart from an internal, locked word cache;
// every method may be called from many threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "model/pretokenizer.h"
#include "model/special_tokens.h"
#include "model/tokenizer_data.h"

namespace radixserve::model {

struct EncodeOptions {
  // Add BOS / EOS where the tokenizer data asks for them (add_bos / add_eos).
  bool add_special = true;
  // Turn control-token text such as "<|im_start|>" into its id; when false it is
  // tokenized as plain text. User-defined tokens are always matched.
  bool parse_special = true;
};

struct DecodeOptions {
  // Drop control and unknown tokens (BOS, EOS, "<|im_end|>", ...) from the text.
  bool skip_special = false;
  // SentencePiece with a space prefix: drop the leading space of the first token, which
  // encoding added (llama.cpp's and HF's behaviour). Turn off when decoding a
  // continuation whose first token follows earlier text.
  bool strip_leading_space = true;
};

class Tokenizer {
 public:
  // Validates `data` (ids in range, merges name known tokens, byte tokens present for
  // SentencePiece) and precomputes lookup tables. InvalidArgument / Unimplemented
  // describe what is wrong.
  static absl::StatusOr<std::unique_ptr<Tokenizer>> Create(TokenizerData data);

  // InvalidArgument if `text` is not valid UTF-8.
  absl::StatusOr<std::vector<int32_t>> Encode(std::string_view text,
                                              const EncodeOptions& options = {}) const;

  // Text for `ids`; bytes that do not form valid UTF-8 become U+FFFD. InvalidArgument
  // for an id outside the vocabulary.
  absl::StatusOr<std::string> Decode(std::span<const int32_t> ids,
                                     const DecodeOptions& options = {}) const;

  // The raw bytes a token stands for (possibly part of a UTF-8 character); empty for a
  // control token when `skip_special`. `id` must be in range.
  std::string_view TokenBytes(int32_t id, bool skip_special = false) const;

  bool IsSpecial(int32_t id) const;      // control or unknown type
  bool IsEndOfGeneration(int32_t id) const;  // EOS or one of extra_eos_ids
  std::optional<int32_t> TokenToId(std::string_view piece) const;
  int32_t vocab_size() const { return static_cast<int32_t>(data_.tokens.size()); }
  const TokenizerData& data() const { return data_; }

 private:
  struct MergeInfo {
    int32_t rank;
    int32_t merged_id;
  };

  explicit Tokenizer(TokenizerData data);
  absl::Status Init();

  void EncodeByteLevel(std::string_view text, std::vector<int32_t>* out) const;
  void EncodeByteLevelWord(std::string_view word, std::vector<int32_t>* out) const;
  void EncodeSentencePiece(std::string_view text, bool prefix_space,
                           std::vector<int32_t>* out) const;
  int32_t CharId(std::string_view c) const;

  TokenizerData data_;
  absl::flat_hash_map<std::string, int32_t> token_to_id_;
  absl::flat_hash_map<uint64_t, MergeInfo> merges_;  // (left id << 32 | right id)
  std::vector<std::string> pieces_;                  // id -> decoded bytes
  std::vector<int32_t> byte_to_id_;                  // SentencePiece <0xXX> tokens
  std::unique_ptr<PreTokenizer> pre_tokenizer_;      // byte-level only
  std::unique_ptr<SpecialTokenMatcher> specials_;
  bool ignore_merges_ = false;

  // Byte-level words repeat a lot in real text; caching their ids skips the merge loop.
  static constexpr size_t kMaxCachedWords = 1 << 16;
  mutable absl::Mutex cache_mu_;
  mutable absl::flat_hash_map<std::string, std::vector<int32_t>> word_cache_
      ABSL_GUARDED_BY(cache_mu_);
};

}  // namespace radixserve::model
