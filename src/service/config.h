// The server configuration (breakglass.toml): where data lives, where to listen, which policy,
// which storage, and the connector and notification instances the policy names.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "connector/plugin_config.h"
#include "util/result.h"
#include "util/time.h"

namespace bg::service {

using connector::PluginConfig;

struct ServerConfig {
  std::string data_dir = "breakglass-data";
  std::string listen = "127.0.0.1:8443";
  std::string policy;  // empty: the embedded demo policy
  std::string storage = "sqlite";
  std::string public_url;
  std::string tls_cert;  // relative paths are relative to data_dir
  std::string tls_key;
  bool plain_http = false;  // only on a loopback address
  std::string log_level = "info";

  Seconds checkpoint_interval = Seconds(10);
  std::vector<std::string> witnesses;
  std::string syslog;
  std::string audit_origin;  // checkpoint origin line; default "breakglass/<hostname>"

  Seconds token_ttl = std::chrono::minutes(15);
  // A token family (a login and its renewals) ends this long after the login, renewed or not.
  Seconds token_max_lifetime = std::chrono::hours(12);
  Seconds probe_interval = std::chrono::minutes(15);  // how often every connector is probed
  int http_threads = 2;
  // HTTP connections (docs/configuration.md): open at once in all and from one source (an IPv4
  // address, an IPv6 /64), and the deadlines that close slow or stalled ones.
  int http_max_connections = 1024;
  int http_max_connections_per_source = 64;
  Seconds http_header_timeout = Seconds(10);  // TLS handshake; a request's headers
  Seconds http_body_timeout = Seconds(30);    // a request's whole body
  Seconds http_idle_timeout = Seconds(30);    // a kept-alive connection between requests
  Seconds http_write_timeout = Seconds(30);   // each response, each chunk of an event stream
  bool demo = false;  // embedded default: demo policy, demo users, the demo connectors

  std::map<std::string, PluginConfig> connectors;
  // [notify.*]: parsed and checked; the built kinds become sinks (service/sinks.h), the others
  // are accepted with a warning and send nothing.
  std::map<std::string, PluginConfig> notify;
  // "file:line:column: sentence" for each accepted setting this version cannot act on; `serve`
  // and `policy check --config` print them.
  std::vector<std::string> warnings;

  // data_dir-relative paths resolved.
  std::string Resolve(const std::string& path) const;
};

// Parses configuration TOML text; every problem "file:line:column: sentence", newline-joined,
// in one InvalidArgument error. Unknown keys are refused, and so is a setting that names what
// this version does not have (PostgreSQL storage, an unknown notification kind), saying so.
// The notification kinds "slack" and "smtp" are accepted with a warning each (the shipped
// example names them) although nothing is sent to them yet.
Result<ServerConfig> ParseServerConfig(std::string_view text, std::string_view path);
Result<ServerConfig> LoadServerConfig(const std::string& path);

// The embedded default: SQLite in ./breakglass-data, the demo policy, demo users (the service
// makes the demo policy's bastion-ssh an ssh_ca connector and prod-pg a record-only one).
ServerConfig EmbeddedDefaultConfig();
// The demo policy text compiled into the binary (the example policy of the project).
std::string_view DemoPolicyText();

// "HOST:PORT" -> {host, port}; IPv6 as "[::1]:8443".
Result<std::pair<std::string, uint16_t>> ParseListen(std::string_view listen);

}  // namespace bg::service
