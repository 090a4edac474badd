#include "api/page_routes.h"

#include <nlohmann/json.hpp>

#include "api/page_assets.h"
#include "api/web_session.h"
#include "core/approval_groups.h"
#include "core/request.h"
#include "service/audit_log.h"
#include "service/local_time.h"
#include "service/request_json.h"
#include "util/encoding.h"

namespace bg::api {

using nlohmann::json;

namespace {

std::string_view ContentType(std::string_view name) {
  auto ends = [&](std::string_view ext) {
    return name.size() >= ext.size() && name.substr(name.size() - ext.size()) == ext;
  };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".js")) return "text/javascript; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".svg")) return "image/svg+xml";
  if (ends(".json") || ends(".webmanifest")) return "application/manifest+json";
  return "application/octet-stream";
}

const PageAsset* FindAsset(std::string_view name) {
  for (const PageAsset& a : PageAssets()) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

bool AcceptsGzip(const HttpRequest& req) {
  auto it = req.headers.find("accept-encoding");
  return it != req.headers.end() && it->second.find("gzip") != std::string::npos;
}

HttpResponse PageResponse(const HttpRequest& req, const PageAsset& asset, std::string cache_control,
                          std::string_view csp = kPageCsp) {
  HttpResponse r;
  r.content_type = std::string(ContentType(asset.name));
  if (AcceptsGzip(req)) {
    r.body = std::string(asset.gzip);
    r.headers.emplace_back("Content-Encoding", "gzip");
  } else {
    r.body = std::string(asset.bytes);
  }
  r.headers.emplace_back("Vary", "Accept-Encoding");
  r.headers.insert(r.headers.end(), {{"Content-Security-Policy", std::string(csp)},
                                     {"X-Frame-Options", "DENY"},
                                     {"Referrer-Policy", "no-referrer"},
                                     {"Cross-Origin-Opener-Policy", "same-origin"},
                                     {"Cross-Origin-Resource-Policy", "same-origin"},
                                     {"Cache-Control", std::move(cache_control)}});
  return r;
}

// What the page's script will ask for first on this path, announced in a Link header so the
// browser fetches it beside the script instead of after it (one round trip less on a slow
// network). The URLs are exactly those app.js fetches.
std::vector<std::string> FirstCalls(const std::string& path) {
  std::vector<std::string> calls = {"/v1/me"};
  if (path == "/" || path == "/inbox") calls.push_back("/v1/requests?state=pending&limit=200");
  if (path == "/grants") calls.push_back("/v1/requests?mine=true&limit=50");
  if (path == "/reviews") calls.push_back("/v1/reviews?state=open&limit=200");
  if (path == "/grants" || path == "/new" || path.rfind("/requests/", 0) == 0) {
    calls.push_back("/v1/request-options");
  }
  return calls;
}

}  // namespace

void AddPageRoutes(Api& api, service::Service& service) {
  auto index = [&service](Call& c) {
    const PageAsset* html = FindAsset("index.html");
    if (!html) return (void)c.w->Send(Api::ErrorResponse(Error::NotFound("this build has no page")));
    HttpResponse r = PageResponse(c.req, *html, "no-store");
    // Only for a live session: a preloaded 401 would be what the script's first call after
    // logging in reads.
    std::optional<std::string> token = SessionCookieToken(c.req);
    if (!token || !service.Authenticate(*token, c.req.remote_address)) {
      return (void)c.w->Send(std::move(r));
    }
    std::string link;
    for (const std::string& url : FirstCalls(c.req.path)) {
      link += (link.empty() ? "<" : ", <") + url + ">; rel=preload; as=fetch; crossorigin";
    }
    if (c.req.path.rfind("/requests/", 0) == 0) {
      // The request itself (the id is one path segment of URL-safe characters, or not linked).
      const std::string& id = c.Param("id");
      if (id.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") ==
          std::string::npos) {
        link += ", </v1/requests/" + id + ">; rel=preload; as=fetch; crossorigin";
        link += ", </v1/requests/" + id + "/timeline>; rel=preload; as=fetch; crossorigin";
      }
    }
    r.headers.emplace_back("Link", link);
    c.w->Send(std::move(r));
  };
  for (const char* path : {"/", "/requests/{id}", "/inbox", "/new", "/grants", "/audit", "/health",
                           "/passkeys", "/reviews", "/reviews/{id}"}) {
    Route r = MakeRoute("GET", path, Access::kAnonymous, RecordingScope::kRefused, false, index);
    r.label = "page";
    api.AddRoute(std::move(r));
  }
  Route replay = MakeRoute("GET", "/sessions/{id}/replay", Access::kAnonymous,
                           RecordingScope::kRefused, false, [](Call& c) {
    const PageAsset* html = FindAsset("replay.html");
    if (!html) return (void)c.w->Send(Api::ErrorResponse(Error::NotFound("this build has no page")));
    c.w->Send(PageResponse(c.req, *html, "no-store", kReplayCsp));
  });
  replay.label = "page";
  api.AddRoute(std::move(replay));
  Route assets = MakeRoute("GET", "/assets/{name}", Access::kAnonymous, RecordingScope::kRefused,
                           false, [](Call& c) {
    const PageAsset* a = FindAsset(c.Param("name"));
    if (!a || a->name == "index.html" || a->name == "replay.html") {
      return (void)c.w->Send(Api::ErrorResponse(Error::NotFound("no such asset")));
    }
    c.w->Send(PageResponse(c.req, *a, "no-cache"));
  });
  api.AddRoute(std::move(assets));

  // A request's audit entries with their inclusion proofs against the current signed
  // checkpoint, for whoever may see the request: the page checks them itself (app.js) against
  // the checkpoint's root and signature.
  api.AddRoute(MakeRoute("GET", "/v1/requests/{id}/timeline", Access::kAuthenticated,
                         RecordingScope::kRefused, false, [&service](Call& c) {
    RequestId id(c.Param("id"));
    if (auto r = service.Get(*c.actor, id); !r) return (void)c.w->Send(Api::ErrorResponse(r.error()));
    auto trail = service.audit().TrailOf(id, 1000);
    if (!trail) return (void)c.w->Send(Api::ErrorResponse(trail.error()));
    json out = service::TrailJson(*trail, service.audit().VerifierKey());
    out["request"] = id.value();
    c.w->Send(Api::JsonResponse(200, out.dump()));
  }));

  // What the caller may ask for: one entry per rule that lets them, lowest tier first, with
  // what that rule needs, and the settings the form checks before sending.
  api.AddRoute(MakeRoute("GET", "/v1/request-options", Access::kAuthenticated,
                         RecordingScope::kRefused, false, [&service](Call& c) {
    auto policy = service.policy();
    const std::string& me = c.actor->name;
    json options = json::array();
    for (const core::Resource& res : policy->resources) {
      // How a grant is used: an SSH certificate, a one-time credential, or nothing to fetch.
      connector::Connector* conn = service.connectors().Find(res.connector);
      const char* use = conn == nullptr                    ? "none"
                        : conn->AsSshIssuer() != nullptr   ? "ssh"
                        : conn->AsCredentialSource() != nullptr ? "credential"
                                                           : "none";
      for (const std::string& privilege : res.privileges) {
        for (const core::Rule* rule : policy->MatchingRules(me, res.name, privilege)) {
          json groups = json::array();
          if (rule->tier >= 2) {
            for (const auto& g : core::GroupsOf(*rule)) groups.push_back(service::GroupJson(g));
          }
          options.push_back({{"resource", res.name},
                             {"connector", res.connector},
                             {"use", use},
                             {"privilege", privilege},
                             {"tier", rule->tier},
                             {"max_duration", rule->max_duration.count()},
                             {"approval_window", rule->approval_window.count()},
                             {"mfa_max_age", rule->mfa_max_age.count()},
                             {"emergency_allowed", rule->emergency_auto_approve},
                             {"approver_mfa", rule->approver_passkey ? "passkey" : "any"},
                             {"recording", std::string(core::ToString(rule->recording))},
                             {"groups", groups}});
        }
      }
    }
    const auto& s = policy->settings;
    service::LocalTime lt = service::ToLocalTime(service.clock().Now(), s.timezone);
    core::RiskInputs now;
    now.local_weekday = lt.weekday;
    now.local_minute = lt.minute;
    // As the request workflow will judge it: an address this person has not used before.
    auto used = service.store().HasUsedSource(me, c.actor->source_address);
    if (!used) return (void)c.w->Send(Api::ErrorResponse(used.error()));
    json out = {{"options", options},
                {"reason_min_length", s.reason_min_length},
                {"ticket_pattern", s.ticket_pattern},
                {"timezone", s.timezone},
                {"off_hours_now", core::OffHours(s, now)},
                {"new_source_now", !*used && !c.actor->source_address.empty()},
                {"risk",
                 {{"off_hours_extra_approvals", policy->risk.off_hours_extra_approvals},
                  {"new_source_extra_approvals", policy->risk.new_source_extra_approvals},
                  {"burst_threshold", policy->risk.burst_threshold},
                  {"burst_extra_approvals", policy->risk.burst_extra_approvals}}}};
    c.w->Send(Api::JsonResponse(200, out.dump()));
  }));
}

void AddSinkRoutes(Api& api, const service::Sinks* sinks) {
  Route r = MakeRoute("GET", "/v1/sinks", Access::kRoles, RecordingScope::kRefused, false,
                      [sinks](Call& c) {
    json list = json::array();
    if (sinks != nullptr) {
      for (const auto& e : sinks->Stats()) {
        // Not the target: a Slack or webhook URL may itself be the secret.
        list.push_back({{"name", e.name},
                        {"delivered", e.stats.delivered},
                        {"failures", e.stats.failures},
                        {"consecutive_failures", e.stats.consecutive_failures},
                        {"backlog", e.stats.backlog},
                        {"failing", e.stats.failing},
                        {"last_error", e.stats.last_error}});
      }
    }
    c.w->Send(Api::JsonResponse(200, json{{"sinks", list}}.dump()));
  });
  r.roles = {core::Role::kAuditor, core::Role::kAdmin};
  r.role_refusal = "sinks' delivery state is readable by auditors and admins";
  api.AddRoute(std::move(r));
}

}  // namespace bg::api
