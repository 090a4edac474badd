// The built-in connector kinds: "ssh_ca", "postgres_role", "exec", "webhook" (service/ adds
// "none"). Pass RegisterBuiltinConnectors to service::Service::Open.
#pragma once

#include "service/connector.h"

namespace bg::connectors {

void RegisterBuiltinConnectors(service::ConnectorRegistry& registry);

}  // namespace bg::connectors
