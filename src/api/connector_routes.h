// The connectors' HTTP routes, added to the Api from outside api.cc:
//   GET  /v1/ssh/ca[?connector=NAME]     public: the CA's public key line (text/plain)
//   GET  /v1/ssh/krl[?connector=NAME]    public: the KRL (application/octet-stream)
//   POST /v1/requests/{id}/ssh-cert      {"public_key"} -> {"certificate","valid_after",
//                                        "valid_before","serial"}; the requester, while active
//   GET  /v1/requests/{id}/credentials   the one-time credential (postgres_role: {"username",
//                                        "password","host","port","dbname","valid_until"})
//   GET  /v1/connectors                  probe results; failing outbox jobs for approvers,
//                                        auditors and admins
//   POST /v1/connectors/probe[?connector=NAME]  probe now (admins and auditors)
// NAME may be left out when exactly one ssh_ca connector is configured.
#pragma once

#include "api/api.h"
#include "connectors/health.h"

namespace bg::api {

// `health` may be null (then /v1/connectors answers from fresh probes only on POST).
void AddConnectorRoutes(Api& api, service::Service& service, connectors::ConnectorHealth* health);

}  // namespace bg::api
