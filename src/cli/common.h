// Shared state and output helpers of the CLI subcommands.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "cli/client.h"
#include "service/config.h"
#include "service/data_dir.h"
#include "util/result.h"

namespace CLI {
class App;
}
namespace bg::http {
struct HttpServerOptions;
}

namespace bg::cli {

struct Globals {
  bool json = false;
  ClientOptions client;  // from --server/--token/--cacert
  int exit_code = 0;
};

// Prints "breakglass: <message>" on stderr (one line) and records the exit code.
void Fail(Globals& g, const Error& e);
// Prints JSON (with --json) or the human text.
void Print(const Globals& g, const nlohmann::json& j, const std::string& human);
// One request, as a few human lines (request_view.cc; local times when stdout is a terminal).
std::string HumanRequest(const nlohmann::json& r);

// The configuration's connection limits and deadlines (http_max_connections*, http_*_timeout)
// copied into `options`: what `serve`, sealed or not, listens with.
void ApplyHttpLimits(const service::ServerConfig& config, http::HttpServerOptions& options);
// Raises the soft limit on open descriptors (towards the hard one) so that `connections`
// connections fit beside the store's and the connectors' files; false when it cannot.
bool EnsureDescriptorsFor(int connections);

// Server-side configuration for local commands: --config FILE, else --data-dir DIR.
struct LocalConfigFlags {
  std::string config;
  std::string data_dir;
  bool init = false;          // --init: a missing data directory may be created
  std::string operator_name;  // --operator: the admin account an account change is made by
};
Result<service::ServerConfig> LoadLocalConfig(const LocalConfigFlags& f);
// The claim of a local command (account, kit, CA, audit) on its data directory: a reader never
// creates anything; a writer holds the lock while it runs (beside a running `serve` it works
// without). `command` is written into the lock file.
service::DataDirClaim OfflineClaim(service::DataDirUse use, std::string command);
// The audit actor of a local (data-directory) command: "cli:" + $USER.
std::string LocalActor();
// The person running this command: $SUDO_USER under sudo, else the effective user's name.
std::string OsUser();

void AddServeCommand(CLI::App& app, Globals& g);
void AddAdminCommands(CLI::App& app, Globals& g);    // user, policy
void AddRequestCommands(CLI::App& app, Globals& g);  // login, request, approve, ...
void AddSessionCommands(CLI::App& app, Globals& g);  // record, shell, replay, sessions
void AddAuditCommands(CLI::App& app, Globals& g);    // audit export, verify, show
void AddHelpCommands(CLI::App& app);                 // completion, man (help_cmds.cc)
void AddReviewCommands(CLI::App& app, Globals& g);   // review list, show, submit
void AddDrillCommands(CLI::App& app, Globals& g);    // drill run, list, show, report
void AddAttestCommands(CLI::App& app, Globals& g);   // attest start, list, show, answer
void AddInventoryCommands(CLI::App& app, Globals& g);  // inventory, inventory legacy add|remove
// "reviews: N open, M OVERDUE ..." for `status`; empty when the caller may not read reviews.
std::string OpenReviewsLine(Client& c);

}  // namespace bg::cli
