// The one reader of the core's effects in the shell. A core transition is staged in the writer
// transaction that made it: the request itself, then each effect in order (audit leaves,
// timers, connector jobs, alerts). What follows a commit is published from here too: the
// request's new state (request cache, event bus, a wake-up for the grant runner) and the
// alerts. Everything that changes a request goes through ApplyTransition.
//
// Thread-safe: the staging methods run on the writer thread; SecurityAlert anywhere.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/commands.h"
#include "core/policy.h"
#include "core/request.h"
#include "core/attestation.h"
#include "core/review.h"
#include "service/event_bus.h"
#include "service/request_cache.h"
#include "util/time.h"

namespace bg::service {

class Tx;

// The policy in force (null when none is loaded, as for local administration).
using PolicySource = std::function<std::shared_ptr<const core::Policy>()>;

class Effects {
 public:
  // `wake_grants` is called after a commit that may have queued connector work.
  Effects(EventBus& events, RequestCache& requests, const Clock& clock, PolicySource policy,
          std::function<void()> wake_grants);

  // Stages a transition of a request read at `read_version` with its effects; returns the
  // request as stored (its version advanced). Published after the commit. A transition that
  // ends a grant (it queues the revocation) opens the request's post-incident review.
  core::Request ApplyTransition(Tx& tx, const core::Transition& t, int64_t read_version);

  // Stages a review's transition: the review (its version as read; 0 opens it), then its audit
  // events and alerts, about `request` (the reviewed request; empty for an offline kit use).
  void ApplyReview(Tx& tx, const core::ReviewTransition& t, const core::Request& request);
  // Stages a campaign's transition: the campaign, then its audit events and alerts.
  void ApplyCampaign(Tx& tx, const core::CampaignTransition& t);

  // Stages "alert.raised" in `tx` (kind, recipients, message and `details`) and its
  // publication to the recipients after the commit. `request` may be empty.
  void StageAlert(Tx& tx, const core::Alert& alert, std::map<std::string, std::string> details,
                  const core::Request& request);

  // An alert for the policy's security contacts (expanded; none without a policy).
  core::Alert SecurityAlert(const std::string& kind, const std::string& message,
                            const RequestId& request) const;

  std::shared_ptr<const core::Policy> policy() const { return policy_(); }

 private:
  void Stage(Tx& tx, const std::vector<core::Effect>& effects, const core::Request& r);
  void OnCommitted(const core::Request& r);

  EventBus& events_;
  RequestCache& requests_;
  const Clock& clock_;
  PolicySource policy_;
  std::function<void()> wake_grants_;
};

}  // namespace bg::service
