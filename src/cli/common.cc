#include "cli/common.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <fmt/format.h>

#include <iostream>

#include "cli/exit_codes.h"
#include "cli/text.h"

namespace bg::cli {

void Fail(Globals& g, const Error& e) {
  std::string msg = e.message();
  for (char& c : msg) {
    if (c == '\n') c = ';';
  }
  if (!e.field().empty() && msg.rfind(e.field(), 0) != 0) msg = e.field() + ": " + msg;
  std::cerr << "breakglass: " << TerminalSafe(msg) << "\n";
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

service::DataDirClaim OfflineClaim(service::DataDirUse use, std::string command) {
  service::DataDirClaim claim;
  claim.use = use;
  claim.beside_server = true;
  claim.command = std::move(command);
  return claim;
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
