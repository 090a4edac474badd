#include "audit/event.h"

#include <utility>

#include <nlohmann/json.hpp>

#include "util/encoding.h"
#include "util/sha256.h"

namespace bg::audit {
namespace {

using Json = nlohmann::json;

// nlohmann::json keeps objects in a std::map<std::string, ...>: dump() writes keys in
// byte-wise (= Unicode code point) order, with no white space when indent is -1. With
// ensure_ascii off it writes UTF-8 as is and escapes only '"', '\\' and U+0000..U+001F
// (\b \f \n \r \t, else \u00XX with lowercase hex); '/' and U+007F are not escaped. The
// `replace` handler turns invalid UTF-8 into U+FFFD instead of throwing. event_test.cc pins
// each of these so an upgrade that changed them would fail the build's tests.
std::string Canonical(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

Error Bad(std::string message) { return Error::InvalidArgument("leaf", std::move(message)); }

Result<std::string> StringMember(const Json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end()) return Bad(std::string("missing \"") + key + "\"");
  if (!it->is_string()) return Bad(std::string("\"") + key + "\" is not a string");
  return it->get<std::string>();
}

}  // namespace

std::string EncodeLeaf(const LeafEvent& event) {
  Json details = Json::object();
  for (const auto& [k, v] : event.details) details[k] = v;
  Json j = Json::object();
  j["v"] = event.version;
  j["time"] = FormatRfc3339(event.time);
  j["type"] = event.type;
  j["actor"] = event.actor;
  if (event.request.has_value() && !event.request->empty()) j["request"] = event.request->value();
  j["details"] = std::move(details);
  return Canonical(j);
}

std::string EncodeLeaf(const core::AuditEvent& event, Timestamp time) {
  LeafEvent leaf;
  leaf.time = time;
  leaf.type = event.type;
  leaf.actor = event.actor;
  if (!event.request.empty()) leaf.request = event.request;
  leaf.details = event.details;
  return EncodeLeaf(leaf);
}

Result<LeafEvent> ParseLeaf(std::string_view leaf) {
  Json j = Json::parse(leaf.begin(), leaf.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Bad("not JSON");
  if (!j.is_object()) return Bad("not a JSON object");
  for (const auto& [key, value] : j.items()) {
    if (key != "v" && key != "time" && key != "type" && key != "actor" && key != "request" &&
        key != "details") {
      return Bad("unknown key \"" + key + "\"");
    }
  }
  LeafEvent out;
  auto v = j.find("v");
  if (v == j.end() || !v->is_number_unsigned() || v->get<uint64_t>() != kLeafVersion) {
    return Bad("\"v\" is not 1");
  }
  BG_ASSIGN_OR_RETURN(std::string time, StringMember(j, "time"));
  auto parsed_time = ParseRfc3339(time, "leaf");
  if (!parsed_time.has_value()) return Bad("\"time\" is not an RFC 3339 time");
  out.time = *parsed_time;
  BG_ASSIGN_OR_RETURN(out.type, StringMember(j, "type"));
  BG_ASSIGN_OR_RETURN(out.actor, StringMember(j, "actor"));
  if (j.contains("request")) {
    BG_ASSIGN_OR_RETURN(std::string request, StringMember(j, "request"));
    out.request = RequestId(std::move(request));
  }
  auto details = j.find("details");
  if (details == j.end() || !details->is_object()) return Bad("\"details\" is not an object");
  for (const auto& [key, value] : details->items()) {
    if (!value.is_string()) return Bad("detail \"" + key + "\" is not a string");
    out.details.emplace(key, value.get<std::string>());
  }
  if (EncodeLeaf(out) != leaf) return Bad("not in canonical form");
  return out;
}

std::string HmacField(const Secret& audit_key, std::string_view value) {
  return "hmac-sha256:" + Base64Encode(AsBytes(HmacSha256(audit_key.Reveal(), value)));
}

}  // namespace bg::audit
