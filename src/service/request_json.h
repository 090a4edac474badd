// A request as the API shows it (GET /v1/requests/{id}): the one encoder of a request, used by
// the REST layer and by the notification sinks (a webhook body's "request"). No secrets: a
// request holds none.
#pragma once

#include <nlohmann/json.hpp>

#include "core/request.h"
#include "service/audit_log.h"

namespace bg::service {

nlohmann::json RequestJson(const core::Request& r);
// One approval group as requests and the request form show it: pool, count and, when it
// escalates, escalate_to and escalate_after (seconds).
nlohmann::json GroupJson(const core::ApprovalGroup& g);
// An audit trail as the timeline shows it: {"size", "checkpoint" (the signed note), "key" (its
// verifier key), "entries": [{"index", "leaf" (base64), "proof": [base64 hashes]}]}.
nlohmann::json TrailJson(const AuditTrail& trail, const std::string& verifier_key);

}  // namespace bg::service
