// Client commands: login, request, approve, deny, cancel, revoke, extend, status, list, watch.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <termios.h>
#include <unistd.h>

#include <iostream>

#include "cli/common.h"

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

}  // namespace

void AddRequestCommands(CLI::App& app, Globals& g) {
  // login
  {
    auto* cmd = app.add_subcommand("login", "Log in with password and TOTP; saves the token in ~/.config/breakglass");
    auto user = std::make_shared<std::string>();
    auto totp = std::make_shared<std::string>();
    auto pw_stdin = std::make_shared<bool>(false);
    cmd->add_option("--user", *user, "Account name (prompted if absent)");
    cmd->add_option("--totp", *totp, "The current TOTP code (prompted if absent)");
    cmd->add_flag("--password-stdin", *pw_stdin, "Read the password from stdin");
    cmd->callback([&g, user, totp, pw_stdin] {
      ClientOptions o = ResolveClientOptions(g.client);
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
  // request
  {
    auto* cmd = app.add_subcommand("request", "Ask for access");
    struct F {
      std::string resource, privilege, duration, reason, ticket;
      int tier = 0;
      bool emergency = false;
    };
    auto f = std::make_shared<F>();
    cmd->add_option("--resource", f->resource, "Resource name")->required();
    cmd->add_option("--privilege", f->privilege, "Privilege (role) on the resource")->required();
    cmd->add_option("--duration", f->duration, "How long: 45m, 1h30m or seconds")->required();
    cmd->add_option("--reason", f->reason, "Why (mandatory)")->required();
    cmd->add_option("--ticket", f->ticket, "Incident or change ticket id")->required();
    cmd->add_option("--tier", f->tier, "Choose between matching rules by tier");
    cmd->add_flag("--emergency", f->emergency, "Emergency: auto-approved where policy allows");
    cmd->callback([&g, f] {
      nlohmann::json body = {{"resource", f->resource}, {"privilege", f->privilege},
                             {"duration", f->duration}, {"reason", f->reason},
                             {"ticket", f->ticket}, {"emergency", f->emergency}};
      if (f->tier > 0) body["tier"] = f->tier;
      RequestCall(g, "POST", "/v1/requests", body);
    });
  }
  // approve / deny
  for (const char* action : {"approve", "deny"}) {
    bool approve = std::string(action) == "approve";
    auto* cmd = app.add_subcommand(action, approve ? "Approve a request (with a fresh TOTP code if policy needs it)"
                                                   : "Deny a request");
    auto id = std::make_shared<std::string>();
    auto totp = std::make_shared<std::string>();
    auto text = std::make_shared<std::string>();
    cmd->add_option("ID", *id, "Request id")->required();
    cmd->add_option("--totp", *totp, "TOTP code presented with this decision");
    if (approve) {
      cmd->add_option("--comment", *text, "Comment");
    } else {
      cmd->add_option("--reason", *text, "Why (mandatory)")->required();
    }
    cmd->callback([&g, id, totp, text, approve] {
      nlohmann::json body = nlohmann::json::object();
      if (!totp->empty()) body["totp"] = *totp;
      if (!text->empty()) body[approve ? "comment" : "reason"] = *text;
      RequestCall(g, "POST", "/v1/requests/" + UrlPart(*id) + (approve ? "/approve" : "/deny"), body);
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
        human += fmt::format("{:<26} {:<10} {:<8} {:<10} {:<10} {}\n", req.value("id", ""),
                             req.value("state", ""), req.value("requester", ""),
                             req.value("resource", ""), req.value("privilege", ""),
                             req.value("ticket", ""));
      }
      if (human.empty()) human = "no requests\n";
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
      int seen = 0;
      auto s = c.Stream("/v1/events", [&](const std::string& event, const std::string& data) {
        auto j = nlohmann::json::parse(data, nullptr, false);
        if (g.json) {
          std::cout << nlohmann::json{{"event", event}, {"data", j}}.dump() << std::endl;
        } else if (event == "request" && j.is_object()) {
          std::cout << fmt::format("{} {} {} {} {}", j.value("updated_at", ""), j.value("id", ""),
                                   j.value("state", ""), j.value("requester", ""),
                                   j.value("resource", ""))
                    << std::endl;
        } else {
          std::cout << event << ": " << data << std::endl;
        }
        return *count == 0 || ++seen < *count;
      });
      if (!s) Fail(g, s.error());
    });
  }
}

}  // namespace bg::cli
