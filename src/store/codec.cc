#include "store/codec.h"

#include <fmt/format.h>

#include <array>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <utility>

#include "util/encoding.h"

namespace bg::store {
namespace {

using nlohmann::json;

template <typename E, size_t N>
using NameTable = std::array<std::pair<E, std::string_view>, N>;

constexpr NameTable<core::RequestState, 8> kStates = {{
    {core::RequestState::kPending, "pending"},
    {core::RequestState::kApproved, "approved"},
    {core::RequestState::kActive, "active"},
    {core::RequestState::kExpired, "expired"},
    {core::RequestState::kRevoked, "revoked"},
    {core::RequestState::kDenied, "denied"},
    {core::RequestState::kCancelled, "cancelled"},
    {core::RequestState::kTimedOut, "timed_out"},
}};

constexpr NameTable<core::TimerKind, 4> kTimerKinds = {{
    {core::TimerKind::kApprovalTimeout, "approval_timeout"},
    {core::TimerKind::kExpiryWarning, "expiry_warning"},
    {core::TimerKind::kExpiry, "expiry"},
    {core::TimerKind::kExtensionTimeout, "extension_timeout"},
}};

constexpr NameTable<core::Role, 4> kRoles = {{
    {core::Role::kRequester, "requester"},
    {core::Role::kApprover, "approver"},
    {core::Role::kAuditor, "auditor"},
    {core::Role::kAdmin, "admin"},
}};

template <typename E, size_t N>
std::string_view NameOf(const NameTable<E, N>& table, E e) {
  for (const auto& [value, name] : table) {
    if (value == e) return name;
  }
  return "invalid";
}

template <typename E, size_t N>
Result<E> ValueOf(const NameTable<E, N>& table, std::string_view s, std::string_view column) {
  for (const auto& [value, name] : table) {
    if (name == s) return value;
  }
  return Error::Internal(fmt::format("{}: unknown stored value '{}'", column, s));
}

// Reads typed keys out of one JSON object, keeping the first error so call sites stay flat.
class ObjectReader {
 public:
  ObjectReader(const json& j, std::string path, Status* status)
      : j_(j), path_(std::move(path)), status_(status) {}

  const json* Find(const char* key, bool (json::*is_type)() const, const char* type_name) {
    if (!*status_) return nullptr;
    auto it = j_.find(key);
    if (it == j_.end() || it->is_null()) return nullptr;
    if (!((*it).*is_type)()) {
      Fail(key, fmt::format("expected {}", type_name));
      return nullptr;
    }
    return &*it;
  }

  void Str(const char* key, std::string& out) {
    if (const json* v = Find(key, &json::is_string, "a string")) out = v->get<std::string>();
  }
  void Bool(const char* key, bool& out) {
    if (const json* v = Find(key, &json::is_boolean, "a boolean")) out = v->get<bool>();
  }
  void Int64(const char* key, int64_t& out) {
    const json* v = Find(key, &json::is_number_integer, "an integer");
    if (v == nullptr) return;
    if (v->is_number_unsigned() &&
        v->get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      Fail(key, "integer out of range");
      return;
    }
    out = v->get<int64_t>();
  }
  void Int(const char* key, int& out) {
    int64_t wide = out;
    Int64(key, wide);
    if (wide < std::numeric_limits<int>::min() || wide > std::numeric_limits<int>::max()) {
      Fail(key, "integer out of range");
      return;
    }
    out = static_cast<int>(wide);
  }
  void Secs(const char* key, Seconds& out) {
    int64_t n = out.count();
    Int64(key, n);
    out = Seconds(n);
  }
  void Time(const char* key, Timestamp& out) {
    int64_t n = ToUnixSeconds(out);
    Int64(key, n);
    out = FromUnixSeconds(n);
  }
  void OptTime(const char* key, std::optional<Timestamp>& out) {
    if (!*status_) return;
    auto it = j_.find(key);
    if (it == j_.end() || it->is_null()) {
      out.reset();
      return;
    }
    Timestamp t{};
    Time(key, t);
    out = t;
  }
  void StrList(const char* key, std::vector<std::string>& out) {
    const json* v = Find(key, &json::is_array, "an array");
    if (v == nullptr) return;
    out.clear();
    for (const json& item : *v) {
      if (!item.is_string()) {
        Fail(key, "expected an array of strings");
        return;
      }
      out.push_back(item.get<std::string>());
    }
  }
  // Calls `read(ObjectReader&, T&)` for each object of the array under `key`.
  template <typename T, typename F>
  void ObjList(const char* key, std::vector<T>& out, F read) {
    const json* v = Find(key, &json::is_array, "an array");
    if (v == nullptr) return;
    out.clear();
    for (size_t i = 0; i < v->size() && *status_; ++i) {
      const json& item = (*v)[i];
      if (!item.is_object()) {
        Fail(key, "expected an array of objects");
        return;
      }
      ObjectReader sub(item, fmt::format("{}.{}[{}]", path_, key, i), status_);
      T t;
      read(sub, t);
      out.push_back(std::move(t));
    }
  }
  const json* Object(const char* key) { return Find(key, &json::is_object, "an object"); }
  const std::string& path() const { return path_; }
  Status* status() { return status_; }

  void Fail(const char* key, std::string_view what) {
    if (*status_) *status_ = Error::Internal(fmt::format("{}.{}: {}", path_, key, what));
  }

 private:
  const json& j_;
  std::string path_;
  Status* status_;
};

json ApprovalsToJson(const std::vector<core::Approval>& approvals) {
  json out = json::array();
  for (const auto& a : approvals) {
    out.push_back({{"approver", a.approver}, {"at", ToUnixSeconds(a.at)}, {"comment", a.comment}});
  }
  return out;
}

void ReadApproval(ObjectReader& r, core::Approval& a) {
  r.Str("approver", a.approver);
  r.Time("at", a.at);
  r.Str("comment", a.comment);
}

json GroupsToJson(const std::vector<core::ApprovalGroup>& groups) {
  json out = json::array();
  for (const auto& g : groups) {
    out.push_back({{"pool", g.pool},
                   {"count", g.count},
                   {"escalate_to", g.escalate_to},
                   {"escalate_after", g.escalate_after.count()},
                   {"escalated", g.escalated}});
  }
  return out;
}

void ReadGroup(ObjectReader& r, core::ApprovalGroup& g) {
  r.Str("pool", g.pool);
  r.Int("count", g.count);
  r.Str("escalate_to", g.escalate_to);
  r.Secs("escalate_after", g.escalate_after);
  r.Bool("escalated", g.escalated);
}

void ReadDenial(ObjectReader& r, core::Denial& d) {
  r.Str("approver", d.approver);
  r.Time("at", d.at);
  r.Str("reason", d.reason);
}

json OptTimeToJson(const std::optional<Timestamp>& t) {
  return t ? json(ToUnixSeconds(*t)) : json(nullptr);
}

}  // namespace

std::string_view StoredName(core::RequestState s) { return NameOf(kStates, s); }

Result<core::RequestState> ParseStoredState(std::string_view s, std::string_view column) {
  return ValueOf(kStates, s, column);
}

bool IsOpenState(core::RequestState s) {
  return s == core::RequestState::kPending || s == core::RequestState::kApproved ||
         s == core::RequestState::kActive;
}

std::string_view StoredName(core::TimerKind k) { return NameOf(kTimerKinds, k); }

Result<core::TimerKind> ParseStoredTimerKind(std::string_view s, std::string_view column) {
  return ValueOf(kTimerKinds, s, column);
}

std::string_view StoredName(core::Role r) { return NameOf(kRoles, r); }

std::string EncodeRoles(const std::vector<core::Role>& roles) {
  std::string out;
  for (core::Role r : roles) {
    if (!out.empty()) out += ',';
    out += StoredName(r);
  }
  return out;
}

Result<std::vector<core::Role>> DecodeRoles(std::string_view text, std::string_view column) {
  std::vector<core::Role> roles;
  while (!text.empty()) {
    size_t comma = text.find(',');
    std::string_view name = text.substr(0, comma);
    BG_ASSIGN_OR_RETURN(core::Role role, ValueOf(kRoles, name, column));
    roles.push_back(role);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
    if (text.empty()) return Error::Internal(fmt::format("{}: trailing comma", column));
  }
  return roles;
}

std::string EncodeRequestBody(const core::Request& r) {
  json j = {
      {"resource", r.resource},
      {"privilege", r.privilege},
      {"connector", r.connector},
      {"tier", r.tier},
      {"emergency", r.emergency},
      {"reason", r.reason},
      {"ticket", r.ticket},
      {"source_address", r.source_address},
      {"duration", r.duration.count()},
      {"pool", r.pool},
      {"required_approvals", r.required_approvals},
      {"groups", GroupsToJson(r.groups)},
      {"risk_signals", r.risk_signals},
      {"max_duration", r.max_duration.count()},
      {"approval_window", r.approval_window.count()},
      {"mfa_max_age", r.mfa_max_age.count()},
      {"approver_passkey", r.approver_passkey},
      {"deny_ends_request", r.deny_ends_request},
      {"review_within", r.review_within.count()},
      {"reviewers", r.reviewers},
      {"recording", std::string(core::ToString(r.recording))},
      {"updated_at", ToUnixSeconds(r.updated_at)},
      {"approval_deadline", ToUnixSeconds(r.approval_deadline)},
      {"starts_at", OptTimeToJson(r.starts_at)},
      {"approvals", ApprovalsToJson(r.approvals)},
      {"self_approved", r.self_approved},
      {"auto_approved", r.auto_approved},
      {"needs_review", r.needs_review},
      {"review_due", OptTimeToJson(r.review_due)},
      {"warned", r.warned},
      {"ended_by", r.ended_by},
      {"end_reason", r.end_reason},
      {"last_error", r.last_error},
  };
  json denials = json::array();
  for (const auto& d : r.denials) {
    denials.push_back(
        {{"approver", d.approver}, {"at", ToUnixSeconds(d.at)}, {"reason", d.reason}});
  }
  j["denials"] = std::move(denials);
  if (r.extension) {
    const core::Extension& e = *r.extension;
    j["extension"] = {
        {"duration", e.duration.count()},
        {"reason", e.reason},
        {"requested_at", ToUnixSeconds(e.requested_at)},
        {"deadline", ToUnixSeconds(e.deadline)},
        {"required_approvals", e.required_approvals},
        {"approvals", ApprovalsToJson(e.approvals)},
    };
  } else {
    j["extension"] = nullptr;
  }
  if (!r.drill_id.empty()) {
    j["drill_id"] = r.drill_id;
    if (r.drill_target) {
      const core::DrillTarget& d = *r.drill_target;
      j["drill_target"] = {{"principal", d.principal}, {"user", d.user},
                           {"host", d.host},           {"port", d.port},
                           {"known_hosts", d.known_hosts}, {"database", d.database},
                           {"check", d.check}};
    }
  }
  // Invalid UTF-8 in a free-text field is replaced rather than thrown on.
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

Status DecodeRequestBody(std::string_view text, std::string_view column, core::Request& r) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return Error::Internal(fmt::format("{}: not a JSON object", column));
  }
  Status status;
  ObjectReader rd(j, std::string(column), &status);
  rd.Str("resource", r.resource);
  rd.Str("privilege", r.privilege);
  rd.Str("connector", r.connector);
  rd.Int("tier", r.tier);
  rd.Bool("emergency", r.emergency);
  rd.Str("reason", r.reason);
  rd.Str("ticket", r.ticket);
  rd.Str("source_address", r.source_address);
  rd.Secs("duration", r.duration);
  rd.Str("pool", r.pool);
  rd.Int("required_approvals", r.required_approvals);
  rd.ObjList("groups", r.groups, ReadGroup);  // absent in rows written before groups existed
  rd.StrList("risk_signals", r.risk_signals);
  rd.Secs("max_duration", r.max_duration);
  rd.Secs("approval_window", r.approval_window);
  rd.Secs("mfa_max_age", r.mfa_max_age);
  rd.Bool("approver_passkey", r.approver_passkey);  // absent before schema v6: false
  rd.Bool("deny_ends_request", r.deny_ends_request);
  rd.Secs("review_within", r.review_within);
  rd.Int("reviewers", r.reviewers);
  {
    std::string recording(core::ToString(r.recording));
    rd.Str("recording", recording);  // absent in rows written before it existed: best effort
    if (auto rec = core::ParseRecording(recording)) {
      r.recording = *rec;
    } else if (status) {
      status = Error::Internal(fmt::format("{}: recording: unknown value", column));
    }
  }
  rd.Time("updated_at", r.updated_at);
  rd.Time("approval_deadline", r.approval_deadline);
  rd.OptTime("starts_at", r.starts_at);
  rd.ObjList("approvals", r.approvals, ReadApproval);
  rd.ObjList("denials", r.denials, ReadDenial);
  rd.Bool("self_approved", r.self_approved);
  rd.Bool("auto_approved", r.auto_approved);
  rd.Bool("needs_review", r.needs_review);
  rd.OptTime("review_due", r.review_due);
  rd.Bool("warned", r.warned);
  rd.Str("ended_by", r.ended_by);
  rd.Str("end_reason", r.end_reason);
  rd.Str("last_error", r.last_error);
  r.extension.reset();
  if (const json* ext = rd.Object("extension")) {
    core::Extension e;
    ObjectReader er(*ext, rd.path() + ".extension", &status);
    er.Secs("duration", e.duration);
    er.Str("reason", e.reason);
    er.Time("requested_at", e.requested_at);
    er.Time("deadline", e.deadline);
    er.Int("required_approvals", e.required_approvals);
    er.ObjList("approvals", e.approvals, ReadApproval);
    r.extension = std::move(e);
  }
  r.drill_id.clear();
  rd.Str("drill_id", r.drill_id);  // absent on requests that are not drills
  r.drill_target.reset();
  if (const json* dt = rd.Object("drill_target")) {
    core::DrillTarget d;
    ObjectReader dr(*dt, rd.path() + ".drill_target", &status);
    dr.Str("principal", d.principal);
    dr.Str("user", d.user);
    dr.Str("host", d.host);
    dr.Int("port", d.port);
    dr.Str("known_hosts", d.known_hosts);
    dr.Str("database", d.database);
    dr.StrList("check", d.check);
    r.drill_target = std::move(d);
  }
  return status;
}

std::string EncodeDrillBody(const DrillRecord& d) {
  json steps = json::array();
  for (const DrillStep& st : d.steps) {
    steps.push_back({{"name", st.name}, {"ok", st.ok}, {"ms", st.ms}, {"detail", st.detail}});
  }
  json j = {{"number", d.number},
            {"privilege", d.privilege},
            {"tier", d.tier},
            {"request", d.request.value()},
            {"started_by", d.started_by},
            {"scheduled", d.scheduled},
            {"steps", std::move(steps)},
            {"time_to_access_ms",
             d.time_to_access_ms ? json(*d.time_to_access_ms) : json(nullptr)},
            {"failure", d.failure},
            {"host_key", d.host_key}};
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

Status DecodeDrillBody(std::string_view text, std::string_view column, DrillRecord& d) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Error::Internal(fmt::format("{}: not a JSON object", column));
  }
  Status status = Ok();
  ObjectReader rd(j, std::string(column), &status);
  rd.Int64("number", d.number);
  rd.Str("privilege", d.privilege);
  rd.Int("tier", d.tier);
  std::string request;
  rd.Str("request", request);
  d.request = RequestId(request);
  rd.Str("started_by", d.started_by);
  rd.Bool("scheduled", d.scheduled);
  rd.ObjList("steps", d.steps, [](ObjectReader& sr, DrillStep& st) {
    sr.Str("name", st.name);
    sr.Bool("ok", st.ok);
    sr.Int64("ms", st.ms);
    sr.Str("detail", st.detail);
  });
  d.time_to_access_ms.reset();
  if (auto it = j.find("time_to_access_ms"); it != j.end() && !it->is_null()) {
    if (it->is_number_integer()) {
      d.time_to_access_ms = it->get<int64_t>();
    } else if (status) {
      status = Error::Internal(fmt::format("{}.time_to_access_ms: not an integer", column));
    }
  }
  rd.Str("failure", d.failure);
  rd.Str("host_key", d.host_key);
  return status;
}

std::string EncodeReviewBody(const core::Review& r) {
  json verdicts = json::array();
  for (const core::ReviewEntry& e : r.verdicts) {
    verdicts.push_back({{"reviewer", e.reviewer},
                        {"verdict", core::ToString(e.verdict)},
                        {"findings", e.findings},
                        {"follow_up_ticket", e.follow_up_ticket},
                        {"at", ToUnixSeconds(e.at)}});
  }
  return json{{"trigger", r.trigger},
              {"reviewers_needed", r.reviewers_needed},
              {"verdicts", std::move(verdicts)},
              {"kit_record", r.kit_record}}
      .dump();
}

Result<core::ReviewState> ParseStoredReviewState(std::string_view s, std::string_view column) {
  if (auto st = core::ParseReviewState(s)) return *st;
  return Error::Internal(fmt::format("{}: unknown stored value '{}'", column, s));
}

Status DecodeReviewBody(std::string_view text, std::string_view column, core::Review& r) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Error::Internal(fmt::format("{}: not a JSON object", column));
  }
  Status status = Ok();
  ObjectReader rd(j, std::string(column), &status);
  rd.Str("trigger", r.trigger);
  rd.Int("reviewers_needed", r.reviewers_needed);
  rd.Str("kit_record", r.kit_record);
  rd.ObjList("verdicts", r.verdicts, [&status](ObjectReader& er, core::ReviewEntry& e) {
    std::string verdict;
    er.Str("reviewer", e.reviewer);
    er.Str("verdict", verdict);
    er.Str("findings", e.findings);
    er.Str("follow_up_ticket", e.follow_up_ticket);
    er.Time("at", e.at);
    if (auto v = core::ParseReviewVerdict(verdict)) {
      e.verdict = *v;
    } else if (status) {
      status = Error::Internal(fmt::format("{}: verdict: unknown value '{}'", er.path(), verdict));
    }
  });
  return status;
}

std::string EncodeCampaignBody(const core::Campaign& c) {
  json items = json::array();
  for (const core::AttestItem& i : c.items) {
    json j = {{"id", i.id},
              {"kind", i.kind},
              {"subject", i.subject},
              {"principal", i.principal},
              {"owners", i.owners},
              {"answer", core::ToString(i.answer)},
              {"answered_by", i.answered_by},
              {"answered_at", OptTimeToJson(i.answered_at)},
              {"note", i.note},
              {"removed", i.removed}};
    items.push_back(std::move(j));
  }
  return json{{"opened_by", c.opened_by},
              {"closed_at", OptTimeToJson(c.closed_at)},
              {"items", std::move(items)}}
      .dump();
}

Status DecodeCampaignBody(std::string_view text, std::string_view column, core::Campaign& c) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Error::Internal(fmt::format("{}: not a JSON object", column));
  }
  Status status = Ok();
  ObjectReader rd(j, std::string(column), &status);
  rd.Str("opened_by", c.opened_by);
  rd.OptTime("closed_at", c.closed_at);
  rd.ObjList("items", c.items, [&status](ObjectReader& ir, core::AttestItem& i) {
    std::string answer;
    ir.Str("id", i.id);
    ir.Str("kind", i.kind);
    ir.Str("subject", i.subject);
    ir.Str("principal", i.principal);
    ir.StrList("owners", i.owners);
    ir.Str("answer", answer);
    ir.Str("answered_by", i.answered_by);
    ir.OptTime("answered_at", i.answered_at);
    ir.Str("note", i.note);
    ir.Bool("removed", i.removed);
    if (answer.empty()) {
      i.answer = core::AttestAnswer::kNone;
    } else if (auto a = core::ParseAttestAnswer(answer)) {
      i.answer = *a;
    } else if (status) {
      status = Error::Internal(fmt::format("{}: answer: unknown value '{}'", ir.path(), answer));
    }
  });
  return status;
}

std::string EncodePasskeys(const std::vector<PasskeyRecord>& passkeys) {
  json out = json::array();
  for (const PasskeyRecord& p : passkeys) {
    json e = {{"id", Base64UrlEncode(p.id)},
              {"alg", p.alg},
              {"public_key", Base64UrlEncode(p.public_key)},
              {"sign_count", p.sign_count},
              {"name", p.name},
              {"created_at", ToUnixSeconds(p.created_at)}};
    if (p.last_used_at) e["last_used_at"] = ToUnixSeconds(*p.last_used_at);
    out.push_back(std::move(e));
  }
  return out.dump();
}

Result<std::vector<PasskeyRecord>> DecodePasskeys(std::string_view text, std::string_view column) {
  auto bad = [&](std::string_view what) {
    return Error::Internal(fmt::format("{}: {}", column, what));
  };
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_array()) return bad("not a JSON array");
  std::vector<PasskeyRecord> out;
  Status status = Ok();
  for (const json& e : j) {
    if (!e.is_object()) return bad("an entry is not an object");
    ObjectReader rd(e, std::string(column), &status);
    PasskeyRecord p;
    std::string id, key;
    int64_t count = -1;
    rd.Str("id", id);
    rd.Str("public_key", key);
    rd.Int("alg", p.alg);
    rd.Int64("sign_count", count);
    rd.Str("name", p.name);
    rd.Time("created_at", p.created_at);
    rd.OptTime("last_used_at", p.last_used_at);
    if (!status) return status.error();
    auto id_raw = Base64UrlDecode(id);
    auto key_raw = Base64UrlDecode(key);
    if (!id_raw || id_raw->empty() || !key_raw || key_raw->empty()) {
      return bad("an entry's id or key is missing or not base64url");
    }
    if (count < 0 || count > std::numeric_limits<uint32_t>::max()) return bad("sign_count out of range");
    p.id = std::move(*id_raw);
    p.public_key = std::move(*key_raw);
    p.sign_count = static_cast<uint32_t>(count);
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace bg::store
