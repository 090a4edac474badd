#include "api/api.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <array>
#include <chrono>
#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>
#include <string_view>
#include <unordered_map>

#include "api/bodies.h"
#include "api/event_streams.h"
#include "api/json.h"
#include "api/passkey_routes.h"
#include "api/web_session.h"
#include "audit/event.h"
#include "auth/token.h"
#include "core/approval_groups.h"
#include "metrics/metrics.h"
#include "service/audit_log.h"
#include "util/encoding.h"

namespace bg::api {

using nlohmann::json;

namespace {

HttpResponse JsonOut(int status, const json& body) {
  HttpResponse r;
  r.status = status;
  r.content_type = "application/json";
  r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  return r;
}

}  // namespace

HttpResponse NoStore(HttpResponse r) {
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}


HttpResponse Api::JsonResponse(int status, const std::string& json_body) {
  HttpResponse r;
  r.status = status;
  r.content_type = "application/json";
  r.body = json_body;
  return r;
}

HttpResponse Api::ErrorResponse(const Error& e) {
  HttpResponse r;
  r.status = HttpStatus(e.code());
  r.content_type = "application/json";
  r.body = ErrorBody(e);
  if (e.code() == ErrorCode::kUnauthenticated) {
    r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"breakglass\"");
  }
  if (r.status == 429) {  // every 429 says when to come back (at least a second from now)
    r.headers.emplace_back("Retry-After",
                           std::to_string(std::max<int64_t>(1, e.retry_after_seconds())));
  }
  return r;
}

Result<int64_t> QueryInt(const HttpRequest& req, const std::string& key, std::optional<int64_t> fallback) {
  auto it = req.query.find(key);
  if (it == req.query.end() || it->second.empty()) {
    if (fallback) return *fallback;
    return Error::InvalidArgument(key, "is required");
  }
  const std::string& v = it->second;
  if (v.size() > 18 || v.find_first_not_of("0123456789") != std::string::npos) {
    return Error::InvalidArgument(key, "must be a non-negative integer");
  }
  return std::stoll(v);
}

// The JSON of GET /v1/requests/{id}, rendered once per request version: the store bumps the
// version on every write and ToJson reads nothing but the request (visibility is checked
// before, so the bytes do not depend on who asks), so the bytes rendered for (id, version)
// stay right until the version moves. One per Api. Bounded: the whole cache is dropped when it
// is full. Thread-safe.
class RenderedRequests {
 public:
  std::string Body(const core::Request& r) {
    {
      std::lock_guard lock(mu_);
      auto it = bodies_.find(std::string_view(r.id.value()));
      if (it != bodies_.end() && it->second.version == r.version) return it->second.body;
    }
    std::string body = ToJson(r).dump();
    std::lock_guard lock(mu_);
    if (bodies_.size() >= kMaxEntries) bodies_.clear();
    auto& entry = bodies_[r.id.value()];
    // Two readers may race to render; keep the newest version.
    if (entry.version <= r.version) entry = Entry{r.version, body};
    return body;
  }

 private:
  static constexpr size_t kMaxEntries = 4096;
  struct Entry {
    int64_t version = -1;
    std::string body;
  };
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  std::mutex mu_;
  std::unordered_map<std::string, Entry, Hash, std::equal_to<>> bodies_;
};

Api::Api(service::Service& service)
    : service_(service),
      router_([&service](const std::string& token, const std::string& source) {
        return service.Authenticate(token, source);
      }),
      rendered_(std::make_unique<RenderedRequests>()),
      events_(std::make_unique<EventStreams>(service)) {
  auto& reg = service_.metrics();
  if (auto h = reg.AddHistogram("breakglass_http_request_duration_seconds",
                                "HTTP request latency by route.", metrics::DefaultLatencyBuckets(),
                                {"method", "route"})) {
    latency_ = *h;
  }
  if (auto c = reg.AddCounter("breakglass_http_responses_total", "HTTP responses by status code.",
                              {"method", "route", "code"})) {
    responses_ = *c;
  }
  if (auto c = reg.AddCounter("breakglass_sse_streams_dropped_total",
                              "Event streams closed because their reader fell too far behind.",
                              {})) {
    streams_dropped_ = *c;
  }
  if (auto c =
          reg.AddCounter("breakglass_http_connections_refused_total",
                         "Connections closed at accept because a connection limit was reached, "
                         "by reason (connection_limit, per_source_limit).",
                         {"reason"})) {
    connections_refused_ = *c;
    for (auto r : {http::Refusal::kConnectionLimit, http::Refusal::kPerSourceLimit}) {
      connections_refused_->Inc({std::string(http::ToString(r))}, 0);  // shown from the start
    }
  }
  if (auto c = reg.AddCounter("breakglass_http_timeouts_total",
                              "Connections closed because a deadline passed, by deadline "
                              "(handshake, headers, body, idle, write).",
                              {"deadline"})) {
    connection_timeouts_ = *c;
    for (auto d : {http::Deadline::kHandshake, http::Deadline::kHeaders, http::Deadline::kBody,
                   http::Deadline::kIdle, http::Deadline::kWrite}) {
      connection_timeouts_->Inc({std::string(http::ToString(d))}, 0);
    }
  }
  AddBuiltInRoutes();
  AddPasskeyRoutes(*this, service_);
  router_.SetFallback([this](Call& c) {
    // An unknown path: without a token only /v1 asks for one; with one, the token is checked
    // first (and a recording credential is fenced) so the answer tells a stranger nothing.
    if (c.req.headers.find("authorization") == c.req.headers.end() &&
        c.req.path.rfind("/v1/", 0) != 0) {
      return (void)c.w->Send(ErrorResponse(Error::NotFound("no such path")));
    }
    auto actor = router_.Authenticate(c);
    if (!actor) return;
    if (actor->recording_grant) return (void)c.w->Send(ErrorResponse(Router::RecordingRefusal(*actor)));
    c.w->Send(ErrorResponse(Error::NotFound("no such path or method: " + c.req.method + " " + c.req.path)));
  });
}

Api::~Api() = default;

void Api::AddRoute(Route route) {
  if (auto st = router_.Add(std::move(route)); !st) {
    throw std::logic_error("route table: " + st.error().message());  // a programming error
  }
}

namespace {
// The method labels; the last is everything else.
constexpr std::array<std::string_view, 8> kMethodLabels = {"GET",   "POST", "PUT",     "DELETE",
                                                           "PATCH", "HEAD", "OPTIONS", "other"};
size_t MethodIndex(std::string_view method) {
  size_t i = 0;
  while (i + 1 < kMethodLabels.size() && kMethodLabels[i] != method) ++i;
  return i;
}
}  // namespace

std::string Api::MethodLabel(const std::string& method) {
  return std::string(kMethodLabels[MethodIndex(method)]);
}

void Api::OnStreamDropped() {
  if (streams_dropped_) streams_dropped_->Inc();
}

void Api::OnConnectionRefused(http::Refusal reason) {
  if (connections_refused_) connections_refused_->Inc({std::string(http::ToString(reason))});
}

void Api::OnConnectionTimeout(http::Deadline deadline) {
  if (connection_timeouts_) connection_timeouts_->Inc({std::string(http::ToString(deadline))});
}

void Api::OnComplete(const HttpRequest& req, int status, double seconds) {
  // Every response is counted: through series handles found by (route, method, status)
  // numbers, so that the usual response costs no label strings, lock or map lookup.
  const size_t route_index = router_.LabelIndex(req.path);
  const size_t method_index = MethodIndex(req.method);
  const std::string& route = router_.LabelOf(route_index);
  const std::string_view method = kMethodLabels[method_index];
  const uint64_t series = route_index * kMethodLabels.size() + method_index;
  if (latency_) {
    auto make = [&] { return latency_->For({std::string(method), route}); };
    if (auto h = series_->latency.Find(series, make)) {
      h.Observe(seconds);
    } else {
      latency_->Observe(seconds, {std::string(method), route});
    }
  }
  if (responses_) {
    const auto labels = [&]() -> metrics::LabelValues {
      return {std::string(method), route, std::to_string(status)};
    };
    metrics::CounterSeries h;
    if (status >= 0 && status < 1000) {
      h = series_->responses.Find(series * 1000 + status,
                                  [&] { return responses_->For(labels()); });
    }
    if (h) {
      h.Inc();
    } else {
      responses_->Inc(labels());
    }
  }
  // Successful requests are logged at debug level (the histogram above counts them); refusals
  // and errors at info, so an operator sees them without paying a write per request.
  spdlog::log(
      status >= 400 ? spdlog::level::info : spdlog::level::debug,
      "{{\"event\":\"http.request\",\"method\":\"{}\",\"route\":\"{}\",\"status\":{},"
      "\"duration_ms\":{:.3f},\"remote\":\"{}\"}}",
      method, route, status, seconds * 1000, req.remote_address);
}

void Api::Handle(HttpRequest req, std::shared_ptr<ResponseWriter> w) {
  try {
    router_.Handle(req, w);
  } catch (const std::exception& e) {
    spdlog::error("{{\"event\":\"http.internal_error\",\"route\":\"{}\"}}", router_.Label(req.path));
    w->Send(ErrorResponse(Error::Internal("internal error")));
  }
}

namespace {

// What every built-in handler starts with: the request, the answer channel, the caller.
#define BG_CALL_PREAMBLE(c)                                              \
  [[maybe_unused]] HttpRequest& req = (c).req;                          \
  [[maybe_unused]] std::shared_ptr<ResponseWriter>& w = (c).w;          \
  [[maybe_unused]] auto send_error = [&w](const Error& e) { w->Send(Api::ErrorResponse(e)); }

auto RequestCallback(std::shared_ptr<ResponseWriter> w, int status) {
  return [w, status](Result<core::Request> r) {
    if (!r) {
      w->Send(Api::ErrorResponse(r.error()));
      return;
    }
    w->Send(JsonOut(status, ToJson(*r)));
  };
}

}  // namespace

void Api::AddBuiltInRoutes() {
  // ---- unauthenticated ----
  AddRoute(MakeRoute("GET", "/healthz", Access::kAnonymous, RecordingScope::kRefused, false,
            [](Call& c) { c.w->Send(JsonOut(200, {{"status", "ok"}})); }));
  AddRoute(MakeRoute("GET", "/readyz", Access::kAnonymous, RecordingScope::kRefused, false,
            [this](Call& c) {
              bool ready = service_.Ready();
              c.w->Send(JsonOut(ready ? 200 : 503, {{"status", ready ? "ready" : "starting"}}));
            }));
  AddRoute(MakeRoute("GET", "/metrics", Access::kAnonymous, RecordingScope::kRefused, false,
            [this](Call& c) {
              HttpResponse r;
              r.content_type = std::string(metrics::Registry::kContentType);
              r.body = service_.metrics().Render();
              c.w->Send(r);
            }));
  AddRoute(MakeRoute("GET", "/v1/openapi.json", Access::kAnonymous, RecordingScope::kRefused, false,
            [](Call& c) {
              HttpResponse r;
              r.body = std::string(OpenApiDocument());
              c.w->Send(r);
            }));
  AddRoute(MakeRoute("POST", "/v1/auth/login", Access::kAnonymous, RecordingScope::kRefused, true,
            [this](Call& c) {
    BG_CALL_PREAMBLE(c);
    auto body = DecodeLogin(req.body);
    if (!body) return send_error(body.error());
    if (body->cookie) {
      if (auto st = CheckPageLogin(req); !st) return send_error(st.error());
    }
    auto lr = service_.Login(body->username, Secret(body->password), body->totp, req.remote_address);
    if (!lr) return send_error(lr.error());
    return (void)w->Send(LoginAnswer(*lr, body->cookie, service_.clock().Now()));
  }));

  // ---- authenticated ----
  AddRoute(MakeRoute("GET", "/v1/me", Access::kAuthenticated, RecordingScope::kAllowed, false,
            [](Call& c) {
    BG_CALL_PREAMBLE(c);
    const core::Actor& actor = *c.actor;
    json roles = json::array();
    for (auto r : actor.roles) roles.push_back(std::string(core::ToString(r)));
    json me = {{"user", actor.name}, {"roles", roles},
               {"mfa_verified_at", actor.mfa_verified_at ? json(FormatRfc3339(*actor.mfa_verified_at))
                                                         : json(nullptr)}};
    // The page's session: the CSRF token its state-changing calls carry (web_session.h).
    if (c.via_cookie) me["csrf"] = CsrfToken(c.token);
    return (void)w->Send(NoStore(JsonOut(200, me)));
  }));
  AddRoute(MakeRoute("POST", "/v1/auth/renew", Access::kAuthenticated, RecordingScope::kRefused, false,
            [this](Call& c) {
    BG_CALL_PREAMBLE(c);
    auto lr = service_.Renew(*c.actor, c.token, req.remote_address);
    if (!lr) return send_error(lr.error());
    return (void)w->Send(LoginAnswer(*lr, c.via_cookie, service_.clock().Now()));
  }));
  AddRoute(MakeRoute("POST", "/v1/auth/logout", Access::kAuthenticated, RecordingScope::kAllowed, false,
            [this](Call& c) {
    BG_CALL_PREAMBLE(c);
    if (auto s = service_.Logout(c.token); !s) return send_error(s.error());
    HttpResponse out = JsonOut(200, {{"status", "logged out"}});
    if (c.via_cookie) out.headers.emplace_back("Set-Cookie", ClearedSessionCookie());
    return (void)w->Send(std::move(out));
  }));

  AddRoute(MakeRoute("GET", "/v1/events", Access::kAuthenticated, RecordingScope::kRefused, false,
            [this](Call& c) {
              auto last = c.req.headers.find("last-event-id");
              events_->Open(*c.actor, c.token, c.w, last == c.req.headers.end() ? "" : last->second);
            }));

  AddRoute(MakeRoute("POST", "/v1/requests", Access::kAuthenticated, RecordingScope::kRefused, false,
            [this](Call& c) {
    BG_CALL_PREAMBLE(c);
    const core::Actor& actor = *c.actor;
      auto cmd = DecodeCreateRequest(req.body);
      if (!cmd) return send_error(cmd.error());
      return service_.Create(actor, std::move(*cmd), RequestCallback(w, 201));
  }));
  AddRoute(MakeRoute("GET", "/v1/requests", Access::kAuthenticated, RecordingScope::kRefused, false,
            [this](Call& c) {
    BG_CALL_PREAMBLE(c);
    const core::Actor& actor = *c.actor;
      store::RequestFilter filter;
      if (auto it = req.query.find("state"); it != req.query.end() && !it->second.empty()) {
        auto st = core::ParseRequestState(it->second);
        if (!st) return send_error(Error::InvalidArgument("state", "is not a request state"));
        filter.state = *st;
      }
      bool mine = false;
      if (auto it = req.query.find("mine"); it != req.query.end()) {
        if (it->second != "true" && it->second != "false" && it->second != "1" && it->second != "0") {
          return send_error(Error::InvalidArgument("mine", "must be true or false"));
        }
        mine = it->second == "true" || it->second == "1";
      }
      auto limit = QueryInt(req, "limit", 100);
      if (!limit) return send_error(limit.error());
      if (*limit < 1 || *limit > 1000) return send_error(Error::InvalidArgument("limit", "must be 1 to 1000"));
      filter.limit = static_cast<int>(*limit);
      if (auto it = req.query.find("before"); it != req.query.end()) filter.before_id = it->second;
      auto list = service_.List(actor, filter, mine);
      if (!list) return send_error(list.error());
      json arr = json::array();
      for (const auto& r : *list) arr.push_back(ToJson(r));
      return (void)w->Send(JsonOut(200, {{"requests", arr}}));
  }));
  AddRoute(MakeRoute("GET", "/v1/requests/{id}", Access::kAuthenticated, RecordingScope::kOwnGrant, false, [this](Call& c) {
    BG_CALL_PREAMBLE(c);
    const core::Actor& actor = *c.actor;
    RequestId id(c.Param("id"));
        auto shared = service_.GetShared(actor, id);
        if (!shared) return send_error(shared.error());
        const core::Request* r = shared->get();
        HttpResponse out;
        const bool deciding = r->state == core::RequestState::kPending ||
                              (r->state == core::RequestState::kActive && r->extension);
        if (!deciding) {
          out.body = rendered_->Body(*r);
          return (void)w->Send(std::move(out));
        }
        // While it waits for decisions: who may still approve toward each group, as the policy
        // names them and as their accounts are now (enabled, approver, TOTP enrolled). Not
        // cached: an account's state moves without the request's version.
        json j = ToJson(*r);
        const auto may = core::StillMayApprove(*service_.policy(), *r);
        for (size_t g = 0; g < may.size() && g < j["approval_groups"].size(); ++g) {
          json names = json::array();
          for (const std::string& name : may[g]) {
            auto u = service_.store().GetUser(name);
            if (u && *u && service::People::CanApproveNow(**u)) names.push_back(name);
          }
          j["approval_groups"][g]["may_approve"] = std::move(names);
        }
        out.body = j.dump(-1, ' ', false, json::error_handler_t::replace);
        return (void)w->Send(std::move(out));
  }));
  for (std::string action : {"approve", "deny", "cancel", "revoke", "extend"}) {
    AddRoute(MakeRoute("POST", "/v1/requests/{id}/" + action, Access::kAuthenticated, RecordingScope::kRefused, false, [this, action](Call& c) {
    BG_CALL_PREAMBLE(c);
    const core::Actor& actor = *c.actor;
    RequestId id(c.Param("id"));
        // A request the caller may not see does not exist for them (checked again inside the
        // decision's transaction; this read answers early from the cache).
        auto visible = service_.GetShared(actor, id);
        if (!visible) return send_error(visible.error());
        if (action == "approve" || action == "deny") {
          auto body = action == "approve" ? DecodeApprove(req.body) : DecodeDeny(req.body);
          if (!body) return send_error(body.error());
          // The code or passkey, the visibility and the decision: one transaction of the writer.
          if (action == "approve") {
            return service_.Approve(actor, id, body->text, RequestCallback(w, 200), body->totp,
                                    std::move(body->passkey));
          }
          return service_.Deny(actor, id, body->text, RequestCallback(w, 200), body->totp,
                               std::move(body->passkey));
        }
        if (action == "cancel") {
          if (auto body = DecodeCancel(req.body); !body) return send_error(body.error());
          return service_.Cancel(actor, id, RequestCallback(w, 200));
        }
        if (action == "revoke") {
          auto reason = DecodeRevoke(req.body);
          if (!reason) return send_error(reason.error());
          return service_.Revoke(actor, id, *reason, RequestCallback(w, 200));
        }
        if (action == "extend") {
          auto body = DecodeExtend(req.body);
          if (!body) return send_error(body.error());
          return service_.Extend(actor, id, body->duration, body->reason, RequestCallback(w, 200));
        }
    }));
  }

  // ---- the audit log: auditors and admins ----
  auto audit_route = [this](std::string pattern, RouteHandler handler) {
    Route r = MakeRoute("GET", std::move(pattern), Access::kRoles, RecordingScope::kRefused, false,
                        std::move(handler));
    r.roles = {core::Role::kAuditor, core::Role::kAdmin};
    r.role_refusal = "the audit log is readable by auditors and admins";
    AddRoute(std::move(r));
  };
  audit_route("/v1/audit/checkpoint", [this](Call& c) {
    BG_CALL_PREAMBLE(c);
    auto& audit = service_.audit();
      auto cp = audit.Checkpoint();
      if (!cp) return send_error(cp.error());
      HttpResponse r;
      r.content_type = "text/plain; charset=utf-8";
      r.body = cp->note;
      return (void)w->Send(r);
  });
  audit_route("/v1/audit/key", [this](Call& c) {
    BG_CALL_PREAMBLE(c);
    auto& audit = service_.audit();
      HttpResponse r;
      r.content_type = "text/plain; charset=utf-8";
      r.body = audit.VerifierKey() + "\n";
      return (void)w->Send(r);
  });
  audit_route("/v1/audit/entries", [this](Call& c) {
    BG_CALL_PREAMBLE(c);
    auto& audit = service_.audit();
      const int64_t size = audit.Size();
      auto start = QueryInt(req, "start", 0);
      if (!start) return send_error(start.error());
      auto end = QueryInt(req, "end", size);
      if (!end) return send_error(end.error());
      if (*start > *end) return send_error(Error::InvalidArgument("start", "must not exceed end"));
      if (*end > size) return send_error(Error::InvalidArgument("end", fmt::format("exceeds the log size {}", size)));
      constexpr int64_t kPage = 1000;
      const int64_t stop = std::min(*end, *start + kPage);
      auto leaves = service_.store().AuditLeaves(*start, stop);
      if (!leaves) return send_error(leaves.error());
      json entries = json::array();
      for (size_t i = 0; i < leaves->size(); ++i) {
        entries.push_back({{"index", *start + static_cast<int64_t>(i)},
                           {"leaf", Base64Encode((*leaves)[i])}});
      }
      json out = {{"entries", entries}, {"size", size}};
      out["next"] = stop < *end ? json(fmt::format("/v1/audit/entries?start={}&end={}", stop, *end))
                                : json(nullptr);
      return (void)w->Send(JsonOut(200, out));
  });
  audit_route("/v1/audit/proof/inclusion", [this](Call& c) {
    BG_CALL_PREAMBLE(c);
    auto& audit = service_.audit();
      auto index = QueryInt(req, "index", std::nullopt);
      if (!index) return send_error(index.error());
      auto size = QueryInt(req, "size", audit.Size());
      if (!size) return send_error(size.error());
      auto proof = audit.InclusionProof(*index, *size);
      if (!proof) return send_error(proof.error());
      json hashes = json::array();
      for (const auto& h : *proof) hashes.push_back(Base64Encode(h));
      return (void)w->Send(JsonOut(200, {{"index", *index}, {"size", *size}, {"hashes", hashes}}));
  });
  // Search, newest first: leaves before `before` (default: the end), at most kScan of them per
  // call, matching every filter given; `next` continues further back.
  audit_route("/v1/audit/search", [this](Call& c) {
    BG_CALL_PREAMBLE(c);
    constexpr int64_t kScan = 20000;
    auto text = [&](const char* key) {
      auto it = req.query.find(key);
      return it == req.query.end() ? std::string() : it->second;
    };
    const std::string actor = text("actor"), type = text("type"), request = text("request"),
                      resource = text("resource");
    std::optional<Timestamp> since, until;
    for (auto [key, out] : {std::pair{"since", &since}, std::pair{"until", &until}}) {
      if (text(key).empty()) continue;
      auto t = ParseRfc3339(text(key), key);
      if (!t) return send_error(t.error());
      *out = *t;
    }
    auto stored = service_.store().AuditSize();
    if (!stored) return send_error(stored.error());
    const int64_t size = *stored;
    auto before = QueryInt(req, "before", size);
    if (!before) return send_error(before.error());
    if (*before > size) return send_error(Error::InvalidArgument("before", fmt::format("exceeds the log size {}", size)));
    auto limit = QueryInt(req, "limit", 100);
    if (!limit) return send_error(limit.error());
    if (*limit < 1 || *limit > 1000) return send_error(Error::InvalidArgument("limit", "must be 1 to 1000"));
    const int64_t from = std::max<int64_t>(0, *before - kScan);
    auto leaves = service_.store().AuditLeaves(from, *before);
    if (!leaves) return send_error(leaves.error());
    std::map<std::string, std::string> resource_of;  // request id -> resource, read once each
    json entries = json::array();
    int64_t next = from;
    for (int64_t i = *before - 1; i >= from; --i) {
      auto e = audit::ParseLeaf((*leaves)[static_cast<size_t>(i - from)]);
      if (!e) continue;
      if (until && e->time > *until) continue;
      if (since && e->time < *since) {
        next = 0;  // older leaves are older still (appends are in time order)
        break;
      }
      if (!actor.empty() && e->actor != actor) continue;
      if (!type.empty() && e->type.rfind(type, 0) != 0) continue;
      const std::string rid = e->request ? e->request->value() : "";
      if (!request.empty() && rid != request) continue;
      if (!resource.empty()) {
        auto d = e->details.find("resource");
        std::string res = d != e->details.end() ? d->second : "";
        if (res.empty() && !rid.empty()) {
          auto known = resource_of.find(rid);
          if (known == resource_of.end()) {
            auto r = service_.store().GetRequest(RequestId(rid));
            known = resource_of.emplace(rid, r && *r ? (*r)->resource : "").first;
          }
          res = known->second;
        }
        if (res != resource) continue;
      }
      json details = json::object();
      for (const auto& [k, v] : e->details) details[k] = v;
      entries.push_back({{"index", i}, {"time", FormatRfc3339(e->time)}, {"type", e->type},
                         {"actor", e->actor}, {"request", rid.empty() ? json(nullptr) : json(rid)},
                         {"details", details}});
      if (static_cast<int64_t>(entries.size()) >= *limit) {
        next = i;
        break;
      }
    }
    return (void)w->Send(JsonOut(200, {{"entries", entries}, {"size", size},
                                      {"next_before", next > 0 ? json(next) : json(nullptr)}}));
  });
  audit_route("/v1/audit/proof/consistency", [this](Call& c) {
    BG_CALL_PREAMBLE(c);
    auto& audit = service_.audit();
      auto first = QueryInt(req, "first", std::nullopt);
      if (!first) return send_error(first.error());
      auto second = QueryInt(req, "second", audit.Size());
      if (!second) return send_error(second.error());
      auto proof = audit.ConsistencyProof(*first, *second);
      if (!proof) return send_error(proof.error());
      json hashes = json::array();
      for (const auto& h : *proof) hashes.push_back(Base64Encode(h));
      return (void)w->Send(JsonOut(200, {{"first", *first}, {"second", *second}, {"hashes", hashes}}));
  });
}

}  // namespace bg::api
