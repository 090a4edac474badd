#include "service/request_json.h"

#include <optional>

#include <nlohmann/json.hpp>

#include "core/approval_groups.h"
#include "util/encoding.h"

namespace bg::service {

using nlohmann::json;

namespace {

json TimeOrNull(const std::optional<Timestamp>& t) {
  return t ? json(FormatRfc3339(*t)) : json(nullptr);
}

// Every group the request needs approvals from (one for a `pool` + `approvals` rule).
json GroupsJson(const core::Request& r) {
  json out = json::array();
  for (const core::ApprovalGroup& g : core::GroupsOf(r)) {
    json e = GroupJson(g);
    e["escalated"] = g.escalated;
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace

json GroupJson(const core::ApprovalGroup& g) {
  json e = {{"pool", g.pool}, {"count", g.count}};
  if (!g.escalate_to.empty()) {
    e["escalate_to"] = g.escalate_to;
    e["escalate_after"] = g.escalate_after.count();
  }
  return e;
}

json RequestJson(const core::Request& r) {
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
      {"approver_mfa", r.approver_passkey ? "passkey" : "any"},
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
  j["drill_id"] = r.drill_id.empty() ? json(nullptr) : json(r.drill_id);
  return j;
}

}  // namespace bg::service

namespace bg::service {

nlohmann::json TrailJson(const AuditTrail& trail, const std::string& verifier_key) {
  nlohmann::json entries = nlohmann::json::array();
  for (const AuditTrail::Entry& e : trail.entries) {
    nlohmann::json hashes = nlohmann::json::array();
    for (const auto& h : e.proof) hashes.push_back(Base64Encode(h));
    entries.push_back({{"index", e.index}, {"leaf", Base64Encode(e.leaf)}, {"proof", hashes}});
  }
  return {{"size", trail.checkpoint.size},
          {"checkpoint", trail.checkpoint.note},
          {"key", verifier_key},
          {"entries", std::move(entries)}};
}

}  // namespace bg::service
