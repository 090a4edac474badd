// The /v1/reviews routes (post-incident reviews, service/reviews.h), for auditors and admins:
//   GET  /v1/reviews?state=open|done&request_id=&requester=&limit=&after=
//        -> {"reviews": [{"id","request_id","due_at","state","reviewers_needed","verdicts",
//            "requester","trigger","opened_at","overdue","may_review"}], "next"?: id}
//   GET  /v1/reviews/{id}  -> the review with "request", "connector_actions", "sessions" and
//                             "timeline" (verified against the signed checkpoint, with proofs)
//   POST /v1/reviews/{id}  {"verdict", "findings"?, "follow_up_ticket"?} -> 200 the review;
//        403 for the requester or an approver of that request (or anyone not an auditor), 400
//        for an unknown verdict or one other than appropriate without findings, 409 for a
//        closed review or a second verdict of the same reviewer, 404 for an unknown id.
#pragma once

#include "api/api.h"
#include "service/service.h"

namespace bg::api {

void AddReviewRoutes(Api& api, service::Service& svc);

}  // namespace bg::api
