#include "api/json.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "service/request_json.h"

namespace bg::api {

std::vector<std::string> PathSegments(const std::string& path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    if (j > i) out.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

using nlohmann::json;

json ToJson(const core::Request& r) { return service::RequestJson(r); }

std::string ErrorBody(const Error& e) {
  json err = {{"code", std::string(ToString(e.code()))}, {"message", e.message()}};
  if (!e.field().empty()) err["field"] = e.field();
  return json{{"error", err}}.dump(-1, ' ', false, json::error_handler_t::replace);
}

int HttpStatus(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return 400;
    case ErrorCode::kUnauthenticated: return 401;
    case ErrorCode::kPermissionDenied: return 403;
    case ErrorCode::kNotFound: return 404;
    case ErrorCode::kConflict: return 409;
    case ErrorCode::kFailedPrecondition: return 409;
    case ErrorCode::kResourceExhausted: return 429;
    case ErrorCode::kUnavailable: return 503;
    case ErrorCode::kInternal: return 500;
  }
  return 500;
}

}  // namespace bg::api
