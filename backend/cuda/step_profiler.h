// Where a step's GPU time goes, by phase, for tuning (RADIXSERVE_CUDA_PROFILE=1; it turns
// decode graphs off and synchronises after every step). Events are recorded between the
// launches of each phase; at exit the totals per phase go to stderr.
#pragma once

#include <cuda_runtime.h>

#include <map>
#include <string>
#include <vector>

namespace radixserve::backend::cuda {

class StepProfiler {
 public:
  explicit StepProfiler(cudaStream_t stream);
  ~StepProfiler();  // prints the table when anything was recorded

  bool enabled() const { return enabled_; }
  void Begin();                 // start of a step
  void Mark(const char* phase);  // the launches since the previous mark belong to `phase`
  void End();                   // synchronises and accumulates

 private:
  struct Phase {
    double ms = 0;
    long count = 0;
  };
  bool enabled_ = false;
  cudaStream_t stream_;
  std::vector<cudaEvent_t> pool_;
  std::vector<std::pair<const char*, cudaEvent_t>> marks_;
  cudaEvent_t begin_ = nullptr;
  std::map<std::string, Phase> phases_;
  long steps_ = 0;
};

}  // namespace radixserve::backend::cuda
