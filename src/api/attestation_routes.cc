#include "api/attestation_routes.h"

#include <nlohmann/json.hpp>

#include "api/bodies.h"
#include "api/json.h"
#include "service/attestations.h"

namespace bg::api {
namespace {

using nlohmann::json;

HttpResponse CampaignOut(int status, const core::Campaign& c) {
  return Api::JsonResponse(
      status, service::Attestations::ToJson(c).dump(-1, ' ', false, json::error_handler_t::replace));
}

auto CampaignCallback(std::shared_ptr<ResponseWriter> w, int status) {
  return [w, status](Result<core::Campaign> r) {
    if (!r) return (void)w->Send(Api::ErrorResponse(r.error()));
    w->Send(CampaignOut(status, *r));
  };
}

Route AttestRoute(std::string method, std::string pattern, RouteHandler handler) {
  return MakeRoute(std::move(method), std::move(pattern), Access::kAuthenticated,
                   RecordingScope::kRefused, true, std::move(handler));
}

}  // namespace

void AddAttestationRoutes(Api& api, service::Service& svc) {
  Route open = MakeRoute("POST", "/v1/attestations", Access::kRoles, RecordingScope::kRefused,
                         true, [&svc](Call& c) {
    auto body = ParseObject(c.req.body, {"scope", "due"}, {"scope"});
    if (!body) return (void)c.w->Send(Api::ErrorResponse(body.error()));
    auto scope_name = GetString(*body, "scope");
    if (!scope_name) return (void)c.w->Send(Api::ErrorResponse(scope_name.error()));
    auto scope = core::ParseAttestScope(*scope_name);
    if (!scope) {
      return (void)c.w->Send(
          Api::ErrorResponse(Error::InvalidArgument("scope", "must be pools or eligibility")));
    }
    Seconds due = std::chrono::hours(24 * 14);
    if (body->contains("due")) {
      auto d = GetDuration(*body, "due");
      if (!d) return (void)c.w->Send(Api::ErrorResponse(d.error()));
      due = *d;
    }
    svc.attestations()->Open(*c.actor, *scope, due, CampaignCallback(c.w, 201));
  });
  open.roles = {core::Role::kAdmin, core::Role::kAuditor};
  open.role_refusal = "attestation campaigns are opened by admins and auditors";
  api.AddRoute(std::move(open));

  api.AddRoute(AttestRoute("GET", "/v1/attestations", [&svc](Call& c) {
    std::optional<core::CampaignState> state;
    if (auto it = c.req.query.find("state"); it != c.req.query.end() && !it->second.empty()) {
      state = core::ParseCampaignState(it->second);
      if (!state) {
        return (void)c.w->Send(
            Api::ErrorResponse(Error::InvalidArgument("state", "must be open or closed")));
      }
    }
    auto list = svc.attestations()->List(*c.actor, state);
    if (!list) return (void)c.w->Send(Api::ErrorResponse(list.error()));
    json arr = json::array();
    for (const core::Campaign& x : *list) arr.push_back(service::Attestations::ToJson(x));
    c.w->Send(Api::JsonResponse(
        200, json{{"campaigns", std::move(arr)}}.dump(-1, ' ', false, json::error_handler_t::replace)));
  }));

  api.AddRoute(AttestRoute("GET", "/v1/attestations/{id}", [&svc](Call& c) {
    std::string format = "json";
    if (auto it = c.req.query.find("format"); it != c.req.query.end() && !it->second.empty()) {
      format = it->second;
    }
    if (format != "json" && format != "csv") {
      return (void)c.w->Send(
          Api::ErrorResponse(Error::InvalidArgument("format", "must be json or csv")));
    }
    auto got = svc.attestations()->Get(*c.actor, c.Param("id"));
    if (!got) return (void)c.w->Send(Api::ErrorResponse(got.error()));
    if (format == "json") return (void)c.w->Send(CampaignOut(200, *got));
    HttpResponse r;
    r.content_type = "text/csv; charset=utf-8";
    r.body = service::Attestations::ToCsv(*got);
    c.w->Send(std::move(r));
  }));

  api.AddRoute(AttestRoute("POST", "/v1/attestations/{id}/items/{item}", [&svc](Call& c) {
    auto body = ParseObject(c.req.body, {"answer", "note"}, {"answer"});
    if (!body) return (void)c.w->Send(Api::ErrorResponse(body.error()));
    auto name = GetString(*body, "answer");
    if (!name) return (void)c.w->Send(Api::ErrorResponse(name.error()));
    auto answer = core::ParseAttestAnswer(*name);
    if (!answer) {
      return (void)c.w->Send(
          Api::ErrorResponse(Error::InvalidArgument("answer", "must be confirm or remove")));
    }
    auto note = GetString(*body, "note");
    if (!note) return (void)c.w->Send(Api::ErrorResponse(note.error()));
    svc.attestations()->Answer(*c.actor, c.Param("id"), c.Param("item"), *answer, *note,
                               CampaignCallback(c.w, 200));
  }));
}

}  // namespace bg::api
