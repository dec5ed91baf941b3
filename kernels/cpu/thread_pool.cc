#include "kernels/cpu/thread_pool.h"

#include <algorithm>
#include <chrono>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace radixserve::kernels::cpu {
namespace {

thread_local bool t_inside_task = false;

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#else
  std::this_thread::yield();
#endif
}

// Spins until pred() or spin_us elapse; returns pred()'s last value. The clock is read
// only every 64 iterations so a spin iteration stays a few cycles.
template <typename Pred>
bool SpinUntil(Pred pred, int spin_us) {
  if (pred()) return true;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::microseconds(spin_us);
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      if (pred()) return true;
      CpuRelax();
    }
    if (std::chrono::steady_clock::now() >= deadline) return pred();
  }
}

}  // namespace

ThreadPool::ThreadPool(int num_threads, int spin_us)
    : num_threads_(num_threads > 0 ? num_threads
                                   : std::max(1, static_cast<int>(std::thread::hardware_concurrency()))),
      spin_us_(std::max(0, spin_us)) {
  workers_.reserve(num_threads_ - 1);
  for (int i = 1; i < num_threads_; ++i) workers_.emplace_back([this, i] { WorkerLoop(i); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true, std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_release);
  generation_.notify_all();
  for (auto& w : workers_) w.join();
}

int ThreadPool::ClaimAndRun(uint32_t gen) {
  int ran = 0;
  for (;;) {
    uint64_t s = state_.load(std::memory_order_acquire);
    // Acquire: if any of these is already the next task's, so is the closing of this
    // task's state_ (RunImpl), and the claim below fails instead of running a chunk of
    // the next task under this task's state.
    const TaskFn fn = fn_.load(std::memory_order_acquire);
    void* ctx = ctx_.load(std::memory_order_acquire);
    const int num_chunks = num_chunks_.load(std::memory_order_acquire);
    for (;;) {
      if (static_cast<uint32_t>(s >> 32) != gen) return ran;  // a newer task: not ours
      const uint32_t chunk = static_cast<uint32_t>(s & 0xffffffffu);
      if (chunk >= static_cast<uint32_t>(num_chunks)) return ran;
      if (state_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel, std::memory_order_acquire)) {
        fn(ctx, static_cast<int>(chunk), num_chunks);
        ++ran;
        if (done_.fetch_add(1, std::memory_order_acq_rel) + 1 == num_chunks) done_.notify_one();
        break;
      }
    }
  }
}

void ThreadPool::RunImpl(TaskFn fn, void* ctx, int num_chunks) {
  if (num_chunks <= 0) return;
  if (num_threads_ == 1 || t_inside_task) {
    for (int c = 0; c < num_chunks; ++c) fn(ctx, c, num_chunks);
    return;
  }
  const uint32_t gen = generation_.load(std::memory_order_relaxed) + 1;
  // Close the previous task first. A worker still in it may read its state and then
  // the parameters stored below; without the close, its claim of the old state could
  // succeed and run a chunk of this task that is also claimed here (CI once hung on
  // the extra count in done_). The parameters are released after the close, so a
  // worker that sees any of them sees the close as well.
  state_.store((static_cast<uint64_t>(gen - 1) << 32) | kClosed, std::memory_order_relaxed);
  fn_.store(fn, std::memory_order_release);
  ctx_.store(ctx, std::memory_order_release);
  num_chunks_.store(num_chunks, std::memory_order_release);
  done_.store(0, std::memory_order_relaxed);
  state_.store(static_cast<uint64_t>(gen) << 32, std::memory_order_release);
  generation_.store(gen, std::memory_order_release);
  generation_.notify_all();  // a syscall only if some worker is blocked

  t_inside_task = true;
  ClaimAndRun(gen);
  t_inside_task = false;

  auto all_done = [&] { return done_.load(std::memory_order_acquire) == num_chunks; };
  if (!SpinUntil(all_done, spin_us_)) {
    for (int d = done_.load(std::memory_order_acquire); d != num_chunks; d = done_.load(std::memory_order_acquire)) {
      done_.wait(d, std::memory_order_acquire);
    }
  }
}

void ThreadPool::WorkerLoop(int /*index*/) {
  t_inside_task = true;  // a worker never dispatches nested work to the pool
  uint32_t seen = 0;
  for (;;) {
    if (!SpinUntil([&] { return generation_.load(std::memory_order_acquire) != seen; }, spin_us_)) {
      generation_.wait(seen, std::memory_order_acquire);
      continue;  // re-check (spurious wake-ups)
    }
    seen = generation_.load(std::memory_order_acquire);
    if (stop_.load(std::memory_order_relaxed)) return;
    ClaimAndRun(seen);
  }
}

}  // namespace radixserve::kernels::cpu
