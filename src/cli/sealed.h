// Sealed mode: the server's master key split into a kit (src/kit/), and what uses it.
//
//   breakglass kit seal-master   splits <data_dir>/master.key into shares, keeps the public
//                                manifest as <data_dir>/master-kit.json, then deletes the key
//   breakglass serve --sealed    WaitForUnseal below, then the normal server
//   breakglass unseal            submits one share to POST /v1/sys/unseal
//   breakglass kit reconcile     appends a signed offline record (kit combine --record) to the
//                                audit log, flags the kit for rotation (idempotent)
//
// docs/sealed-mode.md describes the ceremony and the HTTP contract.
#pragma once

#include <signal.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "auth/master_key.h"
#include "core/request.h"
#include "kit/kit.h"
#include "service/config.h"
#include "service/data_dir.h"
#include "util/result.h"

namespace CLI {
class App;
}
namespace bg::http {
class HttpServer;
}
namespace bg::service {
class Service;
class Tx;
}  // namespace bg::service
namespace bg::store {
class Store;
}

namespace bg::cli {

struct Globals;

inline constexpr char kMasterKitFile[] = "master-kit.json";

struct Unsealed {
  std::unique_ptr<auth::MasterKey> key;  // null: stopped by a signal while still sealed
  std::vector<core::AuditEvent> events;  // one per submission, for the log once it is open
  // The listening socket, handed over still listening (HttpServerOptions::listen_fd): a
  // client connecting while the service opens waits in its backlog instead of being refused.
  // -1 when stopped while sealed. The caller owns it.
  int listen_fd = -1;
  // The sealed server, no longer accepting; its connections (the last unseal answer) finish
  // while the service opens. Stop it once the real server runs.
  std::unique_ptr<http::HttpServer> sealed_server;
};

// Serves only GET /healthz ({"status":"sealed","shares_received","threshold","kit_id"}) and
// POST /v1/sys/unseal {"share": LINE} on `listen` (TLS as `serve` would use it) until the
// shares of <data_dir>/master-kit.json restore a key that opens the store's sealed audit key;
// every other path answers 503. Returns when unsealed (after the last answer was written) or
// when one of `signals` arrives. The key exists only in memory.
Result<Unsealed> WaitForUnseal(const service::ServerConfig& config,
                               const std::pair<std::string, uint16_t>& listen,
                               const sigset_t& signals);

// Appends the events of WaitForUnseal to the now open audit log.
Status AuditUnseal(service::Service& svc, const std::vector<core::AuditEvent>& events);

// For local commands on a sealed data directory (master-kit.json, no master.key): the master
// key restored from the share lines in `shares_path` ("-": stdin), checked against the store's
// sealed audit key. Null when the directory is not sealed (the key file is used as usual);
// kFailedPrecondition when it is sealed and no shares were given.
Result<std::unique_ptr<auth::MasterKey>> SealedKeyIfNeeded(const service::ServerConfig& config,
                                                           const std::string& shares_path);

// Opens the data directory's service in admin mode (with `key` when it is sealed; null: its
// key file) and runs `write` as one transaction of the single writer: fail closed, the audit
// events it stages are committed with everything else it writes, or nothing is. The caller
// holds its claim on the directory (OfflineClaim, kModify) for the whole command.
Status LocalWrite(const service::ServerConfig& config, std::unique_ptr<auth::MasterKey> key,
                  const std::function<Status(service::Tx&, store::Store&)>& write);

// "kit.created": a kit of a server secret was made (ids, threshold, what it protects, the
// manifest's SHA-256; never a share).
core::AuditEvent KitCreatedEvent(const kit::KitManifest& manifest);

// Registers `kit seal-master`, `kit reconcile` (under the existing `kit` command) and `unseal`.
void AddSealedCommands(CLI::App& app, Globals& g);

}  // namespace bg::cli
