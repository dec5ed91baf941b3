// CPU kernel microbenchmarks at the default model's shapes (SmolLM2-135M: hidden 576,
// ffn 1536, 3 KV heads x 64, vocab 49152). GFLOP/s counts 2*M*N*K; GB/s counts the
// weight bytes read once per call (the bound for decode, M = 1).
//
//   build/<dir>/bench/bench_kernels_cpu --benchmark_filter=Matmul --benchmark_repetitions=3
// Environment: RADIXSERVE_BENCH_THREADS (default: all cores), RADIXSERVE_BENCH_ISA
// (scalar|avx2|avx512: cap the SIMD path).
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/cpu_features.h"
#include "kernels/cpu/f16_kv_attention.h"
#include "kernels/cpu/flash_attention.h"
#include "kernels/cpu/paged_attention.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/quantize.h"
#include "kernels/cpu/thread_pool.h"

namespace radixserve::kernels::cpu {
namespace {

ThreadPool& Pool() {
  static ThreadPool* pool = [] {
    const char* env = std::getenv("RADIXSERVE_BENCH_THREADS");
    const char* isa = std::getenv("RADIXSERVE_BENCH_ISA");
    if (isa != nullptr) {
      const std::string s = isa;
      SetCpuIsaOverride(s == "scalar" ? CpuIsa::kScalar : s == "avx2" ? CpuIsa::kAvx2
                                        : s == "avx512" ? CpuIsa::kAvx512 : CpuIsa::kAvx512Bf16);
    }
    return new ThreadPool(env ? std::atoi(env) : 0);
  }();
  return *pool;
}

// Random weights with plausible block scales; the kernels' speed does not depend on values.
std::vector<uint8_t> RandomWeights(DType t, int64_t n, int64_t k) {
  const int64_t bytes = RowBytes(t, k) * n;
  std::vector<uint8_t> w(bytes);
  std::mt19937 rng(1);
  for (auto& b : w) b = static_cast<uint8_t>(rng());
  // Make every fp16/bf16 scale or value finite and small.
  const DTypeTraits tr = GetDTypeTraits(t);
  if (t == DType::kF32) {
    float* f = reinterpret_cast<float*>(w.data());
    for (int64_t i = 0; i < n * k; ++i) f[i] = static_cast<float>(rng() % 2000) * 1e-3f - 1.0f;
  } else if (t == DType::kF16 || t == DType::kBF16) {
    for (int64_t i = 0; i < n * k; ++i) {
      const float v = static_cast<float>(rng() % 2000) * 1e-3f - 1.0f;
      const uint16_t h = t == DType::kF16 ? FloatToFp16(v) : FloatToBf16(v);
      std::memcpy(w.data() + 2 * i, &h, 2);
    }
  } else {
    const uint16_t scale = FloatToFp16(0.01f);
    for (int64_t b = 0; b < bytes / tr.block_bytes; ++b) {
      std::memcpy(w.data() + b * tr.block_bytes, &scale, 2);
      if (t == DType::kQ4_1) std::memcpy(w.data() + b * tr.block_bytes + 2, &scale, 2);
    }
  }
  return w;
}

void BM_Matmul(benchmark::State& state, DType t, int64_t n, int64_t k) {
  const int64_t m = state.range(0);
  const std::vector<uint8_t> w = RandomWeights(t, n, k);
  std::vector<float> x(m * k), y(m * n);
  std::mt19937 rng(2);
  for (float& v : x) v = static_cast<float>(rng() % 2000) * 1e-3f - 1.0f;
  ThreadPool& pool = Pool();
  const MatmulWeight wt{t, w.data(), n, k};
  for (auto _ : state) {
    Matmul(x.data(), m, wt, y.data(), &pool);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  const double iters = static_cast<double>(state.iterations());
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * m * n * k * iters * 1e-9, benchmark::Counter::kIsRate);
  state.counters["GB/s"] =
      benchmark::Counter(static_cast<double>(w.size()) * iters * 1e-9, benchmark::Counter::kIsRate);
  state.SetLabel(std::string(GetDTypeTraits(t).name) + " " + std::string(CpuIsaName(ActiveCpuIsa())) +
                 " threads=" + std::to_string(pool.num_threads()));
}

// Every matmul of one forward step of the default model (30 layers of Q/K/V/O,
// gate/up/down in `t`, plus the Q8_0 output head over `head_rows` rows): M tokens.
void BM_ModelMatmuls(benchmark::State& state, DType t) {
  constexpr int kLayers = 30;
  const int64_t m = state.range(0);
  const int64_t head_rows = state.range(1);  // rows of M that need logits (1 for prefill)
  struct Shape {
    int64_t n, k;
  };
  const Shape shapes[] = {{576, 576}, {192, 576}, {192, 576}, {576, 576}, {1536, 576}, {1536, 576}, {576, 1536}};
  std::vector<std::vector<uint8_t>> weights;
  for (int l = 0; l < kLayers; ++l)
    for (const Shape& s : shapes) weights.push_back(RandomWeights(t, s.n, s.k));
  const std::vector<uint8_t> head = RandomWeights(DType::kQ8_0, 49152, 576);
  std::vector<float> x(m * 1536, 0.5f), y(m * 49152);
  ThreadPool& pool = Pool();
  for (auto _ : state) {
    for (int l = 0; l < kLayers; ++l) {
      for (int i = 0; i < 7; ++i) {
        const Shape& s = shapes[i];
        Matmul(x.data(), m, MatmulWeight{t, weights[l * 7 + i].data(), s.n, s.k}, y.data(), &pool);
      }
    }
    Matmul(x.data(), head_rows, MatmulWeight{DType::kQ8_0, head.data(), 49152, 576}, y.data(), &pool);
    benchmark::ClobberMemory();
  }
  state.counters["tokens/s"] =
      benchmark::Counter(static_cast<double>(m) * state.iterations(), benchmark::Counter::kIsRate);
  state.SetLabel(std::string(GetDTypeTraits(t).name) + " layers + Q8_0 head, " +
                 std::string(CpuIsaName(ActiveCpuIsa())) + " threads=" + std::to_string(pool.num_threads()));
}

// Fork-join cost of one ParallelFor over the pool (the floor under every decode matmul).
void BM_ThreadPoolDispatch(benchmark::State& state) {
  ThreadPool& pool = Pool();
  std::vector<int64_t> sink(pool.num_threads() * 16);
  for (auto _ : state) {
    pool.ParallelFor(pool.num_threads(), [&](int64_t b, int64_t e) { sink[b * 16] += e; });
  }
  benchmark::DoNotOptimize(sink.data());
  state.SetLabel("threads=" + std::to_string(pool.num_threads()));
}
BENCHMARK(BM_ThreadPoolDispatch)->UseRealTime();

// Attention at the default model's head layout (9 query heads, 3 KV heads, head_dim 64)
// over a float32 paged cache of 16-token blocks. Prefill: one sequence of range(0)
// tokens, causal. Decode: range(1) sequences each with range(0) cached tokens.
struct AttnBenchCache {
  PagedKvView kv;
  std::vector<float> k, v, q, o;
  std::vector<int32_t> kv_lens, block_indptr, block_ids, q_indptr;
  AttnBenchCache(int32_t seqs, int32_t len, int32_t q_per_seq) {
    const int32_t blocks_per_seq = (len + 15) / 16;
    kv = PagedKvView{seqs * blocks_per_seq, 16, 3, 64};
    const size_t elems = static_cast<size_t>(kv.num_blocks) * 3 * 16 * 64;
    std::mt19937 rng(3);
    k.resize(elems);
    v.resize(elems);
    for (size_t i = 0; i < elems; ++i) {
      k[i] = static_cast<float>(rng() % 2000) * 1e-3f - 1.0f;
      v[i] = static_cast<float>(rng() % 2000) * 1e-3f - 1.0f;
    }
    q.assign(static_cast<size_t>(seqs) * q_per_seq * 9 * 64, 0.1f);
    o.resize(q.size());
    for (int32_t s = 0; s <= seqs; ++s) {
      block_indptr.push_back(s * blocks_per_seq);
      q_indptr.push_back(s * q_per_seq);
    }
    kv_lens.assign(seqs, len);
    for (int32_t b = 0; b < kv.num_blocks; ++b) block_ids.push_back(b);
  }
};

void BM_FlashAttentionPrefill(benchmark::State& state) {
  const int32_t len = static_cast<int32_t>(state.range(0));
  AttnBenchCache c(1, len, len);
  PrefillParams p;
  p.dtype = ScalarType::kF32;
  p.q = c.q.data();
  p.o = c.o.data();
  p.k_cache = c.k.data();
  p.v_cache = c.v.data();
  p.kv = c.kv;
  p.batch = PagedBatch{1, c.q_indptr.data(), c.kv_lens.data(), c.block_indptr.data(), c.block_ids.data()};
  p.num_q_heads = 9;
  p.sm_scale = 0.125f;
  for (auto _ : state) benchmark::DoNotOptimize(FlashAttentionPrefill(p, &Pool()).ok());
  // QK^T and PV over the causal half: 2 * 2 * heads * len^2 / 2 * head_dim.
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * 9 * len * len * 64 * 1e-9 * state.iterations(),
                                                 benchmark::Counter::kIsRate);
}
BENCHMARK(BM_FlashAttentionPrefill)->Arg(512)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_PagedAttentionDecode(benchmark::State& state) {
  const int32_t len = static_cast<int32_t>(state.range(0)), seqs = static_cast<int32_t>(state.range(1));
  AttnBenchCache c(seqs, len, 1);
  DecodeParams p;
  p.dtype = ScalarType::kF32;
  p.q = c.q.data();
  p.o = c.o.data();
  p.k_cache = c.k.data();
  p.v_cache = c.v.data();
  p.kv = c.kv;
  p.batch = PagedBatch{seqs, nullptr, c.kv_lens.data(), c.block_indptr.data(), c.block_ids.data()};
  p.num_q_heads = 9;
  p.sm_scale = 0.125f;
  for (auto _ : state) benchmark::DoNotOptimize(PagedAttentionDecode(p, &Pool()).ok());
  state.counters["KV GB/s"] = benchmark::Counter(2.0 * seqs * len * 3 * 64 * 4 * 1e-9 * state.iterations(),
                                                 benchmark::Counter::kIsRate);
}
BENCHMARK(BM_PagedAttentionDecode)->Args({512, 1})->Args({512, 16})->Unit(benchmark::kMicrosecond)->UseRealTime();

// The F16-KV attention (llama.cpp's numerics, f16_kv_attention.h) on the same layout:
// args (len, seqs, q_per_seq): prefill is (len, 1, len), decode (len, seqs, 1).
void BM_F16KvAttention(benchmark::State& state) {
  const int32_t len = static_cast<int32_t>(state.range(0)), seqs = static_cast<int32_t>(state.range(1));
  const int32_t q_per_seq = static_cast<int32_t>(state.range(2));
  AttnBenchCache c(seqs, len, q_per_seq);
  std::vector<uint16_t> k16(c.k.size()), v16(c.v.size());
  for (size_t i = 0; i < c.k.size(); ++i) {
    k16[i] = FloatToFp16(c.k[i]);
    v16[i] = FloatToFp16(c.v[i]);
  }
  F16KvAttentionParams p;
  p.q = c.q.data();
  p.o = c.o.data();
  p.k_cache = k16.data();
  p.v_cache = v16.data();
  p.kv = c.kv;
  p.batch = PagedBatch{seqs, c.q_indptr.data(), c.kv_lens.data(), c.block_indptr.data(), c.block_ids.data()};
  p.num_q_heads = 9;
  p.sm_scale = 0.125f;
  for (auto _ : state) benchmark::DoNotOptimize(F16KvAttention(p, &Pool()).ok());
  const double pairs = q_per_seq == 1 ? static_cast<double>(seqs) * len : 0.5 * len * len;
  state.counters["GFLOP/s"] =
      benchmark::Counter(4.0 * 9 * pairs * 64 * 1e-9 * state.iterations(), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_F16KvAttention)
    ->Args({512, 1, 512})
    ->Args({512, 1, 1})
    ->Args({512, 16, 1})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

void RegisterAll() {
  struct Shape {
    const char* name;
    int64_t n, k;
  };
  const Shape shapes[] = {{"attn_q_576x576", 576, 576}, {"attn_kv_192x576", 192, 576},
                          {"ffn_up_1536x576", 1536, 576}, {"ffn_down_576x1536", 576, 1536},
                          {"output_49152x576", 49152, 576}};
  for (DType t : {DType::kQ4_1, DType::kQ4_0, DType::kQ8_0, DType::kF16, DType::kBF16, DType::kF32}) {
    for (const Shape& s : shapes) {
      const std::string name = std::string("BM_Matmul/") + std::string(GetDTypeTraits(t).name) + "/" + s.name;
      benchmark::RegisterBenchmark(name.c_str(), BM_Matmul, t, s.n, s.k)
          ->Arg(1)
          ->Arg(4)
          ->Arg(512)
          ->Unit(benchmark::kMicrosecond)
          ->UseRealTime();
    }
  }
  for (DType t : {DType::kQ4_1, DType::kBF16, DType::kF32}) {
    const std::string name = std::string("BM_ModelMatmuls/") + std::string(GetDTypeTraits(t).name);
    benchmark::RegisterBenchmark(name.c_str(), BM_ModelMatmuls, t)
        ->Args({1, 1})
        ->Args({4, 4})
        ->Args({512, 1})
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  }
}

}  // namespace
}  // namespace radixserve::kernels::cpu

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  radixserve::kernels::cpu::RegisterAll();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
