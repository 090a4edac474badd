// Post-incident review: the rules, as pure functions (no I/O, no clock).
//
// Every request whose grant ends (expired or revoked: an emergency auto-approval and a tier-1
// self-approval end that way too) opens exactly one review, due `review_within` after the end,
// needing `reviewers` verdicts. A reviewer is an auditor who was neither the requester nor an
// approver of that request (of its main round or of an extension). Verdicts: appropriate,
// appropriate_with_findings, inappropriate (findings required; alerts the security contacts).
// A review is done when it has the verdicts it needs; an open review past its deadline is
// overdue (audited and alerted once). With `block_on_overdue_inappropriate`, a person with an
// `inappropriate` verdict on a review of theirs that is still open past its deadline may make
// no new non-emergency request.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/policy.h"
#include "core/request.h"
#include "util/ids.h"
#include "util/result.h"
#include "util/time.h"

namespace bg::core {

enum class ReviewVerdict { kAppropriate, kAppropriateWithFindings, kInappropriate };
std::string_view ToString(ReviewVerdict v);  // "appropriate", ..., "inappropriate"
std::optional<ReviewVerdict> ParseReviewVerdict(std::string_view s);

enum class ReviewState { kOpen, kDone };
std::string_view ToString(ReviewState s);  // "open", "done"
std::optional<ReviewState> ParseReviewState(std::string_view s);

struct ReviewEntry {
  std::string reviewer;
  ReviewVerdict verdict = ReviewVerdict::kAppropriate;
  std::string findings;
  std::string follow_up_ticket;
  Timestamp at;
};

struct Review {
  std::string id;
  RequestId request;
  std::string requester;      // whose grant it reviews
  std::string trigger;        // "expired" or "revoked"
  Timestamp opened_at;
  Timestamp due_at;
  int reviewers_needed = 1;
  std::vector<ReviewEntry> verdicts;
  ReviewState state = ReviewState::kOpen;
  bool overdue_alerted = false;  // the overdue alert was raised
  int64_t version = 0;           // bumped by the store on every write
  // A reconciled offline kit use (trigger "offline_use"): the offline record's id; `request` is
  // empty and `requester` is who used the kit.
  std::string kit_record = {};
  bool HasInappropriate() const;
  // What the review is about, unique among reviews: the request id, or "kit:<record id>".
  std::string Subject() const;
};

struct ReviewTransition {
  Review review;
  std::vector<Effect> effects;  // audit events and alerts (request = the reviewed request)
};

// The review a transition that ended `r` opens, or nullopt when `r` has not ended a grant
// (still in flight; denied, cancelled or timed out before anything was granted). `id` names it.
std::optional<ReviewTransition> OpenReview(const Request& r, std::string id, Timestamp now);

struct SubmitVerdict {
  ReviewVerdict verdict = ReviewVerdict::kAppropriate;
  std::string findings;
  std::string follow_up_ticket;
};

// A reviewer's verdict. PermissionDenied for anyone but an auditor, for the requester and for
// an approver of the request; Conflict for a closed review or a second verdict of one reviewer;
// InvalidArgument (field "findings") for `inappropriate` without findings.
// `r` is the reviewed request, null for an offline kit use.
Result<ReviewTransition> SubmitReview(const Policy& policy, const Review& review,
                                      const Request* r, const Actor& reviewer,
                                      SubmitVerdict verdict, Timestamp now);

// The review's deadline passed while it is open: review.overdue and an alert to the security
// contacts, once. Otherwise the review unchanged and no effects.
ReviewTransition OnReviewDue(const Policy& policy, const Review& review, Timestamp now);

// The review a reconciled offline kit use opens: due `review_within` after `now`, one reviewer.
struct OfflineUse {
  std::string record_id;
  std::string who;
  std::string kit_id;
  std::string ticket;
};
ReviewTransition OpenOfflineUseReview(const OfflineUse& use, std::string id, Seconds review_within,
                                      Timestamp now);

// Whether `reviewer` may give a verdict on reviews of `r` (auditor, neither requester nor
// approver).
Status CheckReviewer(const Request& r, const Actor& reviewer);
// The same for `review`: of its request `r` when it has one (null for an offline kit use,
// whose only party is the person who used the kit).
Status CheckReviewer(const Review& review, const Request* r, const Actor& reviewer);

// With policy.settings.block_on_overdue_inappropriate: refuses (FailedPrecondition) a new
// non-emergency request of a person having any of `their_reviews` open past its deadline with
// an inappropriate verdict.
Status CheckNotBlockedByReviews(const Policy& policy, const std::vector<Review>& their_reviews,
                                bool emergency, Timestamp now);

}  // namespace bg::core
