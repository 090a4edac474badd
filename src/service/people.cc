#include <fmt/format.h>

#include <algorithm>

#include "auth/master_key.h"
#include "auth/password.h"
#include "auth/rate_limit.h"
#include "auth/token.h"
#include "auth/totp.h"
#include "log/json_log.h"
#include "notify/smtp_sink.h"
#include "service/background.h"
#include "service/people.h"
#include "service/audit_log.h"
#include "service/effects.h"
#include "service/service_metrics.h"
#include "service/writer.h"
#include "util/encoding.h"

namespace bg::service {
namespace {

// The one answer for every failed login, whichever factor was wrong.
Error LoginFailed() {
  return Error::Unauthenticated("login failed: wrong username, password or code");
}

std::string TotpAad(const std::string& user) { return "totp:" + user; }

Status CheckUserName(const std::string& name) {
  if (name.empty() || name.size() > 64) {
    return Error::InvalidArgument("username", "must be 1 to 64 characters");
  }
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.')) {
      return Error::InvalidArgument("username",
                                    "may contain only letters, digits, '.', '_' and '-'");
    }
  }
  if (name.rfind("group:", 0) == 0) return Error::InvalidArgument("username", "is reserved");
  return Ok();
}

std::string JoinRoles(const std::vector<core::Role>& roles) {
  std::string out;
  for (auto r : roles) out += (out.empty() ? "" : ",") + std::string(core::ToString(r));
  return out;
}

// The scope of a recording credential: this prefix, then the request id (store::TokenRecord).
constexpr std::string_view kRecordingScope = "recording:";

// The enrolment shown once: the seed and its otpauth:// URI.
NewUser Enrol(Secret seed, const std::string& name, std::vector<core::Role> roles) {
  NewUser nu;
  nu.user = name;
  nu.roles = std::move(roles);
  nu.otpauth_uri = std::string(auth::OtpauthUri(name, seed).Reveal());
  nu.totp_secret = std::move(seed);
  return nu;
}

}  // namespace

People::People(const ServerConfig& config, const Clock& clock, store::Store& store,
               const auth::MasterKey& master_key, const AuditLog& audit, Writer& writer,
               Effects& effects, ServiceMetrics* metrics)
    : config_(config),
      clock_(clock),
      store_(store),
      master_key_(master_key),
      audit_(audit),
      writer_(writer),
      effects_(effects),
      metrics_(metrics) {}

People::~People() = default;

void People::ForgetSteppedUp(const std::string& user, const std::string& token_hash) {
  auth_cache_.ForgetToken(token_hash);
  auth_cache_.ForgetUser(user);
}

Result<LoginResult> People::IssueToken(Tx& tx, const std::string& user,
                                        const std::string& source,
                                        std::optional<Timestamp> expires_at,
                                        const std::string& scope, const TokenFamily* family) {
  Secret token = auth::NewBearerToken();
  store::TokenRecord rec;
  rec.token_hash = auth::TokenHash(token);
  rec.user = user;
  rec.issued_at = tx.now();
  rec.expires_at = expires_at.value_or(tx.now() + config_.token_ttl);
  rec.source_address = source;
  rec.scope = scope;
  rec.family_started_at = family ? family->started_at : tx.now();
  if (family) {
    rec.mfa_verified_at = family->mfa_verified_at;
    rec.step_up_failures = family->step_up_failures;
  }
  tx.PutToken(rec);
  return LoginResult{std::move(token), rec.expires_at, user};
}

std::string People::AuditName(const std::string& name, bool is_account) const {
  return is_account ? name : audit_.Hmac(name);
}

void People::StageGuessedAlert(Tx& tx, const std::string& user, int failures,
                               const std::string& source) {
  effects_.StageAlert(
      tx,
      effects_.SecurityAlert(
          "account_guessed",
          fmt::format("account {} is being guessed: {} failed logins or codes within {}", user,
                      failures, FormatDuration(limiter_.config().account_window)),
          {}),
      {{"user", user}, {"failures", std::to_string(failures)}, {"source_address", source}},
      core::Request{});
}

void People::CountLogin(const std::string& outcome) {
  if (metrics_) metrics_->CountLogin(outcome);
}

Result<LoginResult> People::Login(const std::string& user, const Secret& password,
                                   const std::string& totp, const std::string& source) {
  const Timestamp now = clock_.Now();
  BG_ASSIGN_OR_RETURN(auto rec, store_.GetUser(user));
  const Timestamp reset_at = rec && rec->unlocked_at ? *rec->unlocked_at : Timestamp{};
  if (auto limited = limiter_.Check(user, source, now, reset_at); !limited) {
    CountLogin("throttled");
    return limited.error();
  }
  bool password_ok = false;
  if (!rec || rec->disabled) {
    auth::DummyVerify(password);  // same cost as a real check: no account enumeration by time
  } else {
    password_ok = auth::VerifyPassword(rec->password_hash, password);
  }
  struct Outcome {
    std::optional<LoginResult> login;
    bool replayed = false;  // right password, a right code that was already used
  };
  auto result = std::make_shared<Outcome>();
  Status s = writer_.RunSync([&, result](Tx& tx) -> Status {
    BG_ASSIGN_OR_RETURN(auto u, tx.GetUser(user));
    bool ok = password_ok && u && !u->disabled;
    int64_t step = -1;
    if (ok) {
      auto seed = auth::Open(master_key_, u->totp_secret_enc, TotpAad(user));
      auto verified = seed ? auth::VerifyTotp(*seed, totp, tx.now(), u->totp_last_step)
                           : Result<int64_t>(seed.error());
      ok = verified.has_value();
      if (ok) step = *verified;
      result->replayed = !ok && auth::IsReplayedTotp(verified.error());
    }
    // A name that is not an account may be a password typed into the wrong field: the log
    // keeps only its keyed hash.
    core::AuditEvent ev{ok ? "auth.login" : "auth.login_failed", AuditName(user, u.has_value()),
                        {}, {}};
    ev.details["source_address"] = source;
    if (!ok) {
      const Timestamp u_reset = u && u->unlocked_at ? *u->unlocked_at : Timestamp{};
      auth::FailureOutcome f = limiter_.RecordFailure(user, source, tx.now(), u_reset);
      if (u) {
        store::UserRecord changed = *u;
        changed.failed_logins++;
        tx.PutUser(changed);
      }
      tx.Audit(ev);
      if (f.alert && u) StageGuessedAlert(tx, user, f.account_failures, source);
      return Ok();
    }
    store::UserRecord changed = *u;
    changed.totp_last_step = step;
    BG_ASSIGN_OR_RETURN(LoginResult lr, FinishLogin(tx, user, source, std::move(changed), std::move(ev)));
    result->login.emplace(std::move(lr));
    return Ok();
  });
  auth_cache_.ForgetUser(user);
  BG_TRY(s);
  CountLogin(result->login.has_value() ? "success" : "failure");
  if (result->replayed) {
    return Error::Unauthenticated("this code was already used; wait for the next one");
  }
  if (!result->login.has_value()) return LoginFailed();
  log::Info("auth.login", {{"user", user}, {"source", source}});
  return std::move(*result->login);
}

bool People::CanApproveNow(const store::UserRecord& u) {
  const bool approver =
      std::find(u.roles.begin(), u.roles.end(), core::Role::kApprover) != u.roles.end();
  return approver && !u.disabled && !u.totp_secret_enc.empty();
}

Result<LoginResult> People::FinishLogin(Tx& tx, const std::string& user, const std::string& source,
                                         store::UserRecord changed, core::AuditEvent ev) {
  limiter_.RecordSuccess(user, source, tx.now());
  changed.mfa_verified_at = tx.now();
  changed.failed_logins = 0;
  changed.locked_until.reset();
  TokenFamily family{tx.now(), tx.now(), 0};
  BG_ASSIGN_OR_RETURN(LoginResult lr, IssueToken(tx, user, source, std::nullopt, "", &family));
  ev.details["token"] = audit_.Hmac(lr.token.Reveal());
  ev.details["expires_at"] = FormatRfc3339(lr.expires_at);
  tx.PutUser(changed);
  tx.Audit(ev);
  return lr;
}

Result<LoginResult> People::Renew(const core::Actor& actor, const std::string& token,
                                   const std::string& source) {
  const std::string hash = auth::TokenHash(Secret(token));
  ForgetOnExit forget(auth_cache_, ForgetOnExit::Kind::kToken, hash);
  if (actor.recording_grant) {
    return Error::PermissionDenied("a recording credential is not renewed");
  }
  auto result = std::make_shared<std::optional<LoginResult>>();
  BG_TRY(writer_.RunSync([&, result](Tx& tx) -> Status {
    BG_ASSIGN_OR_RETURN(auto old, tx.GetToken(hash));
    if (!old || old->expires_at <= tx.now()) {
      return Error::Unauthenticated("invalid or expired token");
    }
    const Timestamp started = old->family_started_at.value_or(old->issued_at);
    const Timestamp family_end = started + config_.token_max_lifetime;
    if (family_end <= tx.now()) {
      return Error::Unauthenticated(
          fmt::format("this login is older than token_max_lifetime ({}); log in again",
                      FormatDuration(config_.token_max_lifetime)));
    }
    TokenFamily family{started, old->mfa_verified_at, old->step_up_failures};
    BG_ASSIGN_OR_RETURN(LoginResult lr,
                        IssueToken(tx, actor.name, source,
                                   std::min(tx.now() + config_.token_ttl, family_end), "",
                                   &family));
    tx.DeleteToken(hash);
    core::AuditEvent ev{"auth.renewed", actor.name, {}, {}};
    ev.details["token"] = audit_.Hmac(lr.token.Reveal());
    ev.details["source_address"] = source;
    ev.details["expires_at"] = FormatRfc3339(lr.expires_at);
    tx.Audit(ev);
    result->emplace(std::move(lr));
    return Ok();
  }));
  return std::move(**result);
}

Status People::Logout(const std::string& token) {
  const std::string hash = auth::TokenHash(Secret(token));
  ForgetOnExit forget(auth_cache_, ForgetOnExit::Kind::kToken, hash);
  return writer_.RunSync([&](Tx& tx) -> Status {
    tx.DeleteToken(hash);
    return Ok();
  });
}

Result<core::Actor> People::Authenticate(const std::string& token, const std::string& source) {
  if (!auth::IsWellFormedToken(token)) return Error::Unauthenticated("invalid or expired token");
  const std::string hash = auth::TokenHash(token);
  const int64_t now_us = clock_.NowMicros();
  auto& cache = auth_cache_;
  std::shared_ptr<const store::TokenRecord> rec = cache.Token(hash, now_us);
  if (!rec) {
    BG_ASSIGN_OR_RETURN(std::optional<store::TokenRecord> stored, store_.GetToken(hash));
    if (stored) rec = cache.PutToken(std::move(*stored), now_us);
  }
  if (!rec || rec->expires_at <= clock_.Now()) return Error::Unauthenticated("invalid or expired token");
  std::shared_ptr<const store::UserRecord> user = cache.User(rec->user, now_us);
  if (!user) {
    BG_ASSIGN_OR_RETURN(std::optional<store::UserRecord> stored, store_.GetUser(rec->user));
    if (stored) user = cache.PutUser(std::move(*stored), now_us);
  }
  // A disabled person's own tokens stop at once. Their recording credentials keep reading
  // their grant and uploading its sessions (they can change nothing): so the recorder sees the
  // revocation that disabling made, ends the session and uploads its end.
  if (!user || (user->disabled && rec->scope.rfind(kRecordingScope, 0) != 0)) {
    return Error::Unauthenticated("invalid or expired token");
  }
  core::Actor a;
  a.name = user->name;
  a.source_address = source;
  a.token_hash = hash;
  if (rec->scope.empty()) {
    a.roles = user->roles;
    a.mfa_verified_at = rec->mfa_verified_at;  // this token's, not the account's
    return a;
  }
  if (rec->scope.rfind(kRecordingScope, 0) != 0) {
    return Error::Unauthenticated("invalid or expired token");  // a scope this build lacks
  }
  // No roles and no MFA: a recording credential can approve or change nothing.
  a.roles = {};
  a.recording_grant = RequestId(rec->scope.substr(kRecordingScope.size()));
  return a;
}

Result<LoginResult> People::IssueRecordingToken(const core::Actor& actor, const RequestId& id) {
  if (actor.recording_grant) {
    return Error::PermissionDenied("a recording credential cannot issue credentials");
  }
  auto result = std::make_shared<std::optional<LoginResult>>();
  BG_TRY(writer_.RunSync([&, result](Tx& tx) -> Status {
    BG_ASSIGN_OR_RETURN(auto r, tx.GetRequest(id));
    if (!r) return Error::NotFound("no request " + id.value());
    if (r->requester != actor.name) {
      return Error::PermissionDenied("only the requester gets a recording credential");
    }
    if (r->state != core::RequestState::kActive || !r->ends_at || *r->ends_at <= tx.now()) {
      return Error::FailedPrecondition("the grant is not active");
    }
    BG_ASSIGN_OR_RETURN(LoginResult lr,
                        IssueToken(tx, actor.name, actor.source_address,
                                   *r->ends_at + kRecordingUploadGrace,
                                   std::string(kRecordingScope) + id.value()));
    core::AuditEvent ev{"session.recording_credential", actor.name, id, {}};
    ev.details["token"] = audit_.Hmac(lr.token.Reveal());
    ev.details["expires_at"] = FormatRfc3339(lr.expires_at);
    ev.details["source_address"] = actor.source_address;
    tx.Audit(ev);
    result->emplace(std::move(lr));
    return Ok();
  }));
  return std::move(**result);
}

Status People::CheckMayPresentCode(const core::Actor& actor) {
  if (actor.token_hash.empty() || actor.recording_grant) {
    return Error::PermissionDenied("this credential cannot present a TOTP code");
  }
  return Ok();
}

Result<People::StepUp> People::StepUpInTx(Tx& tx, const core::Actor& actor,
                                            const std::string& totp) {
  StepUp out;
  BG_ASSIGN_OR_RETURN(auto tok, tx.GetToken(actor.token_hash));
  BG_ASSIGN_OR_RETURN(auto u, tx.GetUser(actor.name));
  if (!tok || tok->expires_at <= tx.now() || !u || u->disabled) {
    return Error::Unauthenticated("invalid or expired token");
  }
  const Timestamp reset_at = u->unlocked_at.value_or(Timestamp{});
  if (auto limited = limiter_.Check(actor.name, actor.source_address, tx.now(), reset_at);
      !limited) {
    out.refused = limited.error();
    return out;
  }
  if (tok->step_up_failures >= kMaxStepUpFailures) {
    out.refused = Error(ErrorCode::kPermissionDenied,
                        fmt::format("{} wrong codes were presented with this token; log in "
                                    "again to approve or deny",
                                    tok->step_up_failures),
                        "totp");
    return out;
  }
  BG_ASSIGN_OR_RETURN(Secret seed,
                      auth::Open(master_key_, u->totp_secret_enc, TotpAad(actor.name)));
  auto step = auth::VerifyTotp(seed, totp, tx.now(), u->totp_last_step);
  if (!step) {
    if (step.error().code() == ErrorCode::kInvalidArgument) return step.error();
    // Counted and audited in this transaction, which commits although nothing is approved.
    auth::FailureOutcome f =
        limiter_.RecordFailure(actor.name, actor.source_address, tx.now(), reset_at);
    store::TokenRecord changed = *tok;
    changed.step_up_failures++;
    tx.UpdateToken(changed);
    core::AuditEvent ev{"auth.mfa_failed", actor.name, {}, {}};
    ev.details["source_address"] = actor.source_address;
    ev.details["token_failures"] = std::to_string(changed.step_up_failures);
    tx.Audit(ev);
    if (f.alert) StageGuessedAlert(tx, actor.name, f.account_failures, actor.source_address);
    out.refused =
        Error(ErrorCode::kPermissionDenied, "the TOTP code is wrong or was already used", "totp");
    return out;
  }
  limiter_.RecordSuccess(actor.name, actor.source_address, tx.now());
  store::UserRecord changed = *u;
  changed.totp_last_step = *step;
  changed.mfa_verified_at = tx.now();
  tx.PutUser(changed);
  store::TokenRecord fresh_token = *tok;
  fresh_token.mfa_verified_at = tx.now();
  tx.UpdateToken(fresh_token);
  core::Actor a = actor;
  a.mfa_verified_at = tx.now();
  a.mfa_code_presented = true;
  out.fresh.emplace(std::move(a));
  return out;
}

Result<core::Actor> People::VerifyActionCode(const core::Actor& actor, const std::string& totp) {
  ForgetOnExit forget(auth_cache_, ForgetOnExit::Kind::kToken, actor.token_hash);
  BG_TRY(CheckMayPresentCode(actor));
  auto result = std::make_shared<StepUp>();
  BG_TRY(writer_.RunSync([&, result](Tx& tx) -> Status {
    BG_ASSIGN_OR_RETURN(*result, StepUpInTx(tx, actor, totp));
    return Ok();
  }));
  auth_cache_.ForgetUser(actor.name);
  if (result->refused) return *result->refused;
  return std::move(*result->fresh);
}


Result<NewUser> People::AddUser(const std::string& actor, const std::string& name,
                                 std::vector<core::Role> roles, const Secret& password,
                                 const std::string& email) {
  BG_TRY(CheckUserName(name));
  if (!email.empty() && !notify::IsMailAddress(email)) {
    return Error::InvalidArgument("email", "'" + email + "' is not an e-mail address");
  }
  if (roles.empty()) return Error::InvalidArgument("role", "give at least one --role");
  std::sort(roles.begin(), roles.end());
  roles.erase(std::unique(roles.begin(), roles.end()), roles.end());
  BG_TRY(auth::CheckPasswordPolicy(password));
  BG_ASSIGN_OR_RETURN(std::string hash, auth::HashPassword(password));
  Secret seed = auth::GenerateTotpSecret();
  std::string sealed = auth::Seal(master_key_, seed, TotpAad(name));
  BG_TRY(writer_.RunSync([&](Tx& tx) -> Status {
    BG_ASSIGN_OR_RETURN(auto existing, tx.GetUser(name));
    if (existing) return Error(ErrorCode::kConflict, "user '" + name + "' already exists", "username");
    store::UserRecord u;
    u.name = name;
    u.roles = roles;
    u.password_hash = hash;
    u.totp_secret_enc = sealed;
    u.created_at = tx.now();
    u.email = email;
    tx.PutUser(u);
    // Whether an address is set, not the address: the log is forever, an address is personal.
    tx.Audit({"user.added", actor, {},
              {{"user", name}, {"roles", JoinRoles(roles)}, {"email", email.empty() ? "no" : "yes"}}});
    tx.Audit({"mfa.enrolled", actor, {}, {{"user", name}}});
    return Ok();
  }));
  return Enrol(std::move(seed), name, std::move(roles));
}

Result<DisableReport> People::DisableUser(const std::string& actor, const std::string& name) {
  ForgetOnExit forget(auth_cache_, ForgetOnExit::Kind::kUser, name);
  auto report = std::make_shared<DisableReport>();
  BG_TRY(writer_.RunSync([&, report](Tx& tx) -> Status {
    *report = DisableReport{};  // the writer may run this twice (the log grew outside)
    BG_ASSIGN_OR_RETURN(auto u, tx.GetUser(name));
    if (!u) return Error(ErrorCode::kNotFound, "no user '" + name + "'", "username");
    report->was_disabled = u->disabled;
    store::UserRecord changed = *u;
    changed.disabled = true;
    tx.PutUser(changed);
    tx.Audit({"user.disabled", actor, {}, {{"user", name}}});
    BG_ASSIGN_OR_RETURN(auto open, store_.ListOpenRequests());
    for (const core::Request& listed : open) {
      BG_ASSIGN_OR_RETURN(auto current, tx.GetRequest(listed.id));
      if (!current) continue;
      std::optional<core::DisableStep> step =
          core::OnUserDisabled(*current, name, actor, tx.now());
      if (!step) continue;
      switch (step->effect) {
        case core::DisableEffect::kRevoked: {
          report->revoked.push_back(current->id);
          store::SessionFilter filter;
          filter.request = current->id;
          filter.limit = 1000;
          auto sessions = store_.ListSessions(filter);
          // FailedPrecondition: a store that keeps no recordings, so no session to end.
          if (!sessions && sessions.error().code() != ErrorCode::kFailedPrecondition) {
            return sessions.error();
          }
          for (const auto& session : sessions ? *sessions : std::vector<store::SessionRecord>{}) {
            if (!session.complete) report->sessions_ended.push_back(session.id);
          }
          break;
        }
        case core::DisableEffect::kCancelled: report->cancelled.push_back(current->id); break;
        case core::DisableEffect::kApprovalWithdrawn:
          report->approvals_withdrawn.push_back(current->id);
          break;
      }
      effects_.ApplyTransition(tx, step->transition, current->version);
    }
    return Ok();
  }));
  return std::move(*report);
}

Status People::SetUserDisabled(const std::string& actor, const std::string& name, bool disabled) {
  if (disabled) {
    BG_TRY(DisableUser(actor, name));
    return Ok();
  }
  ForgetOnExit forget(auth_cache_, ForgetOnExit::Kind::kUser, name);
  return writer_.RunSync([&](Tx& tx) -> Status {
    BG_ASSIGN_OR_RETURN(auto u, tx.GetUser(name));
    if (!u) return Error(ErrorCode::kNotFound, "no user '" + name + "'", "username");
    store::UserRecord changed = *u;
    changed.disabled = false;
    tx.PutUser(changed);
    tx.Audit({"user.enabled", actor, {}, {{"user", name}}});
    return Ok();
  });
}

Result<std::string> People::LocalOperator(const std::string& requested,
                                           const std::string& os_user) {
  auto is_admin = [](const store::UserRecord& u) {
    return !u.disabled &&
           std::find(u.roles.begin(), u.roles.end(), core::Role::kAdmin) != u.roles.end();
  };
  if (!requested.empty()) {
    BG_ASSIGN_OR_RETURN(auto u, store_.GetUser(requested));
    if (!u) {
      return Error::InvalidArgument("operator", "no account '" + requested + "' to act as");
    }
    if (!is_admin(*u)) {
      return Error(ErrorCode::kPermissionDenied,
                   "'" + requested + "' is " + (u->disabled ? "disabled" : "not an admin") +
                       "; name an enabled admin account",
                   "operator");
    }
    return requested;
  }
  if (!os_user.empty()) {
    BG_ASSIGN_OR_RETURN(auto u, store_.GetUser(os_user));
    if (u && is_admin(*u)) return os_user;
  }
  return "cli:" + (os_user.empty() ? std::string("unknown") : os_user);
}

Status People::UnlockUser(const std::string& actor, const std::string& name) {
  ForgetOnExit forget(auth_cache_, ForgetOnExit::Kind::kUser, name);
  return writer_.RunSync([&](Tx& tx) -> Status {
    BG_ASSIGN_OR_RETURN(auto u, tx.GetUser(name));
    if (!u) return Error(ErrorCode::kNotFound, "no user '" + name + "'", "username");
    store::UserRecord changed = *u;
    changed.unlocked_at = tx.now();
    changed.failed_logins = 0;
    changed.locked_until.reset();
    tx.PutUser(changed);
    tx.Audit({"user.unlocked", actor, {}, {{"user", name}}});
    return Ok();
  });
}

Result<NewUser> People::ResetUser(const std::string& actor, const std::string& name,
                                   const std::optional<Secret>& password) {
  std::string hash;
  if (password) {
    BG_TRY(auth::CheckPasswordPolicy(*password));
    BG_ASSIGN_OR_RETURN(hash, auth::HashPassword(*password));
  }
  Secret seed = auth::GenerateTotpSecret();
  std::string sealed = auth::Seal(master_key_, seed, TotpAad(name));
  std::vector<core::Role> roles;
  ForgetOnExit forget(auth_cache_, ForgetOnExit::Kind::kUser, name);
  BG_TRY(writer_.RunSync([&](Tx& tx) -> Status {
    BG_ASSIGN_OR_RETURN(auto u, tx.GetUser(name));
    if (!u) return Error(ErrorCode::kNotFound, "no user '" + name + "'", "username");
    store::UserRecord changed = *u;
    if (password) changed.password_hash = hash;
    changed.totp_secret_enc = sealed;
    changed.totp_last_step = -1;
    changed.mfa_verified_at.reset();
    changed.failed_logins = 0;
    changed.locked_until.reset();
    changed.unlocked_at = tx.now();
    roles = changed.roles;
    tx.PutUser(changed);
    tx.Audit({"user.reset", actor, {}, {{"user", name}, {"password", password ? "reset" : "kept"}}});
    tx.Audit({"mfa.reset", actor, {}, {{"user", name}}});
    return Ok();
  }));
  return Enrol(std::move(seed), name, std::move(roles));
}


Status People::MarkSourceKnown(const std::string& user, const std::string& address) {
  return writer_.RunSync([&](Tx& tx) -> Status {
    tx.UseSource(user, address);
    return Ok();
  });
}

}  // namespace bg::service
