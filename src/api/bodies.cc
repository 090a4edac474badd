#include "api/bodies.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "util/encoding.h"

namespace bg::api {

using nlohmann::json;

namespace {

// A body that may be left out: empty means {}.
const std::string& OrEmptyObject(const std::string& body) {
  static const std::string kEmpty = "{}";
  return body.empty() ? kEmpty : body;
}

Result<std::string> GetBase64Url(const json& obj, const std::string& field,
                                 const std::string& name) {
  auto it = obj.find(name);
  if (it == obj.end() || !it->is_string())
    return Error::InvalidArgument(field + "." + name, "must be a base64url string");
  const std::string& text = it->get_ref<const std::string&>();
  if (text.size() > 8192) return Error::InvalidArgument(field + "." + name, "is too long");
  auto raw = Base64UrlDecode(text);
  if (!raw || raw->empty()) return Error::InvalidArgument(field + "." + name, "is not base64url");
  return *raw;
}

// A string field without GetString's length limit, or nullopt when absent.
Result<std::optional<std::string>> OptString(const json& body, const std::string& field) {
  if (!body.contains(field)) return std::optional<std::string>();
  if (!body[field].is_string()) return Error::InvalidArgument(field, "must be a string");
  return std::optional<std::string>(body[field].get<std::string>());
}

Result<DecisionBody> DecodeDecision(const std::string& body, bool approve) {
  BG_ASSIGN_OR_RETURN(
      json obj, ParseObject(OrEmptyObject(body),
                            approve ? std::set<std::string>{"totp", "comment", "passkey"}
                                    : std::set<std::string>{"totp", "reason", "passkey"},
                            approve ? std::set<std::string>{} : std::set<std::string>{"reason"}));
  DecisionBody out;
  BG_ASSIGN_OR_RETURN(out.totp, GetString(obj, "totp"));
  BG_ASSIGN_OR_RETURN(out.text, GetString(obj, approve ? "comment" : "reason"));
  BG_ASSIGN_OR_RETURN(out.passkey, GetAssertion(obj, "passkey"));
  return out;
}

}  // namespace

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
    return Error::InvalidArgument(field,
                                  "must be a duration such as \"45m\" or a number of seconds");
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

Result<std::optional<auth::webauthn::Assertion>> GetAssertion(const json& obj,
                                                              const std::string& field) {
  auto it = obj.find(field);
  if (it == obj.end() || it->is_null()) return std::optional<auth::webauthn::Assertion>();
  if (!it->is_object()) return Error::InvalidArgument(field, "must be an object");
  for (const auto& [k, v] : it->items()) {
    if (k != "id" && k != "client_data_json" && k != "authenticator_data" && k != "signature" &&
        k != "user_handle") {
      return Error::InvalidArgument(field + "." + k, "is not a known field");
    }
  }
  auth::webauthn::Assertion a;
  BG_ASSIGN_OR_RETURN(a.credential_id, GetBase64Url(*it, field, "id"));
  BG_ASSIGN_OR_RETURN(a.client_data_json, GetBase64Url(*it, field, "client_data_json"));
  BG_ASSIGN_OR_RETURN(a.authenticator_data, GetBase64Url(*it, field, "authenticator_data"));
  BG_ASSIGN_OR_RETURN(a.signature, GetBase64Url(*it, field, "signature"));
  return std::optional<auth::webauthn::Assertion>(std::move(a));
}

Result<LoginBody> DecodeLogin(const std::string& body) {
  BG_ASSIGN_OR_RETURN(json obj, ParseObject(body, {"username", "password", "totp", "cookie"},
                                            {"username", "password", "totp"}));
  LoginBody out;
  BG_ASSIGN_OR_RETURN(out.username, GetString(obj, "username"));
  BG_ASSIGN_OR_RETURN(out.password, GetString(obj, "password"));
  BG_ASSIGN_OR_RETURN(out.totp, GetString(obj, "totp"));
  BG_ASSIGN_OR_RETURN(out.cookie, GetBool(obj, "cookie"));
  return out;
}

Result<PasskeyLoginBody> DecodePasskeyLogin(const std::string& body) {
  BG_ASSIGN_OR_RETURN(json obj, ParseObject(body, {"credential", "cookie"}, {"credential"}));
  BG_ASSIGN_OR_RETURN(auto credential, GetAssertion(obj, "credential"));
  PasskeyLoginBody out;
  out.credential = std::move(*credential);  // required above, so present
  BG_ASSIGN_OR_RETURN(out.cookie, GetBool(obj, "cookie"));
  return out;
}

Result<NewPasskeyBody> DecodeNewPasskey(const std::string& body) {
  BG_ASSIGN_OR_RETURN(json obj,
                      ParseObject(body, {"name", "client_data_json", "attestation_object", "id"},
                                  {"name", "client_data_json", "attestation_object"}));
  NewPasskeyBody out;
  BG_ASSIGN_OR_RETURN(out.name, GetString(obj, "name"));
  BG_ASSIGN_OR_RETURN(out.registration.client_data_json,
                      GetBase64Url(obj, "body", "client_data_json"));
  BG_ASSIGN_OR_RETURN(out.registration.attestation_object,
                      GetBase64Url(obj, "body", "attestation_object"));
  return out;
}

Result<core::CreateCommand> DecodeCreateRequest(const std::string& body) {
  BG_ASSIGN_OR_RETURN(
      json obj,
      ParseObject(body,
                  {"resource", "privilege", "duration", "reason", "ticket", "tier", "emergency"},
                  {"resource", "privilege", "duration", "reason", "ticket"}));
  core::CreateCommand cmd;
  BG_ASSIGN_OR_RETURN(cmd.resource, GetString(obj, "resource"));
  BG_ASSIGN_OR_RETURN(cmd.privilege, GetString(obj, "privilege"));
  BG_ASSIGN_OR_RETURN(cmd.reason, GetString(obj, "reason"));
  BG_ASSIGN_OR_RETURN(cmd.ticket, GetString(obj, "ticket"));
  BG_ASSIGN_OR_RETURN(cmd.duration, GetDuration(obj, "duration"));
  BG_ASSIGN_OR_RETURN(cmd.tier, GetOptionalInt(obj, "tier"));
  BG_ASSIGN_OR_RETURN(cmd.emergency, GetBool(obj, "emergency"));
  return cmd;
}

Result<DecisionBody> DecodeApprove(const std::string& body) { return DecodeDecision(body, true); }
Result<DecisionBody> DecodeDeny(const std::string& body) { return DecodeDecision(body, false); }

Status DecodeCancel(const std::string& body) {
  BG_TRY(ParseObject(OrEmptyObject(body), {"reason"}));
  return Ok();
}

Result<std::string> DecodeRevoke(const std::string& body) {
  BG_ASSIGN_OR_RETURN(json obj, ParseObject(OrEmptyObject(body), {"reason"}, {"reason"}));
  return GetString(obj, "reason");
}

Result<ExtendBody> DecodeExtend(const std::string& body) {
  BG_ASSIGN_OR_RETURN(json obj, ParseObject(body, {"duration", "reason"}, {"duration", "reason"}));
  ExtendBody out;
  BG_ASSIGN_OR_RETURN(out.duration, GetDuration(obj, "duration"));
  BG_ASSIGN_OR_RETURN(out.reason, GetString(obj, "reason"));
  return out;
}

Result<std::string> DecodeSshCert(const std::string& body) {
  BG_ASSIGN_OR_RETURN(json obj, ParseObject(body, {"public_key"}, {"public_key"}));
  return GetString(obj, "public_key");
}

Result<SshRevokeBody> DecodeSshRevoke(const std::string& body) {
  BG_ASSIGN_OR_RETURN(json obj, ParseObject(body, {"serial", "valid_before", "reason", "connector"},
                                            {"serial", "valid_before", "reason"}));
  SshRevokeBody out;
  BG_ASSIGN_OR_RETURN(out.serial_text, GetString(obj, "serial"));
  BG_ASSIGN_OR_RETURN(std::string until, GetString(obj, "valid_before"));
  BG_ASSIGN_OR_RETURN(out.reason, GetString(obj, "reason"));
  BG_ASSIGN_OR_RETURN(out.connector, GetString(obj, "connector"));
  const std::optional<uint64_t> serial = ParseDecimalU64(out.serial_text);
  if (!serial || *serial == 0) {
    return Error::InvalidArgument("serial", "a certificate serial in decimal, 1 to 2^64-1");
  }
  out.serial = *serial;
  BG_ASSIGN_OR_RETURN(out.valid_before, ParseRfc3339(until, "valid_before"));
  if (out.reason.empty()) return Error::InvalidArgument("reason", "say why");
  return out;
}

Result<NewSessionBody> DecodeNewSession(const std::string& body) {
  BG_ASSIGN_OR_RETURN(json obj,
                      ParseObject(body, {"id", "request_id", "header"}, {"request_id", "header"}));
  NewSessionBody out;
  BG_ASSIGN_OR_RETURN(out.id, GetString(obj, "id"));
  BG_ASSIGN_OR_RETURN(out.request_id, GetString(obj, "request_id"));
  BG_ASSIGN_OR_RETURN(out.header, GetString(obj, "header"));
  return out;
}

Result<ChunkBody> DecodeChunk(const std::string& body) {
  BG_ASSIGN_OR_RETURN(json obj, ParseObject(body,
                                            {"seq", "data", "sha256", "request_id", "header",
                                             "final", "ended_at", "end_reason"},
                                            {"seq", "data"}));
  ChunkBody out;
  if (!obj["seq"].is_number_integer() || obj["seq"].get<int64_t>() < 0) {
    return Error::InvalidArgument("seq", "must be a non-negative integer");
  }
  out.seq = obj["seq"].get<int64_t>();
  // Not GetString: chunk data is far longer than the API's usual strings.
  BG_ASSIGN_OR_RETURN(auto data, OptString(obj, "data"));
  out.data = std::move(*data);
  BG_ASSIGN_OR_RETURN(out.sha256, GetString(obj, "sha256"));
  BG_ASSIGN_OR_RETURN(out.final, GetBool(obj, "final"));
  BG_ASSIGN_OR_RETURN(out.end_reason, GetString(obj, "end_reason"));
  BG_ASSIGN_OR_RETURN(auto ended, OptString(obj, "ended_at"));
  if (ended) {
    BG_ASSIGN_OR_RETURN(Timestamp t, ParseRfc3339(*ended, "ended_at"));
    out.ended_at = t;
  }
  BG_ASSIGN_OR_RETURN(auto request, OptString(obj, "request_id"));
  BG_ASSIGN_OR_RETURN(auto header, OptString(obj, "header"));
  if (request.has_value() != header.has_value()) {
    return Error::InvalidArgument(request ? "header" : "request_id",
                                  "request_id and header create the session together");
  }
  if (request) out.create = ChunkBody::Creates{std::move(*request), std::move(*header)};
  return out;
}

Status DecodeRecordingToken(const std::string& body) {
  if (!body.empty()) BG_TRY(ParseObject(body, {}, {}));
  return Ok();
}

Result<DrillBody> DecodeDrill(const std::string& body) {
  BG_ASSIGN_OR_RETURN(json obj, ParseObject(body, {"resource", "privilege"},
                                            {"resource", "privilege"}));
  DrillBody d;
  BG_ASSIGN_OR_RETURN(d.resource, GetString(obj, "resource"));
  BG_ASSIGN_OR_RETURN(d.privilege, GetString(obj, "privilege"));
  if (d.resource.empty()) return Error::InvalidArgument("resource", "must not be empty");
  if (d.privilege.empty()) return Error::InvalidArgument("privilege", "must not be empty");
  return d;
}

}  // namespace bg::api
