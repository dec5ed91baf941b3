// radixctl: the command-line client of radixserve. One file per command group; this
// one holds the global flags and the exit codes.
#include <cstdio>
#include <cstdlib>

#include "CLI/CLI.hpp"
#include "client/radixctl/common.h"

namespace {

constexpr const char* kFooter = R"(Exit codes:
  0    success
  1    the server answered with an error (the gRPC status and its message are printed),
       or `health` found the server not SERVING
  2    usage error: bad flags or arguments, unreadable input or certificate file
  3    connection error: the server could not be reached (UNAVAILABLE: refused, unknown
       host, TLS handshake failed, server shutting down)
  4    --timeout expired (DEADLINE_EXCEEDED)
  130  interrupted

Environment:
  RADIXSERVE_ADDR   default for --addr

Run `radixctl COMMAND --help` for a command's flags.)";

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"radixctl: the command-line client of radixserve (gRPC LLM inference server)", "radixctl"};
  app.footer(kFooter);
  app.set_version_flag("--version", "radixctl 0.1.0");
  app.require_subcommand(1);
  app.fallthrough();  // global flags are accepted after the command too

  radixctl::Globals g;
  app.add_option("-a,--addr", g.addr, "server address host:port")
      ->envname("RADIXSERVE_ADDR")
      ->capture_default_str()
      ->group("Global");
  app.add_option("--timeout", g.timeout_s, "deadline of each call in seconds (0: none)")
      ->check(CLI::NonNegativeNumber)
      ->group("Global");
  app.add_flag("--json", g.json, "machine-readable JSON output on stdout")->group("Global");
  app.add_flag("--tls", g.tls, "connect with TLS")->group("Global");
  app.add_option("--ca", g.ca, "PEM file of the CA that signed the server's certificate (--tls)")
      ->check(CLI::ExistingFile)
      ->group("Global");
  app.add_option("--cert", g.cert, "PEM client certificate, for servers that verify clients (--tls)")
      ->check(CLI::ExistingFile)
      ->group("Global");
  app.add_option("--key", g.key, "PEM private key of --cert (--tls)")->check(CLI::ExistingFile)->group("Global");

  int rc = radixctl::kExitOk;
  radixctl::AddGenerate(app, g, &rc);
  radixctl::AddChat(app, g, &rc);
  radixctl::AddInfoCommands(app, g, &rc);
  radixctl::AddSessions(app, g, &rc);
  radixctl::AddCache(app, g, &rc);
  radixctl::AddBench(app, g, &rc);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);  // prints help / version (0) or the error
    return code == 0 ? radixctl::kExitOk : radixctl::kExitUsage;
  }
  return rc;
}
