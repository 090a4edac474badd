#include "cli/common.h"

#include <fmt/format.h>
#include <pwd.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>

#include "cli/exit_codes.h"
#include "cli/text.h"
#include "http/http_server.h"

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

void ApplyHttpLimits(const service::ServerConfig& config, http::HttpServerOptions& options) {
  options.max_connections = static_cast<size_t>(config.http_max_connections);
  options.max_connections_per_source = static_cast<size_t>(config.http_max_connections_per_source);
  options.header_timeout = config.http_header_timeout;
  options.body_timeout = config.http_body_timeout;
  options.idle_timeout = config.http_idle_timeout;
  options.write_timeout = config.http_write_timeout;
}

bool EnsureDescriptorsFor(int connections) {
  // Beyond the connections: the listener, SQLite and its WAL, logs, connector processes.
  const rlim_t needed = static_cast<rlim_t>(connections) + 256;
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return false;
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < needed) {
    limit.rlim_cur = limit.rlim_max == RLIM_INFINITY ? needed : std::min(needed, limit.rlim_max);
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) return false;
  }
  return limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur >= needed;
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
