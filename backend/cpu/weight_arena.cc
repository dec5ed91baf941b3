#include "backend/cpu/weight_arena.h"

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace radixserve::backend::cpu {
namespace {

constexpr size_t kHugePage = size_t{2} << 20;

// The number after `key` on the first line of `path` that starts with it, times `unit`;
// 0 when there is none or it is not a number (e.g. cgroup's "max").
size_t ReadNumber(const std::string& path, const std::string& key, size_t unit) {
  std::ifstream f(path);
  std::string line;
  while (std::getline(f, line)) {
    if (!key.empty() && line.rfind(key, 0) != 0) continue;
    const std::string digits = line.substr(key.size());
    char* end = nullptr;
    const unsigned long long v = std::strtoull(digits.c_str(), &end, 10);
    return end == digits.c_str() ? 0 : static_cast<size_t>(v) * unit;
  }
  return 0;
}

}  // namespace

bool WeightArena::Fits(size_t bytes) {
  size_t available = ReadNumber("/proc/meminfo", "MemAvailable:", 1024);
  const size_t limit = ReadNumber("/sys/fs/cgroup/memory.max", "", 1);
  if (limit > 0) {
    const size_t used = ReadNumber("/sys/fs/cgroup/memory.current", "", 1);
    const size_t headroom = limit > used ? limit - used : 0;
    available = available == 0 ? headroom : std::min(available, headroom);
  }
  return bytes <= available / 2;
}

bool WeightArena::HugePagesAvailable() {
  if (const char* env = std::getenv("RADIXSERVE_HUGE_PAGES"); env != nullptr && std::string(env) == "0") return false;
  std::ifstream f("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string mode;
  std::getline(f, mode);  // e.g. "always [madvise] never"
  return mode.find("[always]") != std::string::npos || mode.find("[madvise]") != std::string::npos;
}

absl::StatusOr<std::unique_ptr<WeightArena>> WeightArena::Create(size_t capacity) {
  // Map one huge page more than needed and start at its first 2 MiB boundary, so every
  // 2 MiB of the copies can be one page.
  const size_t mapped = (capacity + kHugePage - 1) / kHugePage * kHugePage + kHugePage;
  void* p = mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    const int err = errno;
    return absl::ResourceExhaustedError(absl::StrCat("cannot map ", mapped, " bytes for the weights: ", std::strerror(err)));
  }
  auto* raw = static_cast<uint8_t*>(p);
  auto* base = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(raw) + kHugePage - 1) & ~(kHugePage - 1));
  // A hint: where the kernel has no huge page to give, 4 KiB pages still work.
  madvise(base, mapped - static_cast<size_t>(base - raw), MADV_HUGEPAGE);
  return std::unique_ptr<WeightArena>(new WeightArena(base, static_cast<size_t>(base - raw), mapped, capacity));
}

WeightArena::WeightArena(uint8_t* base, size_t lead, size_t mapped, size_t capacity)
    : base_(base), mapped_(mapped), lead_(lead), capacity_(capacity) {}

WeightArena::~WeightArena() { munmap(base_ - lead_, mapped_); }

const void* WeightArena::Copy(std::span<const uint8_t> bytes) {
  if (used_ + RoundedSize(bytes.size()) > capacity_) return nullptr;
  uint8_t* dst = base_ + used_;
  std::memcpy(dst, bytes.data(), bytes.size());
  used_ += RoundedSize(bytes.size());
  return dst;
}

}  // namespace radixserve::backend::cpu
