// Local administration: `breakglass user ...` and `breakglass policy check`.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <termios.h>
#include <unistd.h>

#include <iostream>

#include "auth/qr.h"
#include "cli/client.h"
#include "cli/common.h"
#include "cli/exit_codes.h"
#include "cli/text.h"
#include "core/policy.h"
#include "service/data_dir.h"
#include "service/recording_check.h"
#include "service/local_time.h"
#include "service/service.h"
#include "service/sinks.h"
#include "util/fs.h"

namespace bg::cli {
namespace {

Result<Secret> ReadPasswordStdin() {
  std::string line;
  if (!std::getline(std::cin, line)) {
    return Error::InvalidArgument("password", "expected the password on stdin");
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return Secret(line);
}

// The local service of a user command, with its claim on the data directory (released after
// the service stopped: members are destroyed in reverse order).
struct Admin {
  std::unique_ptr<service::DataDirLock> lock;
  std::unique_ptr<service::Service> svc;
  std::string actor;  // who the audit log names (LocalOperator)
  ~Admin() {
    if (svc) svc->Stop();
  }
  service::Service* operator->() { return svc.get(); }
};

// `use`: kRead for `user list`, kCreate for `user add` (which may initialise a data
// directory), kModify for the other account changes.
Result<std::unique_ptr<Admin>> OpenAdmin(const LocalConfigFlags& f, service::DataDirUse use,
                                         const std::string& command) {
  BG_ASSIGN_OR_RETURN(auto config, LoadLocalConfig(f));
  // The account commands are made to run beside a server.
  service::DataDirClaim claim = OfflineClaim(use, command);
  claim.create_missing = f.init;
  auto admin = std::make_unique<Admin>();
  BG_ASSIGN_OR_RETURN(admin->lock, service::ClaimDataDir(config, claim));
  BG_ASSIGN_OR_RETURN(admin->svc, service::Service::Open(config, SystemClock::Get(), nullptr,
                                                         service::Service::Mode::kAdmin));
  BG_TRY(admin->svc->Start());
  if (use != service::DataDirUse::kRead) {
    BG_ASSIGN_OR_RETURN(admin->actor, admin->svc->LocalOperator(f.operator_name, OsUser()));
  }
  return admin;
}

nlohmann::json Ids(const auto& ids) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& id : ids) out.push_back(id.value());
  return out;
}

void PrintDisabled(Globals& g, const std::string& name, const service::DisableReport& r) {
  nlohmann::json j = {{"user", name},
                      {"disabled", true},
                      {"was_disabled", r.was_disabled},
                      {"revoked", Ids(r.revoked)},
                      {"cancelled", Ids(r.cancelled)},
                      {"approvals_withdrawn", Ids(r.approvals_withdrawn)},
                      {"sessions_ended", Ids(r.sessions_ended)}};
  auto list = [](const char* what, const auto& ids) {
    std::string names;
    for (const auto& id : ids) names += (names.empty() ? "" : ", ") + id.value();
    return fmt::format("  {}: {}\n", what, ids.empty() ? "none" : names);
  };
  std::string human = fmt::format("Disabled {}{}\n", name,
                                  r.was_disabled ? " (it was disabled already)" : "");
  human += list("grants revoked", r.revoked) + list("pending requests cancelled", r.cancelled) +
           list("approvals withdrawn", r.approvals_withdrawn) +
           list("recorded sessions ended", r.sessions_ended);
  if (!r.revoked.empty()) {
    human += "  (a running server revokes the credentials through the connectors within a "
             "second; otherwise they are queued until the server starts)\n";
  }
  Print(g, j, human);
}

void PrintEnrolment(Globals& g, const service::NewUser& nu, const char* verb) {
  nlohmann::json roles = nlohmann::json::array();
  for (auto r : nu.roles) roles.push_back(std::string(core::ToString(r)));
  nlohmann::json j = {{"user", nu.user}, {"roles", roles}, {"otpauth_uri", nu.otpauth_uri}};
  std::string human = fmt::format(
      "{} user {} ({}).\nEnrol this TOTP in an authenticator app now; it is shown only once:\n"
      "  {}\n",
      verb, nu.user, roles.dump(), nu.otpauth_uri);
  if (!g.json) {
    if (auto qr = auth::RenderQrForTerminal(nu.otpauth_uri); qr) human += *qr;
  }
  Print(g, j, human);
}

void AddUserCommands(CLI::App& app, Globals& g) {
  auto* user = app.add_subcommand("user", "Manage local accounts (works with the server running or not)");
  user->require_subcommand(1);
  auto local = std::make_shared<LocalConfigFlags>();
  auto add_local = [local](CLI::App* c) {
    c->add_option("--data-dir", local->data_dir,
                  "Data directory of the server (must exist and hold its database)");
    c->add_option("--config", local->config, "Server configuration file");
  };
  // The account-changing commands name who makes the change in the audit log.
  auto add_operator = [local](CLI::App* c) {
    c->add_option("--operator", local->operator_name,
                  "The admin account making this change, named in the audit log (default: the "
                  "account named like the OS user, $SUDO_USER under sudo, else cli:<OS user>)");
  };

  auto add = user->add_subcommand("add", "Create an account; prints its TOTP enrolment once");
  auto name = std::make_shared<std::string>();
  auto roles = std::make_shared<std::vector<std::string>>();
  auto password_stdin = std::make_shared<bool>(false);
  auto email = std::make_shared<std::string>();
  add->add_option("NAME", *name, "Account name")->required();
  add->add_option("--email", *email,
                  "E-mail address for the notifications addressed to this person (SMTP sinks)");
  add->add_option("--role", *roles, "requester, approver, auditor or admin (repeatable)")->required();
  add->add_flag("--password-stdin", *password_stdin, "Read the password from stdin")->required();
  add_local(add);
  add_operator(add);
  add->add_flag("--init", local->init,
                "Create the data directory if it does not exist (an existing directory without "
                "a database is initialised without it)");
  add->callback([&g, local, name, roles, password_stdin, email] {
    std::vector<core::Role> parsed;
    for (const auto& r : *roles) {
      auto role = core::ParseRole(r);
      if (!role) {
        return Fail(g, Error::InvalidArgument("role", "'" + r + "' is not one of requester, approver, auditor, admin"));
      }
      parsed.push_back(*role);
    }
    auto password = ReadPasswordStdin();
    if (!password) return Fail(g, password.error());
    auto admin = OpenAdmin(*local, service::DataDirUse::kCreate, "user add");
    if (!admin) return Fail(g, admin.error());
    auto nu = (**admin)->AddUser((*admin)->actor, *name, parsed, *password, *email);
    admin->reset();
    if (!nu) return Fail(g, nu.error());
    PrintEnrolment(g, *nu, "Created");
  });

  for (bool disable : {true, false}) {
    auto c = user->add_subcommand(disable ? "disable" : "enable",
                                  disable ? "Disable an account: its tokens stop working at once; its grants are revoked, "
                                            "its pending requests cancelled, its pending "
                                            "approvals withdrawn (--json: what was ended)"
                                          : "Enable a disabled account");
    auto n = std::make_shared<std::string>();
    c->add_option("NAME", *n, "Account name")->required();
    add_local(c);
    add_operator(c);
    c->callback([&g, local, n, disable] {
      auto admin = OpenAdmin(*local, service::DataDirUse::kModify,
                             disable ? "user disable" : "user enable");
      if (!admin) return Fail(g, admin.error());
      if (disable) {
        auto report = (**admin)->DisableUser((*admin)->actor, *n);
        admin->reset();
        if (!report) return Fail(g, report.error());
        return PrintDisabled(g, *n, *report);
      }
      auto s = (**admin)->SetUserDisabled((*admin)->actor, *n, false);
      admin->reset();
      if (!s) return Fail(g, s.error());
      Print(g, {{"user", *n}, {"disabled", false}}, fmt::format("Enabled {}", *n));
    });
  }

  auto unlock = user->add_subcommand(
      "unlock", "Forget an account's failed logins and codes from every source (audited)");
  auto un = std::make_shared<std::string>();
  unlock->add_option("NAME", *un, "Account name")->required();
  add_local(unlock);
  add_operator(unlock);
  unlock->callback([&g, local, un] {
    auto admin = OpenAdmin(*local, service::DataDirUse::kModify, "user unlock");
    if (!admin) return Fail(g, admin.error());
    auto s = (**admin)->UnlockUser((*admin)->actor, *un);
    admin->reset();
    if (!s) return Fail(g, s.error());
    Print(g, {{"user", *un}, {"unlocked", true}},
          fmt::format("Unlocked {}: its failed logins from every address are forgotten", *un));
  });

  auto list = user->add_subcommand("list", "List accounts");
  add_local(list);
  list->callback([&g, local] {
    auto admin = OpenAdmin(*local, service::DataDirUse::kRead, "user list");
    if (!admin) return Fail(g, admin.error());
    auto users = (**admin)->ListUsers();
    admin->reset();
    if (!users) return Fail(g, users.error());
    nlohmann::json arr = nlohmann::json::array();
    std::string human = fmt::format("{:<16} {:<34} {}\n", "USER", "ROLES", "STATE");
    for (const auto& u : *users) {
      nlohmann::json role_names = nlohmann::json::array();
      std::string joined;
      for (auto r : u.roles) {
        role_names.push_back(std::string(core::ToString(r)));
        joined += (joined.empty() ? "" : ",") + std::string(core::ToString(r));
      }
      arr.push_back({{"user", u.name}, {"roles", role_names}, {"disabled", u.disabled},
                     {"created_at", FormatRfc3339(u.created_at)}, {"email", u.email}});
      human += fmt::format("{:<16} {:<34} {}\n", TerminalSafe(u.name), joined,
                           u.disabled ? "disabled" : "active");
    }
    Print(g, {{"users", arr}}, human);
  });

  auto reset = user->add_subcommand("reset", "Reset an account's TOTP (and password with --password-stdin)");
  auto rn = std::make_shared<std::string>();
  auto rpw = std::make_shared<bool>(false);
  reset->add_option("NAME", *rn, "Account name")->required();
  reset->add_flag("--password-stdin", *rpw, "Also set a new password, read from stdin");
  add_local(reset);
  add_operator(reset);
  reset->callback([&g, local, rn, rpw] {
    std::optional<Secret> pw;
    if (*rpw) {
      auto p = ReadPasswordStdin();
      if (!p) return Fail(g, p.error());
      pw = *p;
    }
    auto admin = OpenAdmin(*local, service::DataDirUse::kModify, "user reset");
    if (!admin) return Fail(g, admin.error());
    auto nu = (**admin)->ResetUser((*admin)->actor, *rn, pw);
    admin->reset();
    if (!nu) return Fail(g, nu.error());
    PrintEnrolment(g, *nu, "Reset");
  });
}

void AddPolicyCommands(CLI::App& app, Globals& g) {
  auto* policy = app.add_subcommand("policy", "Work with policy files");
  policy->require_subcommand(1);
  auto check = policy->add_subcommand("check", "Validate a policy file; print every problem as file:line:column");
  auto file = std::make_shared<std::string>();
  auto config = std::make_shared<std::string>();
  check->add_option("FILE", *file, "Policy file")->required();
  check->add_option("--config", *config, "Also check connector names against this server configuration");
  check->callback([&g, file, config] {
    auto text = fs::ReadWholeFile(*file, "FILE");
    if (!text) return Fail(g, text.error());
    auto parsed = core::ParsePolicy(*text, *file);
    std::vector<std::string> problems;
    for (const auto& p : parsed.problems) problems.push_back(p.ToString());
    if (parsed.policy) {
      if (auto tz = service::CheckTimeZone(parsed.policy->settings.timezone); !tz) {
        problems.push_back(*file + ": " + tz.error().message());
      }
      if (!config->empty()) {
        auto c = service::LoadServerConfig(*config);
        if (!c) {
          problems.push_back(c.error().message());
        } else {
          for (const auto& w : c->warnings) std::cerr << "warning: " << w << "\n";
          for (const auto& r : parsed.policy->resources) {
            if (!c->connectors.count(r.connector)) {
              problems.push_back(fmt::format("{}: resource '{}' names connector '{}', which {} does not define",
                                             *file, r.name, r.connector, *config));
            }
          }
          for (auto& p : service::RecordingProblems(*parsed.policy, c->connectors, *file)) {
            problems.push_back(std::move(p));
          }
        }
      }
    }
    nlohmann::json j = {{"file", *file}, {"ok", problems.empty()}, {"problems", problems}};
    if (problems.empty()) {
      Print(g, j, fmt::format("{}: ok ({} resources, {} rules)", *file,
                              parsed.policy->resources.size(), parsed.policy->rules.size()));
      return;
    }
    if (g.json) {
      Print(g, j, "");
    } else {
      for (const auto& p : problems) std::cerr << p << "\n";
    }
    g.exit_code = 2;
  });
}

}  // namespace

void AddNotifyCommands(CLI::App& app, Globals& g) {
  auto* notify = app.add_subcommand("notify", "Work with the notification sinks ([notify.NAME])");
  notify->require_subcommand(1);
  auto test = notify->add_subcommand(
      "test", "Send one test message to a sink now and report the outcome (exit 8 when it "
              "could not be delivered)");
  auto sink = std::make_shared<std::string>();
  auto config = std::make_shared<std::string>();
  test->add_option("SINK", *sink, "The sink's name (the NAME of [notify.NAME], or syslog)")
      ->required();
  test->add_option("--config", *config, "Server configuration file")->required();
  test->callback([&g, sink, config] {
    auto c = service::LoadServerConfig(*config);
    if (!c) return Fail(g, c.error());
    auto target = service::Sinks::SendTest(*c, *sink, SystemClock::Get().Now());
    if (!target) return Fail(g, target.error());
    Print(g, {{"sink", *sink}, {"target", *target}, {"delivered", true}},
          fmt::format("delivered a test message to '{}' ({})\n", *sink, *target));
  });
  auto status = notify->add_subcommand(
      "status", "Each sink's delivery state on the running server (auditors and admins; exit 8 "
                "when one is failing)");
  status->callback([&g] {
    Client c(ResolveClientOptions(g.client));
    auto r = c.Json("GET", "/v1/sinks");
    if (!r) return Fail(g, r.error());
    std::string human;
    bool failing = false;
    for (const auto& s : (*r)["sinks"]) {
      const bool f = s.value("failing", false);
      failing = failing || f;
      human += fmt::format("{:<16} {:<8} delivered {:<8} waiting {:<8} {}\n",
                           TerminalSafe(s.value("name", std::string("?"))), f ? "FAILING" : "ok",
                           s.value("delivered", 0), s.value("backlog", 0),
                           TerminalSafe(s.value("last_error", std::string())));
    }
    if (human.empty()) human = "no notification sinks are configured\n";
    Print(g, *r, human);
    if (failing) g.exit_code = static_cast<int>(ExitCode::kUnavailable);
  });
}

void AddAdminCommands(CLI::App& app, Globals& g) {
  AddUserCommands(app, g);
  AddPolicyCommands(app, g);
  AddNotifyCommands(app, g);
}

}  // namespace bg::cli
