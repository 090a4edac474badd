#include "api/passkey_routes.h"

#include <nlohmann/json.hpp>

#include "api/bodies.h"
#include "api/json.h"
#include "api/web_session.h"
#include "util/encoding.h"
#include "util/sha256.h"

namespace bg::api {

using nlohmann::json;

namespace {

json Options(const std::string& challenge, const std::string& rp_id) {
  return {{"challenge", Base64UrlEncode(challenge)},
          {"rp_id", rp_id},
          {"timeout", std::chrono::duration_cast<std::chrono::milliseconds>(
                          service::People::kPasskeyChallengeLifetime).count()},
          {"user_verification", "required"}};
}

// The WebAuthn user handle of an account: a hash, so the authenticator holds no name twice.
std::string UserHandle(const std::string& user) {
  return Base64UrlEncode(AsBytes(Sha256Parts({std::string_view("breakglass user\0", 16), user})).substr(0, 16));
}

// A passkey as the API shows it: never its key.
json PasskeyJson(const store::PasskeyRecord& p) {
  return {{"id", Base64UrlEncode(p.id)},
          {"name", p.name},
          {"algorithm", auth::webauthn::AlgorithmName(p.alg)},
          {"created_at", FormatRfc3339(p.created_at)},
          {"last_used_at", p.last_used_at ? json(FormatRfc3339(*p.last_used_at)) : json(nullptr)}};
}

// The caller's credential ids (base64url), for a ceremony's allow or exclude list.
Result<json> CredentialIds(service::Service& service, const std::string& user) {
  BG_ASSIGN_OR_RETURN(auto rec, service.store().GetUser(user));
  json ids = json::array();
  if (rec) {
    for (const auto& p : rec->passkeys) ids.push_back(Base64UrlEncode(p.id));
  }
  return ids;
}

#define BG_PASSKEY_PEOPLE(c)                                                                    \
  service::People* people = service.people();                                                   \
  if (!people) return (void)(c).w->Send(Api::ErrorResponse(Error::Unavailable("starting")))

}  // namespace

void AddPasskeyRoutes(Api& api, service::Service& service) {
  api.AddRoute(MakeRoute("POST", "/v1/auth/passkey/options", Access::kAnonymous,
                         RecordingScope::kRefused, false, [&service](Call& c) {
    BG_PASSKEY_PEOPLE(c);
    auto rp = people->PasskeyRelyingParty();
    if (!rp) return (void)c.w->Send(Api::ErrorResponse(rp.error()));
    auto challenge = people->NewPasskeyChallenge(service::People::LoginPurpose());
    if (!challenge) return (void)c.w->Send(Api::ErrorResponse(challenge.error()));
    c.w->Send(NoStore(Api::JsonResponse(200, Options(*challenge, rp->rp_id).dump())));
  }));
  api.AddRoute(MakeRoute("POST", "/v1/auth/passkey/login", Access::kAnonymous,
                         RecordingScope::kRefused, false, [&service](Call& c) {
    BG_PASSKEY_PEOPLE(c);
    auto body = DecodePasskeyLogin(c.req.body);
    if (!body) return (void)c.w->Send(Api::ErrorResponse(body.error()));
    if (body->cookie) {
      if (auto st = CheckPageLogin(c.req); !st) return (void)c.w->Send(Api::ErrorResponse(st.error()));
    }
    auto lr = people->PasskeyLogin(body->credential, c.req.remote_address);
    if (!lr) return (void)c.w->Send(Api::ErrorResponse(lr.error()));
    c.w->Send(LoginAnswer(*lr, body->cookie, service.clock().Now()));
  }));
  api.AddRoute(MakeRoute("GET", "/v1/passkeys", Access::kAuthenticated, RecordingScope::kRefused,
                         false, [&service](Call& c) {
    auto user = service.store().GetUser(c.actor->name);
    if (!user) return (void)c.w->Send(Api::ErrorResponse(user.error()));
    json list = json::array();
    if (*user) {
      for (const auto& p : (*user)->passkeys) list.push_back(PasskeyJson(p));
    }
    c.w->Send(Api::JsonResponse(200, json{{"passkeys", list}}.dump()));
  }));
  api.AddRoute(MakeRoute("POST", "/v1/passkeys/options", Access::kAuthenticated,
                         RecordingScope::kRefused, false, [&service](Call& c) {
    BG_PASSKEY_PEOPLE(c);
    auto rp = people->PasskeyRelyingParty();
    if (!rp) return (void)c.w->Send(Api::ErrorResponse(rp.error()));
    auto exclude = CredentialIds(service, c.actor->name);
    if (!exclude) return (void)c.w->Send(Api::ErrorResponse(exclude.error()));
    auto challenge = people->NewPasskeyChallenge(service::People::RegisterPurpose(c.actor->name));
    if (!challenge) return (void)c.w->Send(Api::ErrorResponse(challenge.error()));
    json out = Options(*challenge, rp->rp_id);
    out["rp_name"] = "breakglass";
    out["user"] = {{"id", UserHandle(c.actor->name)}, {"name", c.actor->name}, {"display_name", c.actor->name}};
    out["algorithms"] = {auth::webauthn::kEs256, auth::webauthn::kEdDsa};
    out["exclude"] = *exclude;
    out["resident_key"] = "required";
    c.w->Send(NoStore(Api::JsonResponse(200, out.dump())));
  }));
  api.AddRoute(MakeRoute("POST", "/v1/passkeys", Access::kAuthenticated, RecordingScope::kRefused,
                         false, [&service](Call& c) {
    BG_PASSKEY_PEOPLE(c);
    auto body = DecodeNewPasskey(c.req.body);
    if (!body) return (void)c.w->Send(Api::ErrorResponse(body.error()));
    auto added = people->RegisterPasskey(*c.actor, body->registration, body->name);
    if (!added) return (void)c.w->Send(Api::ErrorResponse(added.error()));
    c.w->Send(Api::JsonResponse(201, PasskeyJson(*added).dump()));
  }));
  api.AddRoute(MakeRoute("DELETE", "/v1/passkeys/{id}", Access::kAuthenticated,
                         RecordingScope::kRefused, false, [&service](Call& c) {
    BG_PASSKEY_PEOPLE(c);
    auto raw = Base64UrlDecode(c.Param("id"));
    if (!raw) return (void)c.w->Send(Api::ErrorResponse(Error::InvalidArgument("id", "is not base64url")));
    if (auto st = people->RemovePasskey(*c.actor, *raw); !st) {
      return (void)c.w->Send(Api::ErrorResponse(st.error()));
    }
    c.w->Send(Api::JsonResponse(200, json{{"status", "removed"}}.dump()));
  }));
  api.AddRoute(MakeRoute("POST", "/v1/requests/{id}/passkey-options", Access::kAuthenticated,
                         RecordingScope::kRefused, false, [&service](Call& c) {
    BG_PASSKEY_PEOPLE(c);
    RequestId id(c.Param("id"));
    // A request the caller may not see does not exist for them.
    if (auto r = service.Get(*c.actor, id); !r) return (void)c.w->Send(Api::ErrorResponse(r.error()));
    auto rp = people->PasskeyRelyingParty();
    if (!rp) return (void)c.w->Send(Api::ErrorResponse(rp.error()));
    auto allow = CredentialIds(service, c.actor->name);
    if (!allow) return (void)c.w->Send(Api::ErrorResponse(allow.error()));
    if (allow->empty()) {
      return (void)c.w->Send(Api::ErrorResponse(
          Error(ErrorCode::kFailedPrecondition, "you have no passkey: add one first", "passkey")));
    }
    auto challenge = people->NewPasskeyChallenge(service::People::DecisionPurpose(c.actor->name, id));
    if (!challenge) return (void)c.w->Send(Api::ErrorResponse(challenge.error()));
    json out = Options(*challenge, rp->rp_id);
    out["allow"] = *allow;
    c.w->Send(NoStore(Api::JsonResponse(200, out.dump())));
  }));
}

}  // namespace bg::api
