// The inventory of emergency paths (service/inventory.h), for admins and auditors:
//   GET    /v1/inventory[?format=csv]      -> {"resources": [...], "legacy_paths": [...],
//                                             "warnings": [...]}, or one CSV row per resource
//   POST   /v1/inventory/legacy            {"description", "resource", "decommission_by"}
//                                          -> 201 the legacy path (admins)
//   DELETE /v1/inventory/legacy/{id}       -> 200 {"removed": id} (admins)
#pragma once

#include "api/api.h"
#include "connectors/health.h"

namespace bg::api {

// `health` may be null: then no probe is known.
void AddInventoryRoutes(Api& api, service::Service& svc, connectors::ConnectorHealth* health);

}  // namespace bg::api
