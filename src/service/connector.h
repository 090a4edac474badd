// What the service asks of a target system. Implementations live in connectors/ and are chosen
// by kind from the configuration through ConnectorRegistry (one small factory table).
// Every call is idempotent by request id: a retried Grant or Revoke must be harmless.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "core/request.h"
#include "service/config.h"
#include "util/result.h"

namespace bg::auth {
class MasterKey;
}
namespace bg::store {
class Store;
}

namespace bg::service {

// What a connector factory may use: the master key (to seal its secrets at rest, e.g. in the
// store's meta table) and the store.
struct ConnectorContext {
  const auth::MasterKey& master_key;
  store::Store& store;
  const ServerConfig& config;
};

class Connector {
 public:
  virtual ~Connector() = default;
  // Issues (or re-issues for an extended window) the credential for the grant.
  virtual Status Grant(const core::Request& grant) = 0;
  virtual Status Revoke(const core::Request& grant) = 0;
  virtual Status Probe() = 0;
};

using ConnectorFactory = std::function<Result<std::unique_ptr<Connector>>(
    const PluginConfig& config, ConnectorContext& context)>;

class ConnectorRegistry {
 public:
  // Registers the built-in kinds ("none").
  ConnectorRegistry();
  void RegisterKind(std::string kind, ConnectorFactory factory);
  // Instantiates every configured connector; an unknown kind names the instance.
  Status Configure(const std::map<std::string, PluginConfig>& configs, ConnectorContext& context);
  Connector* Find(const std::string& name) const;
  bool Has(const std::string& name) const { return Find(name) != nullptr; }

 private:
  std::map<std::string, ConnectorFactory> kinds_;
  std::map<std::string, std::unique_ptr<Connector>> instances_;
};

}  // namespace bg::service
