// Client commands: login, logout, whoami, renew, request, approve, deny, cancel, revoke, extend,
// status, list, watch.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <optional>
#include <thread>

#include "cli/common.h"
#include "cli/exit_codes.h"
#include "cli/request_view.h"
#include "cli/text.h"
#include "util/time.h"

namespace bg::cli {
namespace {

// Reads one line from the terminal without echo (or from stdin when it is not a terminal).
std::string Prompt(const std::string& label, bool secret) {
  std::string line;
  if (isatty(STDIN_FILENO)) {
    std::cerr << label << std::flush;
    termios old{};
    bool hide = secret && tcgetattr(STDIN_FILENO, &old) == 0;
    if (hide) {
      termios t = old;
      t.c_lflag &= ~static_cast<tcflag_t>(ECHO);
      tcsetattr(STDIN_FILENO, TCSANOW, &t);
    }
    std::getline(std::cin, line);
    if (hide) {
      tcsetattr(STDIN_FILENO, TCSANOW, &old);
      std::cerr << "\n";
    }
  } else {
    std::getline(std::cin, line);
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

// Runs one API call and prints the request it returns.
void RequestCall(Globals& g, const std::string& method, const std::string& path,
                 const nlohmann::json& body) {
  Client c(ResolveClientOptions(g.client));
  auto r = c.Json(method, path, body);
  if (!r) return Fail(g, r.error());
  Print(g, *r, HumanRequest(*r));
}

// At most `max` characters of `text` (UTF-8), with "..." when cut.
std::string Shorten(const std::string& text, size_t max) {
  size_t chars = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) continue;
    if (chars++ == max) return text.substr(0, i) + "...";
  }
  return text;
}

bool NeedsFreshCode(const Error& e) {
  return e.code() == ErrorCode::kFailedPrecondition && e.field() == "totp";
}

// approve / deny: when the server asks for a fresh TOTP code and none was given, a terminal is
// asked for one (and the decision sent again); a script is told which flag to pass.
void DecisionCall(Globals& g, const std::string& path, nlohmann::json body, bool had_code) {
  Client c(ResolveClientOptions(g.client));
  auto r = c.Json("POST", path, body);
  if (!r && NeedsFreshCode(r.error()) && !had_code) {
    if (isatty(STDIN_FILENO) == 1) {
      std::cerr << "Your last MFA is older than this rule allows (mfa_max_age).\n";
      body["totp"] = Prompt("TOTP code: ", false);
      r = c.Json("POST", path, body);
    } else {
      return Fail(g, Error(ErrorCode::kFailedPrecondition,
                           "this decision needs a fresh TOTP code: pass --totp CODE (your "
                           "login's MFA is older than the rule's mfa_max_age)",
                           "totp"));
    }
  }
  if (!r) return Fail(g, r.error());
  Print(g, *r, HumanRequest(*r));
}

// `request --wait`: polls the request until it is active (exit 0), ends without becoming
// active (denied, cancelled, revoked: 9; timed out or expired: 10) or `timeout` passes (10).
// A spinner on stderr only when stderr is a terminal.
void WaitForRequest(Globals& g, Client& c, nlohmann::json r, std::optional<Seconds> timeout) {
  const std::string id = r.value("id", "");
  const bool spin = isatty(STDERR_FILENO) == 1;
  const auto start = std::chrono::steady_clock::now();
  const char* frames = "|/-\\";
  for (int tick = 0;; ++tick) {
    const std::string state = r.value("state", "");
    if (state == "active") break;
    if (state == "denied" || state == "cancelled" || state == "revoked" || state == "timed_out" ||
        state == "expired") {
      if (spin) std::cerr << "\r\033[K";
      Print(g, r, HumanRequest(r));
      const bool refused = state != "timed_out" && state != "expired";
      std::string by;
      if (state == "denied" && r.contains("denials") && r["denials"].is_array() &&
          !r["denials"].empty()) {
        const auto& d = r["denials"].back();
        by = fmt::format(" by {}: {}", TerminalSafe(d.value("approver", "?")),
                         TerminalSafe(d.value("reason", "")));
      }
      std::cerr << fmt::format("breakglass: request {} {}{}\n", TerminalSafe(id),
                               state == "timed_out" ? "timed out before it was approved"
                                                    : (state == "expired" ? "expired" : state),
                               by);
      g.exit_code = static_cast<int>(refused ? ExitCode::kDenied : ExitCode::kTimedOut);
      return;
    }
    if (timeout && std::chrono::steady_clock::now() - start >= *timeout) {
      if (spin) std::cerr << "\r\033[K";
      Print(g, r, HumanRequest(r));
      std::cerr << fmt::format("breakglass: request {} is still {} after --wait-timeout {}s\n",
                               TerminalSafe(id), TerminalSafe(state), timeout->count());
      g.exit_code = static_cast<int>(ExitCode::kTimedOut);
      return;
    }
    if (spin) {
      const size_t have = r.contains("approvals") && r["approvals"].is_array() ? r["approvals"].size() : 0;
      std::cerr << fmt::format("\r\033[K{} waiting: {} {}, approvals {}/{}", frames[tick % 4],
                               TerminalSafe(id), TerminalSafe(state), have,
                               r.value("required_approvals", 0))
                << std::flush;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    auto next = c.Json("GET", "/v1/requests/" + UrlPart(id));
    if (!next) {
      if (spin) std::cerr << "\r\033[K";
      return Fail(g, next.error());
    }
    r = std::move(*next);
  }
  if (spin) std::cerr << "\r\033[K";
  Print(g, r, HumanRequest(r));
}

}  // namespace

void AddRequestCommands(CLI::App& app, Globals& g) {
  // login
  {
    auto* cmd = app.add_subcommand(
        "login", "Log in with password and TOTP; saves the token in $XDG_CONFIG_HOME/breakglass "
                 "(default ~/.config/breakglass)");
    auto user = std::make_shared<std::string>();
    auto totp = std::make_shared<std::string>();
    auto pw_stdin = std::make_shared<bool>(false);
    cmd->add_option("--user", *user, "Account name (prompted if absent)");
    cmd->add_option("--totp", *totp, "The current TOTP code (prompted if absent)");
    cmd->add_flag("--password-stdin", *pw_stdin, "Read the password from stdin");
    cmd->callback([&g, user, totp, pw_stdin] {
      ClientOptions o = ResolveClientOptions(g.client, /*renew=*/false);
      o.token.clear();
      std::string name = user->empty() ? Prompt("user: ", false) : *user;
      std::string password = Prompt(*pw_stdin ? "" : "password: ", true);
      std::string code = totp->empty() ? Prompt("TOTP code: ", false) : *totp;
      Client c(o);
      auto r = c.Json("POST", "/v1/auth/login",
                      {{"username", name}, {"password", password}, {"totp", code}}, false);
      std::fill(password.begin(), password.end(), '\0');
      if (!r) return Fail(g, r.error());
      o.token = r->value("token", "");
      if (auto s = SaveCredentials(o, name, r->value("expires_at", "")); !s) return Fail(g, s.error());
      nlohmann::json out = *r;
      out.erase("token");
      out["credentials_file"] = CredentialsPath();
      Print(g, out, fmt::format("Logged in as {} until {} (token saved in {})", name,
                                r->value("expires_at", "?"), CredentialsPath()));
    });
  }
  // logout
  {
    auto* cmd = app.add_subcommand(
        "logout", "End the token on the server and delete the saved credentials file");
    cmd->callback([&g] {
      ClientOptions o = ResolveClientOptions(g.client, /*renew=*/false);
      Client c(o);
      auto r = c.Json("POST", "/v1/auth/logout", nlohmann::json::object());
      // Only the file the token came from is deleted (a token from a flag or the environment
      // leaves the saved one alone).
      const bool removed = o.token_from_file && std::remove(CredentialsPath().c_str()) == 0;
      if (!r && r.error().code() != ErrorCode::kUnauthenticated) {
        // The server was not told: the token stays valid until it expires.
        return Fail(g, Error(r.error().code(),
                             r.error().message() + (removed ? "; the saved token was deleted here "
                                                              "but stays valid on the server until "
                                                              "it expires"
                                                            : "")));
      }
      nlohmann::json out = {{"logged_out", true},
                            {"token_was_valid", r.has_value()},
                            {"credentials_file_removed", removed}};
      Print(g, out,
            std::string(r ? "Logged out" : "The token was no longer valid") +
                (removed ? "; removed " + CredentialsPath() : ""));
    });
  }
  // whoami
  {
    auto* cmd = app.add_subcommand("whoami", "Show who the token belongs to, its roles and expiry");
    cmd->callback([&g] {
      ClientOptions o = ResolveClientOptions(g.client);
      Client c(o);
      auto r = c.Json("GET", "/v1/me");
      if (!r) return Fail(g, r.error());
      nlohmann::json out = *r;
      out["server"] = o.server;
      out["token_source"] = o.token_from_file ? "credentials_file" : "flag_or_environment";
      if (o.token_from_file) out["expires_at"] = o.expires_at;
      std::string roles;
      for (const auto& role : r->value("roles", nlohmann::json::array())) {
        if (role.is_string()) roles += (roles.empty() ? "" : ", ") + TerminalSafe(role.get<std::string>());
      }
      const bool local = StdoutIsTerminal();
      std::string human = fmt::format("{} ({}) on {}\n", TerminalSafe(r->value("user", "?")),
                                      roles.empty() ? "no roles" : roles, TerminalSafe(o.server));
      if (o.token_from_file && !o.expires_at.empty()) {
        human += fmt::format("token expires {} (saved in {})\n", HumanTime(o.expires_at, local),
                             CredentialsPath());
      }
      if (r->contains("mfa_verified_at") && (*r)["mfa_verified_at"].is_string()) {
        human += "MFA verified " + HumanTime((*r)["mfa_verified_at"].get<std::string>(), local) + "\n";
      }
      Print(g, out, human);
    });
  }
  // renew
  {
    auto* cmd = app.add_subcommand(
        "renew", "Exchange the token for a fresh one (done by itself when the saved token has "
                 "under 5 minutes left)");
    cmd->callback([&g] {
      ClientOptions o = ResolveClientOptions(g.client, /*renew=*/false);
      Client c(o);
      auto r = c.Json("POST", "/v1/auth/renew", nlohmann::json::object());
      if (!r) return Fail(g, r.error());
      const std::string expires = r->value("expires_at", "");
      nlohmann::json out = *r;
      if (o.token_from_file) {
        o.token = r->value("token", "");
        if (auto s = SaveCredentials(o, r->value("user", o.user), expires); !s) {
          return Fail(g, s.error());
        }
        out.erase("token");
        out["credentials_file"] = CredentialsPath();
        Print(g, out, fmt::format("Renewed until {} (token saved in {})",
                                  HumanTime(expires, StdoutIsTerminal()), CredentialsPath()));
      } else {
        // The old token came from a flag or the environment: hand the new one back.
        Print(g, out, r->value("token", ""));
      }
    });
  }
  // request
  {
    auto* cmd = app.add_subcommand("request", "Ask for access");
    struct F {
      std::string resource, privilege, duration, reason, ticket;
      int tier = 0;
      bool emergency = false;
      bool wait = false;
      std::string wait_timeout;
    };
    auto f = std::make_shared<F>();
    cmd->add_option("--resource", f->resource, "Resource name")->required();
    cmd->add_option("--privilege", f->privilege, "Privilege (role) on the resource")->required();
    cmd->add_option("--duration", f->duration, "How long: 45m, 1h30m or seconds")->required();
    cmd->add_option("--reason", f->reason, "Why (mandatory)")->required();
    cmd->add_option("--ticket", f->ticket, "Incident or change ticket id")->required();
    cmd->add_option("--tier", f->tier, "Choose between matching rules by tier");
    cmd->add_flag("--emergency", f->emergency, "Emergency: auto-approved where policy allows");
    cmd->add_flag("--wait", f->wait,
                  "Block until the grant is active (exit 0), denied, cancelled or revoked (9) or "
                  "timed out (10)");
    cmd->add_option("--wait-timeout", f->wait_timeout,
                    "With --wait: give up after this long (exit 10; the request stays pending)");
    cmd->callback([&g, f] {
      std::optional<Seconds> timeout;
      if (!f->wait_timeout.empty()) {
        auto t = ParseDuration(f->wait_timeout, "--wait-timeout");
        if (!t) return Fail(g, t.error());
        if (!f->wait) return Fail(g, Error::InvalidArgument("--wait-timeout", "goes with --wait"));
        timeout = *t;
      }
      nlohmann::json body = {{"resource", f->resource}, {"privilege", f->privilege},
                             {"duration", f->duration}, {"reason", f->reason},
                             {"ticket", f->ticket}, {"emergency", f->emergency}};
      if (f->tier > 0) body["tier"] = f->tier;
      if (!f->wait) return RequestCall(g, "POST", "/v1/requests", body);
      Client c(ResolveClientOptions(g.client));
      auto r = c.Json("POST", "/v1/requests", body);
      if (!r) return Fail(g, r.error());
      WaitForRequest(g, c, *r, timeout);
    });
  }
  // approve / deny: --comment and --reason are one option on both (the text kept with the
  // decision); a denial must say why, an approval may.
  for (const char* action : {"approve", "deny"}) {
    bool approve = std::string(action) == "approve";
    auto* cmd = app.add_subcommand(
        action, approve ? "Approve a request or its pending extension (asks for a fresh TOTP code "
                          "on a terminal when policy needs one)"
                        : "Deny a request or its pending extension");
    auto id = std::make_shared<std::string>();
    auto totp = std::make_shared<std::string>();
    auto text = std::make_shared<std::string>();
    cmd->add_option("ID", *id, "Request id")->required();
    cmd->add_option("--totp", *totp,
                    "A fresh TOTP code, needed when your login's MFA is older than the rule's "
                    "mfa_max_age");
    if (approve) {
      cmd->add_option("--comment,--reason", *text, "Why you approve (optional; kept with the approval)");
    } else {
      cmd->add_option("--reason,--comment", *text, "Why you deny (mandatory; kept with the denial)")
          ->required();
    }
    cmd->callback([&g, id, totp, text, approve] {
      nlohmann::json body = nlohmann::json::object();
      if (!totp->empty()) body["totp"] = *totp;
      if (!text->empty()) body[approve ? "comment" : "reason"] = *text;
      DecisionCall(g, "/v1/requests/" + UrlPart(*id) + (approve ? "/approve" : "/deny"), body,
                   !totp->empty());
    });
  }
  // cancel
  {
    auto* cmd = app.add_subcommand("cancel", "Cancel your pending request");
    auto id = std::make_shared<std::string>();
    cmd->add_option("ID", *id, "Request id")->required();
    cmd->callback([&g, id] {
      RequestCall(g, "POST", "/v1/requests/" + UrlPart(*id) + "/cancel", nlohmann::json::object());
    });
  }
  // revoke
  {
    auto* cmd = app.add_subcommand("revoke", "End a grant now");
    auto id = std::make_shared<std::string>();
    auto reason = std::make_shared<std::string>();
    cmd->add_option("ID", *id, "Request id")->required();
    cmd->add_option("--reason", *reason, "Why (mandatory)")->required();
    cmd->callback([&g, id, reason] {
      RequestCall(g, "POST", "/v1/requests/" + UrlPart(*id) + "/revoke", {{"reason", *reason}});
    });
  }
  // extend
  {
    auto* cmd = app.add_subcommand("extend", "Ask to extend an active grant (a new approval round)");
    auto id = std::make_shared<std::string>();
    auto duration = std::make_shared<std::string>();
    auto reason = std::make_shared<std::string>();
    cmd->add_option("ID", *id, "Request id")->required();
    cmd->add_option("--duration", *duration, "How much longer: 15m, 1h or seconds")->required();
    cmd->add_option("--reason", *reason, "Why (mandatory)")->required();
    cmd->callback([&g, id, duration, reason] {
      RequestCall(g, "POST", "/v1/requests/" + UrlPart(*id) + "/extend",
                  {{"duration", *duration}, {"reason", *reason}});
    });
  }
  // status
  {
    auto* cmd = app.add_subcommand("status", "Show one request");
    auto id = std::make_shared<std::string>();
    cmd->add_option("ID", *id, "Request id")->required();
    cmd->callback([&g, id] { RequestCall(g, "GET", "/v1/requests/" + UrlPart(*id), nullptr); });
  }
  // list
  {
    auto* cmd = app.add_subcommand("list", "List the requests you may see");
    auto state = std::make_shared<std::string>();
    auto mine = std::make_shared<bool>(false);
    auto limit = std::make_shared<int>(100);
    cmd->add_option("--state", *state, "Only requests in this state");
    cmd->add_flag("--mine", *mine, "Only your own requests");
    cmd->add_option("--limit", *limit, "At most this many (1-1000)");
    cmd->callback([&g, state, mine, limit] {
      std::string path = fmt::format("/v1/requests?limit={}&mine={}", *limit, *mine ? "true" : "false");
      if (!state->empty()) path += "&state=" + UrlPart(*state);
      Client c(ResolveClientOptions(g.client));
      auto r = c.Json("GET", path);
      if (!r) return Fail(g, r.error());
      std::string human;
      for (const auto& req : (*r)["requests"]) {
        auto f = [&](const char* k) {
          return req.contains(k) && req[k].is_string() ? TerminalSafe(req[k].get<std::string>())
                                                       : std::string();
        };
        human += fmt::format("{:<26} {:<10} {:<10} {:<12} {:<10} {:<10} {}\n", f("id"), f("state"),
                             f("requester"), f("resource"), f("privilege"), f("ticket"),
                             Shorten(f("reason"), 60));
      }
      if (human.empty()) {
        human = "no requests\n";
      } else {
        human = fmt::format("{:<26} {:<10} {:<10} {:<12} {:<10} {:<10} {}\n", "ID", "STATE",
                            "REQUESTER", "RESOURCE", "PRIVILEGE", "TICKET", "REASON") +
                human;
      }
      Print(g, *r, human);
    });
  }
  // watch
  {
    auto* cmd = app.add_subcommand("watch", "Follow state changes you may see (Server-Sent Events)");
    auto count = std::make_shared<int>(0);
    cmd->add_option("--count", *count, "Stop after this many events (0 = never)");
    cmd->callback([&g, count] {
      Client c(ResolveClientOptions(g.client));
      const bool local = StdoutIsTerminal();
      int seen = 0;
      auto s = c.Stream("/v1/events", [&](const std::string& event, const std::string& data) {
        auto j = nlohmann::json::parse(data, nullptr, false);
        auto f = [&](const char* k) {
          return j.is_object() && j.contains(k) && j[k].is_string()
                     ? TerminalSafe(j[k].get<std::string>())
                     : std::string();
        };
        if (g.json) {
          std::cout << nlohmann::json{{"event", event}, {"data", j}}.dump() << std::endl;
        } else if (event == "request" && j.is_object()) {
          std::string line = fmt::format(
              "{} {} {} {} {} {}",
              j.contains("updated_at") && j["updated_at"].is_string()
                  ? HumanTime(j["updated_at"].get<std::string>(), local)
                  : "",
              f("id"), f("state"), f("requester"), f("resource"), f("privilege"));
          if (!f("reason").empty()) line += " reason: " + f("reason");
          std::cout << line << std::endl;
        } else if (j.is_object() && j.contains("message") && j["message"].is_string()) {
          std::cout << TerminalSafe(event) << ": " << f("kind") << (f("kind").empty() ? "" : " ")
                    << f("message") << std::endl;
        } else {
          std::cout << TerminalSafe(event) << ": " << TerminalSafe(data) << std::endl;
        }
        return *count == 0 || ++seen < *count;
      });
      if (!s) Fail(g, s.error());
    });
  }
}

}  // namespace bg::cli
