// The shell around the pure core, and the one object the API and the CLI hold. It opens the
// parts (store, master key, audit log, connectors, policy) and wires its collaborators, each
// in its own header: the policy holder (policy_holder.h), the request workflow (workflow.h),
// people (people.h), the grant runner (grant_runner.h), the event bus (event_bus.h) and the
// one reader of the core's effects (effects.h). Its request and people methods forward to
// those; they exist from Start() on.
//
// Thread-safe: every public method may be called from any thread. Methods taking a callback
// return at once; the callback runs on the writer thread after the commit.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "auth/master_key.h"
#include "core/commands.h"
#include "core/policy.h"
#include "core/request.h"
#include "service/config.h"
#include "connector/connector.h"
#include "service/effects.h"
#include "service/event_bus.h"
#include "service/people.h"
#include "service/workflow.h"
#include "store/store.h"
#include "util/result.h"
#include "util/secret.h"
#include "util/time.h"

namespace bg::metrics {
class Registry;
}
namespace bg::auth {
class MasterKey;
}

namespace bg::service {

class AuditFollower;
class AuditLog;
class Writer;
class Scheduler;
class Periodic;
class Tx;

class GrantRunner;
class PolicyHolder;
class Reviews;
class Attestations;
class Drills;

class Service {
 public:
  // kServer: everything. kAdmin: store, keys and audit log only, for local administration
  // (`breakglass user add` beside a running server): no policy, no timers, no outbox.
  enum class Mode { kServer, kAdmin };
  // Opens the store, the master key, the audit log and (kServer) the policy. No threads yet.
  // `master_key`, when given (a sealed server unsealed from a kit), is used instead of
  // <data_dir>/master.key, which is then neither read nor created.
  static Result<std::unique_ptr<Service>> Open(ServerConfig config, const Clock& clock,
                                               std::shared_ptr<metrics::Registry> metrics,
                                               Mode mode = Mode::kServer,
                                               std::unique_ptr<store::Store> store = nullptr,
                                               std::function<void(connector::ConnectorRegistry&)>
                                                   register_connector_kinds = nullptr,
                                               std::unique_ptr<auth::MasterKey> master_key =
                                                   nullptr);
  ~Service();

  // Starts the writer, and in kServer mode the timers and the outbox; resumes pending work.
  // kServer: the follower of the audit log (other processes' and replicas' leaves reach the
  // event streams and the request cache).
  // Before Start, the people, request and audit methods answer Unavailable.
  // `background` false (a replica of several on one database, until it holds the background
  // lease): only what serves the API starts; StartBackground() starts the rest.
  Status Start(bool background = true);
  // kServer, after Start: the work one process does for the whole installation. Timers fire
  // (those other replicas stored are found within kTimerSyncInterval, or at once when the
  // store says it changed), connector jobs run, reviews and campaigns are watched, scheduled
  // drills start, drills left running by a stopped server are marked failed. Idempotent; any
  // thread.
  Status StartBackground();
  // Whether this process does the background work (StartBackground ran).
  bool RunsBackground() const { return background_.load(); }
  static constexpr Seconds kTimerSyncInterval{1};
  void Stop();

  connector::ConnectorRegistry& connectors() { return connectors_; }
  const auth::MasterKey& master_key() const { return *master_key_; }
  const ServerConfig& config() const { return config_; }
  const Clock& clock() const { return clock_; }
  // Accounts, logins and passkeys; null before Start.
  People* people() { return people_.get(); }
  // Post-incident reviews (reviews.h); null before Start.
  Reviews* reviews() { return reviews_.get(); }
  // Attestation campaigns (attestations.h); null before Start.
  Attestations* attestations() { return attestations_.get(); }
  // Drills (drills.h); null before Start and in kAdmin mode.
  Drills* drills() { return drills_.get(); }
  // How often open reviews are checked for a passed deadline (kServer).
  static constexpr Seconds kReviewCheckInterval{5};
  std::shared_ptr<const core::Policy> policy() const;
  metrics::Registry& metrics() { return *metrics_; }
  store::Store& store() { return *store_; }
  AuditLog& audit() { return *audit_; }

  // Policy: loads config.policy (or the demo policy); on failure keeps the current one.
  Status ReloadPolicy();

  // ---- people ----
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
  // A recording credential for the active grant `id` of `actor` (its requester): it lets the
  // session recorder on a target read that grant and upload its sessions, nothing else, so
  // the person's own token never has to reach the target. It lasts until the grant's end
  // plus kRecordingUploadGrace (for a spool sent after the end). Audited with the token's
  // HMAC. FailedPrecondition unless the grant is active; PermissionDenied for another person's
  // grant or when `actor` itself holds a recording credential.
  static constexpr Seconds kRecordingUploadGrace = People::kRecordingUploadGrace;
  Result<LoginResult> IssueRecordingToken(const core::Actor& actor, const RequestId& id);
  // Verifies a TOTP code presented with an action (approve/deny) and marks the actor's token
  // fresh. Wrong codes count with the login failures (same throttle per account and source,
  // same alert): ResourceExhausted (with retry_after_seconds) while throttled. After
  // kMaxStepUpFailures wrong codes with one token (renewals included) that token can no longer
  // step up, even with the right code: PermissionDenied (field "totp"); a new login is needed.
  static constexpr int kMaxStepUpFailures = People::kMaxStepUpFailures;
  Result<core::Actor> VerifyActionCode(const core::Actor& actor, const std::string& totp);

  // `actor` names who does it (an admin, or "cli:<os user>" when run locally).
  // `email` (optional): where person-addressed notifications go over SMTP.
  Result<NewUser> AddUser(const std::string& actor, const std::string& name,
                          std::vector<core::Role> roles, const Secret& password,
                          const std::string& email = "");
  // Disabling also ends what the person holds, in the same transaction: it revokes their
  // approved and active grants (request.revoked with the reason; the connector revocations are
  // queued in the outbox, which a running server works off within a second), cancels their
  // pending requests and withdraws their approvals that still count (core::OnUserDisabled).
  // The open recorded sessions of the revoked grants end when their recorder sees the
  // revocation (its recording credential keeps reading the grant and uploading: Authenticate).
  // Repeating it ends what may have appeared since and is otherwise a no-op.
  Result<DisableReport> DisableUser(const std::string& actor, const std::string& name);
  // Enabling restores the account only; nothing that disabling ended comes back.
  Status SetUserDisabled(const std::string& actor, const std::string& name, bool disabled);
  // The audit actor of an account-changing command run locally: `requested` (--operator), which
  // must name an enabled admin account (InvalidArgument / PermissionDenied, field "operator"),
  // else `os_user` when it names an enabled admin account, else "cli:<os_user>".
  Result<std::string> LocalOperator(const std::string& requested, const std::string& os_user);
  // Forgets the account's failed logins and codes from every source (`breakglass user
  // unlock`), including in a server running beside this process: the time is stored with the
  // account and the server's throttle ignores failures before it. Audited as user.unlocked.
  Status UnlockUser(const std::string& actor, const std::string& name);
  // Resets the password (if given) and always the TOTP seed; returns the new enrolment.
  Result<NewUser> ResetUser(const std::string& actor, const std::string& name,
                            const std::optional<Secret>& password);
  Result<std::vector<store::UserRecord>> ListUsers();
  // Records that `user` has used `address` (so it is not a "new source" risk signal). Used by
  // the embedded default to set up its demo accounts.
  Status MarkSourceKnown(const std::string& user, const std::string& address);

  // ---- requests ----
  void Create(const core::Actor& actor, core::CreateCommand cmd, Callback<core::Request> cb);
  // With `totp`, the code is verified (as VerifyActionCode does) in the same writer
  // transaction as the decision and the request's visibility: both commit or neither, except
  // that a wrong code is counted and audited although nothing is decided. Never blocks.
  // With `passkey`, a passkey assertion made for this decision, likewise (a rule with
  // approver_mfa = "passkey" accepts nothing else).
  void Approve(const core::Actor& actor, RequestId id, std::string comment,
               Callback<core::Request> cb, std::string totp = "",
               std::optional<auth::webauthn::Assertion> passkey = std::nullopt);
  void Deny(const core::Actor& actor, RequestId id, std::string reason, Callback<core::Request> cb,
            std::string totp = "", std::optional<auth::webauthn::Assertion> passkey = std::nullopt);
  void Cancel(const core::Actor& actor, RequestId id, Callback<core::Request> cb);
  void Revoke(const core::Actor& actor, RequestId id, std::string reason,
              Callback<core::Request> cb);
  void Extend(const core::Actor& actor, RequestId id, Seconds duration, std::string reason,
              Callback<core::Request> cb);
  Result<core::Request> Get(const core::Actor& actor, const RequestId& id);
  // The same, shared with the request cache instead of copied (the hot read path).
  Result<std::shared_ptr<const core::Request>> GetShared(const core::Actor& actor,
                                                         const RequestId& id);
  Result<std::vector<core::Request>> List(const core::Actor& actor, store::RequestFilter filter,
                                          bool mine);

  // ---- events (EventBus) ----
  using Subscriber = EventBus::Subscriber;
  uint64_t Subscribe(Subscriber s) { return events_.Subscribe(std::move(s)); }
  void Unsubscribe(uint64_t id) { events_.Unsubscribe(id); }
  EventBus& events() { return events_; }
  // Called in log order, once for every leaf of the store's log (syslog forwarding): on the
  // writer thread for the server's own appends, on the AuditFollower's for leaves other
  // processes appended (`breakglass user add` beside the server), which are found within
  // kAuditFollowInterval. Must not block.
  static constexpr std::chrono::milliseconds kAuditFollowInterval{1000};
  using AuditSubscriber = EventBus::AuditSubscriber;
  void SubscribeAudit(AuditSubscriber s) { events_.SubscribeAudit(std::move(s)); }
  // Credentials handed out, audited before they leave (no audit, no credential): the API
  // calls these after the connector made the credential and sends it only on Ok.
  // "ssh.cert_issued": the certificate's serial, the SHA-256 fingerprint of the signed public
  // key (as `ssh-keygen -l` shows it), the principals and the validity window.
  Status AuditSshCertIssued(const core::Actor& actor, const core::Request& grant,
                            std::string_view public_key_line, uint64_t serial,
                            const std::vector<std::string>& principals, Timestamp valid_after,
                            Timestamp valid_before);
  // "credential.taken": `actor` fetched the one-time credential of `grant` (never its value).
  Status AuditCredentialTaken(const core::Actor& actor, const core::Request& grant);
  // Appends one audit event on its own (for components outside the request workflow).
  Status AppendAudit(const core::AuditEvent& event);
  // Raises an alert outside a request transition (a connector probe failing): appends
  // "alert.raised" (details: kind, message and `details`) and, once committed, publishes a
  // StateEvent of type "alert" to the policy's security contacts (expanded). `request` may be
  // empty (an alert about the system, not one request).
  Status RaiseAlert(const std::string& kind, const std::string& message,
                    std::map<std::string, std::string> details, const RequestId& request = {});
  // Runs `run` on the writer (its staged writes and audit leaves commit together); `done` gets
  // the outcome on the writer thread. For components with their own tables (sessions.h).
  void SubmitWrite(std::function<Status(Tx&)> run, std::function<void(Status)> done);

  // Counts for /readyz and /metrics.
  bool Ready() const { return started_.load(); }

 private:
  Service(ServerConfig config, const Clock& clock, std::shared_ptr<metrics::Registry> metrics,
          Mode mode);
  Status OpenParts(const std::function<void(connector::ConnectorRegistry&)>& register_connector_kinds);
  // What a method that needs the collaborators (made by Start) answers before Start.
  static Error NotStarted();
  // A leaf the follower read from the store (another replica or process appended it): the
  // request it names is refreshed in the cache and published to this process's event streams.
  void OnLeafFromStore(const std::string& leaf);
  void SyncTimers();

  ServerConfig config_;
  const Clock& clock_;
  std::shared_ptr<metrics::Registry> metrics_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<auth::MasterKey> master_key_;
  std::unique_ptr<AuditLog> audit_;
  connector::ConnectorRegistry connectors_;
  std::unique_ptr<PolicyHolder> policies_;
  std::unique_ptr<Writer> writer_;
  std::unique_ptr<Scheduler> scheduler_;
  std::unique_ptr<GrantRunner> grants_;
  EventBus events_;
  std::unique_ptr<Effects> effects_;
  std::unique_ptr<People> people_;            // from Start() on
  std::unique_ptr<RequestWorkflow> workflow_;  // from Start() on
  std::unique_ptr<Reviews> reviews_;           // from Start() on
  std::unique_ptr<Attestations> attestations_;  // from Start() on
  std::unique_ptr<Drills> drills_;              // from Start() on (kServer)
  std::unique_ptr<AuditFollower> follower_;  // kServer: feeds events_' leaves from the store
  std::unique_ptr<Periodic> timer_sync_;     // kServer, background: the store's timers
  Mode mode_;
  std::atomic<bool> started_{false};
  std::mutex background_mu_;  // StartBackground against Stop
  std::atomic<bool> background_{false};
  struct Impl;
  std::unique_ptr<Impl> impl_;  // metric handles, request cache
};

}  // namespace bg::service
