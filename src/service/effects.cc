#include "service/effects.h"

#include <fmt/format.h>

#include <algorithm>

#include "service/writer.h"
#include "util/random.h"

namespace bg::service {

Effects::Effects(EventBus& events, RequestCache& requests, const Clock& clock,
                 PolicySource policy, std::function<void()> wake_grants)
    : events_(events),
      requests_(requests),
      clock_(clock),
      policy_(std::move(policy)),
      wake_grants_(std::move(wake_grants)) {}

core::Request Effects::ApplyTransition(Tx& tx, const core::Transition& t, int64_t read_version) {
  tx.PutRequest(t.request);
  core::Request r = t.request;
  r.version = read_version + 1;
  tx.AfterCommit([this, r] { OnCommitted(r); });  // before the alerts it may raise
  Stage(tx, t.effects, r);
  const bool ends_grant = std::any_of(t.effects.begin(), t.effects.end(), [](const auto& e) {
    return std::holds_alternative<core::RevokeGrant>(e);
  });
  if (ends_grant) {
    if (auto review = core::OpenReview(r, NewId("rev"), tx.now())) ApplyReview(tx, *review, r);
  }
  return r;
}

void Effects::ApplyReview(Tx& tx, const core::ReviewTransition& t, const core::Request& request) {
  tx.PutReview(t.review);
  Stage(tx, t.effects, request);
  StateEvent e;
  e.type = "review";
  e.request = request;
  e.review_id = t.review.id;
  e.review_state = std::string(core::ToString(t.review.state));
  tx.AfterCommit([this, e = std::move(e)] { events_.Publish(e); });
}

void Effects::Stage(Tx& tx, const std::vector<core::Effect>& effects, const core::Request& r) {
  for (const core::Effect& e : effects) {
    if (const auto* a = std::get_if<core::AuditEvent>(&e)) {
      tx.Audit(*a);
    } else if (const auto* s = std::get_if<core::ScheduleTimer>(&e)) {
      tx.AddTimer(*s);
    } else if (const auto* g = std::get_if<core::IssueGrant>(&e)) {
      tx.AddJob(std::string(core::ToString(core::JobKind::kGrant)), g->request);
    } else if (const auto* rv = std::get_if<core::RevokeGrant>(&e)) {
      tx.AddJob(std::string(core::ToString(core::JobKind::kRevoke)), rv->request);
    } else if (const auto* al = std::get_if<core::Alert>(&e)) {
      StageAlert(tx, *al, {}, r);
    }
  }
}

void Effects::ApplyCampaign(Tx& tx, const core::CampaignTransition& t) {
  tx.PutCampaign(t.campaign);
  Stage(tx, t.effects, core::Request{});
}

void Effects::OnCommitted(const core::Request& r) {
  requests_.Put(r, clock_.NowMicros());
  StateEvent e;
  e.type = "request";
  e.request = r;
  events_.Publish(e);
  if (r.state == core::RequestState::kApproved || r.state == core::RequestState::kRevoked ||
      r.state == core::RequestState::kExpired || r.state == core::RequestState::kActive) {
    if (wake_grants_) wake_grants_();
  }
}

void Effects::StageAlert(Tx& tx, const core::Alert& alert,
                         std::map<std::string, std::string> details,
                         const core::Request& request) {
  core::AuditEvent ev{"alert.raised", std::string(core::kSystemActor), request.id,
                      std::move(details)};
  ev.details["kind"] = alert.kind;
  ev.details["recipients"] = fmt::format("{}", fmt::join(alert.recipients, ","));
  ev.details["message"] = alert.message;
  tx.Audit(ev);
  StateEvent published;
  published.type = "alert";
  published.request = request;
  published.alert_kind = alert.kind;
  published.recipients = alert.recipients;
  published.message = alert.message;
  tx.AfterCommit([this, published = std::move(published)] { events_.Publish(published); });
}

core::Alert Effects::SecurityAlert(const std::string& kind, const std::string& message,
                                   const RequestId& request) const {
  core::Alert alert{kind, request, {}, message};
  if (auto pol = policy_ ? policy_() : nullptr) {
    alert.recipients = pol->Expand(pol->settings.security_contacts);
  }
  return alert;
}

}  // namespace bg::service
