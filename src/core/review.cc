#include "core/review.h"

#include <fmt/format.h>

#include <algorithm>

namespace bg::core {
namespace {

AuditEvent Audit(std::string type, std::string_view actor, const Review& rv,
                 std::map<std::string, std::string> details) {
  details["review"] = rv.id;
  if (!rv.kit_record.empty()) details["record_id"] = rv.kit_record;
  return AuditEvent{std::move(type), std::string(actor), rv.request, std::move(details)};
}

bool ApprovedBy(const Request& r, std::string_view name) {
  auto by = [&](const Approval& a) { return a.approver == name; };
  if (std::any_of(r.approvals.begin(), r.approvals.end(), by)) return true;
  return r.extension && std::any_of(r.extension->approvals.begin(),
                                    r.extension->approvals.end(), by);
}

std::vector<std::string> SecurityContacts(const Policy& policy) {
  return policy.Expand(policy.settings.security_contacts);
}

}  // namespace

std::string_view ToString(ReviewVerdict v) {
  switch (v) {
    case ReviewVerdict::kAppropriate: return "appropriate";
    case ReviewVerdict::kAppropriateWithFindings: return "appropriate_with_findings";
    case ReviewVerdict::kInappropriate: return "inappropriate";
  }
  return "unknown";
}

std::optional<ReviewVerdict> ParseReviewVerdict(std::string_view s) {
  for (ReviewVerdict v : {ReviewVerdict::kAppropriate, ReviewVerdict::kAppropriateWithFindings,
                          ReviewVerdict::kInappropriate}) {
    if (ToString(v) == s) return v;
  }
  return std::nullopt;
}

std::string_view ToString(ReviewState s) { return s == ReviewState::kOpen ? "open" : "done"; }

std::optional<ReviewState> ParseReviewState(std::string_view s) {
  if (s == "open") return ReviewState::kOpen;
  if (s == "done") return ReviewState::kDone;
  return std::nullopt;
}

bool Review::HasInappropriate() const {
  return std::any_of(verdicts.begin(), verdicts.end(), [](const ReviewEntry& e) {
    return e.verdict == ReviewVerdict::kInappropriate;
  });
}

std::optional<ReviewTransition> OpenReview(const Request& r, std::string id, Timestamp now) {
  const bool ended_grant = r.state == RequestState::kExpired || r.state == RequestState::kRevoked;
  if (!ended_grant) return std::nullopt;
  ReviewTransition t;
  Review& rv = t.review;
  rv.id = std::move(id);
  rv.request = r.id;
  rv.requester = r.requester;
  rv.trigger = std::string(ToString(r.state));
  rv.opened_at = now;
  rv.due_at = r.review_due.value_or(now + r.review_within);
  rv.reviewers_needed = std::max(1, r.reviewers);
  std::string why = r.auto_approved ? "emergency" : r.self_approved ? "self_approved" : "approved";
  t.effects.push_back(Audit("review.opened", kSystemActor, rv,
                            {{"trigger", rv.trigger},
                             {"granted_by", why},
                             {"due_at", FormatRfc3339(rv.due_at)},
                             {"reviewers_needed", std::to_string(rv.reviewers_needed)}}));
  return t;
}

std::string Review::Subject() const {
  return kit_record.empty() ? request.value() : "kit:" + kit_record;
}

ReviewTransition OpenOfflineUseReview(const OfflineUse& use, std::string id, Seconds review_within,
                                      Timestamp now) {
  ReviewTransition t;
  Review& rv = t.review;
  rv.id = std::move(id);
  rv.requester = use.who;
  rv.trigger = "offline_use";
  rv.kit_record = use.record_id;
  rv.opened_at = now;
  rv.due_at = now + review_within;
  rv.reviewers_needed = 1;
  t.effects.push_back(Audit("review.opened", kSystemActor, rv,
                            {{"trigger", rv.trigger},
                             {"granted_by", "offline_kit"},
                             {"record_id", use.record_id},
                             {"kit_id", use.kit_id},
                             {"ticket", use.ticket},
                             {"used_by", use.who},
                             {"due_at", FormatRfc3339(rv.due_at)},
                             {"reviewers_needed", "1"}}));
  return t;
}

Status CheckReviewer(const Review& review, const Request* r, const Actor& reviewer) {
  if (!reviewer.Has(Role::kAuditor)) {
    return Error::PermissionDenied("you need the auditor role to review grants");
  }
  if (reviewer.name == review.requester || (r != nullptr && reviewer.name == r->requester)) {
    return Error::PermissionDenied("you cannot review your own grant");
  }
  if (r != nullptr && ApprovedBy(*r, reviewer.name)) {
    return Error::PermissionDenied("you approved this request and cannot review it");
  }
  return Ok();
}

Status CheckReviewer(const Request& r, const Actor& reviewer) {
  Review rv;
  rv.requester = r.requester;
  return CheckReviewer(rv, &r, reviewer);
}

Result<ReviewTransition> SubmitReview(const Policy& policy, const Review& review,
                                      const Request* r, const Actor& reviewer,
                                      SubmitVerdict verdict, Timestamp now) {
  BG_TRY(CheckReviewer(review, r, reviewer));
  if (review.state != ReviewState::kOpen) {
    return Error::Conflict("this review is closed: it has all the verdicts it needs");
  }
  if (std::any_of(review.verdicts.begin(), review.verdicts.end(),
                  [&](const ReviewEntry& e) { return e.reviewer == reviewer.name; })) {
    return Error::Conflict("you already gave a verdict on this review");
  }
  verdict.findings = Trim(verdict.findings);
  verdict.follow_up_ticket = Trim(verdict.follow_up_ticket);
  if (verdict.verdict != ReviewVerdict::kAppropriate && verdict.findings.empty()) {
    return Error::InvalidArgument(
        "findings", fmt::format("a verdict of '{}' needs findings saying what was wrong",
                                ToString(verdict.verdict)));
  }
  ReviewTransition t{review, {}};
  Review& rv = t.review;
  rv.verdicts.push_back(ReviewEntry{reviewer.name, verdict.verdict, verdict.findings,
                                    verdict.follow_up_ticket, now});
  std::map<std::string, std::string> details = {
      {"verdict", std::string(ToString(verdict.verdict))},
      {"findings", verdict.findings},
      {"verdicts", std::to_string(rv.verdicts.size())},
      {"reviewers_needed", std::to_string(rv.reviewers_needed)}};
  if (!verdict.follow_up_ticket.empty()) details["follow_up_ticket"] = verdict.follow_up_ticket;
  t.effects.push_back(Audit("review.verdict", reviewer.name, rv, std::move(details)));
  if (verdict.verdict == ReviewVerdict::kInappropriate) {
    const std::string what =
        r != nullptr ? fmt::format("use of '{}' on '{}' ({})", r->privilege, r->resource, r->ticket)
                     : fmt::format("offline kit use {}", rv.kit_record);
    t.effects.push_back(Alert{"review_inappropriate", rv.request, SecurityContacts(policy),
                              fmt::format("{} found {}'s {} inappropriate: {}", reviewer.name,
                                          rv.requester, what, verdict.findings)});
  }
  if (static_cast<int>(rv.verdicts.size()) >= rv.reviewers_needed) {
    rv.state = ReviewState::kDone;
    t.effects.push_back(Audit("review.closed", reviewer.name, rv,
                              {{"verdicts", std::to_string(rv.verdicts.size())},
                               {"inappropriate", rv.HasInappropriate() ? "true" : "false"},
                               {"late", now >= rv.due_at ? "true" : "false"}}));
  }
  return t;
}

ReviewTransition OnReviewDue(const Policy& policy, const Review& review, Timestamp now) {
  ReviewTransition t{review, {}};
  if (review.state != ReviewState::kOpen || review.overdue_alerted || now < review.due_at) {
    return t;
  }
  Review& rv = t.review;
  rv.overdue_alerted = true;
  std::vector<std::string> contacts = SecurityContacts(policy);
  t.effects.push_back(Audit("review.overdue", kSystemActor, rv,
                            {{"due_at", FormatRfc3339(rv.due_at)},
                             {"verdicts", std::to_string(rv.verdicts.size())},
                             {"reviewers_needed", std::to_string(rv.reviewers_needed)},
                             {"alerted", fmt::format("{}", fmt::join(contacts, ","))}}));
  t.effects.push_back(Alert{"review_overdue", rv.request, std::move(contacts),
                            fmt::format("the review of {}'s grant {} was due at {} and has {} of "
                                        "{} verdicts",
                                        rv.requester, rv.Subject(),
                                        FormatRfc3339(rv.due_at), rv.verdicts.size(),
                                        rv.reviewers_needed)});
  return t;
}

Status CheckNotBlockedByReviews(const Policy& policy, const std::vector<Review>& their_reviews,
                                bool emergency, Timestamp now) {
  if (!policy.settings.block_on_overdue_inappropriate || emergency) return Ok();
  for (const Review& rv : their_reviews) {
    if (rv.state == ReviewState::kOpen && now >= rv.due_at && rv.HasInappropriate()) {
      return Error::FailedPrecondition(fmt::format(
          "new requests are blocked: the review {} of your grant {} found it inappropriate and is "
          "open past its deadline ({}); emergency access stays available",
          rv.id, rv.Subject(), FormatRfc3339(rv.due_at)));
    }
  }
  return Ok();
}

}  // namespace bg::core
