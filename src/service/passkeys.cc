// People's passkeys (WebAuthn): challenges, registration, passkey login and the passkey a
// decision carries. The checks themselves are auth/webauthn.h; this is the state around them.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "log/json_log.h"
#include "service/audit_log.h"
#include "service/people.h"
#include "service/service_metrics.h"
#include "service/writer.h"
#include "util/encoding.h"
#include "util/random.h"

namespace bg::service {

namespace webauthn = auth::webauthn;

namespace {

Error PasskeyError(std::string message) { return Error::InvalidArgument("passkey", std::move(message)); }

webauthn::Credential ToCredential(const store::PasskeyRecord& p) {
  return webauthn::Credential{p.id, p.alg, p.public_key, p.sign_count};
}

// An audit name for a credential: a short hash of its id (ids are not secret, but long).
std::string CredentialName(const std::string& id) {
  return Base64UrlEncode(std::string_view(id)).substr(0, 22);
}

}  // namespace

Result<People::RelyingParty> People::PasskeyRelyingParty() const {
  std::string origin = config_.public_url;
  if (origin.empty()) {
    auto listen = ParseListen(config_.listen);
    if (!listen) return listen.error();
    const bool loopback = listen->first == "127.0.0.1" || listen->first == "localhost" ||
                          listen->first == "::1";
    if (!loopback) {
      return Error(ErrorCode::kFailedPrecondition,
                   "passkeys need public_url (the address people open the page at)", "public_url");
    }
    origin = fmt::format("{}://localhost:{}", config_.plain_http ? "http" : "https", listen->second);
  }
  while (!origin.empty() && origin.back() == '/') origin.pop_back();
  const size_t scheme = origin.find("://");
  if (scheme == std::string::npos || origin.find('/', scheme + 3) != std::string::npos) {
    return Error(ErrorCode::kFailedPrecondition, "public_url is not an origin such as https://host:port",
                 "public_url");
  }
  std::string host = origin.substr(scheme + 3);
  if (!host.empty() && host.front() == '[') {
    host = host.substr(1, host.find(']') == std::string::npos ? 0 : host.find(']') - 1);
  } else if (size_t colon = host.rfind(':'); colon != std::string::npos) {
    host = host.substr(0, colon);
  }
  if (host.empty() || IsIpAddress(host)) {
    return Error(ErrorCode::kFailedPrecondition,
                 "passkeys need public_url with a host name, not an IP address", "public_url");
  }
  return RelyingParty{origin, host};
}

Result<std::string> People::NewPasskeyChallenge(const std::string& purpose) {
  const Timestamp now = clock_.Now();
  std::string challenge = SystemRandom::Get().Bytes(32);
  std::lock_guard lock(challenges_mu_);
  for (auto it = challenges_.begin(); it != challenges_.end();) {
    it = it->second.expires_at <= now ? challenges_.erase(it) : std::next(it);
  }
  if (challenges_.size() >= kMaxPendingChallenges) {
    Error e(ErrorCode::kResourceExhausted, "too many passkey ceremonies in progress; try again shortly");
    e.set_retry_after_seconds(5);
    return e;
  }
  challenges_[challenge] = PendingChallenge{purpose, now + kPasskeyChallengeLifetime};
  return challenge;
}

Result<std::string> People::TakeChallenge(std::string_view client_data_json, const std::string& purpose) {
  nlohmann::json cd = nlohmann::json::parse(client_data_json, nullptr, false);
  if (cd.is_discarded() || !cd.is_object() || !cd.contains("challenge") || !cd["challenge"].is_string()) {
    return PasskeyError("clientDataJSON carries no challenge");
  }
  auto raw = Base64UrlDecode(cd["challenge"].get<std::string>());
  if (!raw) return PasskeyError("the challenge is not base64url");
  std::lock_guard lock(challenges_mu_);
  auto it = challenges_.find(*raw);
  if (it == challenges_.end() || it->second.expires_at <= clock_.Now()) {
    if (it != challenges_.end()) challenges_.erase(it);
    return PasskeyError("the challenge is unknown, used or expired: start again");
  }
  if (it->second.purpose != purpose) return PasskeyError("the challenge was issued for something else");
  challenges_.erase(it);
  return *raw;
}

Result<std::string> People::PasskeyOwner(const std::string& id) {
  BG_ASSIGN_OR_RETURN(auto everyone, store_.ListUsers());
  for (const auto& u : everyone) {
    for (const auto& p : u.passkeys) {
      if (p.id == id) return u.name;
    }
  }
  return std::string();
}

Result<store::PasskeyRecord> People::RegisterPasskey(const core::Actor& actor,
                                                     const webauthn::Registration& registration,
                                                     const std::string& name) {
  if (actor.recording_grant) return Error::PermissionDenied("a recording credential cannot add passkeys");
  const Timestamp now = clock_.Now();
  if (!actor.mfa_verified_at || now - *actor.mfa_verified_at > kPasskeyRegistrationMfaAge) {
    return Error(ErrorCode::kFailedPrecondition,
                 "log in again with your password and code (within 10 minutes) to add a passkey",
                 "totp");
  }
  if (name.empty() || name.size() > 64) return Error::InvalidArgument("name", "must be 1 to 64 characters");
  BG_ASSIGN_OR_RETURN(RelyingParty rp, PasskeyRelyingParty());
  BG_ASSIGN_OR_RETURN(std::string challenge,
                      TakeChallenge(registration.client_data_json, RegisterPurpose(actor.name)));
  BG_ASSIGN_OR_RETURN(webauthn::Credential cred,
                      webauthn::VerifyRegistration(registration, {challenge, rp.origin, rp.rp_id}));
  auto added = std::make_shared<store::PasskeyRecord>();
  Status s = writer_.RunSync([&](Tx& tx) -> Status {
    BG_ASSIGN_OR_RETURN(auto u, tx.GetUser(actor.name));
    if (!u || u->disabled) return Error::Unauthenticated("invalid or expired token");
    if (u->passkeys.size() >= 10) return Error::FailedPrecondition("an account holds at most 10 passkeys");
    // A credential id names one account only (a passkey login finds the account by it).
    BG_ASSIGN_OR_RETURN(std::string owner, PasskeyOwner(cred.id));
    if (!owner.empty()) return Error::Conflict("this passkey is registered already");
    store::PasskeyRecord rec;
    rec.id = cred.id;
    rec.alg = cred.alg;
    rec.public_key = cred.public_key;
    rec.sign_count = cred.sign_count;
    rec.name = name;
    rec.created_at = tx.now();
    store::UserRecord changed = *u;
    changed.passkeys.push_back(rec);
    tx.PutUser(changed);
    core::AuditEvent ev{"auth.passkey_added", actor.name, {}, {}};
    ev.details["credential"] = CredentialName(cred.id);
    ev.details["algorithm"] = webauthn::AlgorithmName(cred.alg);
    ev.details["name"] = name;
    tx.Audit(ev);
    *added = rec;
    return Ok();
  });
  auth_cache_.ForgetUser(actor.name);
  BG_TRY(s);
  log::Info("auth.passkey_added", {{"user", actor.name}});
  return *added;
}

Status People::RemovePasskey(const core::Actor& actor, const std::string& id) {
  if (actor.recording_grant) return Error::PermissionDenied("a recording credential cannot remove passkeys");
  Status s = writer_.RunSync([&](Tx& tx) -> Status {
    BG_ASSIGN_OR_RETURN(auto u, tx.GetUser(actor.name));
    if (!u) return Error::Unauthenticated("invalid or expired token");
    store::UserRecord changed = *u;
    auto it = std::find_if(changed.passkeys.begin(), changed.passkeys.end(),
                           [&](const store::PasskeyRecord& p) { return p.id == id; });
    if (it == changed.passkeys.end()) return Error::NotFound("no such passkey");
    changed.passkeys.erase(it);
    tx.PutUser(changed);
    core::AuditEvent ev{"auth.passkey_removed", actor.name, {}, {}};
    ev.details["credential"] = CredentialName(id);
    tx.Audit(ev);
    return Ok();
  });
  auth_cache_.ForgetUser(actor.name);
  return s;
}

Result<LoginResult> People::PasskeyLogin(const webauthn::Assertion& assertion, const std::string& source) {
  BG_ASSIGN_OR_RETURN(RelyingParty rp, PasskeyRelyingParty());
  BG_ASSIGN_OR_RETURN(std::string challenge, TakeChallenge(assertion.client_data_json, LoginPurpose()));
  BG_ASSIGN_OR_RETURN(const std::string user, PasskeyOwner(assertion.credential_id));
  const Timestamp now = clock_.Now();
  if (user.empty()) {
    // No account to count against: unknown credentials share one throttle bucket per source
    // (and the source's cap across accounts), and are audited like unknown user names.
    constexpr std::string_view kUnknown = "passkey:unknown";
    if (auto limited = limiter_.Check(kUnknown, source, now, Timestamp{}); !limited) {
      CountLogin("throttled");
      return limited.error();
    }
    BG_TRY(writer_.RunSync([&](Tx& tx) -> Status {
      limiter_.RecordFailure(kUnknown, source, tx.now(), Timestamp{});
      core::AuditEvent ev{"auth.login_failed", std::string(kUnknown), {}, {}};
      ev.details["source_address"] = source;
      ev.details["method"] = "passkey";
      ev.details["credential"] = CredentialName(assertion.credential_id);
      tx.Audit(ev);
      return Ok();
    }));
    CountLogin("failure");
    return Error::Unauthenticated("login failed: this passkey is not registered here");
  }
  BG_ASSIGN_OR_RETURN(auto rec, store_.GetUser(user));
  const Timestamp reset_at = rec && rec->unlocked_at ? *rec->unlocked_at : Timestamp{};
  if (auto limited = limiter_.Check(user, source, now, reset_at); !limited) {
    CountLogin("throttled");
    return limited.error();
  }
  auto result = std::make_shared<std::optional<LoginResult>>();
  auto refusal = std::make_shared<std::optional<Error>>();
  Status s = writer_.RunSync([&](Tx& tx) -> Status {
    BG_ASSIGN_OR_RETURN(auto u, tx.GetUser(user));
    core::AuditEvent ev{"auth.login", user, {}, {}};
    ev.details["source_address"] = source;
    ev.details["method"] = "passkey";
    ev.details["credential"] = CredentialName(assertion.credential_id);
    if (!u || u->disabled) {
      ev.type = "auth.login_failed";
      tx.Audit(ev);
      *refusal = Error::Unauthenticated("login failed: this passkey is not registered here");
      return Ok();
    }
    store::UserRecord changed = *u;
    auto key = std::find_if(changed.passkeys.begin(), changed.passkeys.end(),
                            [&](const store::PasskeyRecord& p) { return p.id == assertion.credential_id; });
    Result<uint32_t> count = key == changed.passkeys.end()
                                 ? Result<uint32_t>(PasskeyError("this passkey was removed"))
                                 : webauthn::VerifyAssertion(assertion, ToCredential(*key),
                                                             {challenge, rp.origin, rp.rp_id});
    if (!count) {
      ev.type = "auth.login_failed";
      ev.details["reason"] = count.error().message();
      const Timestamp u_reset = u->unlocked_at ? *u->unlocked_at : Timestamp{};
      auth::FailureOutcome f = limiter_.RecordFailure(user, source, tx.now(), u_reset);
      changed.failed_logins++;
      tx.PutUser(changed);
      tx.Audit(ev);
      if (f.alert) StageGuessedAlert(tx, user, f.account_failures, source);
      *refusal = Error::Unauthenticated("login failed: " + count.error().message());
      return Ok();
    }
    key->sign_count = *count;
    key->last_used_at = tx.now();
    BG_ASSIGN_OR_RETURN(LoginResult lr, FinishLogin(tx, user, source, std::move(changed), std::move(ev)));
    result->emplace(std::move(lr));
    return Ok();
  });
  auth_cache_.ForgetUser(user);
  BG_TRY(s);
  if (refusal->has_value()) {
    CountLogin("failure");
    return std::move(**refusal);
  }
  CountLogin("success");
  log::Info("auth.login", {{"user", user}, {"source", source}, {"method", "passkey"}});
  return std::move(**result);
}

Result<People::StepUp> People::PasskeyStepUpInTx(Tx& tx, const core::Actor& actor,
                                                 const webauthn::Assertion& assertion,
                                                 const RequestId& request) {
  StepUp out;
  if (actor.recording_grant || actor.token_hash.empty()) {
    out.refused = Error::PermissionDenied("a passkey may be presented only with your own session");
    return out;
  }
  auto rp = PasskeyRelyingParty();
  if (!rp) {
    out.refused = rp.error();
    return out;
  }
  auto challenge = TakeChallenge(assertion.client_data_json, DecisionPurpose(actor.name, request));
  if (!challenge) {
    out.refused = challenge.error();
    return out;
  }
  BG_ASSIGN_OR_RETURN(auto u, tx.GetUser(actor.name));
  if (!u || u->disabled) {
    out.refused = Error::Unauthenticated("invalid or expired token");
    return out;
  }
  store::UserRecord changed = *u;
  auto key = std::find_if(changed.passkeys.begin(), changed.passkeys.end(),
                          [&](const store::PasskeyRecord& p) { return p.id == assertion.credential_id; });
  if (key == changed.passkeys.end()) {
    out.refused = PasskeyError("this passkey is not one of yours");
    return out;
  }
  auto count = webauthn::VerifyAssertion(assertion, ToCredential(*key), {*challenge, rp->origin, rp->rp_id});
  core::AuditEvent ev{count ? "auth.passkey_verified" : "auth.passkey_failed", actor.name, request, {}};
  ev.details["credential"] = CredentialName(assertion.credential_id);
  if (!count) {
    ev.details["reason"] = count.error().message();
    tx.Audit(ev);
    out.refused = count.error();
    return out;
  }
  key->sign_count = *count;
  key->last_used_at = tx.now();
  tx.PutUser(changed);
  tx.Audit(ev);
  core::Actor fresh = actor;
  fresh.passkey_presented = true;
  fresh.mfa_verified_at = tx.now();
  out.fresh = std::move(fresh);
  return out;
}

}  // namespace bg::service
