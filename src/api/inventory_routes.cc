#include "api/inventory_routes.h"

#include <nlohmann/json.hpp>

#include "api/bodies.h"
#include "api/json.h"
#include "service/inventory.h"
#include "service/writer.h"

namespace bg::api {
namespace {

using nlohmann::json;

Route InventoryRoute(std::string method, std::string pattern, std::vector<core::Role> roles,
                     std::string refusal, RouteHandler handler) {
  Route r = MakeRoute(std::move(method), std::move(pattern), Access::kRoles,
                      RecordingScope::kRefused, true, std::move(handler));
  r.roles = std::move(roles);
  r.role_refusal = std::move(refusal);
  return r;
}

// Reviews of each resource's grants with a verdict other than appropriate: still open, or
// closed within the last 90 days.
Result<std::map<std::string, int>> OpenFindings(service::Service& svc, Timestamp now) {
  std::map<std::string, int> out;
  store::ReviewFilter f;
  f.limit = 1000;
  BG_ASSIGN_OR_RETURN(auto reviews, svc.store().ListReviews(f));
  for (const core::Review& rv : reviews) {
    const bool findings = std::any_of(rv.verdicts.begin(), rv.verdicts.end(), [](const auto& v) {
      return v.verdict != core::ReviewVerdict::kAppropriate;
    });
    if (!findings || rv.request.empty()) continue;
    if (rv.state == core::ReviewState::kDone && rv.opened_at + std::chrono::hours(24 * 90) < now) {
      continue;
    }
    BG_ASSIGN_OR_RETURN(auto r, svc.store().GetRequest(rv.request));
    if (r) ++out[r->resource];
  }
  return out;
}

}  // namespace

void AddInventoryRoutes(Api& api, service::Service& svc, connectors::ConnectorHealth* health) {
  api.AddRoute(InventoryRoute(
      "GET", "/v1/inventory", {core::Role::kAdmin, core::Role::kAuditor},
      "the inventory is for admins and auditors", [&svc, health](Call& c) {
        std::string format = "json";
        if (auto it = c.req.query.find("format"); it != c.req.query.end() && !it->second.empty()) {
          format = it->second;
        }
        if (format != "json" && format != "csv") {
          return (void)c.w->Send(
              Api::ErrorResponse(Error::InvalidArgument("format", "must be json or csv")));
        }
        auto policy = svc.policy();
        service::InventoryInputs in;
        in.policy = policy.get();
        in.now = svc.clock().Now();
        auto users = svc.store().ListUsers();
        auto legacy = svc.store().GetMeta(service::kLegacyPathsMeta);
        auto findings = OpenFindings(svc, in.now);
        auto drills = svc.store().LastSuccessfulDrills();
        if (!users || !legacy || !findings || !drills) {
          return (void)c.w->Send(Api::ErrorResponse(
              !users    ? users.error()
              : !legacy ? legacy.error()
              : !findings ? findings.error()
                          : drills.error()));
        }
        in.last_drill = std::move(*drills);
        auto paths = service::DecodeLegacyPaths(*legacy);
        if (!paths) return (void)c.w->Send(Api::ErrorResponse(paths.error()));
        in.users = std::move(*users);
        in.legacy = std::move(*paths);
        in.open_findings = std::move(*findings);
        if (health) {
          for (const auto& s : health->Snapshot()) {
            in.probes[s.connector] = service::ProbeInfo{s.state, s.last_success};
          }
        }
        json inv = service::BuildInventory(in);
        if (format == "json") return (void)c.w->Send(Api::JsonResponse(200, inv.dump()));
        HttpResponse r;
        r.content_type = "text/csv; charset=utf-8";
        r.body = service::InventoryCsv(inv);
        c.w->Send(std::move(r));
      }));
  api.AddRoute(InventoryRoute(
      "POST", "/v1/inventory/legacy", {core::Role::kAdmin}, "legacy paths are recorded by admins",
      [&svc](Call& c) {
        auto body = ParseObject(c.req.body, {"description", "resource", "decommission_by"},
                                {"description", "resource", "decommission_by"});
        if (!body) return (void)c.w->Send(Api::ErrorResponse(body.error()));
        auto d = GetString(*body, "description");
        auto r = GetString(*body, "resource");
        auto by = GetString(*body, "decommission_by");
        if (!d || !r || !by) {
          return (void)c.w->Send(Api::ErrorResponse(!d ? d.error() : !r ? r.error() : by.error()));
        }
        auto path = service::NewLegacyPath(*svc.policy(), *d, *r, *by, c.actor->name,
                                           svc.clock().Now());
        if (!path) return (void)c.w->Send(Api::ErrorResponse(path.error()));
        auto w = c.w;
        svc.SubmitWrite(
            [p = *path](service::Tx& tx) -> Status {
              BG_ASSIGN_OR_RETURN(auto meta, tx.GetMeta(service::kLegacyPathsMeta));
              BG_ASSIGN_OR_RETURN(auto paths, service::DecodeLegacyPaths(meta));
              paths.push_back(p);
              tx.PutMeta(service::kLegacyPathsMeta, service::EncodeLegacyPaths(paths));
              tx.Audit(core::AuditEvent{"inventory.legacy_added", p.added_by, RequestId(),
                                        {{"id", p.id},
                                         {"description", p.description},
                                         {"resource", p.resource},
                                         {"decommission_by", p.decommission_by}}});
              return Ok();
            },
            [w, p = *path](Status s) {
              if (!s) return (void)w->Send(Api::ErrorResponse(s.error()));
              w->Send(Api::JsonResponse(201, json{{"id", p.id},
                                                  {"description", p.description},
                                                  {"resource", p.resource},
                                                  {"decommission_by", p.decommission_by}}
                                                 .dump()));
            });
      }));
  api.AddRoute(InventoryRoute(
      "DELETE", "/v1/inventory/legacy/{id}", {core::Role::kAdmin},
      "legacy paths are recorded by admins", [&svc](Call& c) {
        auto w = c.w;
        const std::string id = c.Param("id");
        const std::string actor = c.actor->name;
        svc.SubmitWrite(
            [id, actor](service::Tx& tx) -> Status {
              BG_ASSIGN_OR_RETURN(auto meta, tx.GetMeta(service::kLegacyPathsMeta));
              BG_ASSIGN_OR_RETURN(auto paths, service::DecodeLegacyPaths(meta));
              auto it = std::find_if(paths.begin(), paths.end(),
                                     [&](const service::LegacyPath& l) { return l.id == id; });
              if (it == paths.end()) return Error::NotFound("no legacy path " + id);
              core::AuditEvent ev{"inventory.legacy_removed", actor, RequestId(),
                                  {{"id", id}, {"description", it->description},
                                   {"resource", it->resource}}};
              paths.erase(it);
              tx.PutMeta(service::kLegacyPathsMeta, service::EncodeLegacyPaths(paths));
              tx.Audit(ev);
              return Ok();
            },
            [w, id](Status s) {
              if (!s) return (void)w->Send(Api::ErrorResponse(s.error()));
              w->Send(Api::JsonResponse(200, json{{"removed", id}}.dump()));
            });
      }));
}

}  // namespace bg::api
