#include "connectors/common/state.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>


namespace bg::connectors {

using nlohmann::json;

Result<std::optional<Secret>> ConnectorState::GetSealed(std::string_view what) const {
  BG_ASSIGN_OR_RETURN(auto sealed, Get(what));
  if (!sealed || sealed->empty()) return std::optional<Secret>();
  BG_ASSIGN_OR_RETURN(Secret s, Open(what, *sealed));
  return std::optional<Secret>(std::move(s));
}

Window GrantWindow(const core::Request& r, Timestamp now) {
  if (r.starts_at && r.ends_at) return {*r.starts_at, *r.ends_at};
  return {now, now + r.duration};
}

std::string GrantJson(std::string_view action, const core::Request& r, Timestamp now) {
  Window w = GrantWindow(r, now);
  json j = {{"action", action},
            {"grant_id", r.id.value()},
            {"request_id", r.id.value()},
            {"user", r.requester},
            {"resource", r.resource},
            {"privilege", r.privilege},
            {"starts_at", FormatRfc3339(w.starts_at)},
            {"ends_at", FormatRfc3339(w.ends_at)}};
  if (!r.drill_id.empty()) j["drill_id"] = r.drill_id;
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

// ---- options ----

struct Options::Json {
  json value;
};

Options::Options(std::string name, std::unique_ptr<Json> parsed)
    : name_(std::move(name)), json_(std::move(parsed)) {}
Options::~Options() = default;
Options::Options(Options&&) noexcept = default;

Result<Options> Options::Parse(const connector::PluginConfig& config,
                               const std::set<std::string>& allowed) {
  auto j = std::make_unique<Json>();
  try {
    j->value = json::parse(config.options_json);
  } catch (const json::exception&) {
    return Error::InvalidArgument("connectors." + config.name, "options are not a JSON object");
  }
  if (!j->value.is_object()) {
    return Error::InvalidArgument("connectors." + config.name, "options are not a JSON object");
  }
  for (const auto& [k, v] : j->value.items()) {
    if (!allowed.count(k)) {
      std::string known;
      for (const auto& a : allowed) known += (known.empty() ? "" : ", ") + a;
      return Error::InvalidArgument(
          "connectors." + config.name + "." + k,
          fmt::format("unknown key for kind '{}' (known: {})", config.kind, known));
    }
  }
  return Options(config.name, std::move(j));
}

bool Options::Has(const std::string& key) const { return json_->value.contains(key); }

Result<std::string> Options::String(const std::string& key,
                                    std::optional<std::string> fallback) const {
  auto it = json_->value.find(key);
  if (it == json_->value.end()) {
    if (fallback) return *fallback;
    return Error::InvalidArgument(Field(key), "is required");
  }
  if (!it->is_string()) return Error::InvalidArgument(Field(key), "must be a string");
  return it->get<std::string>();
}

Result<std::vector<std::string>> Options::StringArray(const std::string& key,
                                                      std::vector<std::string> fallback) const {
  auto it = json_->value.find(key);
  if (it == json_->value.end()) return fallback;
  if (!it->is_array()) return Error::InvalidArgument(Field(key), "must be an array of strings");
  std::vector<std::string> out;
  for (const auto& e : *it) {
    if (!e.is_string()) return Error::InvalidArgument(Field(key), "must be an array of strings");
    out.push_back(e.get<std::string>());
  }
  return out;
}

Result<Seconds> Options::Duration(const std::string& key, Seconds fallback) const {
  auto it = json_->value.find(key);
  if (it == json_->value.end()) return fallback;
  if (it->is_number_unsigned()) return Seconds(it->get<int64_t>());
  if (!it->is_string()) {
    return Error::InvalidArgument(Field(key), "must be a duration such as \"30s\" or \"5m\"");
  }
  auto d = ParseDuration(it->get<std::string>(), Field(key));
  if (!d) return Error::InvalidArgument(Field(key), d.error().message());
  return *d;
}

// ---- one-time credentials ----

namespace {
std::string CredentialKey(const RequestId& id) { return "credential/" + id.value(); }
}  // namespace

Status OneTimeCredentials::Store(const RequestId& id, const Secret& json_text) const {
  return state_.Put(CredentialKey(id), state_.Seal(CredentialKey(id), json_text));
}

Result<Secret> OneTimeCredentials::Take(const RequestId& id) const {
  BG_ASSIGN_OR_RETURN(auto s, state_.GetSealed(CredentialKey(id)));
  if (!s) return Error::NotFound("no credential is waiting for this grant (it is shown once)");
  BG_TRY(state_.Put(CredentialKey(id), ""));
  return std::move(*s);
}

Result<bool> OneTimeCredentials::Pending(const RequestId& id) const {
  BG_ASSIGN_OR_RETURN(auto s, state_.Get(CredentialKey(id)));
  return s.has_value() && !s->empty();
}

Status OneTimeCredentials::Discard(const RequestId& id) const {
  BG_ASSIGN_OR_RETURN(auto s, state_.Get(CredentialKey(id)));
  if (!s || s->empty()) return Ok();
  return state_.Put(CredentialKey(id), "");
}

}  // namespace bg::connectors
