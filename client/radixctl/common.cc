#include "client/radixctl/common.h"

#include <cstdio>
#include <iostream>
#include <iterator>

namespace radixctl {

std::unique_ptr<Client> Connect(const Globals& g, int* exit_code) {
  radixserve::client::ConnectOptions o;
  o.address = g.addr;
  o.timeout_s = g.timeout_s;
  o.tls = g.tls;
  o.ca_file = g.ca;
  o.cert_file = g.cert;
  o.key_file = g.key;
  auto c = Client::Connect(o);
  if (!c.ok()) {
    std::fprintf(stderr, "radixctl: error: %s\n", std::string(c.status().message()).c_str());
    *exit_code = kExitUsage;
    return nullptr;
  }
  return *std::move(c);
}

int ExitCodeFor(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk: return kExitOk;
    case absl::StatusCode::kUnavailable: return kExitConnection;
    case absl::StatusCode::kDeadlineExceeded: return kExitTimeout;
    default: return kExitServer;
  }
}

int Fail(const absl::Status& status, const std::string& what, const Globals& g) {
  const std::string code = radixserve::client::StatusCodeName(status.code());
  if (g.json) {  // machine-readable on stderr too
    nlohmann::json j = {{"error", {{"operation", what},
                                   {"code", code},
                                   {"message", std::string(status.message())},
                                   {"exit_code", ExitCodeFor(status)}}}};
    std::fprintf(stderr, "%s\n", DumpJson(j, -1).c_str());
    return ExitCodeFor(status);
  }
  std::fprintf(stderr, "radixctl: error: %s: %s: %s\n", what.c_str(), code.c_str(),
               std::string(status.message()).c_str());
  if (status.code() == absl::StatusCode::kUnavailable) {
    std::fprintf(stderr, "radixctl: is radixserve running at %s%s? (--addr or RADIXSERVE_ADDR)\n", g.addr.c_str(),
                 g.tls ? " with TLS" : "");
  } else if (status.code() == absl::StatusCode::kDeadlineExceeded && g.timeout_s > 0) {
    std::fprintf(stderr, "radixctl: --timeout %g s expired\n", g.timeout_s);
  }
  return ExitCodeFor(status);
}

int UsageError(const std::string& message) {
  std::fprintf(stderr, "radixctl: usage error: %s\n", message.c_str());
  return kExitUsage;
}

std::string DumpJson(const nlohmann::json& j, int indent) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

void PrintJson(const nlohmann::json& j) {
  std::fputs(DumpJson(j).c_str(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

std::string ReadStdin() {
  return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
}

}  // namespace radixctl
