#include "api/json.h"

#include <optional>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "core/approval_groups.h"

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

namespace {

json TimeOrNull(const std::optional<Timestamp>& t) {
  return t ? json(FormatRfc3339(*t)) : json(nullptr);
}

// Every group the request needs approvals from (one for a `pool` + `approvals` rule).
json GroupsJson(const core::Request& r) {
  json out = json::array();
  for (const core::ApprovalGroup& g : core::GroupsOf(r)) {
    json e = {{"pool", g.pool}, {"count", g.count}, {"escalated", g.escalated}};
    if (!g.escalate_to.empty()) {
      e["escalate_to"] = g.escalate_to;
      e["escalate_after"] = g.escalate_after.count();
    }
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace

json ToJson(const core::Request& r) {
  json approvals = json::array();
  for (const auto& a : r.approvals) {
    approvals.push_back({{"approver", a.approver}, {"at", FormatRfc3339(a.at)}, {"comment", a.comment}});
  }
  json denials = json::array();
  for (const auto& d : r.denials) {
    denials.push_back({{"approver", d.approver}, {"at", FormatRfc3339(d.at)}, {"reason", d.reason}});
  }
  json j = {
      {"id", r.id.value()},
      {"state", std::string(core::ToString(r.state))},
      {"requester", r.requester},
      {"resource", r.resource},
      {"privilege", r.privilege},
      {"connector", r.connector},
      {"tier", r.tier},
      {"emergency", r.emergency},
      {"reason", r.reason},
      {"ticket", r.ticket},
      {"source_address", r.source_address},
      {"duration", r.duration.count()},
      {"max_duration", r.max_duration.count()},
      {"pool", r.pool},
      {"required_approvals", r.required_approvals},
      {"approval_groups", GroupsJson(r)},
      {"risk_signals", r.risk_signals},
      {"approvals", approvals},
      {"denials", denials},
      {"created_at", FormatRfc3339(r.created_at)},
      {"updated_at", FormatRfc3339(r.updated_at)},
      {"approval_deadline", FormatRfc3339(r.approval_deadline)},
      {"starts_at", TimeOrNull(r.starts_at)},
      {"ends_at", TimeOrNull(r.ends_at)},
      {"self_approved", r.self_approved},
      {"auto_approved", r.auto_approved},
      {"needs_review", r.needs_review},
      {"review_due", TimeOrNull(r.review_due)},
      {"ended_by", r.ended_by},
      {"end_reason", r.end_reason},
      {"last_error", r.last_error},
      {"recording", std::string(core::ToString(r.recording))},
  };
  if (r.extension) {
    json ext_approvals = json::array();
    for (const auto& a : r.extension->approvals) {
      ext_approvals.push_back({{"approver", a.approver}, {"at", FormatRfc3339(a.at)}, {"comment", a.comment}});
    }
    j["extension"] = {{"duration", r.extension->duration.count()},
                      {"reason", r.extension->reason},
                      {"requested_at", FormatRfc3339(r.extension->requested_at)},
                      {"deadline", FormatRfc3339(r.extension->deadline)},
                      {"required_approvals", r.extension->required_approvals},
                      {"approvals", ext_approvals}};
  } else {
    j["extension"] = nullptr;
  }
  return j;
}

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
