#include "backend/cuda/step_profiler.h"

#include <cstdio>
#include <cstdlib>

namespace radixserve::backend::cuda {

StepProfiler::StepProfiler(cudaStream_t stream) : stream_(stream) {
  const char* env = std::getenv("RADIXSERVE_CUDA_PROFILE");
  enabled_ = env != nullptr && std::string(env) == "1";
}

StepProfiler::~StepProfiler() {
  if (steps_ > 0) {
    double total = 0;
    for (const auto& [name, p] : phases_) total += p.ms;
    std::fprintf(stderr, "radixserve CUDA step profile over %ld steps (%.3f ms/step):\n", steps_, total / steps_);
    for (const auto& [name, p] : phases_) {
      std::fprintf(stderr, "  %-14s %9.3f ms/step %5.1f%%  (%ld marks)\n", name.c_str(), p.ms / steps_,
                   100.0 * p.ms / total, p.count);
    }
  }
  for (cudaEvent_t e : pool_) cudaEventDestroy(e);
}

void StepProfiler::Begin() {
  if (!enabled_) return;
  marks_.clear();
  Mark("begin");
}

void StepProfiler::Mark(const char* phase) {
  if (!enabled_) return;
  if (marks_.size() >= pool_.size()) {
    cudaEvent_t e = nullptr;
    cudaEventCreate(&e);
    pool_.push_back(e);
  }
  cudaEvent_t e = pool_[marks_.size()];
  cudaEventRecord(e, stream_);
  marks_.emplace_back(phase, e);
}

void StepProfiler::End() {
  if (!enabled_ || marks_.size() < 2) return;
  cudaEventSynchronize(marks_.back().second);
  for (size_t i = 1; i < marks_.size(); ++i) {
    float ms = 0;
    cudaEventElapsedTime(&ms, marks_[i - 1].second, marks_[i].second);
    Phase& p = phases_[marks_[i].first];
    p.ms += ms;
    ++p.count;
  }
  ++steps_;
}

}  // namespace radixserve::backend::cuda
