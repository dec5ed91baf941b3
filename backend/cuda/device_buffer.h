// Owning handles for device memory (cudaMalloc) and pinned host memory (cudaHostAlloc).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <utility>

#include "absl/status/status.h"
#include "backend/cuda/cuda_check.h"

namespace radixserve::backend::cuda {

template <bool kPinnedHost>
class CudaMemory {
 public:
  CudaMemory() = default;
  ~CudaMemory() { Reset(); }
  CudaMemory(CudaMemory&& o) noexcept : ptr_(std::exchange(o.ptr_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}
  CudaMemory& operator=(CudaMemory&& o) noexcept {
    if (this != &o) {
      Reset();
      ptr_ = std::exchange(o.ptr_, nullptr);
      bytes_ = std::exchange(o.bytes_, 0);
    }
    return *this;
  }
  CudaMemory(const CudaMemory&) = delete;
  CudaMemory& operator=(const CudaMemory&) = delete;

  // Replaces the contents with `bytes` uninitialised bytes.
  absl::Status Allocate(int64_t bytes) {
    Reset();
    if (bytes <= 0) return absl::OkStatus();
    if constexpr (kPinnedHost) {
      RS_CUDA_OK(cudaHostAlloc(&ptr_, static_cast<size_t>(bytes), cudaHostAllocDefault));
    } else {
      RS_CUDA_OK(cudaMalloc(&ptr_, static_cast<size_t>(bytes)));
    }
    bytes_ = bytes;
    return absl::OkStatus();
  }
  // Grows to at least `bytes` (contents lost when it grows). cudaFree synchronises the
  // device, so nothing in flight still reads the old memory.
  absl::Status Reserve(int64_t bytes) { return bytes <= bytes_ ? absl::OkStatus() : Allocate(bytes); }

  void Reset() {
    if (ptr_ != nullptr) {
      if constexpr (kPinnedHost) {
        cudaFreeHost(ptr_);
      } else {
        cudaFree(ptr_);
      }
    }
    ptr_ = nullptr;
    bytes_ = 0;
  }

  void* get() const { return ptr_; }
  template <typename T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }
  int64_t bytes() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  int64_t bytes_ = 0;
};

using DeviceBuffer = CudaMemory<false>;
using PinnedBuffer = CudaMemory<true>;

}  // namespace radixserve::backend::cuda
