// Helpers for engine tests: an engine on the tiny fixture model and a blocking wrapper
// around Submit().
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "backend/cpu/cpu_backend.h"
#include "gtest/gtest.h"
#include "model/tokenizer_loader.h"
#include "service/engine.h"

namespace radixserve::service::testing {

inline constexpr char kFixtureModel[] = "tests/fixtures/models/llama-gqa-tied/model-f32.gguf";

struct TestEngine {
  std::unique_ptr<model::Tokenizer> tokenizer;
  std::unique_ptr<Engine> engine;
};

inline TestEngine MakeEngine(int32_t device_blocks, int32_t host_blocks, EngineOptions options = {}) {
  TestEngine t;
  auto tok = model::LoadTokenizer(kFixtureModel);
  EXPECT_TRUE(tok.ok()) << tok.status();
  t.tokenizer = std::move(*tok);
  auto backend = backend::CreateCpuBackend();
  backend::BackendOptions bo;
  bo.num_threads = 1;
  bo.num_device_blocks = device_blocks;
  bo.num_host_blocks = host_blocks;
  auto info = backend->Load(kFixtureModel, bo);
  EXPECT_TRUE(info.ok()) << info.status();
  auto engine = Engine::Create(std::move(backend), *info, t.tokenizer.get(), {}, options);
  EXPECT_TRUE(engine.ok()) << engine.status();
  t.engine = std::move(*engine);
  t.engine->Start();
  return t;
}

struct Result {
  GenerateOutcome outcome;
  std::vector<int32_t> tokens;
  std::string text;
};

// Collects one request's events; Wait() blocks the test thread until on_done.
class Collector {
 public:
  GenerateCallbacks Callbacks() {
    return {[this](const TokenEvent& e) {
              absl::MutexLock lock(&mu_);
              result_.tokens.push_back(e.token);
              result_.text += e.text;
            },
            [this](GenerateOutcome o) {
              {
                absl::MutexLock lock(&mu_);
                result_.text += o.text;
                result_.outcome = std::move(o);
              }
              done_.Notify();
            }};
  }
  Result Wait() {
    done_.WaitForNotification();
    absl::MutexLock lock(&mu_);
    return result_;
  }
  size_t NumTokens() {
    absl::MutexLock lock(&mu_);
    return result_.tokens.size();
  }

 private:
  absl::Mutex mu_;
  Result result_;
  absl::Notification done_;
};

inline Result RunRequest(Engine& engine, GenerateSpec spec) {
  Collector c;
  auto handle = engine.Submit(std::move(spec), c.Callbacks());
  if (!handle.ok()) {
    Result r;
    r.outcome.status = handle.status();
    return r;
  }
  return c.Wait();
}

// Runs `fn` on the loop thread and waits for it.
template <typename Fn>
auto OnLoop(Engine& engine, Fn fn) -> decltype(fn()) {
  absl::Notification done;
  decltype(fn()) out{};
  EXPECT_TRUE(engine.Post([&] {
    out = fn();
    done.Notify();
  }));
  done.WaitForNotification();
  return out;
}

}  // namespace radixserve::service::testing
