#include "api/drill_routes.h"

#include <nlohmann/json.hpp>

#include "api/bodies.h"
#include "service/drills.h"

namespace bg::api {
namespace {

using nlohmann::json;

Route DrillRoute(std::string method, std::string pattern, RouteHandler handler) {
  return MakeRoute(std::move(method), std::move(pattern), Access::kAuthenticated,
                   RecordingScope::kRefused, true, std::move(handler));
}

const std::string* Query(const HttpRequest& req, const char* key) {
  auto it = req.query.find(key);
  return it == req.query.end() || it->second.empty() ? nullptr : &it->second;
}

Result<Timestamp> Since(const HttpRequest& req, Timestamp now) {
  if (const std::string* s = Query(req, "since")) return ParseRfc3339(*s, "since");
  return now - std::chrono::hours(24 * 90);
}

void Send(Call& c, int status, const json& body) {
  c.w->Send(Api::JsonResponse(status, body.dump(-1, ' ', false, json::error_handler_t::replace)));
}

}  // namespace

void AddDrillRoutes(Api& api, service::Service& svc) {
  api.AddRoute(DrillRoute("POST", "/v1/drills", [&svc](Call& c) {
    auto body = DecodeDrill(c.req.body);
    if (!body) return (void)c.w->Send(Api::ErrorResponse(body.error()));
    if (svc.drills() == nullptr) {
      return (void)c.w->Send(Api::ErrorResponse(Error::Unavailable("drills are not running")));
    }
    auto started = svc.drills()->Start(*c.actor, body->resource, body->privilege);
    if (!started) return (void)c.w->Send(Api::ErrorResponse(started.error()));
    Send(c, 202, service::Drills::ToJson(*started));
  }));
  api.AddRoute(DrillRoute("GET", "/v1/drills", [&svc](Call& c) {
    if (svc.drills() == nullptr) {
      return (void)c.w->Send(Api::ErrorResponse(Error::Unavailable("drills are not running")));
    }
    store::DrillFilter f;
    if (const std::string* r = Query(c.req, "resource")) f.resource = *r;
    if (Query(c.req, "since") != nullptr) {
      auto since = Since(c.req, svc.clock().Now());
      if (!since) return (void)c.w->Send(Api::ErrorResponse(since.error()));
      f.since = *since;
    }
    auto limit = QueryInt(c.req, "limit", 100);
    if (!limit) return (void)c.w->Send(Api::ErrorResponse(limit.error()));
    if (*limit < 1 || *limit > 1000) {
      return (void)c.w->Send(
          Api::ErrorResponse(Error::InvalidArgument("limit", "must be 1 to 1000")));
    }
    f.limit = static_cast<int>(*limit);
    auto list = svc.drills()->List(*c.actor, f);
    if (!list) return (void)c.w->Send(Api::ErrorResponse(list.error()));
    json arr = json::array();
    for (const store::DrillRecord& d : *list) arr.push_back(service::Drills::ToJson(d));
    Send(c, 200, {{"drills", std::move(arr)}});
  }));
  api.AddRoute(DrillRoute("GET", "/v1/drills/report", [&svc](Call& c) {
    if (svc.drills() == nullptr) {
      return (void)c.w->Send(Api::ErrorResponse(Error::Unavailable("drills are not running")));
    }
    auto since = Since(c.req, svc.clock().Now());
    if (!since) return (void)c.w->Send(Api::ErrorResponse(since.error()));
    std::optional<std::string> resource;
    if (const std::string* r = Query(c.req, "resource")) resource = *r;
    auto report = svc.drills()->Report(*c.actor, resource, *since);
    if (!report) return (void)c.w->Send(Api::ErrorResponse(report.error()));
    Send(c, 200, *report);
  }));
  api.AddRoute(DrillRoute("GET", "/v1/drills/{id}", [&svc](Call& c) {
    if (svc.drills() == nullptr) {
      return (void)c.w->Send(Api::ErrorResponse(Error::Unavailable("drills are not running")));
    }
    auto d = svc.drills()->Get(*c.actor, c.Param("id"));
    if (!d) return (void)c.w->Send(Api::ErrorResponse(d.error()));
    Send(c, 200, service::Drills::ToJson(*d));
  }));
}

}  // namespace bg::api
