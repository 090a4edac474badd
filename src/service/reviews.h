// Post-incident reviews in the shell: the queue, a reviewer's verdict and the deadline watch.
// The rules are core/review.h; a review opens in the transaction that ends its grant
// (Effects::ApplyTransition) or reconciles an offline kit use (OpenOfflineUse).
//
// Who sees what: auditors and admins read every review; a verdict needs the auditor role and
// someone who was neither the requester nor an approver of that request (core::CheckReviewer).
// Everyone else gets PermissionDenied.
//
// Thread-safe. Submit's callback runs on the writer thread after the commit.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/review.h"
#include "service/background.h"
#include "service/effects.h"
#include "store/store.h"
#include "util/result.h"
#include "util/time.h"

namespace bg::service {

class AuditLog;
class Tx;
class Writer;
template <typename T>
using Callback = std::function<void(Result<T>)>;

class Reviews {
 public:
  Reviews(store::Store& store, Writer& writer, const Clock& clock, Effects& effects,
          AuditLog& audit);
  ~Reviews();

  // Auditors and admins only.
  Result<std::vector<core::Review>> List(const core::Actor& actor, store::ReviewFilter filter);
  // The review and what a reviewer looks at: the request (approvals, risk signals), connector
  // actions, recorded sessions and the timeline, each with its verification against the
  // signed checkpoint (see ReviewDetailJson in reviews.cc for the shape; docs/reviews.md).
  Result<nlohmann::json> Detail(const core::Actor& actor, const std::string& id);
  void Submit(const core::Actor& actor, std::string id, core::SubmitVerdict verdict,
              Callback<core::Review> cb);

  // Whether `actor` may give a verdict on `review` now (its request read from the store).
  bool MayReview(const core::Actor& actor, const core::Review& review);

  // Every open review past its deadline that has not been escalated yet: review.overdue and an
  // alert to the security contacts (core::OnReviewDue), one writer transaction each. Returns
  // how many were escalated once they committed.
  Result<int> EscalateOverdue();
  // Open reviews past their deadline (for /metrics and status).
  Result<int64_t> OverdueCount();
  // Runs EscalateOverdue every `interval` on its own thread until Stop.
  void Start(Seconds interval);
  void Stop();

  // The review a reconciled offline kit use opens, staged in `tx` with its audit event (no
  // alert: the reconciliation alerts by itself).
  static void OpenOfflineUse(Tx& tx, const core::OfflineUse& use, Seconds review_within);

  // The review as the API shows it: {"id","request_id","due_at","state","reviewers_needed",
  // "verdicts":[...], ...}.
  static nlohmann::json ToJson(const core::Review& r, Timestamp now);

 private:
  Status CheckReader(const core::Actor& actor) const;

  store::Store& store_;
  Writer& writer_;
  const Clock& clock_;
  Effects& effects_;
  AuditLog& audit_;
  Periodic watch_;
};

}  // namespace bg::service
