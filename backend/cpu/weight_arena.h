// Anonymous memory on transparent huge pages for the matmul weights.
//
// Decode reads every weight once per token, so its speed is the memory bandwidth the
// weight stream gets. Streaming 512 MiB through 4 KiB pages of the model file's mapping
// reached 26-27 GB/s on the 2-core dev machine, the same bytes on 2 MiB pages 33 GB/s
// (a TLB miss and a prefetcher restart every 4 KiB instead of every 2 MiB). So the CPU
// backend copies the matrices here once at load, where the kernel offers huge pages.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "absl/status/statusor.h"

namespace radixserve::backend::cpu {

class WeightArena {
 public:
  // True when transparent huge pages can back an madvise()d region (THP "always" or
  // "madvise"), and RADIXSERVE_HUGE_PAGES is not "0" (the A/B switch for benchmarks).
  static bool HugePagesAvailable();

  // Whether `bytes` of copies fit with room to spare: at most half of MemAvailable and of
  // the cgroup's memory.max headroom. Unlike the file's pages, the copies cannot be
  // reclaimed, so a model that only fits as page cache stays in its mapping.
  static bool Fits(size_t bytes);

  // Room for `capacity` bytes of copies, on huge pages where the kernel has them.
  static absl::StatusOr<std::unique_ptr<WeightArena>> Create(size_t capacity);
  ~WeightArena();
  WeightArena(const WeightArena&) = delete;
  WeightArena& operator=(const WeightArena&) = delete;

  // Copies `bytes` to the next 64-byte boundary of the arena and returns the copy;
  // nullptr when the copies so far plus this one (RoundedSize each) exceed the capacity.
  const void* Copy(std::span<const uint8_t> bytes);

  // Arena bytes that Copy() of `n` bytes uses.
  static size_t RoundedSize(size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

 private:
  static constexpr size_t kAlign = 64;
  WeightArena(uint8_t* base, size_t lead, size_t mapped, size_t capacity);
  uint8_t* base_;        // 2 MiB-aligned start of the copies
  size_t mapped_;        // bytes mapped from base_ - lead_
  size_t lead_;          // alignment slack before base_
  size_t capacity_;
  size_t used_ = 0;
};

}  // namespace radixserve::backend::cpu
