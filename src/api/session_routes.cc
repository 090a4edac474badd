#include "api/session_routes.h"

#include <nlohmann/json.hpp>

#include "api/bodies.h"
#include "api/json.h"
#include "service/sessions.h"
#include "util/random.h"

namespace bg::api {
namespace {

using nlohmann::json;

json SessionJson(const store::SessionRecord& s, bool detail) {
  json j = {{"id", s.id.value()},
            {"request_id", s.request.value()},
            {"user", s.user},
            {"started_at", FormatRfc3339(s.started_at)}};
  if (s.ended_at) j["ended_at"] = FormatRfc3339(*s.ended_at);
  j["complete"] = s.complete;
  if (detail) {
    j["chunks"] = s.chunks;
    j["bytes"] = s.bytes;
    j["end_reason"] = s.end_reason;
  }
  return j;
}

HttpResponse Out(int status, const json& j) { return Api::JsonResponse(status, j.dump()); }

HttpResponse Refusal(const Error& e) {
  HttpResponse r = Api::ErrorResponse(e);
  if (e.code() == ErrorCode::kResourceExhausted) r.status = 413;  // an oversized chunk
  return r;
}

// The upload of chunk `body` to session `id`.
service::ChunkUpload ToUpload(const std::string& id, ChunkBody body) {
  service::ChunkUpload up;
  up.session = SessionId(id);
  up.seq = body.seq;
  up.data = std::move(body.data);
  up.sha256 = std::move(body.sha256);
  up.final = body.final;
  up.ended_at = body.ended_at;
  up.end_reason = std::move(body.end_reason);
  if (body.create) {
    up.create = service::NewSession{up.session, RequestId(std::move(body.create->request_id)),
                                    std::move(body.create->header)};
  }
  return up;
}

// What every handler here starts with.
#define BG_SESSION_CALL(c)                                                \
  [[maybe_unused]] HttpRequest& req = (c).req;                           \
  [[maybe_unused]] std::shared_ptr<ResponseWriter>& w = (c).w;           \
  [[maybe_unused]] const core::Actor& actor = *(c).actor;                \
  [[maybe_unused]] auto fail = [&w](const Error& e) { w->Send(Refusal(e)); }

Route SessionRoute(std::string method, std::string pattern, RecordingScope recording,
                   RouteHandler handler) {
  Route r;
  r.method = std::move(method);
  r.pattern = std::move(pattern);
  r.access = Access::kAuthenticated;
  r.recording = recording;
  r.method_hint = true;
  r.handler = std::move(handler);
  return r;
}

}  // namespace

void AddSessionRoutes(Api& api, service::Service& svc) {
  api.AddRoute(SessionRoute("GET", "/v1/sessions", RecordingScope::kRefused, [&svc](Call& c) {
    BG_SESSION_CALL(c);
      std::optional<RequestId> request;
      if (auto it = req.query.find("request"); it != req.query.end() && !it->second.empty()) {
        request = RequestId(it->second);
      }
      auto list = service::ListSessions(svc, actor, request);
      if (!list) return fail(list.error());
      json arr = json::array();
      for (const auto& s : *list) arr.push_back(SessionJson(s, false));
      w->Send(Out(200, {{"sessions", arr}}));
  }));
  api.AddRoute(SessionRoute("POST", "/v1/sessions", RecordingScope::kAllowed, [&svc](Call& c) {
    BG_SESSION_CALL(c);
      auto body = DecodeNewSession(req.body);
      if (!body) return fail(body.error());
      service::NewSession ns;
      ns.id = SessionId(body->id.empty() ? NewId("ses") : body->id);
      ns.request = RequestId(body->request_id);
      ns.header = std::move(body->header);
      service::CreateSession(svc, actor, std::move(ns), [w](Result<store::SessionRecord> r) {
        if (!r) return (void)w->Send(Refusal(r.error()));
        w->Send(Out(201, SessionJson(*r, true)));
      });
  }));
  api.AddRoute(SessionRoute("GET", "/v1/sessions/{id}", RecordingScope::kRefused, [&svc](Call& c) {
    BG_SESSION_CALL(c);
    const SessionId id(c.Param("id"));
    auto s = service::GetSession(svc, actor, id);
    if (!s) return fail(s.error());
    w->Send(Out(200, SessionJson(*s, true)));
  }));
  api.AddRoute(SessionRoute("POST", "/v1/sessions/{id}/chunks", RecordingScope::kAllowed,
                            [&svc](Call& c) {
    BG_SESSION_CALL(c);
    auto body = DecodeChunk(req.body);
    if (!body) return fail(body.error());
    service::AppendSessionChunk(svc, actor, ToUpload(c.Param("id"), std::move(*body)), [w](Result<service::ChunkReceipt> r) {
      if (!r) return (void)w->Send(Refusal(r.error()));
      w->Send(Out(r->duplicate ? 200 : 201, {{"session", r->session.value()},
                                            {"seq", r->seq},
                                            {"sha256", r->sha256},
                                            {"bytes", r->bytes},
                                            {"duplicate", r->duplicate},
                                            {"complete", r->complete}}));
    });
  }));
  api.AddRoute(SessionRoute("GET", "/v1/sessions/{id}/recording", RecordingScope::kRefused,
                            [&svc](Call& c) {
    BG_SESSION_CALL(c);
    const SessionId id(c.Param("id"));
    auto cast = service::Recording(svc, actor, id);
    if (!cast) return fail(cast.error());
    HttpResponse r;
    r.content_type = "application/x-asciicast";
    r.body = std::move(*cast);
    r.headers.emplace_back("Content-Disposition",
                           "attachment; filename=\"" + id.value() + ".cast\"");
    w->Send(std::move(r));
  }));
  // POST /v1/requests/{id}/recording-token -> {"token", "expires_at", "request_id"}.
  api.AddRoute(SessionRoute("POST", "/v1/requests/{id}/recording-token", RecordingScope::kRefused,
                            [&svc](Call& c) {
    BG_SESSION_CALL(c);
  if (auto body = DecodeRecordingToken(req.body); !body) return fail(body.error());
  const std::string& id = c.Param("id");
  // A request the caller may not see does not exist for them (404, as for a missing one).
  if (auto visible = svc.Get(actor, RequestId(id)); !visible) return fail(visible.error());
  auto issued = svc.IssueRecordingToken(actor, RequestId(id));
  if (!issued) return fail(issued.error());
  w->Send(NoStore(Out(201, {{"token", std::string(issued->token.Reveal())},
                            {"expires_at", FormatRfc3339(issued->expires_at)},
                            {"request_id", id}})));
  }));
}

}  // namespace bg::api
