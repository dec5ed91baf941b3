// radixserve-backend-check: drives a backend (built-in CPU or a plugin such as cuda)
// through every way the engine reaches a token's logits, with hand-made block tables,
// and writes the logits for an outside reference to compare (scripts/hf_backend_check.py
// compares them with Hugging Face transformers; two runs of this tool on two backends can
// be compared with each other). Scenarios, for each prompt of length L:
//   prefill   one step of all L tokens                           -> position L-1
//   decode    prefill L-8, then 8 one-token steps                -> L-9 .. L-1
//   chunked   three chunks                                       -> each chunk's last
//   reuse     a second sequence reusing the first's whole blocks of the first half
//             (a radix-cache hit), then the rest in one step    -> L-1
//   fork      prefill L-4, fork (whole blocks shared, the partial one copied), then both
//             sequences decode the last 4 tokens in one batch   -> L-4 .. L-1, twice
//   batch     all prompts together: prefill L-4 in one step, 4 decode steps -> per prompt
//   cascade   three sequences sharing the first prompt's whole blocks decode its last
//             token in one step (a cascade when the shared part is long enough) -> L-1
// Output: <out>.json {"name": {"offset": row, "positions": [...]}, "vocab": V} and
// <out>.f32 with the rows.
//
//   radixserve-backend-check --backend cuda --model DIR --prompts p.json --out /tmp/cuda
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "backend/cpu/cpu_backend.h"
#include "backend/plugin_loader.h"
#include "nlohmann/json.hpp"

namespace {

using radixserve::backend::Backend;
using radixserve::backend::BlockCopy;
using radixserve::backend::SequenceStep;
using radixserve::backend::StepBatch;

struct Options {
  std::string backend = "cpu", backend_dir, model, prompts_path, out;
  int block_size = 16;
};

// A sequence: its tokens so far and its blocks.
struct Seq {
  std::vector<int32_t> tokens;
  std::vector<int32_t> blocks;
};

class Checker {
 public:
  Checker(Backend& backend, int32_t block_size, int64_t num_blocks)
      : backend_(backend), block_size_(block_size), num_blocks_(num_blocks) {}

  // Gives `seq` blocks for `len` tokens.
  void Reserve(Seq& seq, size_t len) {
    while (seq.blocks.size() * block_size_ < len) {
      if (next_block_ >= num_blocks_) throw std::runtime_error("out of KV blocks");
      seq.blocks.push_back(static_cast<int32_t>(next_block_++));
    }
  }

  // One step: each (seq, new tokens) appended; returns the logits of each last token.
  std::vector<std::vector<float>> Step(std::vector<Seq*> seqs, const std::vector<std::vector<int32_t>>& news) {
    StepBatch batch;
    for (size_t i = 0; i < seqs.size(); ++i) {
      Seq& s = *seqs[i];
      SequenceStep step;
      step.start_position = static_cast<int32_t>(s.tokens.size());
      s.tokens.insert(s.tokens.end(), news[i].begin(), news[i].end());
      Reserve(s, s.tokens.size());
      step.tokens = news[i];
      step.block_table = s.blocks;
      step.return_logits = true;
      batch.sequences.push_back(step);
    }
    auto result = backend_.Forward(batch);
    if (!result.ok()) throw std::runtime_error(result.status().ToString());
    std::vector<std::vector<float>> rows;
    for (auto& r : result->sequences) rows.push_back(std::move(r.logits));
    return rows;
  }

  void Copy(int32_t src, int32_t dst) {
    const BlockCopy c{src, dst};
    if (auto st = backend_.CopyBlocks({&c, 1}); !st.ok()) throw std::runtime_error(st.ToString());
  }
  int32_t NewBlock() {
    if (next_block_ >= num_blocks_) throw std::runtime_error("out of KV blocks");
    return static_cast<int32_t>(next_block_++);
  }
  int32_t block_size() const { return block_size_; }

 private:
  Backend& backend_;
  int32_t block_size_;
  int64_t num_blocks_;
  int64_t next_block_ = 0;
};

std::vector<int32_t> Slice(const std::vector<int32_t>& v, size_t a, size_t b) {
  return std::vector<int32_t>(v.begin() + static_cast<long>(a), v.begin() + static_cast<long>(b));
}

class Writer {
 public:
  void Add(const std::string& name, const std::vector<int64_t>& positions, const std::vector<std::vector<float>>& rows) {
    index_[name] = {{"offset", num_rows_}, {"positions", positions}};
    for (const auto& r : rows) {
      vocab_ = static_cast<int64_t>(r.size());
      data_.insert(data_.end(), r.begin(), r.end());
      ++num_rows_;
    }
  }
  void Save(const std::string& out) {
    index_["vocab"] = vocab_;
    std::ofstream(out + ".json") << index_.dump();
    std::ofstream f(out + ".f32", std::ios::binary);
    f.write(reinterpret_cast<const char*>(data_.data()), static_cast<std::streamsize>(data_.size() * sizeof(float)));
  }

 private:
  nlohmann::json index_ = nlohmann::json::object();
  std::vector<float> data_;
  int64_t num_rows_ = 0, vocab_ = 0;
};

void RunPrompt(Checker& c, Writer& w, const std::vector<int32_t>& p, const std::string& tag) {
  const size_t len = p.size();
  const int64_t last = static_cast<int64_t>(len) - 1;
  {  // prefill
    Seq s;
    w.Add(tag + "/prefill", {last}, c.Step({&s}, {p}));
  }
  {  // decode
    Seq s;
    std::vector<std::vector<float>> rows = c.Step({&s}, {Slice(p, 0, len - 8)});
    std::vector<int64_t> pos = {last - 8};
    for (size_t i = len - 8; i < len; ++i) {
      rows.push_back(c.Step({&s}, {Slice(p, i, i + 1)})[0]);
      pos.push_back(static_cast<int64_t>(i));
    }
    w.Add(tag + "/decode", pos, rows);
  }
  {  // chunked
    Seq s;
    std::vector<std::vector<float>> rows;
    std::vector<int64_t> pos;
    const size_t chunk = (len + 2) / 3;
    for (size_t a = 0; a < len; a += chunk) {
      const size_t b = std::min(len, a + chunk);
      rows.push_back(c.Step({&s}, {Slice(p, a, b)})[0]);
      pos.push_back(static_cast<int64_t>(b) - 1);
    }
    w.Add(tag + "/chunked", pos, rows);
  }
  {  // reuse: the second sequence starts after the first's shared whole blocks
    Seq a;
    c.Step({&a}, {p});
    Seq b;
    const size_t shared_blocks = len / 2 / c.block_size();
    b.blocks.assign(a.blocks.begin(), a.blocks.begin() + static_cast<long>(shared_blocks));
    b.tokens = Slice(p, 0, shared_blocks * c.block_size());
    w.Add(tag + "/reuse", {last}, c.Step({&b}, {Slice(p, b.tokens.size(), len)}));
  }
  {  // fork
    Seq a;
    c.Step({&a}, {Slice(p, 0, len - 4)});
    Seq b = a;
    const size_t full = (len - 4) / c.block_size();
    if (full < b.blocks.size()) {  // the partly filled block is copied (copy-on-write)
      b.blocks[full] = c.NewBlock();
      c.Copy(a.blocks[full], b.blocks[full]);
    }
    std::vector<std::vector<float>> rows_a, rows_b;
    std::vector<int64_t> pos;
    for (size_t i = len - 4; i < len; ++i) {
      auto r = c.Step({&a, &b}, {Slice(p, i, i + 1), Slice(p, i, i + 1)});
      rows_a.push_back(std::move(r[0]));
      rows_b.push_back(std::move(r[1]));
      pos.push_back(static_cast<int64_t>(i));
    }
    w.Add(tag + "/fork_parent", pos, rows_a);
    w.Add(tag + "/fork_child", pos, rows_b);
  }
}

void RunBatch(Checker& c, Writer& w, const std::vector<std::vector<int32_t>>& prompts) {
  std::vector<Seq> seqs(prompts.size());
  std::vector<Seq*> ptrs;
  std::vector<std::vector<int32_t>> news;
  for (size_t i = 0; i < prompts.size(); ++i) {
    ptrs.push_back(&seqs[i]);
    news.push_back(Slice(prompts[i], 0, prompts[i].size() - 4));
  }
  std::vector<std::vector<std::vector<float>>> rows(prompts.size());
  auto r = c.Step(ptrs, news);
  for (size_t i = 0; i < prompts.size(); ++i) rows[i].push_back(std::move(r[i]));
  for (size_t k = 4; k > 0; --k) {
    for (size_t i = 0; i < prompts.size(); ++i) news[i] = Slice(prompts[i], prompts[i].size() - k, prompts[i].size() - k + 1);
    r = c.Step(ptrs, news);
    for (size_t i = 0; i < prompts.size(); ++i) rows[i].push_back(std::move(r[i]));
  }
  for (size_t i = 0; i < prompts.size(); ++i) {
    const int64_t l = static_cast<int64_t>(prompts[i].size());
    w.Add(absl::StrCat("p", i, "/batch"), {l - 5, l - 4, l - 3, l - 2, l - 1}, rows[i]);
  }
}

void RunCascade(Checker& c, Writer& w, const std::vector<int32_t>& p) {
  const size_t len = p.size();
  Seq a;
  c.Step({&a}, {Slice(p, 0, len - 1)});
  const size_t shared_blocks = (len - 1) / c.block_size();
  std::vector<Seq> seqs(3);
  std::vector<Seq*> ptrs;
  std::vector<std::vector<int32_t>> rest;
  for (Seq& s : seqs) {
    s.blocks.assign(a.blocks.begin(), a.blocks.begin() + static_cast<long>(shared_blocks));
    s.tokens = Slice(p, 0, shared_blocks * c.block_size());
    ptrs.push_back(&s);
    rest.push_back(Slice(p, s.tokens.size(), len - 1));
  }
  if (!rest[0].empty()) c.Step(ptrs, rest);
  auto r = c.Step(ptrs, {Slice(p, len - 1, len), Slice(p, len - 1, len), Slice(p, len - 1, len)});
  for (size_t i = 0; i < r.size(); ++i) w.Add(absl::StrCat("p0/cascade", i), {static_cast<int64_t>(len) - 1}, {r[i]});
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Logits of a backend in every engine scenario, for comparison with a reference"};
  Options o;
  app.add_option("--backend", o.backend, "cpu or a plugin name (cuda)");
  app.add_option("--backend_dir", o.backend_dir, "where the plugin is (default: ../service beside this tool)");
  app.add_option("--model", o.model, "GGUF file or HF directory")->required();
  app.add_option("--prompts", o.prompts_path, "JSON {\"prompts\": [[ids...], ...]}, each at least 12 tokens")->required();
  app.add_option("--out", o.out, "output prefix (.json and .f32 are written)")->required();
  app.add_option("--block-size", o.block_size, "tokens per KV block");
  CLI11_PARSE(app, argc, argv);

  std::unique_ptr<Backend> backend;
  if (o.backend == "cpu") {
    backend = radixserve::backend::CreateCpuBackend();
  } else {
    std::string dir = o.backend_dir;
    if (dir.empty()) dir = (std::filesystem::canonical("/proc/self/exe").parent_path() / "../service").string();
    auto loaded = radixserve::backend::FindAndLoadPluginBackend(o.backend, {dir});
    if (!loaded.ok()) {
      std::fprintf(stderr, "backend: %s\n", loaded.status().ToString().c_str());
      return 2;
    }
    backend = std::move(*loaded);
  }
  nlohmann::json prompts_json;
  std::ifstream(o.prompts_path) >> prompts_json;
  const std::vector<std::vector<int32_t>> prompts = prompts_json.at("prompts").get<std::vector<std::vector<int32_t>>>();
  int64_t tokens = 0;
  for (const auto& p : prompts) {
    if (p.size() < 12) {
      std::fprintf(stderr, "every prompt needs at least 12 tokens\n");
      return 2;
    }
    tokens += static_cast<int64_t>(p.size());
  }
  radixserve::backend::BackendOptions options;
  options.block_size = o.block_size;
  options.num_device_blocks = 12 * (tokens / o.block_size + static_cast<int64_t>(prompts.size()) + 4);
  auto info = backend->Load(o.model, options);
  if (!info.ok()) {
    std::fprintf(stderr, "load: %s\n", info.status().ToString().c_str());
    return 1;
  }
  try {
    Checker checker(*backend, o.block_size, options.num_device_blocks);
    Writer writer;
    for (size_t i = 0; i < prompts.size(); ++i) RunPrompt(checker, writer, prompts[i], absl::StrCat("p", i));
    RunBatch(checker, writer, prompts);
    RunCascade(checker, writer, prompts[0]);
    writer.Save(o.out);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "check: %s\n", e.what());
    return 1;
  }
  std::printf("%s: %zu prompts on %s written to %s.{json,f32}\n", o.model.c_str(), prompts.size(), o.backend.c_str(),
              o.out.c_str());
  return 0;
}
