// bg-kit-test: only the `kit` commands of the breakglass CLI, for end-to-end tests before
// the full CLI exists. `bg-kit-test kit split ...` behaves as `breakglass kit split ...`.
#include <CLI/CLI.hpp>

#include "cli/kit_cmd.h"
#include "util/random.h"

int main(int argc, char** argv) {
  bg::InitCrypto();
  CLI::App app{"breakglass (kit commands only)", "breakglass"};
  app.require_subcommand(1);
  bg::cli::AddKitCommands(app);
  CLI11_PARSE(app, argc, argv);
  return 0;
}
