#include "service/config.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <set>
#include <sstream>
#include <toml++/toml.h>
#include "service/recording_check.h"
#include "util/fs.h"
#include "util/utf8.h"

namespace bg::service {
namespace {

// What http_max_connections and http_max_connections_per_source may be at most.
constexpr int64_t kMaxHttpConnections = 65536;

class Problems {
 public:
  explicit Problems(std::string_view path) : path_(path) {}
  const std::string& path() const { return path_; }
  // One line each: what the message quotes of the file is escaped (TerminalSafe).
  void Add(const toml::source_region& where, std::string_view message) {
    items_.push_back(fmt::format("{}:{}:{}: {}", path_, where.begin.line, where.begin.column,
                                 TerminalSafe(message)));
  }
  bool empty() const { return items_.empty(); }
  std::string Joined() const {
    std::string out;
    for (const auto& p : items_) {
      if (!out.empty()) out += '\n';
      out += p;
    }
    return out;
  }

 private:
  std::string path_;
  std::vector<std::string> items_;
};

bool ReadString(const toml::node& n, std::string_view key, Problems& problems, std::string* out) {
  if (auto v = n.value<std::string>(); v && n.is_string()) {
    *out = *v;
    return true;
  }
  problems.Add(n.source(), fmt::format("'{}' must be a string", key));
  return false;
}

// "1h30m" or a number of seconds; either goes through ParseDuration, so both have its limits.
void ReadDuration(const toml::node& n, std::string_view key, Problems& problems, Seconds* out) {
  std::string text;
  if (n.is_integer()) {
    int64_t v = *n.value<int64_t>();
    if (v < 0) {
      problems.Add(n.source(), fmt::format("'{}' must not be negative", key));
      return;
    }
    text = std::to_string(v);
  } else if (!ReadString(n, key, problems, &text)) {
    return;
  }
  auto d = ParseDuration(text, key);
  if (!d) {
    problems.Add(n.source(), fmt::format("'{}' {}", key, d.error().message()));
    return;
  }
  *out = *d;
}

// An integer setting within [min, max].
void ReadInt(const toml::node& n, std::string_view key, int64_t min, int64_t max,
             Problems& problems, int* out) {
  if (!n.is_integer() || *n.value<int64_t>() < min || *n.value<int64_t>() > max) {
    problems.Add(n.source(), fmt::format("'{}' must be an integer from {} to {}", key, min, max));
    return;
  }
  *out = static_cast<int>(*n.value<int64_t>());
}

// A duration setting within [min, max] (both written as durations in the message).
void ReadDurationWithin(const toml::node& n, std::string_view key, Seconds min, Seconds max,
                        Problems& problems, Seconds* out) {
  Seconds d{-1};
  ReadDuration(n, key, problems, &d);
  if (d.count() < 0) return;  // already a problem
  if (d < min || d > max) {
    problems.Add(n.source(), fmt::format("'{}' must be from {} to {}", key, FormatDuration(min),
                                         FormatDuration(max)));
    return;
  }
  *out = d;
}

void ReadStringArray(const toml::node& n, std::string_view key, Problems& problems,
                     std::vector<std::string>* out) {
  const toml::array* arr = n.as_array();
  if (arr == nullptr) {
    problems.Add(n.source(), fmt::format("'{}' must be an array of strings", key));
    return;
  }
  out->clear();
  for (const auto& item : *arr) {
    std::string s;
    if (ReadString(item, key, problems, &s)) out->push_back(s);
  }
}

nlohmann::json ToJson(const toml::node& n) {
  if (auto t = n.as_table()) {
    nlohmann::json obj = nlohmann::json::object();
    for (const auto& [k, v] : *t) obj[std::string(k.str())] = ToJson(v);
    return obj;
  }
  if (auto a = n.as_array()) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& v : *a) arr.push_back(ToJson(v));
    return arr;
  }
  if (n.is_string()) return *n.value<std::string>();
  if (n.is_integer()) return *n.value<int64_t>();
  if (n.is_floating_point()) return *n.value<double>();
  if (n.is_boolean()) return *n.value<bool>();
  std::ostringstream text;  // dates and times: kept as their TOML text
  n.visit([&text](const auto& v) { text << v; });
  return text.str();
}

// The storage spec names its backend before ':'. A PostgreSQL spec is a URI that may hold a
// password: it is never quoted in a problem (store::OpenStore checks the rest at start).
void CheckStorage(const toml::node& n, const std::string& storage, Problems& problems) {
  std::string_view kind = std::string_view(storage).substr(0, storage.find(':'));
  if (kind == "sqlite") return;
  if (kind == "postgres" || kind == "postgresql") {
    if (storage.rfind(std::string(kind) + "://", 0) != 0) {
      problems.Add(n.source(), fmt::format("storage: a {0} storage is a URI: "
                                           "{0}://USER@HOST:PORT/DATABASE",
                                           kind));
    }
    return;
  }
  problems.Add(n.source(),
               fmt::format("storage: backend '{}' is unknown; this version has \"sqlite\", "
                           "\"sqlite:PATH\" and \"postgresql://USER@HOST:PORT/DATABASE\"",
                           kind));
}

// The notification kinds and their keys (service/sinks.h builds them). A key is a string or an
// array of strings; `events` and `audience` narrow any message kind.
enum class KeyType { kString, kStrings };
struct NotifyKey {
  std::string_view name;
  bool required = false;
  KeyType type = KeyType::kString;
};
struct NotifyKind {
  std::string_view kind;
  std::vector<NotifyKey> keys;
};
const std::vector<NotifyKind>& NotifyKinds() {
  static const NotifyKey kEvents{"events", false, KeyType::kStrings};
  static const NotifyKey kAudience{"audience", false, KeyType::kStrings};
  static const NotifyKey kCacert{"cacert"};
  static const std::vector<NotifyKind> kKinds = {
      {"syslog", {{"url", true}, kCacert}},
      {"webhook", {{"url", true}, {"secret_file", true}, kCacert, kEvents, kAudience}},
      {"slack", {{"url", true}, kCacert, kEvents, kAudience}},
      {"smtp",
       {{"url", true},
        {"from", true},
        {"to", false, KeyType::kStrings},
        {"username"},
        {"password_file"},
        kCacert,
        kEvents,
        kAudience}},
      {"pagerduty", {{"routing_key_file", true}, {"url"}, kCacert, kEvents, kAudience}},
  };
  return kKinds;
}

void CheckNotify(const toml::table& section, const std::map<std::string, PluginConfig>& notify,
                 Problems& problems) {
  for (const auto& entry : notify) {
    // Not a structured binding: clang 14 cannot capture one in the lambda below.
    const std::string& name = entry.first;
    const PluginConfig& pc = entry.second;
    const toml::table& t = *section.get(name)->as_table();
    const std::string where = fmt::format("[notify.{}]", name);
    auto kind = std::find_if(NotifyKinds().begin(), NotifyKinds().end(),
                             [&](const NotifyKind& k) { return k.kind == pc.kind; });
    if (kind == NotifyKinds().end()) {
      std::vector<std::string_view> kinds;
      for (const auto& k : NotifyKinds()) kinds.push_back(k.kind);
      problems.Add(t.get("kind")->source(),
                   fmt::format("{} kind '{}' is unknown; this version has {}", where, pc.kind,
                               fmt::join(kinds, ", ")));
      continue;
    }
    for (const auto& [key, value] : t) {
      std::string_view k = key.str();
      if (k == "kind") continue;
      auto spec = std::find_if(kind->keys.begin(), kind->keys.end(),
                               [&](const NotifyKey& nk) { return nk.name == k; });
      if (spec == kind->keys.end()) {
        problems.Add(value.source(), fmt::format("unknown key '{}' in {}", k, where));
      } else if (spec->type == KeyType::kString && !value.is_string()) {
        problems.Add(value.source(), fmt::format("'{}' in {} must be a string", k, where));
      } else if (spec->type == KeyType::kStrings) {
        const toml::array* a = value.as_array();
        if (a == nullptr || (!a->empty() && !a->is_homogeneous(toml::node_type::string))) {
          problems.Add(value.source(),
                       fmt::format("'{}' in {} must be an array of strings", k, where));
        }
      }
    }
    for (const NotifyKey& k : kind->keys) {
      if (k.required && !t.contains(k.name)) {
        problems.Add(t.source(), fmt::format("{} needs '{}'", where, k.name));
      }
    }
  }
}

void ReadPlugins(const toml::node& n, std::string_view section, Problems& problems,
                 std::map<std::string, PluginConfig>* out) {
  const toml::table* t = n.as_table();
  if (t == nullptr) {
    problems.Add(n.source(), fmt::format("[{}] must be a table of named instances", section));
    return;
  }
  for (const auto& [name, body] : *t) {
    const toml::table* inst = body.as_table();
    if (inst == nullptr) {
      problems.Add(body.source(), fmt::format("[{}.{}] must be a table", section, name.str()));
      continue;
    }
    PluginConfig pc;
    pc.name = std::string(name.str());
    const toml::node* kind = inst->get("kind");
    if (kind == nullptr) {
      problems.Add(body.source(), fmt::format("[{}.{}] needs a 'kind'", section, name.str()));
      continue;
    }
    if (!ReadString(*kind, "kind", problems, &pc.kind)) continue;
    nlohmann::json opts = ToJson(*inst);
    opts.erase("kind");
    pc.options_json = opts.dump();
    (*out)[pc.name] = std::move(pc);
  }
}

}  // namespace

std::string ServerConfig::Resolve(const std::string& path) const {
  if (path.empty() || path.front() == '/') return path;
  return data_dir + "/" + path;
}

Result<ServerConfig> ParseServerConfig(std::string_view text, std::string_view path) {
  toml::table root;
  try {
    root = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    return Error::InvalidArgument(
        "config", fmt::format("{}:{}:{}: {}", path, e.source().begin.line,
                              e.source().begin.column, TerminalSafe(e.description())));
  }
  ServerConfig c;
  Problems problems(path);
  const toml::node* per_source_node = nullptr;
  for (const auto& [key, node] : root) {
    std::string_view k = key.str();
    if (k == "data_dir") ReadString(node, k, problems, &c.data_dir);
    else if (k == "listen") ReadString(node, k, problems, &c.listen);
    else if (k == "policy") ReadString(node, k, problems, &c.policy);
    else if (k == "storage") {
      if (ReadString(node, k, problems, &c.storage)) CheckStorage(node, c.storage, problems);
    }
    else if (k == "public_url") ReadString(node, k, problems, &c.public_url);
    else if (k == "tls_cert") ReadString(node, k, problems, &c.tls_cert);
    else if (k == "tls_key") ReadString(node, k, problems, &c.tls_key);
    else if (k == "log_level") ReadString(node, k, problems, &c.log_level);
    else if (k == "token_ttl") ReadDuration(node, k, problems, &c.token_ttl);
    else if (k == "token_max_lifetime") {
      ReadDuration(node, k, problems, &c.token_max_lifetime);
      if (c.token_max_lifetime < Seconds(60)) {
        problems.Add(node.source(), "'token_max_lifetime' must be at least 1m");
      }
    }
    else if (k == "probe_interval") {
      ReadDuration(node, k, problems, &c.probe_interval);
      if (c.probe_interval < Seconds(10)) problems.Add(node.source(), "'probe_interval' must be at least 10s");
    }
    else if (k == "plain_http") {
      if (!node.is_boolean()) problems.Add(node.source(), "'plain_http' must be true or false");
      else c.plain_http = *node.value<bool>();
    } else if (k == "http_threads") {
      ReadInt(node, k, 1, 64, problems, &c.http_threads);
    } else if (k == "http_max_connections") {
      ReadInt(node, k, 1, kMaxHttpConnections, problems, &c.http_max_connections);
    } else if (k == "http_max_connections_per_source") {
      ReadInt(node, k, 1, kMaxHttpConnections, problems, &c.http_max_connections_per_source);
      per_source_node = &node;
    } else if (k == "http_header_timeout" || k == "http_body_timeout" || k == "http_idle_timeout" ||
               k == "http_write_timeout") {
      Seconds* out = k == "http_header_timeout" ? &c.http_header_timeout
                     : k == "http_body_timeout" ? &c.http_body_timeout
                     : k == "http_idle_timeout" ? &c.http_idle_timeout
                                                : &c.http_write_timeout;
      ReadDurationWithin(node, k, Seconds(1), std::chrono::minutes(10), problems, out);
    } else if (k == "audit") {
      const toml::table* t = node.as_table();
      if (t == nullptr) {
        problems.Add(node.source(), "[audit] must be a table");
        continue;
      }
      for (const auto& [ak, av] : *t) {
        std::string_view a = ak.str();
        if (a == "checkpoint_interval") ReadDuration(av, a, problems, &c.checkpoint_interval);
        else if (a == "witnesses") ReadStringArray(av, a, problems, &c.witnesses);
        else if (a == "syslog") ReadString(av, a, problems, &c.syslog);
        else if (a == "origin") ReadString(av, a, problems, &c.audit_origin);
        else problems.Add(av.source(), fmt::format("unknown key '{}' in [audit]", a));
      }
      if (c.checkpoint_interval.count() == 0) {
        problems.Add(node.source(), "'checkpoint_interval' must be at least 1s");
      }
    } else if (k == "connectors") {
      ReadPlugins(node, "connectors", problems, &c.connectors);
    } else if (k == "notify") {
      ReadPlugins(node, "notify", problems, &c.notify);
      if (node.is_table()) CheckNotify(*node.as_table(), c.notify, problems);
    } else {
      problems.Add(node.source(), fmt::format("unknown key '{}'", k));
    }
  }
  // Unset, the per-source limit follows a smaller total one; set, it must fit in it.
  if (per_source_node == nullptr) {
    c.http_max_connections_per_source =
        std::min(c.http_max_connections_per_source, c.http_max_connections);
  } else if (c.http_max_connections_per_source > c.http_max_connections) {
    problems.Add(per_source_node->source(),
                 fmt::format("'http_max_connections_per_source' ({}) must not exceed "
                             "'http_max_connections' ({})",
                             c.http_max_connections_per_source, c.http_max_connections));
  }
  if (!problems.empty()) return Error::InvalidArgument("config", problems.Joined());
  for (std::string& w : RecorderWarnings(c.connectors)) c.warnings.push_back(std::move(w));
  if (c.data_dir.empty()) return Error::InvalidArgument("data_dir", "must not be empty");
  if (auto l = ParseListen(c.listen); !l) return l.error();
  return c;
}

Result<ServerConfig> LoadServerConfig(const std::string& path) {
  BG_ASSIGN_OR_RETURN(std::string text, fs::ReadWholeFile(path, "config"));
  return ParseServerConfig(text, path);
}

ServerConfig EmbeddedDefaultConfig() {
  ServerConfig c;
  c.demo = true;
  return c;
}

Result<std::pair<std::string, uint16_t>> ParseListen(std::string_view listen) {
  auto bad = [] {
    return Error::InvalidArgument("listen", "must be HOST:PORT, e.g. 127.0.0.1:8443 or [::1]:8443");
  };
  size_t colon = listen.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 >= listen.size()) return bad();
  std::string host(listen.substr(0, colon));
  if (host.front() == '[') {
    if (host.back() != ']' || host.size() < 3) return bad();
    host = host.substr(1, host.size() - 2);
  }
  std::string_view port_text = listen.substr(colon + 1);
  if (port_text.size() > 5) return bad();
  int port = 0;
  for (char ch : port_text) {
    if (ch < '0' || ch > '9') return bad();
    port = port * 10 + (ch - '0');
  }
  if (port > 65535) return bad();
  return std::make_pair(host, static_cast<uint16_t>(port));
}

}  // namespace bg::service
