// The service's side of the connector context (connector/connector.h): each instance's state
// in the store's meta table under "connector/<instance>/<what>" (two instances of one kind
// never share state), sealed values bound to that full name under the master key. The meta
// table has no delete: a consumed value is overwritten with "" (a tombstone).
#pragma once

#include <memory>
#include <string>

#include "connector/connector.h"
#include "service/config.h"

namespace bg::auth {
class MasterKey;
}
namespace bg::store {
class Store;
}

namespace bg::service {

// One instance's state over `store`.
std::shared_ptr<const connector::StateStore> StoredConnectorState(std::string instance,
                                                                  const auth::MasterKey& key,
                                                                  store::Store& store);

// What every connector of this server is made with. The references must outlive the host and
// the connectors made from it.
connector::ConnectorHost MakeConnectorHost(const auth::MasterKey& key, store::Store& store,
                                           const ServerConfig& config, const Clock& clock,
                                           Random& random);

}  // namespace bg::service
