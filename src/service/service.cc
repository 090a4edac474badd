#include "service/service.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <future>

#include "auth/master_key.h"
#include "auth/rate_limit.h"
#include "core/commands.h"
#include "log/json_log.h"
#include "metrics/metrics.h"
#include "service/audit_log.h"
#include "service/background.h"
#include "service/grant_runner.h"
#include "service/local_time.h"
#include "service/policy_holder.h"
#include "service/recording_check.h"
#include "service/service_impl.h"
#include "service/writer.h"
#include "util/encoding.h"
#include "util/random.h"
#include "util/sha256.h"
#include "util/fs.h"
#include "util/version.h"

namespace bg::service {

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
                                               std::function<void(ConnectorRegistry&)>
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
    const std::function<void(ConnectorRegistry&)>& register_connector_kinds) {
  impl_ = std::make_unique<Impl>();
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
  ConnectorContext context{*master_key_, *store_, config_};
  BG_TRY(connectors_.Configure(config_.connectors, context));
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
        return problems;
      });
  BG_TRY(ReloadPolicy());
  impl_->m.Register(*metrics_, *this);
  return Ok();
}

std::shared_ptr<const core::Policy> Service::policy() const { return policies_->current(); }

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

Status Service::Start() {
  if (started_) return Ok();
  BG_ASSIGN_OR_RETURN(auto timers, store_->ListTimers());
  int64_t next_id = 1;
  for (const auto& t : timers) next_id = std::max(next_id, t.id + 1);
  if (mode_ == Mode::kServer) {
    scheduler_ = std::make_unique<Scheduler>(clock_, [this](const store::TimerRecord& t) {
      OnTimerFired(t);
    });
  }
  writer_ = std::make_unique<Writer>(*store_, *audit_, clock_, next_id,
                                     [this](const std::vector<store::TimerRecord>& ts) {
                                       if (scheduler_) scheduler_->Add(ts);
                                     });
  if (mode_ == Mode::kServer) {
    // Subscribers see the store's whole log, leaves other processes append included (13.6).
    BG_ASSIGN_OR_RETURN(follower_, AuditFollower::Open(*store_, *audit_,
                                                       [this](int64_t i, const std::string& leaf) {
                                                         events_.PublishLeaf(i, leaf);
                                                       }));
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
  BG_TRY(writer_->RunSync([started](Tx& tx) { tx.Audit(started); return Ok(); }));
  // Timers that came due while the server was down fire at once (expiry of grants whose end
  // passed during the outage, approval windows that closed).
  scheduler_->Add(timers);
  grants_ = std::make_unique<GrantRunner>(
      *store_, connectors_,
      [this](std::function<Status(Tx&)> run, std::function<void(Status)> done) {
        writer_->Submit({std::move(run), std::move(done)});
      },
      [this](Tx& tx, const store::OutboxJob& job, core::JobKind kind,
             const core::JobOutcome& outcome) {
        auto pol = policy();
        return RecordJobOutcome(tx, *pol, job, kind, outcome);
      },
      [this](const std::string& kind, bool ok) { impl_->m.CountConnectorCall(kind, ok); });
  grants_->Start(clock_);
  follower_->Start(kAuditFollowInterval);
  started_ = true;
  return Ok();
}

void Service::Stop() {
  if (!started_.exchange(false)) return;
  if (grants_) grants_->Stop();
  if (scheduler_) scheduler_->Stop();
  if (mode_ == Mode::kServer) {
    core::AuditEvent stopped{"server.stopped", std::string(core::kSystemActor), {}, {}};
    (void)writer_->RunSync([stopped](Tx& tx) { tx.Audit(stopped); return Ok(); });
  }
  writer_->Stop();
  if (follower_) follower_->Stop();  // after "server.stopped"
}

// ---- requests ----

namespace {
// A recording credential changes nothing: it only records its grant's sessions.
bool RefusedForRecordingCredential(const core::Actor& actor,
                                   const Callback<core::Request>& cb) {
  if (!actor.recording_grant) return false;
  cb(Error::PermissionDenied("a recording credential can only record its grant's sessions"));
  return true;
}

// The reason code of a refusal: the error's code, and the field it names when there is one.
void AddRefusal(core::AuditEvent& ev, const Error& e) {
  ev.details["reason"] = std::string(ToString(e.code()));
  if (!e.field().empty()) ev.details["field"] = e.field();
  ev.details["message"] = e.message();
}

// "request.refused" for a request the policy or its checks refused (the unapprovable case is
// core::RequestRefused): what was asked, by whom, from where, and why not.
core::AuditEvent RefusedRequestEvent(const core::Actor& actor, const core::CreateCommand& cmd,
                                     const Error& e) {
  core::AuditEvent ev{"request.refused", actor.name, RequestId(),
                      {{"resource", cmd.resource},
                       {"privilege", cmd.privilege},
                       {"duration", std::to_string(cmd.duration.count())},
                       {"ticket", cmd.ticket},
                       {"source_address", actor.source_address}}};
  if (cmd.tier) ev.details["tier"] = std::to_string(*cmd.tier);
  if (cmd.emergency) ev.details["emergency"] = "true";
  AddRefusal(ev, e);
  return ev;
}

// "approval.refused" for an approval or denial the rules refused (own request, not in the pool,
// MFA not fresh, not pending...).
core::AuditEvent RefusedApprovalEvent(const core::Actor& actor, const core::Request& r,
                                      const std::string& decision, const Error& e) {
  core::AuditEvent ev{"approval.refused", actor.name, r.id,
                      {{"decision", decision},
                       {"state", std::string(core::ToString(r.state))},
                       {"source_address", actor.source_address}}};
  AddRefusal(ev, e);
  return ev;
}

// The accounts that can approve now: the approver role, not disabled, TOTP enrolled.
Result<std::vector<std::string>> AbleApprovers(store::Store& store) {
  BG_ASSIGN_OR_RETURN(auto users, store.ListUsers());
  std::vector<std::string> able;
  for (const store::UserRecord& u : users) {
    bool approver =
        std::find(u.roles.begin(), u.roles.end(), core::Role::kApprover) != u.roles.end();
    if (approver && !u.disabled && !u.totp_secret_enc.empty()) able.push_back(u.name);
  }
  return able;
}
}  // namespace

void Service::Create(const core::Actor& actor, core::CreateCommand cmd,
                     Callback<core::Request> cb) {
  if (RefusedForRecordingCredential(actor, cb)) return;
  auto pol = policy();
  const Timestamp now = clock_.Now();
  // Risk inputs are read before entering the writer: they are signals, not invariants.
  core::RiskInputs risk;
  auto used = store_->HasUsedSource(actor.name, actor.source_address);
  if (!used) return cb(used.error());
  risk.new_source = !*used && !actor.source_address.empty();
  // Only "has the threshold been reached" matters: count no further than that.
  auto recent = store_->CountRequestsSince(actor.name, now - pol->risk.burst_window,
                                           std::max(pol->risk.burst_threshold, 1));
  if (!recent) return cb(recent.error());
  risk.recent_requests = static_cast<int>(*recent);
  LocalTime lt = ToLocalTime(now, pol->settings.timezone);
  risk.local_weekday = lt.weekday;
  risk.local_minute = lt.minute;
  auto able = AbleApprovers(*store_);
  if (!able) return cb(able.error());
  RequestId id(NewId("req"));
  // A request nobody could approve is refused, and the refusal audited, in the writer.
  auto refused = std::make_shared<std::optional<Error>>();
  auto fn = [this, pol, actor, cmd = std::move(cmd), risk, id, able = std::move(*able),
             refused](Tx& tx) -> Result<core::Request> {
    auto created = core::CreateRequest(*pol, actor, cmd, risk, id, tx.now());
    if (!created) {  // refused by the policy or its checks: audited, with the reason code
      tx.Audit(RefusedRequestEvent(actor, cmd, created.error()));
      *refused = created.error();
      return core::Request{};
    }
    core::Transition& t = *created;
    if (auto ok = core::CheckApprovable(*pol, t.request, able); !ok) {
      tx.Audit(core::RequestRefused(t.request, "unapprovable", ok.error().message()));
      *refused = ok.error();
      return t.request;
    }
    tx.UseSource(actor.name, actor.source_address);
    return ApplyTransition(tx, t, 0);
  };
  writer_->Submit(MakeOp<core::Request>(
      std::move(fn), [cb = std::move(cb), refused](Result<core::Request> r) {
        if (r && refused->has_value()) return cb(std::move(**refused));
        cb(std::move(r));
      }));
}

void Service::Transact(RequestId id,
                       std::function<Result<core::Transition>(const core::Policy&,
                                                              const core::Request&, Timestamp)>
                           step,
                       Callback<core::Request> cb) {
  auto pol = policy();
  auto fn = [this, pol, id, step = std::move(step)](Tx& tx) -> Result<core::Request> {
    BG_ASSIGN_OR_RETURN(auto current, tx.GetRequest(id));
    if (!current) return Error::NotFound("no request " + id.value());
    BG_ASSIGN_OR_RETURN(core::Transition t, step(*pol, *current, tx.now()));
    if (t.effects.empty()) return *current;  // idempotent repeat: nothing to store
    return ApplyTransition(tx, t, current->version);
  };
  writer_->Submit(MakeOp<core::Request>(std::move(fn), std::move(cb)));
}

void Service::Decide(const core::Actor& actor, RequestId id, std::string decision,
                     std::string totp, DecisionStep step, Callback<core::Request> cb) {
  auto pol = policy();
  auto refused = std::make_shared<std::optional<Error>>();
  auto fn = [this, pol, id, actor, decision = std::move(decision), totp = std::move(totp),
             step = std::move(step), refused](Tx& tx) -> Result<core::Request> {
    BG_ASSIGN_OR_RETURN(auto current, tx.GetRequest(id));
    // A request the caller may not see does not exist for them, and costs no code.
    if (!current || !core::CanView(*pol, *current, actor)) {
      return Error::NotFound("no request " + id.value());
    }
    core::Actor acting = actor;
    if (!totp.empty()) {
      BG_ASSIGN_OR_RETURN(StepUp up, StepUpInTx(tx, actor, totp));
      if (up.refused) {
        *refused = std::move(*up.refused);
        return *current;  // commits what the refusal staged (a wrong code's count and event)
      }
      acting = std::move(*up.fresh);
    }
    auto t = step(*pol, *current, acting, tx.now());
    if (!t) {
      tx.Audit(RefusedApprovalEvent(acting, *current, decision, t.error()));
      *refused = t.error();
      return *current;
    }
    if (t->effects.empty()) return *current;  // idempotent repeat: nothing to store
    return ApplyTransition(tx, *t, current->version);
  };
  const bool stepped_up = !totp.empty();
  writer_->Submit(MakeOp<core::Request>(
      std::move(fn), [this, cb = std::move(cb), refused, stepped_up,
                      user = actor.name, token = actor.token_hash](Result<core::Request> r) {
        if (stepped_up) {
          // The token and the account changed (fresh MFA time, or a failure counted).
          impl_->auth_cache.ForgetToken(token);
          impl_->auth_cache.ForgetUser(user);
        }
        if (r && refused->has_value()) return cb(std::move(**refused));
        cb(std::move(r));
      }));
}

void Service::Approve(const core::Actor& actor, RequestId id, std::string comment,
                      Callback<core::Request> cb, std::string totp) {
  if (!totp.empty()) {
    if (Status s = CheckMayPresentCode(actor); !s) return cb(s.error());
  }
  if (RefusedForRecordingCredential(actor, cb)) return;
  cb = [this, cb = std::move(cb)](Result<core::Request> r) {
    if (r) impl_->m.CountDecision("approve");
    cb(std::move(r));
  };
  Decide(actor, std::move(id), "approve", std::move(totp),
         [comment = std::move(comment)](const core::Policy& p, const core::Request& r,
                                        const core::Actor& acting, Timestamp now) {
           return core::Approve(p, r, acting, comment, now);
         },
         std::move(cb));
}

void Service::Deny(const core::Actor& actor, RequestId id, std::string reason,
                   Callback<core::Request> cb, std::string totp) {
  if (!totp.empty()) {
    if (Status s = CheckMayPresentCode(actor); !s) return cb(s.error());
  }
  if (RefusedForRecordingCredential(actor, cb)) return;
  cb = [this, cb = std::move(cb)](Result<core::Request> r) {
    if (r) impl_->m.CountDecision("deny");
    cb(std::move(r));
  };
  Decide(actor, std::move(id), "deny", std::move(totp),
         [reason = std::move(reason)](const core::Policy& p, const core::Request& r,
                                      const core::Actor& acting, Timestamp now) {
           return core::Deny(p, r, acting, reason, now);
         },
         std::move(cb));
}

void Service::Cancel(const core::Actor& actor, RequestId id, Callback<core::Request> cb) {
  if (RefusedForRecordingCredential(actor, cb)) return;
  Transact(std::move(id),
           [actor](const core::Policy&, const core::Request& r, Timestamp now) {
             return core::Cancel(r, actor, now);
           },
           std::move(cb));
}

void Service::Revoke(const core::Actor& actor, RequestId id, std::string reason,
                     Callback<core::Request> cb) {
  if (RefusedForRecordingCredential(actor, cb)) return;
  Transact(std::move(id),
           [actor, reason = std::move(reason)](const core::Policy& p, const core::Request& r,
                                               Timestamp now) {
             return core::Revoke(p, r, actor, reason, now);
           },
           std::move(cb));
}

void Service::Extend(const core::Actor& actor, RequestId id, Seconds duration, std::string reason,
                     Callback<core::Request> cb) {
  if (RefusedForRecordingCredential(actor, cb)) return;
  Transact(std::move(id),
           [actor, duration, reason = std::move(reason)](
               const core::Policy& p, const core::Request& r, Timestamp now) {
             return core::RequestExtension(p, r, actor, duration, reason, now);
           },
           std::move(cb));
}

Result<core::Request> Service::Get(const core::Actor& actor, const RequestId& id) {
  const int64_t now_us = clock_.NowMicros();
  std::optional<core::Request> r = impl_->requests.Get(id, now_us);
  if (!r) {
    BG_ASSIGN_OR_RETURN(r, store_->GetRequest(id));
    if (r) impl_->requests.Put(*r, now_us);
  }
  // A request the caller may not see is reported exactly like one that does not exist.
  if (!r || !core::CanView(*policy(), *r, actor)) {
    return Error::NotFound("no request " + id.value());
  }
  return *r;
}

Result<std::vector<core::Request>> Service::List(const core::Actor& actor,
                                                 store::RequestFilter filter, bool mine) {
  if (mine) filter.requester = actor.name;
  auto pol = policy();
  BG_ASSIGN_OR_RETURN(auto all, store_->ListRequests(filter));
  std::vector<core::Request> out;
  for (auto& r : all) {
    if (core::CanView(*pol, r, actor)) out.push_back(std::move(r));
  }
  return out;
}

// ---- timers and jobs ----

void Service::OnTimerFired(const store::TimerRecord& t) {
  auto pol = policy();
  const int64_t due_us = ToUnixSeconds(t.at) * 1'000'000;
  auto fn = [this, pol, t, due_us](Tx& tx) -> Status {
    BG_ASSIGN_OR_RETURN(auto current, tx.GetRequest(t.request));
    core::Transition tr;
    bool changed = false;
    if (current) {
      BG_ASSIGN_OR_RETURN(tr, core::OnTimer(*pol, *current, t.kind, tx.now()));
      changed = !tr.effects.empty();
    }
    tx.DeleteTimer(t.id);
    if (changed) {
      core::Request r = ApplyTransition(tx, tr, current->version);
      if (t.kind == core::TimerKind::kExpiry && r.state == core::RequestState::kExpired) {
        tx.AfterCommit([this, due_us] {
          impl_->m.ObserveExpiryLag(static_cast<double>(clock_.NowMicros() - due_us) / 1e6);
        });
      }
    }
    return Ok();
  };
  writer_->Submit({std::move(fn), [t](Status s) {
                     if (!s) {
                       log::Error("timer.failed", {{"timer", t.id},
                                                   {"request_id", t.request.value()},
                                                   {"error", s.error().ToString()}});
                     }
                   }});
}

core::Request Service::ApplyTransition(Tx& tx, const core::Transition& t, int64_t read_version) {
  tx.PutRequest(t.request);
  core::Request r = t.request;
  r.version = read_version + 1;
  tx.AfterCommit([this, r] { OnCommittedRequest(r); });  // before the alerts it may raise
  StageEffects(tx, t.effects, r);
  return r;
}

// The one reader of the core's effects: each is staged in `tx`, in order.
void Service::StageEffects(Tx& tx, const std::vector<core::Effect>& effects,
                           const core::Request& r) {
  for (const core::Effect& e : effects) {
    if (const auto* a = std::get_if<core::AuditEvent>(&e)) {
      tx.Audit(*a);
    } else if (const auto* s = std::get_if<core::ScheduleTimer>(&e)) {
      tx.AddTimer(*s);
    } else if (const auto* g = std::get_if<core::IssueGrant>(&e)) {
      tx.AddJob(std::string(core::ToString(core::JobKind::kGrant)), g->request);
    } else if (const auto* rv = std::get_if<core::RevokeGrant>(&e)) {
      tx.AddJob(std::string(core::ToString(core::JobKind::kRevoke)), rv->request);
    } else if (const auto* al = std::get_if<core::Alert>(&e)) {
      StageAlert(tx, *al, {}, r);
    }
  }
}

void Service::OnCommittedRequest(const core::Request& r) {
  impl_->requests.Put(r, clock_.NowMicros());
  StateEvent e;
  e.type = "request";
  e.request = r;
  events_.Publish(e);
  if (r.state == core::RequestState::kApproved || r.state == core::RequestState::kRevoked ||
      r.state == core::RequestState::kExpired || r.state == core::RequestState::kActive) {
    if (grants_) grants_->Notify();
  }
}

Status Service::RecordJobOutcome(Tx& tx, const core::Policy& pol, const store::OutboxJob& job,
                                 core::JobKind kind, const core::JobOutcome& outcome) {
  BG_ASSIGN_OR_RETURN(auto current, tx.GetRequest(job.request));
  // The request may have moved since the connector was called: decide on what is stored.
  BG_ASSIGN_OR_RETURN(core::JobDecision d,
                      core::OnJobOutcome(pol, current ? &*current : nullptr, kind, outcome,
                                         job.attempts, tx.now()));
  core::AuditEvent ev{"connector." + job.kind, std::string(core::kSystemActor), job.request, {}};
  ev.details["connector"] = current ? current->connector : "";
  ev.details["attempt"] = std::to_string(job.attempts + 1);
  ev.details["outcome"] = std::string(d.audit_outcome);
  if (!outcome.error.empty()) ev.details["error"] = outcome.error;
  tx.Audit(ev);
  if (d.done) {
    tx.DeleteOutbox(job.id);
  } else {
    store::OutboxJob next = job;
    next.attempts++;
    next.next_attempt = tx.now() + Outbox::Backoff(next.attempts);
    next.last_error = outcome.error;
    tx.PutOutbox(next);
  }
  if (d.alert_revocation_failing) {
    StageAlert(tx,
               SecurityAlert("revocation_failing",
                             "revocation keeps failing and stays queued: " + outcome.error,
                             current->id),
               {{"connector", current->connector}}, *current);
  }
  if (d.transition) ApplyTransition(tx, *d.transition, current->version);
  return Ok();
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
  return writer_->RunSync([&event](Tx& tx) {
    tx.Audit(event);
    return Ok();
  });
}

void Service::StageAlert(Tx& tx, const core::Alert& alert,
                         std::map<std::string, std::string> details,
                         const core::Request& request) {
  core::AuditEvent ev{"alert.raised", std::string(core::kSystemActor), request.id,
                      std::move(details)};
  ev.details["kind"] = alert.kind;
  ev.details["recipients"] = fmt::format("{}", fmt::join(alert.recipients, ","));
  ev.details["message"] = alert.message;
  tx.Audit(ev);
  StateEvent published;
  published.type = "alert";
  published.request = request;
  published.alert_kind = alert.kind;
  published.recipients = alert.recipients;
  published.message = alert.message;
  tx.AfterCommit([this, published = std::move(published)] { events_.Publish(published); });
}

core::Alert Service::SecurityAlert(const std::string& kind, const std::string& message,
                                   const RequestId& request) const {
  core::Alert alert{kind, request, {}, message};
  if (auto pol = policy()) alert.recipients = pol->Expand(pol->settings.security_contacts);
  return alert;
}

Status Service::RaiseAlert(const std::string& kind, const std::string& message,
                           std::map<std::string, std::string> details, const RequestId& request) {
  core::Request subject;
  subject.id = request;
  return writer_->RunSync([&](Tx& tx) {
    StageAlert(tx, SecurityAlert(kind, message, request), details, subject);
    return Ok();
  });
}

}  // namespace bg::service
