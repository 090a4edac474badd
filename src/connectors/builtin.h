// The built-in connector kinds: "ssh_ca", "postgres_role", "exec", "webhook" (service/ adds
// "none"). Pass RegisterBuiltinConnectors to service::Service::Open.
#pragma once

#include "connector/connector.h"

namespace bg::connectors {

void RegisterBuiltinConnectors(connector::ConnectorRegistry& registry);

}  // namespace bg::connectors
