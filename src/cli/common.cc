#include "cli/common.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <fmt/format.h>

#include <iostream>

namespace bg::cli {

const char kExitCodesHelp[] =
    "Exit codes: 0 ok; 1 internal error; 2 bad input or usage; 3 not logged in or token expired; "
    "4 permission denied; 5 not found; 6 conflict (the request's state does not allow it); "
    "7 rate limited; 8 server unreachable or unavailable.";

void Fail(Globals& g, const Error& e) {
  std::string msg = e.message();
  for (char& c : msg) {
    if (c == '\n') c = ';';
  }
  if (!e.field().empty() && msg.rfind(e.field(), 0) != 0) msg = e.field() + ": " + msg;
  std::cerr << "breakglass: " << msg << "\n";
  g.exit_code = ExitCodeFor(e);
}

void Print(const Globals& g, const nlohmann::json& j, const std::string& human) {
  if (g.json) {
    std::cout << j.dump() << "\n";
  } else {
    std::cout << human;
    if (!human.empty() && human.back() != '\n') std::cout << "\n";
  }
}

std::string HumanRequest(const nlohmann::json& r) {
  auto s = [&](const char* k) {
    return r.contains(k) && r[k].is_string() ? r[k].get<std::string>() : std::string("-");
  };
  std::string approvals;
  if (r.contains("approvals") && r["approvals"].is_array()) {
    for (const auto& a : r["approvals"]) {
      approvals += (approvals.empty() ? "" : ", ") + a.value("approver", "?");
    }
  }
  std::string risk;
  if (r.contains("risk_signals") && r["risk_signals"].is_array()) {
    for (const auto& s : r["risk_signals"]) risk += (risk.empty() ? "" : ", ") + s.get<std::string>();
  }
  std::string out = fmt::format(
      "{}  {}\n  {} asks for {} on {} (tier {}{})\n  reason: {}  ticket: {}\n"
      "  approvals: {}/{}{}{}\n",
      s("id"), s("state"), s("requester"), s("privilege"), s("resource"),
      r.value("tier", 0), r.value("emergency", false) ? ", emergency" : "", s("reason"),
      s("ticket"), r.contains("approvals") ? r["approvals"].size() : 0,
      r.value("required_approvals", 0), approvals.empty() ? "" : " (" + approvals + ")",
      risk.empty() ? "" : "; risk signals raised the count: " + risk);
  if (r.contains("starts_at") && r["starts_at"].is_string()) {
    out += fmt::format("  window: {} .. {}\n", s("starts_at"), s("ends_at"));
  } else {
    out += fmt::format("  duration: {}s, approval deadline {}\n", r.value("duration", 0),
                       s("approval_deadline"));
  }
  if (r.contains("last_error") && r["last_error"].is_string() &&
      !r["last_error"].get<std::string>().empty()) {
    out += "  last connector error: " + s("last_error") + "\n";
  }
  return out;
}

std::string LocalActor() {
  const char* u = std::getenv("USER");
  return std::string("cli:") + (u ? u : "root");
}

std::string OsUser() {
  if (::geteuid() == 0) {
    if (const char* s = std::getenv("SUDO_USER"); s != nullptr && *s != '\0') return s;
  }
  if (const passwd* pw = ::getpwuid(::geteuid()); pw != nullptr && pw->pw_name != nullptr) {
    return pw->pw_name;
  }
  const char* u = std::getenv("USER");
  return u != nullptr ? u : "";
}

Result<service::ServerConfig> LoadLocalConfig(const LocalConfigFlags& f) {
  service::ServerConfig c;
  if (!f.config.empty()) {
    BG_ASSIGN_OR_RETURN(c, service::LoadServerConfig(f.config));
  } else {
    c = service::EmbeddedDefaultConfig();
  }
  if (!f.data_dir.empty()) c.data_dir = f.data_dir;
  return c;
}

}  // namespace bg::cli
