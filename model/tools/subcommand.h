// The subcommand table of the radixserve-model CLI. To add a subcommand, write a
// `SubcommandRun SetupX(CLI::App& sub)` (in its own file) that registers its options on
// `sub` and returns the function to run after parsing, then add a row to kSubcommands in
// radixserve_model_main.cc.
#pragma once

#include <functional>
#include <string_view>

#include "CLI/CLI.hpp"

namespace radixserve::model::cli {

// Runs the parsed subcommand; returns the process exit code.
using SubcommandRun = std::function<int()>;

struct Subcommand {
  std::string_view name;
  std::string_view help;
  bool hidden;  // test/debug helpers: not listed in --help
  SubcommandRun (*setup)(CLI::App& sub);
};

SubcommandRun SetupInspect(CLI::App& sub);     // inspect_cmd.cc
SubcommandRun SetupDumpTensor(CLI::App& sub);  // dump_tensor_cmd.cc
SubcommandRun SetupTokenize(CLI::App& sub);    // tokenize_cmd.cc
SubcommandRun SetupDetokenize(CLI::App& sub);  // tokenize_cmd.cc

}  // namespace radixserve::model::cli
