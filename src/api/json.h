// JSON <-> domain types for the REST API: requests as the API shows them, the error body and
// the status of each error code. Reading request bodies is api/bodies.h.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "core/request.h"
#include "util/result.h"

namespace bg::api {

// Splits "/v1/requests/abc/approve" into {"v1", "requests", "abc", "approve"} (empty segments
// dropped).
std::vector<std::string> PathSegments(const std::string& path);

nlohmann::json ToJson(const core::Request& r);
// {"error":{"code","message","field"?}}
std::string ErrorBody(const Error& e);
int HttpStatus(ErrorCode code);

}  // namespace bg::api
