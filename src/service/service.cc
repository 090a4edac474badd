#include "service/service.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <future>

#include "audit/event.h"
#include "auth/master_key.h"
#include "auth/rate_limit.h"
#include "core/commands.h"
#include "log/json_log.h"
#include "metrics/metrics.h"
#include "service/attestations.h"
#include "service/audit_log.h"
#include "service/background.h"
#include "service/connector_state.h"
#include "service/drills.h"
#include "service/grant_runner.h"
#include "service/policy_holder.h"
#include "service/recording_check.h"
#include "service/request_cache.h"
#include "service/reviews.h"
#include "service/service_metrics.h"
#include "service/writer.h"
#include "util/encoding.h"
#include "util/fs.h"
#include "util/random.h"
#include "util/sha256.h"
#include "util/version.h"

namespace bg::service {

struct Service::Impl {
  ServiceMetrics m;
  RequestCache requests;
};

namespace {

Status EnsureDir(const std::string& dir) {
  struct stat st {};
  if (stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) return Error::InvalidArgument("data_dir", dir + " is not a directory");
    return Ok();
  }
  if (mkdir(dir.c_str(), 0700) != 0) {
    return Error::InvalidArgument("data_dir", fmt::format("cannot create {}: {}", dir,
                                                          std::strerror(errno)));
  }
  return Ok();
}

}  // namespace

Service::Service(ServerConfig config, const Clock& clock,
                 std::shared_ptr<metrics::Registry> metrics, Mode mode)
    : config_(std::move(config)), clock_(clock), metrics_(std::move(metrics)), mode_(mode) {}

Service::~Service() { Stop(); }

Result<std::unique_ptr<Service>> Service::Open(ServerConfig config, const Clock& clock,
                                               std::shared_ptr<metrics::Registry> metrics,
                                               Mode mode, std::unique_ptr<store::Store> store,
                                               std::function<void(connector::ConnectorRegistry&)>
                                                   register_connector_kinds,
                                               std::unique_ptr<auth::MasterKey> master_key) {
  InitCrypto();
  if (!metrics) metrics = std::make_shared<metrics::Registry>();
  std::unique_ptr<Service> s(new Service(std::move(config), clock, std::move(metrics), mode));
  s->store_ = std::move(store);
  s->master_key_ = std::move(master_key);
  BG_TRY(s->OpenParts(register_connector_kinds));
  return s;
}

Status Service::OpenParts(
    const std::function<void(connector::ConnectorRegistry&)>& register_connector_kinds) {
  impl_ = std::make_unique<Impl>();
  effects_ = std::make_unique<Effects>(
      events_, impl_->requests, clock_, [this] { return policy(); },
      [this] {
        if (grants_) grants_->Notify();
      });
  BG_TRY(EnsureDir(config_.data_dir));
  if (!store_) {
    BG_ASSIGN_OR_RETURN(store_, store::OpenStore(config_.storage, config_.data_dir));
  }
  if (!master_key_) {
    // A sealed data directory has no key file on purpose: creating a fresh key here would
    // silently make every sealed secret unreadable.
    struct stat sealed {};
    if (stat((config_.data_dir + "/master-kit.json").c_str(), &sealed) == 0) {
      return Error::FailedPrecondition(
          "the data directory is sealed (master-kit.json): start `breakglass serve --sealed` and "
          "unseal it with the keyholders' shares");
    }
    BG_ASSIGN_OR_RETURN(auto key, auth::LoadOrCreateMasterKey(config_.data_dir + "/master.key"));
    master_key_ = std::make_unique<auth::MasterKey>(std::move(key));
  }
  std::string origin = config_.audit_origin;
  if (origin.empty()) {
    char host[256] = {0};
    gethostname(host, sizeof host - 1);
    origin = fmt::format("breakglass/{}", host);
  }
  BG_ASSIGN_OR_RETURN(audit_, AuditLog::Open(*store_, *master_key_, origin));
  if (mode_ == Mode::kAdmin) return Ok();
  if (config_.demo) {
    // The embedded default: bastion-ssh is a real SSH CA (its key is made in the store, sealed
    // under the master key), so the walkthrough ends with a certificate; prod-pg is record-only
    // (the grant is tracked, audited and expires; no credential is issued).
    const std::pair<const char*, PluginConfig> demo[] = {
        {"prod-pg", {"prod-pg", "none", "{}"}},
        {"bastion-ssh", {"bastion-ssh", "ssh_ca", R"({"extensions":["permit-pty"]})"}}};
    for (const auto& [name, plugin] : demo) {
      if (!config_.connectors.count(name)) config_.connectors[name] = plugin;
    }
  }
  if (register_connector_kinds) register_connector_kinds(connectors_);
  BG_TRY(connectors_.Configure(config_.connectors,
                               MakeConnectorHost(*master_key_, *store_, config_, clock_,
                                                 SystemRandom::Get())));
  // What the policy may name is what this server has: its connectors and their recording.
  policies_ = std::make_unique<PolicyHolder>(
      config_.policy, [this](const core::Policy& policy, const std::string& path) {
        std::vector<std::string> problems;
        for (const auto& r : policy.resources) {
          if (!connectors_.Has(r.connector)) {
            problems.push_back(fmt::format("{}: resource '{}' names connector '{}', which the "
                                           "server configuration does not define",
                                           path, r.name, r.connector));
          }
        }
        for (auto& p : RecordingProblems(policy, config_.connectors, path)) {
          problems.push_back(std::move(p));
        }
        for (auto& p : Drills::PolicyProblems(policy, config_.connectors, connectors_, path)) {
          problems.push_back(std::move(p));
        }
        return problems;
      });
  BG_TRY(ReloadPolicy());
  impl_->m.Register(*metrics_, *this);
  return Ok();
}

std::shared_ptr<const core::Policy> Service::policy() const {
  return policies_ ? policies_->current() : nullptr;
}

Status Service::ReloadPolicy() {
  PolicyHolder::Attempt tried;
  Status loaded = policies_->Load(&tried);
  if (!loaded && tried.sha256.empty()) return loaded;  // the file could not be read
  const std::string event = loaded ? "policy.loaded" : "policy.rejected";
  const log::Fields fields = {{"path", tried.path}, {"sha256", tried.sha256}};
  if (loaded) {
    log::Info(event, fields);
  } else {
    log::Error(event, fields);
  }
  if (writer_) {
    Status audited = AppendAudit(core::AuditEvent{
        event, std::string(core::kSystemActor), {}, {{"path", tried.path}, {"sha256", tried.sha256}}});
    if (loaded) return audited;  // a rejection is reported as such, audited or not
  }
  return loaded;
}

Status Service::Start(bool background) {
  if (started_) return Ok();
  if (mode_ == Mode::kServer) {
    // Queues timers from the start (the writer hands over those it stores); fires them only
    // once this process does the background work.
    scheduler_ = std::make_unique<Scheduler>(
        clock_,
        [this](const store::TimerRecord& t, int attempt) {
          workflow_->OnTimerFired(t, [this, t, attempt] { scheduler_->Retry(t, attempt + 1); });
        },
        /*active=*/false);
  }
  // Only the replica doing the background work queues the timers it stores (the others would
  // hold them forever); it finds the other replicas' in the store (SyncTimers).
  writer_ = std::make_unique<Writer>(*store_, *audit_, clock_,
                                     [this](const std::vector<store::TimerRecord>& ts) {
                                       if (scheduler_ && background_.load()) scheduler_->Add(ts);
                                     });
  if (mode_ == Mode::kServer) {
    // Subscribers see the store's whole log, leaves other processes and replicas append
    // included (13.6); what another replica changed reaches this one's event streams.
    BG_ASSIGN_OR_RETURN(
        follower_, AuditFollower::Open(*store_, *audit_,
                                       [this](int64_t i, const std::string& leaf, bool from_store) {
                                         events_.PublishLeaf(i, leaf);
                                         if (from_store) OnLeafFromStore(leaf);
                                       }));
    follower_->set_store_mark(false);
  }
  people_ = std::make_unique<People>(config_, clock_, *store_, *master_key_, *audit_, *writer_,
                                     *effects_, &impl_->m);
  workflow_ = std::make_unique<RequestWorkflow>(*store_, *writer_, clock_, *effects_, *people_,
                                                impl_->requests, &impl_->m);
  reviews_ = std::make_unique<Reviews>(*store_, *writer_, clock_, *effects_, *audit_);
  if (policies_) {
    attestations_ =
        std::make_unique<Attestations>(*store_, *writer_, clock_, *effects_, *policies_);
  }
  writer_->SetAuditListener([this](int64_t index, const std::string& leaf) {
    if (follower_) return follower_->OnCommitted(index, leaf);
    events_.PublishLeaf(index, leaf);
  });
  if (mode_ == Mode::kAdmin) {
    started_ = true;
    return Ok();
  }
  core::AuditEvent started{"server.started", std::string(core::kSystemActor), {}, {}};
  started.details["policy_sha256"] = policies_->sha256();
  started.details["audit_key"] = audit_->VerifierKey();
  started.details["version"] = std::string(kVersion);
  BG_TRY(writer_->RunSync([started](Tx& tx) {
    tx.Audit(started);
    return Ok();
  }));
  grants_ = std::make_unique<GrantRunner>(
      *store_, connectors_,
      [this](std::function<Status(Tx&)> run, std::function<void(Status)> done) {
        writer_->Submit({std::move(run), std::move(done)});
      },
      [this](Tx& tx, const store::OutboxJob& job, core::JobKind kind,
             const core::JobOutcome& outcome) {
        return workflow_->RecordJobOutcome(tx, job, kind, outcome);
      },
      [this](const std::string& kind, bool ok) { impl_->m.CountConnectorCall(kind, ok); });
  drills_ = std::make_unique<Drills>(*this);
  timer_sync_ = std::make_unique<Periodic>([this] { SyncTimers(); });
  // Another replica's commit wakes this one's pollers at once (PostgreSQL LISTEN/NOTIFY).
  store_->WatchChanges([this] {
    follower_->Wake();
    if (background_.load()) {
      timer_sync_->Wake();
      grants_->Notify();
    }
  });
  follower_->Start(kAuditFollowInterval);
  started_ = true;
  if (background) BG_TRY(StartBackground());
  return Ok();
}

Status Service::StartBackground() {
  if (mode_ != Mode::kServer) return Ok();
  std::lock_guard lock(background_mu_);
  if (!started_) return NotStarted();
  if (background_) return Ok();
  // Timers that came due while no server did this work fire at once (expiry of grants whose
  // end passed during the outage, approval windows that closed).
  BG_ASSIGN_OR_RETURN(auto timers, store_->ListTimers());
  scheduler_->Add(timers);
  BG_TRY(drills_->FailInterrupted());
  if (attestations_) BG_TRY(attestations_->RefreshRemovals());
  background_ = true;
  scheduler_->Activate();
  timer_sync_->Start(kTimerSyncInterval);
  grants_->Start(clock_);
  reviews_->Start(kReviewCheckInterval);
  drills_->StartSchedules();
  if (attestations_) attestations_->Start(kReviewCheckInterval);
  follower_->set_store_mark(true);
  log::Info("server.background", {{"outcome",
                                   "this server runs the timers, the outbox and the "
                                   "periodic checks"}});
  return Ok();
}

void Service::SyncTimers() {
  auto timers = store_->ListTimers();
  if (!timers) {
    log::Warn("timers.read_failed", {{"error", timers.error().message()}});
    return;
  }
  scheduler_->Sync(*timers);
}

void Service::OnLeafFromStore(const std::string& leaf) {
  auto ev = audit::ParseLeaf(leaf);
  if (!ev) return;
  std::optional<core::Request> request;
  if (ev->request) {
    auto r = store_->GetRequest(*ev->request);
    if (!r) {
      log::Warn("events.read_failed", {{"error", r.error().message()}});
      return;
    }
    request = std::move(*r);
    if (request) impl_->requests.Put(*request, clock_.NowMicros());
  }
  StateEvent e;
  if (request) e.request = *request;
  if (ev->type == "alert.raised") {
    e.type = "alert";
    e.alert_kind = ev->details["kind"];
    e.message = ev->details["message"];
    const std::string& to = ev->details["recipients"];
    for (size_t at = 0; at < to.size();) {
      size_t comma = std::min(to.find(',', at), to.size());
      if (comma > at) e.recipients.push_back(to.substr(at, comma - at));
      at = comma + 1;
    }
  } else if (ev->type.rfind("review.", 0) == 0 && ev->details.count("review")) {
    // A review of a request or of an offline kit's use (no request).
    auto review = store_->GetReview(ev->details["review"]);
    if (!review || !*review) return;
    e.type = "review";
    e.review_id = (*review)->id;
    e.review_state = std::string(core::ToString((*review)->state));
  } else if (!request) {
    return;
  } else {
    e.type = "request";
  }
  events_.Publish(e);
}

void Service::Stop() {
  if (!started_.exchange(false)) return;
  {
    std::lock_guard lock(background_mu_);  // a StartBackground in progress ends first
  }
  store_->WatchChanges(nullptr);  // waits for a call in progress
  if (drills_) drills_->Stop();  // a drill revokes what it holds: the writer still runs
  if (timer_sync_) timer_sync_->Stop();
  if (grants_) grants_->Stop();
  if (reviews_) reviews_->Stop();
  if (attestations_) attestations_->Stop();
  if (scheduler_) scheduler_->Stop();
  if (mode_ == Mode::kServer) {
    core::AuditEvent stopped{"server.stopped", std::string(core::kSystemActor), {}, {}};
    (void)writer_->RunSync([stopped](Tx& tx) { tx.Audit(stopped); return Ok(); });
  }
  writer_->Stop();
  if (follower_) follower_->Stop();  // after "server.stopped"
}

// ---- people (people.h) ----

Error Service::NotStarted() { return Error::Unavailable("the service is not started"); }

Result<LoginResult> Service::Login(const std::string& user, const Secret& password,
                                   const std::string& totp, const std::string& source) {
  if (!people_) return NotStarted();
  return people_->Login(user, password, totp, source);
}
Result<LoginResult> Service::Renew(const core::Actor& actor, const std::string& token,
                                   const std::string& source) {
  if (!people_) return NotStarted();
  return people_->Renew(actor, token, source);
}
Status Service::Logout(const std::string& token) {
  if (!people_) return NotStarted();
  return people_->Logout(token);
}
Result<core::Actor> Service::Authenticate(const std::string& token, const std::string& source) {
  if (!people_) return NotStarted();
  return people_->Authenticate(token, source);
}
Result<LoginResult> Service::IssueRecordingToken(const core::Actor& actor, const RequestId& id) {
  if (!people_) return NotStarted();
  return people_->IssueRecordingToken(actor, id);
}
Result<core::Actor> Service::VerifyActionCode(const core::Actor& actor, const std::string& totp) {
  if (!people_) return NotStarted();
  return people_->VerifyActionCode(actor, totp);
}
Result<NewUser> Service::AddUser(const std::string& actor, const std::string& name,
                                 std::vector<core::Role> roles, const Secret& password,
                                 const std::string& email) {
  if (!people_) return NotStarted();
  return people_->AddUser(actor, name, std::move(roles), password, email);
}
Result<DisableReport> Service::DisableUser(const std::string& actor, const std::string& name) {
  if (!people_) return NotStarted();
  return people_->DisableUser(actor, name);
}
Status Service::SetUserDisabled(const std::string& actor, const std::string& name, bool disabled) {
  if (!people_) return NotStarted();
  return people_->SetUserDisabled(actor, name, disabled);
}
Result<std::string> Service::LocalOperator(const std::string& requested,
                                           const std::string& os_user) {
  if (!people_) return NotStarted();
  return people_->LocalOperator(requested, os_user);
}
Status Service::UnlockUser(const std::string& actor, const std::string& name) {
  if (!people_) return NotStarted();
  return people_->UnlockUser(actor, name);
}
Result<NewUser> Service::ResetUser(const std::string& actor, const std::string& name,
                                   const std::optional<Secret>& password) {
  if (!people_) return NotStarted();
  return people_->ResetUser(actor, name, password);
}
Result<std::vector<store::UserRecord>> Service::ListUsers() { return store_->ListUsers(); }
Status Service::MarkSourceKnown(const std::string& user, const std::string& address) {
  if (!people_) return NotStarted();
  return people_->MarkSourceKnown(user, address);
}

// ---- requests (workflow.h) ----

void Service::Create(const core::Actor& actor, core::CreateCommand cmd,
                     Callback<core::Request> cb) {
  if (!workflow_) return cb(NotStarted());
  workflow_->Create(actor, std::move(cmd), std::move(cb));
}
void Service::Approve(const core::Actor& actor, RequestId id, std::string comment,
                      Callback<core::Request> cb, std::string totp,
                      std::optional<auth::webauthn::Assertion> passkey) {
  if (!workflow_) return cb(NotStarted());
  workflow_->Approve(actor, std::move(id), std::move(comment), std::move(cb), std::move(totp),
                     std::move(passkey));
}
void Service::Deny(const core::Actor& actor, RequestId id, std::string reason,
                   Callback<core::Request> cb, std::string totp,
                   std::optional<auth::webauthn::Assertion> passkey) {
  if (!workflow_) return cb(NotStarted());
  workflow_->Deny(actor, std::move(id), std::move(reason), std::move(cb), std::move(totp),
                  std::move(passkey));
}
void Service::Cancel(const core::Actor& actor, RequestId id, Callback<core::Request> cb) {
  if (!workflow_) return cb(NotStarted());
  workflow_->Cancel(actor, std::move(id), std::move(cb));
}
void Service::Revoke(const core::Actor& actor, RequestId id, std::string reason,
                     Callback<core::Request> cb) {
  if (!workflow_) return cb(NotStarted());
  workflow_->Revoke(actor, std::move(id), std::move(reason), std::move(cb));
}
void Service::Extend(const core::Actor& actor, RequestId id, Seconds duration, std::string reason,
                     Callback<core::Request> cb) {
  if (!workflow_) return cb(NotStarted());
  workflow_->Extend(actor, std::move(id), duration, std::move(reason), std::move(cb));
}
Result<core::Request> Service::Get(const core::Actor& actor, const RequestId& id) {
  if (!workflow_) return NotStarted();
  return workflow_->Get(actor, id);
}
Result<std::shared_ptr<const core::Request>> Service::GetShared(const core::Actor& actor,
                                                                const RequestId& id) {
  if (!workflow_) return NotStarted();
  return workflow_->GetShared(actor, id);
}
Result<std::vector<core::Request>> Service::List(const core::Actor& actor,
                                                 store::RequestFilter filter, bool mine) {
  if (!workflow_) return NotStarted();
  return workflow_->List(actor, std::move(filter), mine);
}

// ---- events ----

namespace {
// "SHA256:<unpadded base64>" of the key blob of an authorized_keys-style line, as ssh-keygen -l
// prints it; empty when the line has no base64 key.
std::string SshKeyFingerprint(std::string_view line) {
  const size_t start = line.find(' ');
  if (start == std::string_view::npos) return "";
  std::string_view b64 = line.substr(start + 1);
  b64 = b64.substr(0, b64.find_first_of(" \t\r\n"));
  auto blob = Base64Decode(b64);
  if (!blob) return "";
  std::string fp = Base64Encode(AsBytes(Sha256(*blob)));
  while (!fp.empty() && fp.back() == '=') fp.pop_back();
  return "SHA256:" + fp;
}
}  // namespace

Status Service::AuditSshCertIssued(const core::Actor& actor, const core::Request& grant,
                                   std::string_view public_key_line, uint64_t serial,
                                   const std::vector<std::string>& principals,
                                   Timestamp valid_after, Timestamp valid_before) {
  core::AuditEvent ev{"ssh.cert_issued", actor.name, grant.id,
                      {{"connector", grant.connector},
                       {"serial", std::to_string(serial)},
                       {"key_fingerprint", SshKeyFingerprint(public_key_line)},
                       {"principals", fmt::format("{}", fmt::join(principals, ","))},
                       {"valid_after", FormatRfc3339(valid_after)},
                       {"valid_before", FormatRfc3339(valid_before)},
                       {"source_address", actor.source_address}}};
  return AppendAudit(ev);
}

Status Service::AuditCredentialTaken(const core::Actor& actor, const core::Request& grant) {
  core::AuditEvent ev{"credential.taken", actor.name, grant.id,
                      {{"connector", grant.connector},
                       {"resource", grant.resource},
                       {"privilege", grant.privilege},
                       {"source_address", actor.source_address}}};
  return AppendAudit(ev);
}

Status Service::AppendAudit(const core::AuditEvent& event) {
  if (!writer_) return NotStarted();
  return writer_->RunSync([&event](Tx& tx) {
    tx.Audit(event);
    return Ok();
  });
}

Status Service::RaiseAlert(const std::string& kind, const std::string& message,
                           std::map<std::string, std::string> details, const RequestId& request) {
  if (!writer_) return NotStarted();
  core::Request subject;
  subject.id = request;
  return writer_->RunSync([&](Tx& tx) {
    effects_->StageAlert(tx, effects_->SecurityAlert(kind, message, request), details, subject);
    return Ok();
  });
}

}  // namespace bg::service
