// JSON <-> domain types for the REST API. Parsing is strict: a body must be one JSON object,
// unknown fields and wrong types are refused with the field's name.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <set>
#include <string>
#include <string_view>
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

// Parses `body` as an object whose keys are all in `allowed`; `required` must be present.
Result<nlohmann::json> ParseObject(const std::string& body, const std::set<std::string>& allowed,
                                   const std::set<std::string>& required = {});
// Field readers: the type is checked, the field named in errors.
Result<std::string> GetString(const nlohmann::json& obj, const std::string& field,
                              const std::string& fallback = "");
Result<bool> GetBool(const nlohmann::json& obj, const std::string& field, bool fallback = false);
// A duration given as "45m"/"1h30m" or a number of seconds.
Result<Seconds> GetDuration(const nlohmann::json& obj, const std::string& field);
Result<std::optional<int>> GetOptionalInt(const nlohmann::json& obj, const std::string& field);

}  // namespace bg::api
