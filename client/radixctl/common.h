// What every radixctl command shares: the global flags, the exit codes, connecting,
// error reporting and JSON printing.
#pragma once

#include <memory>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "client/client.h"
#include "nlohmann/json.hpp"

namespace radixctl {

namespace v1 = ::radixserve::v1;
using radixserve::client::Client;

// Exit codes (documented in `radixctl --help` and client/README.md).
enum ExitCode : int {
  kExitOk = 0,
  kExitServer = 1,      // the server answered with an error status (or health is not SERVING)
  kExitUsage = 2,       // bad command line, unreadable input file
  kExitConnection = 3,  // could not reach the server (UNAVAILABLE: refused, DNS, TLS handshake)
  kExitTimeout = 4,     // --timeout expired (DEADLINE_EXCEEDED)
  kExitInterrupted = 130,
};

struct Globals {
  std::string addr = "localhost:50051";
  double timeout_s = 0;
  bool json = false;
  bool tls = false;
  std::string ca, cert, key;
};

// Connects with the global flags; on failure prints the error and sets *exit_code.
std::unique_ptr<Client> Connect(const Globals& g, int* exit_code);

// Prints "radixctl: error: <what>: <GRPC_CODE>: <server message>" (plus a hint for
// connection errors) on stderr, or with --json {"error": {"operation", "code",
// "message", "exit_code"}}, and returns the exit code for the status.
int Fail(const absl::Status& status, const std::string& what, const Globals& g);
// A usage error found after parsing (bad value combination): prints, returns 2.
int UsageError(const std::string& message);
int ExitCodeFor(const absl::Status& status);

// Prints JSON on stdout (pretty, invalid UTF-8 replaced) and a newline.
void PrintJson(const nlohmann::json& j);
std::string DumpJson(const nlohmann::json& j, int indent = 2);

// Reads all of stdin.
std::string ReadStdin();

// Adds the subcommands (one file each).
void AddGenerate(CLI::App& app, Globals& g, int* rc);
void AddChat(CLI::App& app, Globals& g, int* rc);
void AddInfoCommands(CLI::App& app, Globals& g, int* rc);  // tokenize, detokenize, model, health
void AddSessions(CLI::App& app, Globals& g, int* rc);
void AddCache(CLI::App& app, Globals& g, int* rc);
void AddBench(CLI::App& app, Globals& g, int* rc);

}  // namespace radixctl
