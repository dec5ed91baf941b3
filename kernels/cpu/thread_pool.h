// A fixed pool of threads with a low-overhead fork-join parallel-for, shared by prefill
// and decode. Decode of a small model issues hundreds of ~30 us matmuls per token, so a
// dispatch must cost about a microsecond: no allocation, no queue, no mutex on the hot
// path. Workers spin briefly on a generation counter, then block on it (futex).
//
// A task is cut into chunks (static partition: chunk c always covers the same range),
// but chunks are CLAIMED through one atomic counter by whichever thread gets there
// first, the caller included. So when a worker is descheduled (a busy or oversubscribed
// machine) the caller runs its chunk instead of waiting a scheduler time slice for it;
// the caller waits only for chunks another thread has actually started.
//
// Threading: Run/ParallelFor may be called from one thread at a time (the engine loop).
// A call made from inside a task (nested) runs serially on the calling thread.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <thread>
#include <type_traits>
#include <vector>

namespace radixserve::kernels::cpu {

class ThreadPool {
 public:
  // num_threads <= 0 means all hardware threads. The pool starts num_threads - 1 workers.
  // spin_us: how long an idle worker (or the waiting caller) spins before blocking.
  explicit ThreadPool(int num_threads = 0, int spin_us = 50);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_threads() const { return num_threads_; }

  // Calls fn(chunk, num_threads) once for each chunk in [0, num_threads), each on some
  // thread of the pool (possibly several chunks on one thread, one after another), and
  // returns when all have finished. fn must not throw.
  template <typename Fn>
  void Run(Fn&& fn) {
    RunChunks(num_threads_, std::forward<Fn>(fn));
  }

  // Run, or fn(0, 1) on the calling thread where there is no pool or at most one work
  // item (no hand-off for work that cannot be split).
  template <typename Fn>
  static void RunOrInline(ThreadPool* pool, size_t work_items, Fn&& fn) {
    if (pool == nullptr || work_items <= 1) {
      fn(0, 1);
    } else {
      pool->Run(std::forward<Fn>(fn));
    }
  }

  // As Run, with num_chunks chunks (fn(chunk, num_chunks)): more chunks than threads
  // let whichever thread is free take the next one, which evens out a thread slowed
  // by another process, at the cost of one atomic claim per chunk.
  template <typename Fn>
  void RunChunks(int num_chunks, Fn&& fn) {
    using F = std::remove_reference_t<Fn>;
    RunImpl([](void* ctx, int t, int n) { (*static_cast<F*>(ctx))(t, n); },
            const_cast<void*>(static_cast<const void*>(&fn)), num_chunks);
  }

  // Splits [0, n) into one contiguous chunk per thread (static chunking; chunk sizes are
  // multiples of `grain` except the last) and calls fn(begin, end) for each non-empty one.
  template <typename Fn>
  void ParallelFor(int64_t n, int64_t grain, Fn&& fn) {
    if (n <= 0) return;
    if (grain < 1) grain = 1;
    const int64_t units = (n + grain - 1) / grain;
    if (units == 1 || num_threads_ == 1) {
      fn(int64_t{0}, n);
      return;
    }
    Run([&](int t, int nt) {
      const int64_t b = units * t / nt * grain;
      const int64_t e = std::min<int64_t>(n, units * (t + 1) / nt * grain);
      if (b < e) fn(b, e);
    });
  }
  template <typename Fn>
  void ParallelFor(int64_t n, Fn&& fn) {
    ParallelFor(n, 1, std::forward<Fn>(fn));
  }

  // As ParallelFor, with [0, n) cut into chunks_per_thread * num_threads() contiguous
  // chunks (fewer if there are fewer grains), handed out in order to whichever thread
  // is free.
  template <typename Fn>
  void ParallelForChunked(int64_t n, int64_t grain, int chunks_per_thread, Fn&& fn) {
    if (n <= 0) return;
    if (grain < 1) grain = 1;
    const int64_t units = (n + grain - 1) / grain;
    if (units == 1 || num_threads_ == 1) {
      fn(int64_t{0}, n);
      return;
    }
    const int chunks = static_cast<int>(std::min<int64_t>(units, int64_t{num_threads_} * std::max(1, chunks_per_thread)));
    RunChunks(chunks, [&](int c, int nc) {
      const int64_t b = units * c / nc * grain;
      const int64_t e = std::min<int64_t>(n, units * (c + 1) / nc * grain);
      if (b < e) fn(b, e);
    });
  }

 private:
  using TaskFn = void (*)(void*, int, int);
  void RunImpl(TaskFn fn, void* ctx, int num_chunks);
  void WorkerLoop(int index);

  const int num_threads_;
  const int spin_us_;
  std::vector<std::thread> workers_;

  // Runs chunks of task `gen` until none is left; returns how many it ran.
  int ClaimAndRun(uint32_t gen);

  // A task is published by closing the previous task's state_, storing fn_/ctx_/
  // num_chunks_, then state_ = (generation << 32 | 0) with release, then generation_
  // (what idle workers wait on). A chunk is claimed by a CAS on state_ that also checks
  // the generation, so a late worker can never run a chunk of a newer task with an
  // older task's function, nor claim from an older task with a newer chunk count.
  std::atomic<TaskFn> fn_{nullptr};
  std::atomic<void*> ctx_{nullptr};
  std::atomic<int> num_chunks_{0};
  alignas(64) std::atomic<uint64_t> state_{0};  // generation << 32 | next unclaimed chunk
  static constexpr uint64_t kClosed = 0xffffffffu;  // "next chunk" of a task no one may claim from
  alignas(64) std::atomic<uint32_t> generation_{0};
  alignas(64) std::atomic<int> done_{0};  // chunks finished of the current task
  std::atomic<bool> stop_{false};
};

// Runs fn(begin, end) over [0, n) on `pool`, or inline when pool is null.
template <typename Fn>
inline void MaybeParallelFor(ThreadPool* pool, int64_t n, int64_t grain, Fn&& fn) {
  if (pool == nullptr) {
    if (n > 0) fn(int64_t{0}, n);
  } else {
    pool->ParallelFor(n, grain, std::forward<Fn>(fn));
  }
}

}  // namespace radixserve::kernels::cpu
