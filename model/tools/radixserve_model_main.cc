// radixserve-model: inspect model files (GGUF, safetensors, HF directories) and, through
// further subcommands, exercise the model layer from the command line.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "model/tools/subcommand.h"

namespace radixserve::model::cli {
namespace {

const Subcommand kSubcommands[] = {
    {"inspect", "Print format, metadata, config and tensors of a model file or directory",
     false, SetupInspect},
    {"dump-tensor", "Write one tensor, dequantized to float32, as raw little-endian bytes",
     true, SetupDumpTensor},
    {"tokenize", "Encode text (argument or stdin) to token ids", false, SetupTokenize},
    {"detokenize", "Decode token ids (arguments or stdin) to text", false, SetupDetokenize},
};

}  // namespace
}  // namespace radixserve::model::cli

int main(int argc, char** argv) {
  using namespace radixserve::model::cli;
  CLI::App app{"radixserve-model: model file tools"};
  app.require_subcommand(1);
  std::vector<std::pair<CLI::App*, SubcommandRun>> runs;
  for (const Subcommand& s : kSubcommands) {
    CLI::App* sub = app.add_subcommand(std::string(s.name), std::string(s.help));
    if (s.hidden) sub->group("");
    runs.emplace_back(sub, s.setup(*sub));
  }
  CLI11_PARSE(app, argc, argv);
  for (auto& [sub, run] : runs) {
    if (sub->parsed()) return run();
  }
  return 2;
}
