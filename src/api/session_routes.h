// The /v1/sessions routes (recorded sessions, see service/sessions.h):
//   POST /v1/sessions                      {"id"?, "request_id", "header"} -> 201 session
//   POST /v1/sessions/{id}/chunks          {"seq", "data", "sha256"?, "request_id"?, "header"?,
//                                           "final"?, "ended_at"?, "end_reason"?}
//                                          -> 201 receipt (200 when the same chunk was stored)
//   GET  /v1/sessions?request=ID           -> {"sessions": [{"id", "request_id", "user",
//                                               "started_at", "ended_at"?, "complete"}]}
//   GET  /v1/sessions/{id}                 -> the session with "chunks", "bytes", "end_reason"
//   GET  /v1/sessions/{id}/recording       -> the asciicast v2 file (application/x-asciicast)
//   POST /v1/requests/{id}/recording-token -> 201 {"token", "expires_at", "request_id"}: a
//                                          credential that only records the grant's sessions
// Chunk data over the limit is 413; every other refusal uses Api::ErrorResponse. A recording
// credential may call POST /v1/sessions and POST /v1/sessions/{id}/chunks only.
#pragma once

#include "api/api.h"
#include "service/service.h"

namespace bg::api {

void AddSessionRoutes(Api& api, service::Service& svc);

}  // namespace bg::api
