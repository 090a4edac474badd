// The /v1/drills routes (service/drills.h). Admins, auditors and a resource's owner (for that
// resource) run and read drills; everybody else gets 403 (POST) or sees none (GET).
//   POST /v1/drills {"resource","privilege"} -> 202 the drill ("state": "running"); it goes on
//        by itself: poll GET /v1/drills/{id}. 400 unknown resource or privilege, 409 when the
//        resource has no drill target, 429 when kMaxRunning drills run.
//   GET  /v1/drills?resource=&since=RFC3339&limit= -> {"drills": [...]} newest first
//   GET  /v1/drills/{id} -> the drill: {"id","ok","request_id","steps":[{"name","ok","ms",
//        "detail"}],"time_to_access_ms","state",...}
//   GET  /v1/drills/report?resource=&since=RFC3339 -> time to access per resource and tier
//        (default since: 90 days ago)
#pragma once

#include "api/api.h"
#include "service/service.h"

namespace bg::api {

void AddDrillRoutes(Api& api, service::Service& svc);

}  // namespace bg::api
