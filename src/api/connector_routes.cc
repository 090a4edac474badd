#include "api/connector_routes.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "api/bodies.h"
#include "api/json.h"
#include "service/recording_check.h"
#include "store/store.h"
#include "util/encoding.h"

namespace bg::api {

using nlohmann::json;

namespace {

HttpResponse Out(int status, const json& body) { return Api::JsonResponse(status, body.dump()); }

std::string QueryValue(const HttpRequest& req, const std::string& key) {
  auto it = req.query.find(key);
  return it == req.query.end() ? std::string() : it->second;
}

Result<connector::SshCertificateIssuer*> FindSshCa(service::Service& svc, const std::string& name) {
  std::vector<std::string> candidates;
  for (const auto& [n, cfg] : svc.config().connectors) {
    if (cfg.kind == "ssh_ca" && (name.empty() || n == name)) candidates.push_back(n);
  }
  if (candidates.empty()) {
    return Error::NotFound(name.empty() ? "no ssh_ca connector is configured"
                                        : "no ssh_ca connector named " + name);
  }
  if (candidates.size() > 1) {
    return Error::InvalidArgument("connector",
                                  "several ssh_ca connectors are configured: name one");
  }
  connector::Connector* c = svc.connectors().Find(candidates[0]);
  connector::SshCertificateIssuer* issuer = c == nullptr ? nullptr : c->AsSshIssuer();
  if (issuer == nullptr) return Error::Unavailable("ssh_ca connector is not running");
  return issuer;
}

// The request `id` as `actor` may see it, which must be the actor's own active grant.
Result<core::Request> OwnActiveGrant(service::Service& svc, const core::Actor& actor,
                                     const std::string& id) {
  BG_ASSIGN_OR_RETURN(core::Request r, svc.Get(actor, RequestId(id)));
  if (r.requester != actor.name) {
    return Error::PermissionDenied("only the requester may fetch the grant's credential");
  }
  if (!r.drill_id.empty()) {
    return Error::PermissionDenied(
        fmt::format("request {} is drill {}: its credential is used by the drill only", id,
                    r.drill_id));
  }
  if (r.state != core::RequestState::kActive) {
    return Error::FailedPrecondition(
        fmt::format("the request is {}, not active", core::ToString(r.state)));
  }
  return r;
}

json StatusJson(const service::Service& svc, const connectors::ProbeStatus& s) {
  auto cfg = svc.config().connectors.find(s.connector);
  return {{"connector", s.connector},
          {"sessions", cfg == svc.config().connectors.end()
                           ? std::string("none")
                           : service::SessionRecording(cfg->second)},
          {"kind", s.kind},
          {"state", s.state},
          {"ok", s.ok},
          {"error", s.error},
          {"last_probe", s.last_probe ? json(FormatRfc3339(*s.last_probe)) : json(nullptr)},
          {"last_success", s.last_success ? json(FormatRfc3339(*s.last_success)) : json(nullptr)},
          {"seconds", s.seconds}};
}

bool SeesOperations(const core::Actor& a) {
  return a.Has(core::Role::kAdmin) || a.Has(core::Role::kAuditor) || a.Has(core::Role::kApprover);
}

// What every handler here starts with.
#define BG_CONNECTOR_CALL(c)                                               \
  [[maybe_unused]] HttpRequest& req = (c).req;                            \
  [[maybe_unused]] std::shared_ptr<ResponseWriter>& w = (c).w;            \
  [[maybe_unused]] auto send_error = [&w](const Error& e) { w->Send(Api::ErrorResponse(e)); }

Route ConnectorRoute(std::string method, std::string pattern, Access access, RouteHandler handler,
                     std::vector<core::Role> roles = {}, std::string role_refusal = {}) {
  Route r;
  r.method = std::move(method);
  r.pattern = std::move(pattern);
  r.access = access;
  r.roles = std::move(roles);
  r.role_refusal = std::move(role_refusal);
  r.method_hint = true;
  r.handler = std::move(handler);
  return r;
}

}  // namespace

void AddConnectorRoutes(Api& api, service::Service& svc, connectors::ConnectorHealth* health) {
  auto public_key_material = [&svc](Call& c) {
    BG_CONNECTOR_CALL(c);
    const bool ca = req.path == "/v1/ssh/ca";
    auto c_ = FindSshCa(svc, QueryValue(req, "connector"));
    if (!c_) return send_error(c_.error());
    auto* ssh = *c_;
    HttpResponse r;
    r.headers.emplace_back("Cache-Control", "no-store");
    if (ca) {
      r.content_type = "text/plain; charset=utf-8";
      r.body = ssh->PublicKeyLine() + "\n";
    } else {
      auto bytes = ssh->Krl();
      if (!bytes) return send_error(bytes.error());
      r.content_type = "application/octet-stream";
      r.body = std::move(*bytes);
      r.headers.emplace_back("X-Krl-Version", std::to_string(ssh->krl_version()));
    }
    w->Send(std::move(r));
  };
  api.AddRoute(ConnectorRoute("GET", "/v1/ssh/ca", Access::kAnonymous, public_key_material));
  api.AddRoute(ConnectorRoute("GET", "/v1/ssh/krl", Access::kAnonymous, public_key_material));

  api.AddRoute(ConnectorRoute("POST", "/v1/requests/{id}/ssh-cert", Access::kAuthenticated,
                              [&svc](Call& call) {
    BG_CONNECTOR_CALL(call);
    const core::Actor& actor = *call.actor;
    const std::string& id = call.Param("id");
        auto key = DecodeSshCert(req.body);
        if (!key) return send_error(key.error());
        auto r = OwnActiveGrant(svc, actor, id);
        if (!r) return send_error(r.error());
        connector::Connector* found = svc.connectors().Find(r->connector);
        connector::SshCertificateIssuer* c = found == nullptr ? nullptr : found->AsSshIssuer();
        if (c == nullptr) {
          return send_error(Error::FailedPrecondition(
              "the grant's connector '" + r->connector + "' does not issue SSH certificates"));
        }
        auto cert = c->IssueCertificate(*r, *key);
        if (!cert) return send_error(cert.error());
        if (auto st = svc.AuditSshCertIssued(actor, *r, *key, cert->serial, {r->privilege},
                                             cert->valid_after, cert->valid_before);
            !st) {
          return send_error(st.error());  // not audited: the certificate does not leave
        }
        w->Send(Out(200, {{"certificate", cert->certificate},
                          {"serial", cert->serial},
                          {"valid_after", FormatRfc3339(cert->valid_after)},
                          {"valid_before", FormatRfc3339(cert->valid_before)}}));
  }));
  api.AddRoute(ConnectorRoute("GET", "/v1/requests/{id}/credentials", Access::kAuthenticated,
                              [&svc](Call& call) {
    BG_CONNECTOR_CALL(call);
    const core::Actor& actor = *call.actor;
    const std::string& id = call.Param("id");
        auto r = OwnActiveGrant(svc, actor, id);
        if (!r) return send_error(r.error());
        connector::Connector* found = svc.connectors().Find(r->connector);
        connector::CredentialSource* c = found == nullptr ? nullptr : found->AsCredentialSource();
        if (c == nullptr) {
          return send_error(Error::FailedPrecondition(
              "the grant's connector '" + r->connector + "' hands out no credential"));
        }
        auto cred = c->TakeCredential(*r);
        if (!cred) return send_error(cred.error());
        if (auto st = svc.AuditCredentialTaken(actor, *r); !st) return send_error(st.error());
        HttpResponse out = Api::JsonResponse(200, std::string(cred->Reveal()));
        out.headers.emplace_back("Cache-Control", "no-store");
        w->Send(std::move(out));
  }));
  Route listing = ConnectorRoute("GET", "/v1/connectors", Access::kAuthenticated, [&svc, health](Call& c) {
    BG_CONNECTOR_CALL(c);
    const core::Actor& actor = *c.actor;
      json list = json::array();
      if (health != nullptr) {
        for (const auto& s : health->Snapshot()) list.push_back(StatusJson(svc, s));
      }
      json out = {{"connectors", list}};
      if (SeesOperations(actor)) {
        auto jobs = svc.store().ListOutbox();
        if (!jobs) return send_error(jobs.error());
        json failing = json::array();
        for (const auto& j : *jobs) {
          if (j.attempts == 0) continue;
          failing.push_back({{"kind", j.kind},
                             {"request_id", j.request.value()},
                             {"attempts", j.attempts},
                             {"next_attempt", FormatRfc3339(j.next_attempt)},
                             {"last_error", j.last_error}});
        }
        out["failing_jobs"] = failing;
      }
      w->Send(Out(200, out));
  });
  listing.method_hint = false;
  api.AddRoute(std::move(listing));
  api.AddRoute(ConnectorRoute("POST", "/v1/ssh/revoke", Access::kRoles, [&svc](Call& c) {
    BG_CONNECTOR_CALL(c);
    const core::Actor& actor = *c.actor;
      auto body = DecodeSshRevoke(req.body);
      if (!body) return send_error(body.error());
      auto c_ = FindSshCa(svc, body->connector);
      if (!c_) return send_error(c_.error());
      auto* ssh = *c_;
      // Revoked first: if the audit record then fails the certificate is still refused.
      if (auto st = ssh->RevokeSerial(body->serial, body->valid_before); !st) {
        return send_error(st.error());
      }
      core::AuditEvent ev{"ssh.certificate_revoked", actor.name, RequestId(), {}};
      ev.details = {{"connector", ssh->instance()},
                    {"serial", body->serial_text},
                    {"valid_before", FormatRfc3339(body->valid_before)},
                    {"reason", body->reason},
                    {"krl_version", std::to_string(ssh->krl_version())}};
      if (auto st = svc.AppendAudit(ev); !st) return send_error(st.error());
      w->Send(Out(200, {{"connector", ssh->instance()},
                        {"serial", body->serial_text},
                        {"valid_before", FormatRfc3339(body->valid_before)},
                        {"krl_version", ssh->krl_version()}}));
  }, {core::Role::kAdmin}, "revoking a certificate needs the admin role"));
  api.AddRoute(ConnectorRoute("POST", "/v1/connectors/probe", Access::kRoles, [&svc, health](Call& c) {
    BG_CONNECTOR_CALL(c);
      if (health == nullptr) return send_error(Error::Unavailable("probes are not running"));
      auto r = health->ProbeNow(QueryValue(req, "connector"));
      if (!r) return send_error(r.error());
      json list = json::array();
      for (const auto& s : *r) list.push_back(StatusJson(svc, s));
      w->Send(Out(200, {{"connectors", list}}));
  }, {core::Role::kAdmin, core::Role::kAuditor}, "probing needs the admin or auditor role"));
}

}  // namespace bg::api
