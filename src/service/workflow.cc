#include "service/workflow.h"

#include <algorithm>

#include "log/json_log.h"
#include "service/background.h"
#include "service/local_time.h"
#include "service/people.h"
#include "service/request_cache.h"
#include "service/service_metrics.h"
#include "service/writer.h"
#include "util/encoding.h"

namespace bg::service {

namespace {
void CountDecision(ServiceMetrics* m, const std::string& decision, const core::Request& r) {
  if (m) m->CountDecision(decision, !r.drill_id.empty());
}
void ObserveExpiryLag(ServiceMetrics* m, double seconds) {
  if (m) m->ObserveExpiryLag(seconds);
}
}  // namespace

RequestWorkflow::RequestWorkflow(store::Store& store, Writer& writer, const Clock& clock,
                                 Effects& effects, People& people, RequestCache& requests,
                                 ServiceMetrics* metrics)
    : store_(store),
      writer_(writer),
      clock_(clock),
      effects_(effects),
      people_(people),
      requests_(requests),
      metrics_(metrics) {}

namespace {
// A recording credential changes nothing: it only records its grant's sessions.
bool RefusedForRecordingCredential(const core::Actor& actor,
                                   const Callback<core::Request>& cb) {
  if (!actor.recording_grant) return false;
  cb(Error::PermissionDenied("a recording credential can only record its grant's sessions"));
  return true;
}

// The reason code of a refusal: the error's code, and the field it names when there is one.
void AddRefusal(core::AuditEvent& ev, const Error& e) {
  ev.details["reason"] = std::string(ToString(e.code()));
  if (!e.field().empty()) ev.details["field"] = e.field();
  ev.details["message"] = e.message();
}

// "request.refused" for a request the policy or its checks refused (the unapprovable case is
// core::RequestRefused): what was asked, by whom, from where, and why not.
core::AuditEvent RefusedRequestEvent(const core::Actor& actor, const core::CreateCommand& cmd,
                                     const Error& e) {
  core::AuditEvent ev{"request.refused", actor.name, RequestId(),
                      {{"resource", cmd.resource},
                       {"privilege", cmd.privilege},
                       {"duration", std::to_string(cmd.duration.count())},
                       {"ticket", cmd.ticket},
                       {"source_address", actor.source_address}}};
  if (cmd.tier) ev.details["tier"] = std::to_string(*cmd.tier);
  if (cmd.emergency) ev.details["emergency"] = "true";
  AddRefusal(ev, e);
  return ev;
}

// "approval.refused" for an approval or denial the rules refused (own request, not in the pool,
// MFA not fresh, not pending...).
core::AuditEvent RefusedApprovalEvent(const core::Actor& actor, const core::Request& r,
                                      const std::string& decision, const Error& e) {
  core::AuditEvent ev{"approval.refused", actor.name, r.id,
                      {{"decision", decision},
                       {"state", std::string(core::ToString(r.state))},
                       {"source_address", actor.source_address}}};
  AddRefusal(ev, e);
  return ev;
}

// The accounts that can approve now: the approver role, not disabled, TOTP enrolled.
Result<std::vector<std::string>> AbleApprovers(store::Store& store) {
  BG_ASSIGN_OR_RETURN(auto users, store.ListUsers());
  std::vector<std::string> able;
  for (const store::UserRecord& u : users) {
    if (People::CanApproveNow(u)) able.push_back(u.name);
  }
  return able;
}
}  // namespace

void RequestWorkflow::Create(const core::Actor& actor, core::CreateCommand cmd,
                     Callback<core::Request> cb) {
  if (RefusedForRecordingCredential(actor, cb)) return;
  auto pol = effects_.policy();
  const Timestamp now = clock_.Now();
  // Risk inputs are read before entering the writer: they are signals, not invariants.
  core::RiskInputs risk;
  auto used = store_.HasUsedSource(actor.name, actor.source_address);
  if (!used) return cb(used.error());
  risk.new_source = !*used && !actor.source_address.empty();
  // Only "has the threshold been reached" matters: count no further than that.
  auto recent = store_.CountRequestsSince(actor.name, now - pol->risk.burst_window,
                                           std::max(pol->risk.burst_threshold, 1));
  if (!recent) return cb(recent.error());
  risk.recent_requests = static_cast<int>(*recent);
  LocalTime lt = ToLocalTime(now, pol->settings.timezone);
  risk.local_weekday = lt.weekday;
  risk.local_minute = lt.minute;
  auto able = AbleApprovers(store_);
  if (!able) return cb(able.error());
  // The person's open reviews, when an overdue inappropriate one blocks new requests.
  std::vector<core::Review> their_reviews;
  if (pol->settings.block_on_overdue_inappropriate && !cmd.emergency) {
    store::ReviewFilter f;
    f.state = core::ReviewState::kOpen;
    f.requester = actor.name;
    f.due_before = now + Seconds(1);  // due_at <= now: past its deadline, as everywhere
    f.limit = 1000;
    auto listed = store_.ListReviews(f);
    if (!listed) return cb(listed.error());
    their_reviews = std::move(*listed);
  }
  RequestId id(NewId("req"));
  // A request nobody could approve is refused, and the refusal audited, in the writer.
  auto refused = std::make_shared<std::optional<Error>>();
  auto fn = [this, pol, actor, cmd = std::move(cmd), risk, id, able = std::move(*able),
             their_reviews = std::move(their_reviews), refused](Tx& tx) -> Result<core::Request> {
    Status blocked = core::CheckNotBlockedByReviews(*pol, their_reviews, cmd.emergency, tx.now());
    Result<core::Transition> created =
        blocked ? core::CreateRequest(*pol, actor, cmd, risk, id, tx.now())
                : Result<core::Transition>(blocked.error());
    if (!created) {  // refused by the policy or its checks: audited, with the reason code
      tx.Audit(RefusedRequestEvent(actor, cmd, created.error()));
      *refused = created.error();
      return core::Request{};
    }
    core::Transition& t = *created;
    if (auto ok = core::CheckApprovable(*pol, t.request, able); !ok) {
      tx.Audit(core::RequestRefused(t.request, "unapprovable", ok.error().message()));
      *refused = ok.error();
      return t.request;
    }
    tx.UseSource(actor.name, actor.source_address);
    return effects_.ApplyTransition(tx, t, 0);
  };
  writer_.Submit(MakeOp<core::Request>(
      std::move(fn), [cb = std::move(cb), refused](Result<core::Request> r) {
        if (r && refused->has_value()) return cb(std::move(**refused));
        cb(std::move(r));
      }));
}

void RequestWorkflow::Transact(RequestId id,
                       std::function<Result<core::Transition>(const core::Policy&,
                                                              const core::Request&, Timestamp)>
                           step,
                       Callback<core::Request> cb) {
  auto pol = effects_.policy();
  auto fn = [this, pol, id, step = std::move(step)](Tx& tx) -> Result<core::Request> {
    BG_ASSIGN_OR_RETURN(auto current, tx.GetRequest(id));
    if (!current) return Error::NotFound("no request " + id.value());
    BG_ASSIGN_OR_RETURN(core::Transition t, step(*pol, *current, tx.now()));
    if (t.effects.empty()) return *current;  // idempotent repeat: nothing to store
    return effects_.ApplyTransition(tx, t, current->version);
  };
  writer_.Submit(MakeOp<core::Request>(std::move(fn), std::move(cb)));
}

void RequestWorkflow::Decide(const core::Actor& actor, RequestId id, std::string decision,
                     std::string totp, std::optional<auth::webauthn::Assertion> passkey,
                     DecisionStep step, Callback<core::Request> cb) {
  auto pol = effects_.policy();
  auto refused = std::make_shared<std::optional<Error>>();
  const bool stepped_up = !totp.empty() || passkey.has_value();
  auto fn = [this, pol, id, actor, decision = std::move(decision), totp = std::move(totp),
             passkey = std::move(passkey), step = std::move(step),
             refused](Tx& tx) -> Result<core::Request> {
    BG_ASSIGN_OR_RETURN(auto current, tx.GetRequest(id));
    // A request the caller may not see does not exist for them, and costs no code.
    if (!current || !core::CanView(*pol, *current, actor)) {
      return Error::NotFound("no request " + id.value());
    }
    core::Actor acting = actor;
    if (!totp.empty()) {
      BG_ASSIGN_OR_RETURN(People::StepUp up, people_.StepUpInTx(tx, actor, totp));
      if (up.refused) {
        *refused = std::move(*up.refused);
        return *current;  // commits what the refusal staged (a wrong code's count and event)
      }
      acting = std::move(*up.fresh);
    }
    if (passkey) {
      BG_ASSIGN_OR_RETURN(People::StepUp up, people_.PasskeyStepUpInTx(tx, acting, *passkey, id));
      if (up.refused) {
        *refused = std::move(*up.refused);
        return *current;  // commits the failed attempt's audit leaf
      }
      acting = std::move(*up.fresh);
    }
    auto t = step(*pol, *current, acting, tx.now());
    if (!t) {
      tx.Audit(RefusedApprovalEvent(acting, *current, decision, t.error()));
      *refused = t.error();
      return *current;
    }
    if (t->effects.empty()) return *current;  // idempotent repeat: nothing to store
    return effects_.ApplyTransition(tx, *t, current->version);
  };
  writer_.Submit(MakeOp<core::Request>(
      std::move(fn), [this, cb = std::move(cb), refused, stepped_up,
                      user = actor.name, token = actor.token_hash](Result<core::Request> r) {
        if (stepped_up) {
          // The token and the account changed (fresh MFA time, or a failure counted).
          people_.ForgetSteppedUp(user, token);
        }
        if (r && refused->has_value()) return cb(std::move(**refused));
        cb(std::move(r));
      }));
}

void RequestWorkflow::Approve(const core::Actor& actor, RequestId id, std::string comment,
                      Callback<core::Request> cb, std::string totp,
                      std::optional<auth::webauthn::Assertion> passkey) {
  if (!totp.empty()) {
    if (Status s = People::CheckMayPresentCode(actor); !s) return cb(s.error());
  }
  if (RefusedForRecordingCredential(actor, cb)) return;
  cb = [this, cb = std::move(cb)](Result<core::Request> r) {
    if (r) CountDecision(metrics_, "approve", *r);
    cb(std::move(r));
  };
  Decide(actor, std::move(id), "approve", std::move(totp), std::move(passkey),
         [comment = std::move(comment)](const core::Policy& p, const core::Request& r,
                                        const core::Actor& acting, Timestamp now) {
           return core::Approve(p, r, acting, comment, now);
         },
         std::move(cb));
}

void RequestWorkflow::Deny(const core::Actor& actor, RequestId id, std::string reason,
                   Callback<core::Request> cb, std::string totp,
                   std::optional<auth::webauthn::Assertion> passkey) {
  if (!totp.empty()) {
    if (Status s = People::CheckMayPresentCode(actor); !s) return cb(s.error());
  }
  if (RefusedForRecordingCredential(actor, cb)) return;
  cb = [this, cb = std::move(cb)](Result<core::Request> r) {
    if (r) CountDecision(metrics_, "deny", *r);
    cb(std::move(r));
  };
  Decide(actor, std::move(id), "deny", std::move(totp), std::move(passkey),
         [reason = std::move(reason)](const core::Policy& p, const core::Request& r,
                                      const core::Actor& acting, Timestamp now) {
           return core::Deny(p, r, acting, reason, now);
         },
         std::move(cb));
}

void RequestWorkflow::Cancel(const core::Actor& actor, RequestId id, Callback<core::Request> cb) {
  if (RefusedForRecordingCredential(actor, cb)) return;
  Transact(std::move(id),
           [actor](const core::Policy&, const core::Request& r, Timestamp now) {
             return core::Cancel(r, actor, now);
           },
           std::move(cb));
}

void RequestWorkflow::Revoke(const core::Actor& actor, RequestId id, std::string reason,
                     Callback<core::Request> cb) {
  if (RefusedForRecordingCredential(actor, cb)) return;
  Transact(std::move(id),
           [actor, reason = std::move(reason)](const core::Policy& p, const core::Request& r,
                                               Timestamp now) {
             return core::Revoke(p, r, actor, reason, now);
           },
           std::move(cb));
}

void RequestWorkflow::Extend(const core::Actor& actor, RequestId id, Seconds duration, std::string reason,
                     Callback<core::Request> cb) {
  if (RefusedForRecordingCredential(actor, cb)) return;
  Transact(std::move(id),
           [actor, duration, reason = std::move(reason)](
               const core::Policy& p, const core::Request& r, Timestamp now) {
             return core::RequestExtension(p, r, actor, duration, reason, now);
           },
           std::move(cb));
}

Result<std::shared_ptr<const core::Request>> RequestWorkflow::GetShared(const core::Actor& actor,
                                                                        const RequestId& id) {
  const int64_t now_us = clock_.NowMicros();
  std::shared_ptr<const core::Request> r = requests_.Get(id, now_us);
  if (!r) {
    BG_ASSIGN_OR_RETURN(std::optional<core::Request> stored, store_.GetRequest(id));
    if (stored) r = requests_.Put(std::move(*stored), now_us);
  }
  // A request the caller may not see is reported exactly like one that does not exist.
  if (!r || !core::CanView(*effects_.policy(), *r, actor)) {
    return Error::NotFound("no request " + id.value());
  }
  return r;
}

Result<core::Request> RequestWorkflow::Get(const core::Actor& actor, const RequestId& id) {
  BG_ASSIGN_OR_RETURN(std::shared_ptr<const core::Request> r, GetShared(actor, id));
  return *r;
}

Result<std::vector<core::Request>> RequestWorkflow::List(const core::Actor& actor,
                                                 store::RequestFilter filter, bool mine) {
  if (mine) filter.requester = actor.name;
  auto pol = effects_.policy();
  BG_ASSIGN_OR_RETURN(auto all, store_.ListRequests(filter));
  std::vector<core::Request> out;
  for (auto& r : all) {
    if (core::CanView(*pol, r, actor)) out.push_back(std::move(r));
  }
  return out;
}

// ---- timers and jobs ----

void RequestWorkflow::OnTimerFired(const store::TimerRecord& t, std::function<void()> failed) {
  auto pol = effects_.policy();
  const int64_t due_us = ToUnixSeconds(t.at) * 1'000'000;
  auto fn = [this, pol, t, due_us](Tx& tx) -> Status {
    BG_ASSIGN_OR_RETURN(auto current, tx.GetRequest(t.request));
    core::Transition tr;
    bool changed = false;
    if (current) {
      BG_ASSIGN_OR_RETURN(tr, core::OnTimer(*pol, *current, t.kind, tx.now()));
      changed = !tr.effects.empty();
    }
    tx.DeleteTimer(t.id);
    if (changed) {
      core::Request r = effects_.ApplyTransition(tx, tr, current->version);
      // Drills are apart in statistics: their expiry is not a grant's lag.
      if (t.kind == core::TimerKind::kExpiry && r.state == core::RequestState::kExpired &&
          r.drill_id.empty()) {
        tx.AfterCommit([this, due_us] {
          ObserveExpiryLag(metrics_, static_cast<double>(clock_.NowMicros() - due_us) / 1e6);
        });
      }
    }
    return Ok();
  };
  writer_.Submit({std::move(fn), [t, failed = std::move(failed)](Status s) {
                    if (!s) {
                      log::Error("timer.failed", {{"timer", t.id},
                                                  {"request_id", t.request.value()},
                                                  {"error", s.error().ToString()}});
                      if (failed) failed();
                    }
                  }});
}

Status RequestWorkflow::RecordJobOutcome(Tx& tx, const store::OutboxJob& job, core::JobKind kind,
                                         const core::JobOutcome& outcome) {
  auto policy = effects_.policy();
  const core::Policy& pol = *policy;
  BG_ASSIGN_OR_RETURN(auto current, tx.GetRequest(job.request));
  // The request may have moved since the connector was called: decide on what is stored.
  BG_ASSIGN_OR_RETURN(core::JobDecision d,
                      core::OnJobOutcome(pol, current ? &*current : nullptr, kind, outcome,
                                         job.attempts, tx.now()));
  core::AuditEvent ev{"connector." + job.kind, std::string(core::kSystemActor), job.request, {}};
  ev.details["connector"] = current ? current->connector : "";
  ev.details["attempt"] = std::to_string(job.attempts + 1);
  ev.details["outcome"] = std::string(d.audit_outcome);
  if (!outcome.error.empty()) ev.details["error"] = outcome.error;
  tx.Audit(ev);
  if (d.done) {
    tx.DeleteOutbox(job.id);
  } else {
    store::OutboxJob next = job;
    next.attempts++;
    next.next_attempt = tx.now() + Outbox::Backoff(next.attempts);
    next.last_error = outcome.error;
    tx.PutOutbox(next);
  }
  if (d.alert_revocation_failing) {
    effects_.StageAlert(tx,
               effects_.SecurityAlert("revocation_failing",
                             "revocation keeps failing and stays queued: " + outcome.error,
                             current->id),
               {{"connector", current->connector}}, *current);
  }
  if (d.transition) effects_.ApplyTransition(tx, *d.transition, current->version);
  return Ok();
}

}  // namespace bg::service
