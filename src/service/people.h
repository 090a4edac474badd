// People: accounts, login with password + TOTP, bearer tokens (renewal, logout, recording
// credentials) and the fresh TOTP code an approval may carry (step-up). Every change is one
// writer transaction with its audit leaves; failed logins and codes are throttled per account
// and source (auth::LoginLimiter) and an account under guessing raises an alert to the
// security contacts.
//
// Thread-safe. The methods that change something wait for their commit: they serve the CLI,
// start-up and the login routes, not the request workflow (which uses StepUpInTx inside its
// own transaction).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "auth/rate_limit.h"
#include "auth/webauthn.h"
#include "core/request.h"
#include "service/auth_cache.h"
#include "service/config.h"
#include "store/store.h"
#include "util/result.h"
#include "util/secret.h"
#include "util/time.h"

namespace bg::auth {
class MasterKey;
}

namespace bg::service {

class AuditLog;
class Effects;
class Tx;
class Writer;
struct ServiceMetrics;

struct LoginResult {
  Secret token;
  Timestamp expires_at;
  std::string user;
};

// What `DisableUser` ended (docs/accounts.md shows its JSON).
struct DisableReport {
  std::vector<RequestId> revoked;             // their approved or active grants
  std::vector<RequestId> cancelled;           // their pending requests
  std::vector<RequestId> approvals_withdrawn; // others' requests their approval counted toward
  std::vector<SessionId> sessions_ended;      // open recorded sessions of the revoked grants
  bool was_disabled = false;                  // the account was disabled already
};

struct NewUser {
  std::string user;
  std::vector<core::Role> roles;
  Secret totp_secret;       // raw seed, shown once
  std::string otpauth_uri;  // contains the seed: shown once, never logged
};

class People {
 public:
  // `metrics` may be null (no counting).
  People(const ServerConfig& config, const Clock& clock, store::Store& store,
         const auth::MasterKey& master_key, const AuditLog& audit, Writer& writer,
         Effects& effects, ServiceMetrics* metrics);
  ~People();

  Result<LoginResult> Login(const std::string& user, const Secret& password,
                            const std::string& totp, const std::string& source);
  // A fresh token for `token`, which it replaces. Unauthenticated once the token family (the
  // login and its renewals) is config.token_max_lifetime old; a renewed token never outlives it.
  Result<LoginResult> Renew(const core::Actor& actor, const std::string& token,
                            const std::string& source);
  Status Logout(const std::string& token);
  // Resolves a bearer token to the person; Unauthenticated if unknown, expired or disabled.
  // A recording credential resolves to its person with recording_grant set.
  Result<core::Actor> Authenticate(const std::string& token, const std::string& source);
  // A recording credential for the active grant `id` of `actor` (its requester), lasting until
  // the grant's end plus kRecordingUploadGrace (Service::IssueRecordingToken says more).
  static constexpr Seconds kRecordingUploadGrace{3600};
  Result<LoginResult> IssueRecordingToken(const core::Actor& actor, const RequestId& id);

  // ---- step-up: a TOTP code presented with an action ----
  // Wrong codes count with the login failures (same throttle, same alert). After
  // kMaxStepUpFailures wrong codes with one token (renewals included) that token can no longer
  // step up, even with the right code.
  static constexpr int kMaxStepUpFailures = 6;
  // A code may be presented only with a person's own token.
  static Status CheckMayPresentCode(const core::Actor& actor);
  // Verifies `totp` for `actor` inside `tx`: the token, the throttle, the step-up failures of
  // the token, the code. A wrong code is counted on the token and the throttle and audited in
  // `tx`. Exactly one of `fresh` (the actor, MFA fresh) and `refused` is set.
  struct StepUp {
    std::optional<core::Actor> fresh;
    std::optional<Error> refused;
  };
  Result<StepUp> StepUpInTx(Tx& tx, const core::Actor& actor, const std::string& totp);
  // After a transaction that ran StepUpInTx committed or failed: the token and the account
  // changed, so their cached copies go.
  void ForgetSteppedUp(const std::string& user, const std::string& token_hash);
  // StepUpInTx in a transaction of its own, waiting for the commit.
  Result<core::Actor> VerifyActionCode(const core::Actor& actor, const std::string& totp);

  // Whether the account can approve now: the approver role, not disabled, TOTP enrolled.
  static bool CanApproveNow(const store::UserRecord& u);

  // ---- passkeys (WebAuthn; implemented in passkeys.cc) ----
  // Where passkeys are valid: the origin and host of public_url; without one, a loopback listen
  // address as https://localhost:PORT (plain HTTP: http://). FailedPrecondition (field
  // "public_url") when public_url's host is an IP address (WebAuthn needs a host name).
  struct RelyingParty {
    std::string origin;
    std::string rp_id;
  };
  Result<RelyingParty> PasskeyRelyingParty() const;
  // A new single-use challenge (raw bytes) for `purpose` ("register:<user>", "login",
  // "decide:<user>:<request>"), valid for kPasskeyChallengeLifetime. ResourceExhausted when
  // too many are outstanding.
  static constexpr Seconds kPasskeyChallengeLifetime{120};
  Result<std::string> NewPasskeyChallenge(const std::string& purpose);
  // The purposes, one spelling for the routes that issue challenges and the checks that take them.
  static std::string RegisterPurpose(const std::string& user) { return "register:" + user; }
  static std::string LoginPurpose() { return "login"; }
  static std::string DecisionPurpose(const std::string& user, const RequestId& request) {
    return "decide:" + user + ":" + request.value();
  }
  // Registers a passkey of `actor`, who must have logged in with password and TOTP within
  // kPasskeyRegistrationMfaAge (or hold a passkey session). Audited as "auth.passkey_added".
  static constexpr Seconds kPasskeyRegistrationMfaAge{600};
  Result<store::PasskeyRecord> RegisterPasskey(const core::Actor& actor,
                                               const auth::webauthn::Registration& registration,
                                               const std::string& name);
  // Removes one of `actor`'s passkeys (by raw id); audited as "auth.passkey_removed".
  Status RemovePasskey(const core::Actor& actor, const std::string& id);
  // Logs in with a passkey (a discoverable credential: the assertion names it). The token's
  // MFA time is now. Failures count with the login throttle of the account and source.
  Result<LoginResult> PasskeyLogin(const auth::webauthn::Assertion& assertion,
                                   const std::string& source);
  // Verifies a passkey assertion made for a decision on `request` inside `tx` (its counter is
  // stored there): `fresh` is the actor with passkey_presented, or `refused` says why.
  Result<StepUp> PasskeyStepUpInTx(Tx& tx, const core::Actor& actor,
                                   const auth::webauthn::Assertion& assertion,
                                   const RequestId& request);

  // ---- accounts (Service's comments say what each does) ----
  Result<NewUser> AddUser(const std::string& actor, const std::string& name,
                          std::vector<core::Role> roles, const Secret& password,
                          const std::string& email = "");
  Result<DisableReport> DisableUser(const std::string& actor, const std::string& name);
  Status SetUserDisabled(const std::string& actor, const std::string& name, bool disabled);
  Result<std::string> LocalOperator(const std::string& requested, const std::string& os_user);
  Status UnlockUser(const std::string& actor, const std::string& name);
  Result<NewUser> ResetUser(const std::string& actor, const std::string& name,
                            const std::optional<Secret>& password);
  Status MarkSourceKnown(const std::string& user, const std::string& address);

 private:
  // What a new token inherits (the login it belongs to, its MFA time, its wrong step-up
  // codes); null starts a family without MFA.
  struct TokenFamily {
    Timestamp started_at;
    std::optional<Timestamp> mfa_verified_at;
    int step_up_failures = 0;
  };
  // A new bearer token of `user`, stored (as its hash) in `tx`. `expires_at` unset: the
  // configured token lifetime. `scope` empty: the person's own token.
  Result<LoginResult> IssueToken(Tx& tx, const std::string& user, const std::string& source,
                                 std::optional<Timestamp> expires_at = std::nullopt,
                                 const std::string& scope = "",
                                 const TokenFamily* family = nullptr);
  // A successful login's writes in `tx` (password+TOTP or passkey): the throttle's success, the
  // account `changed` with MFA now and its failures cleared, a new token family, and `ev` with
  // the token's HMAC and expiry.
  Result<LoginResult> FinishLogin(Tx& tx, const std::string& user, const std::string& source,
                                  store::UserRecord changed, core::AuditEvent ev);
  // The name an audit event gives a login attempt: the account's name, or for a name that is no
  // account (perhaps a password typed into the wrong field) its keyed hash.
  std::string AuditName(const std::string& name, bool is_account) const;
  // Counts a wrong factor against the throttle and, past its threshold, stages the alert.
  void StageGuessedAlert(Tx& tx, const std::string& user, int failures,
                         const std::string& source);
  void CountLogin(const std::string& outcome);

  const ServerConfig& config_;
  const Clock& clock_;
  store::Store& store_;
  const auth::MasterKey& master_key_;
  const AuditLog& audit_;
  Writer& writer_;
  Effects& effects_;
  ServiceMetrics* metrics_;
  auth::LoginLimiter limiter_;
  AuthCache auth_cache_;
  // Outstanding passkey challenges: raw challenge -> what it was issued for, until when.
  struct PendingChallenge {
    std::string purpose;
    Timestamp expires_at;
  };
  static constexpr size_t kMaxPendingChallenges = 10000;
  std::mutex challenges_mu_;
  std::map<std::string, PendingChallenge> challenges_;
  // Takes (removes) the challenge `client_data_json` names if it was issued for `purpose` and
  // has not expired; the raw challenge, or InvalidArgument field "passkey".
  Result<std::string> TakeChallenge(std::string_view client_data_json, const std::string& purpose);
  // The account holding the passkey `id` (a credential id names one account only), or empty.
  Result<std::string> PasskeyOwner(const std::string& id);
};

}  // namespace bg::service
