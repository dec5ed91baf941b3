// Starts the real `radixserve` binary on loopback with the tiny fixture model and
// connects gRPC stubs to it. The binary prints its ports on stdout.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "radixserve/v1/cache.grpc.pb.h"
#include "radixserve/v1/inference.grpc.pb.h"
#include "radixserve/v1/model.grpc.pb.h"

namespace radixserve::service::testing {

class ServerProcess {
 public:
  // Extra flags are appended to the defaults (tiny model, small pools, 1 thread).
  explicit ServerProcess(const std::vector<std::string>& extra = {}) {
    const char* dir = std::getenv("RADIXSERVE_BUILD_DIR");
    const std::string binary = std::string(dir != nullptr ? dir : "build") + "/service/radixserve";
    std::vector<std::string> args = {binary,
                                     "--model=tests/fixtures/models/llama-gqa-tied/model-f32.gguf",
                                     "--host=127.0.0.1",
                                     "--port=0",
                                     "--metrics_port=0",
                                     "--kv_blocks=64",
                                     "--host_kv_blocks=32",
                                     "--threads=1",
                                     "--grace_period_s=2",
                                     "--log_level=warning"};
    args.insert(args.end(), extra.begin(), extra.end());
    int out[2];
    if (pipe(out) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], 1);
      close(out[0]);
      std::vector<char*> argv;
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(out[1]);
    FILE* f = fdopen(out[0], "r");
    char line[256];
    while (std::fgets(line, sizeof line, f) != nullptr) {
      std::sscanf(line, "radixserve metrics on port %d", &metrics_port_);
      if (std::sscanf(line, "radixserve listening on port %d", &port_) == 1) break;
    }
    stdout_ = f;  // kept open so the server never gets SIGPIPE
    if (port_ == 0) return;
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(port_), grpc::InsecureChannelCredentials());
    inference = v1::Inference::NewStub(channel_);
    cache = v1::Cache::NewStub(channel_);
    model = v1::Model::NewStub(channel_);
  }

  ~ServerProcess() {
    if (pid_ > 0 && !stopped_) Stop();
    if (stdout_ != nullptr) std::fclose(stdout_);
  }

  // SIGTERM, then waits; returns the exit status (0 expected).
  int Stop() {
    stopped_ = true;
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  bool ok() const { return port_ > 0; }
  int port() const { return port_; }
  int metrics_port() const { return metrics_port_; }
  std::shared_ptr<grpc::Channel> channel() const { return channel_; }

  std::unique_ptr<v1::Inference::Stub> inference;
  std::unique_ptr<v1::Cache::Stub> cache;
  std::unique_ptr<v1::Model::Stub> model;

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  int metrics_port_ = 0;
  bool stopped_ = false;
  FILE* stdout_ = nullptr;
  std::shared_ptr<grpc::Channel> channel_;
};

}  // namespace radixserve::service::testing
