#include "kernels/cpu/thread_pool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

namespace radixserve::kernels::cpu {
namespace {

class ThreadPoolTest : public ::testing::TestWithParam<int> {};

TEST_P(ThreadPoolTest, ParallelForCoversEveryIndexExactlyOnce) {
  ThreadPool pool(GetParam());
  EXPECT_EQ(pool.num_threads(), GetParam());
  for (int64_t n : {0, 1, 2, 5, 7, 64, 1001}) {
    for (int64_t grain : {1, 3, 16}) {
      std::vector<std::atomic<int>> hits(n);
      pool.ParallelFor(n, grain, [&](int64_t b, int64_t e) {
        EXPECT_LT(b, e);
        if (e < n) {
          EXPECT_EQ(b % grain, 0);
        }
        for (int64_t i = b; i < e; ++i) hits[i].fetch_add(1);
      });
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << "n=" << n << " i=" << i;
    }
  }
}

TEST_P(ThreadPoolTest, RunCallsEveryChunkOnceAndManyDispatchesComplete) {
  ThreadPool pool(GetParam(), /*spin_us=*/5);
  std::vector<std::atomic<int>> per_thread(GetParam());
  int64_t total = 0;
  for (int iter = 0; iter < 2000; ++iter) {
    std::atomic<int64_t> sum{0};
    pool.Run([&](int t, int nt) {
      EXPECT_EQ(nt, GetParam());
      per_thread[t].fetch_add(1);
      sum.fetch_add(t + 1);
    });
    total += sum.load();
  }
  for (int t = 0; t < GetParam(); ++t) EXPECT_EQ(per_thread[t].load(), 2000);
  EXPECT_EQ(total, 2000LL * GetParam() * (GetParam() + 1) / 2);
}

TEST_P(ThreadPoolTest, NestedCallsRunInline) {
  ThreadPool pool(GetParam());
  std::atomic<int> count{0};
  pool.ParallelFor(4, [&](int64_t b, int64_t e) {
    pool.ParallelFor(10, [&](int64_t b2, int64_t e2) { count.fetch_add(static_cast<int>((e - b) * (e2 - b2))); });
  });
  EXPECT_EQ(count.load(), 40);
}

TEST_P(ThreadPoolTest, WorkersWakeAfterBlocking) {
  ThreadPool pool(GetParam(), /*spin_us=*/0);
  for (int iter = 0; iter < 50; ++iter) {
    std::atomic<int> c{0};
    pool.Run([&](int, int) { c.fetch_add(1); });
    EXPECT_EQ(c.load(), GetParam());
  }
}

// Chunks are claimed dynamically: a chunk that sleeps does not stop the others from
// running on other threads, and every chunk still runs exactly once per dispatch.
TEST_P(ThreadPoolTest, SlowChunkDoesNotLoseOrRepeatWork) {
  ThreadPool pool(GetParam(), /*spin_us=*/20);
  for (int iter = 0; iter < 20; ++iter) {
    std::vector<std::atomic<int>> hits(GetParam());
    pool.Run([&](int c, int) {
      if (c == iter % GetParam()) std::this_thread::sleep_for(std::chrono::microseconds(200));
      hits[c].fetch_add(1);
    });
    for (int c = 0; c < GetParam(); ++c) ASSERT_EQ(hits[c].load(), 1);
  }
}

// Back-to-back tasks of changing chunk counts on an oversubscribed machine: a worker
// preempted inside one task must not claim from it with the next task's chunk count
// (that ran a chunk twice and left the next dispatch waiting forever). A watchdog
// turns such a hang into a failure.
TEST_P(ThreadPoolTest, LateWorkersNeverClaimAcrossTasks) {
  ThreadPool pool(GetParam(), /*spin_us=*/50);
  std::atomic<bool> stop{false};
  std::vector<std::thread> hogs;  // keep every core busy so pool threads get preempted
  for (unsigned i = 0; i < std::max(2u, std::thread::hardware_concurrency()); ++i) {
    hogs.emplace_back([&] {
      while (!stop.load(std::memory_order_relaxed)) {
      }
    });
  }
  std::atomic<int64_t> progress{0};
  std::thread watchdog([&] {
    int64_t last = -1;
    for (int tick = 1; !stop.load(); ++tick) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      if (tick % 400 != 0) continue;  // every 20 s
      const int64_t now = progress.load();
      if (!stop.load() && now == last) {
        std::fprintf(stderr, "thread pool dispatch %lld never completed\n", static_cast<long long>(now));
        std::abort();
      }
      last = now;
    }
  });
  int64_t bad = 0;
  for (int iter = 0; iter < 100000; ++iter) {
    const int n = 1 + iter % 9;
    std::vector<std::atomic<int>> hits(n);
    pool.RunChunks(n, [&](int c, int nc) {
      if (nc == n && c >= 0 && c < n) hits[c].fetch_add(1);
    });
    for (int c = 0; c < n; ++c) bad += hits[c].load() != 1;
    progress.fetch_add(1);
  }
  stop = true;
  for (auto& h : hogs) h.join();
  watchdog.join();
  EXPECT_EQ(bad, 0);
}

INSTANTIATE_TEST_SUITE_P(Threads, ThreadPoolTest, ::testing::Values(1, 2, 7));

}  // namespace
}  // namespace radixserve::kernels::cpu
