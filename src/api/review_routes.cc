#include "api/review_routes.h"

#include <nlohmann/json.hpp>

#include "api/bodies.h"
#include "api/json.h"
#include "service/reviews.h"

namespace bg::api {
namespace {

using nlohmann::json;

Route ReviewRoute(std::string method, std::string pattern, RouteHandler handler) {
  Route r = MakeRoute(std::move(method), std::move(pattern), Access::kRoles,
                      RecordingScope::kRefused, true, std::move(handler));
  r.roles = {core::Role::kAuditor, core::Role::kAdmin};
  r.role_refusal = "reviews are for auditors and admins";
  return r;
}

Result<store::ReviewFilter> ParseFilter(const HttpRequest& req) {
  store::ReviewFilter f;
  auto text = [&](const char* key) -> const std::string* {
    auto it = req.query.find(key);
    return it == req.query.end() || it->second.empty() ? nullptr : &it->second;
  };
  if (const std::string* st = text("state")) {
    auto state = core::ParseReviewState(*st);
    if (!state) return Error::InvalidArgument("state", "must be open or done");
    f.state = *state;
  }
  if (const std::string* r = text("request_id")) f.subject = *r;
  if (const std::string* p = text("requester")) f.requester = *p;
  if (const std::string* a = text("after")) f.after_id = *a;
  BG_ASSIGN_OR_RETURN(int64_t limit, QueryInt(req, "limit", 100));
  if (limit < 1 || limit > 1000) return Error::InvalidArgument("limit", "must be 1 to 1000");
  f.limit = static_cast<int>(limit);
  return f;
}

Result<core::SubmitVerdict> ParseVerdict(const std::string& body) {
  BG_ASSIGN_OR_RETURN(json obj,
                      ParseObject(body, {"verdict", "findings", "follow_up_ticket"}, {"verdict"}));
  BG_ASSIGN_OR_RETURN(std::string name, GetString(obj, "verdict"));
  auto verdict = core::ParseReviewVerdict(name);
  if (!verdict) {
    return Error::InvalidArgument(
        "verdict", "must be appropriate, appropriate_with_findings or inappropriate");
  }
  core::SubmitVerdict v;
  v.verdict = *verdict;
  BG_ASSIGN_OR_RETURN(v.findings, GetString(obj, "findings"));
  BG_ASSIGN_OR_RETURN(v.follow_up_ticket, GetString(obj, "follow_up_ticket"));
  return v;
}

}  // namespace

void AddReviewRoutes(Api& api, service::Service& svc) {
  api.AddRoute(ReviewRoute("GET", "/v1/reviews", [&svc](Call& c) {
    auto filter = ParseFilter(c.req);
    if (!filter) return (void)c.w->Send(Api::ErrorResponse(filter.error()));
    auto list = svc.reviews()->List(*c.actor, *filter);
    if (!list) return (void)c.w->Send(Api::ErrorResponse(list.error()));
    const Timestamp now = svc.clock().Now();
    json arr = json::array();
    for (const core::Review& r : *list) {
      json j = service::Reviews::ToJson(r, now);
      j["may_review"] = svc.reviews()->MayReview(*c.actor, r);
      arr.push_back(std::move(j));
    }
    json out = {{"reviews", std::move(arr)}};
    if (static_cast<int>(list->size()) == filter->limit) out["next"] = list->back().id;
    c.w->Send(Api::JsonResponse(200, out.dump(-1, ' ', false, json::error_handler_t::replace)));
  }));
  api.AddRoute(ReviewRoute("GET", "/v1/reviews/{id}", [&svc](Call& c) {
    auto detail = svc.reviews()->Detail(*c.actor, c.Param("id"));
    if (!detail) return (void)c.w->Send(Api::ErrorResponse(detail.error()));
    c.w->Send(
        Api::JsonResponse(200, detail->dump(-1, ' ', false, json::error_handler_t::replace)));
  }));
  api.AddRoute(ReviewRoute("POST", "/v1/reviews/{id}", [&svc](Call& c) {
    auto verdict = ParseVerdict(c.req.body);
    if (!verdict) return (void)c.w->Send(Api::ErrorResponse(verdict.error()));
    auto w = c.w;
    const Clock& clock = svc.clock();
    svc.reviews()->Submit(*c.actor, c.Param("id"), std::move(*verdict),
                          [w, &clock](Result<core::Review> r) {
                            if (!r) return (void)w->Send(Api::ErrorResponse(r.error()));
                            w->Send(Api::JsonResponse(
                                200, service::Reviews::ToJson(*r, clock.Now()).dump(
                                         -1, ' ', false, json::error_handler_t::replace)));
                          });
  }));
}

}  // namespace bg::api
