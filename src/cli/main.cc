// breakglass: one binary for the server and every client and offline command.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "cli/common.h"
#include "cli/exit_codes.h"
#include "cli/text.h"
#include "cli/kit_cmd.h"
#include "cli/report_cmds.h"
#include "cli/sealed.h"
#include "util/random.h"
#include "util/version.h"

namespace bg::cli {
void AddConnectorCommands(CLI::App& app, Globals& g);  // ssh_cmds.cc
void AddMigrateCommand(CLI::App& app, Globals& g);     // migrate_cmd.cc
}

int main(int argc, char** argv) {
  bg::InitCrypto();
  CLI::App app{"breakglass: emergency and just-in-time privileged access"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "breakglass " + std::string(bg::kVersion));
  app.footer(bg::cli::ExitCodesHelp());
  bg::cli::Globals g;
  app.add_flag("--json", g.json, "Print JSON instead of human output");
  app.add_option("--server", g.client.server, "Server URL (env BREAKGLASS_SERVER)");
  app.add_option("--token", g.client.token, "Bearer token (env BREAKGLASS_TOKEN)");
  app.add_option("--cacert", g.client.cacert, "PEM file of the CA to trust (env BREAKGLASS_CACERT)");
  app.fallthrough();
  bg::cli::AddServeCommand(app, g);
  bg::cli::AddAdminCommands(app, g);
  bg::cli::AddRequestCommands(app, g);
  bg::cli::AddReviewCommands(app, g);
  bg::cli::AddDrillCommands(app, g);
  bg::cli::AddAttestCommands(app, g);
  bg::cli::AddInventoryCommands(app, g);
  bg::cli::AddSessionCommands(app, g);
  bg::cli::AddAuditCommands(app, g);
  bg::cli::AddReportCommands(app, g);
  bg::cli::AddConnectorCommands(app, g);
  bg::cli::AddMigrateCommand(app, g);
  bg::cli::AddKitCommands(app);
  bg::cli::AddSealedCommands(app, g);
  bg::cli::AddHelpCommands(app);  // last: it describes the commands above
  try {
    app.parse(argc, argv);
  } catch (const CLI::RuntimeError& e) {
    return e.get_exit_code();  // the command has printed its one line
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::cerr << "breakglass: " << bg::cli::UsageMessage(app, e) << " (see --help)\n";
    return static_cast<int>(bg::cli::ExitCode::kUsage);
  }
  return g.exit_code;
}
