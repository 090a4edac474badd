#include "api/json.h"

#include <optional>

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

Result<json> ParseObject(const std::string& body, const std::set<std::string>& allowed,
                         const std::set<std::string>& required) {
  // Duplicate keys (at any depth) are refused: parsers disagree on which one wins.
  std::vector<std::set<std::string>> keys;  // one set per open object
  std::optional<std::string> duplicate;
  json::parser_callback_t check = [&](int, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::object_start) keys.emplace_back();
    if (event == json::parse_event_t::object_end && !keys.empty()) keys.pop_back();
    if (event == json::parse_event_t::key && !keys.empty() && parsed.is_string() &&
        !keys.back().insert(parsed.get<std::string>()).second && !duplicate) {
      duplicate = parsed.get<std::string>();
    }
    return true;
  };
  json j = json::parse(body, check, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Error::InvalidArgument("body", "is not valid JSON");
  if (duplicate) return Error::InvalidArgument(*duplicate, "appears more than once");
  if (!j.is_object()) return Error::InvalidArgument("body", "must be a JSON object");
  for (const auto& [key, value] : j.items()) {
    if (!allowed.count(key)) return Error::InvalidArgument(key, "is not a known field");
  }
  for (const auto& key : required) {
    if (!j.contains(key) || j[key].is_null()) return Error::InvalidArgument(key, "is required");
  }
  return j;
}

Result<std::string> GetString(const json& obj, const std::string& field,
                              const std::string& fallback) {
  auto it = obj.find(field);
  if (it == obj.end() || it->is_null()) return fallback;
  if (!it->is_string()) return Error::InvalidArgument(field, "must be a string");
  std::string s = it->get<std::string>();
  if (s.size() > 4096) return Error::InvalidArgument(field, "is longer than 4096 bytes");
  return s;
}

Result<bool> GetBool(const json& obj, const std::string& field, bool fallback) {
  auto it = obj.find(field);
  if (it == obj.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) return Error::InvalidArgument(field, "must be true or false");
  return it->get<bool>();
}

Result<Seconds> GetDuration(const json& obj, const std::string& field) {
  auto it = obj.find(field);
  if (it == obj.end() || it->is_null()) return Error::InvalidArgument(field, "is required");
  if (it->is_number_unsigned() || it->is_number_integer()) {
    if (!it->is_number_unsigned() && it->get<int64_t>() < 0) {
      return Error::InvalidArgument(field, "must not be negative");
    }
    return ParseDuration(std::to_string(it->get<uint64_t>()), field);
  }
  if (!it->is_string()) {
    return Error::InvalidArgument(field, "must be a duration such as \"45m\" or a number of seconds");
  }
  return ParseDuration(it->get<std::string>(), field);
}

Result<std::optional<int>> GetOptionalInt(const json& obj, const std::string& field) {
  auto it = obj.find(field);
  if (it == obj.end() || it->is_null()) return std::optional<int>();
  if (!it->is_number_integer()) return Error::InvalidArgument(field, "must be an integer");
  int64_t v = it->get<int64_t>();
  if (v < 0 || v > 1000) return Error::InvalidArgument(field, "is out of range");
  return std::optional<int>(static_cast<int>(v));
}

}  // namespace bg::api
