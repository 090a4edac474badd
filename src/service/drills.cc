#include "service/drills.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <future>
#include <thread>

#include "connector/connector.h"
#include "core/cron.h"
#include "log/json_log.h"
#include "metrics/metrics.h"
#include "service/local_time.h"
#include "service/service.h"
#include "service/writer.h"

namespace bg::service {

using nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr Seconds kDrillDuration{60};  // the shortest grant a drill asks for
constexpr std::string_view kCountKey = "drills.count";

template <typename T>
Result<T> Await(std::function<void(std::function<void(Result<T>)>)> start) {
  auto promise = std::make_shared<std::promise<Result<T>>>();
  auto future = promise->get_future();
  start([promise](Result<T> r) { promise->set_value(std::move(r)); });
  return future.get();
}

Status AwaitWrite(Service& service, std::function<Status(Tx&)> run) {
  auto promise = std::make_shared<std::promise<Status>>();
  auto future = promise->get_future();
  service.SubmitWrite(std::move(run), [promise](Status s) { promise->set_value(std::move(s)); });
  return future.get();
}

int64_t Percentile(std::vector<int64_t> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

json Stats(const std::vector<int64_t>& v) {
  if (v.empty()) return nullptr;
  return {{"count", v.size()},
          {"p50_ms", Percentile(v, 0.5)},
          {"p99_ms", Percentile(v, 0.99)},
          {"max_ms", *std::max_element(v.begin(), v.end())}};
}

}  // namespace

// One drill in progress: its record, the actor it runs as, and the latest state of its request
// as the event bus delivered it.
struct Drills::Running {
  store::DrillRecord record;
  core::Actor actor;
  SteadyClock::time_point t0;
  std::mutex mu;
  std::condition_variable changed_cv;
  std::optional<core::Request> latest;
  bool changed = false;

  int64_t Ms() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - t0).count();
  }
  void Step(std::string name, bool ok, std::string detail = "") {
    record.steps.push_back(store::DrillStep{std::move(name), ok, Ms(), std::move(detail)});
    if (!ok && record.failure.empty()) record.failure = record.steps.back().name + ": " +
                                                        record.steps.back().detail;
  }
};

Drills::Drills(Service& service)
    : service_(service), schedule_([this] { CheckSchedules(); }) {
  auto& reg = service_.metrics();
  if (auto c = reg.AddCounter("breakglass_drills_total",
                              "Drills finished, by resource and outcome (ok, failed).",
                              {"resource", "outcome"})) {
    drills_total_ = *c;
  }
  if (auto h = reg.AddHistogram("breakglass_drill_time_to_access_seconds",
                                "Time from a drill's request to the verified use of its "
                                "credential, by resource and tier.",
                                {0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600},
                                {"resource", "tier"})) {
    time_to_access_ = *h;
  }
  last_schedule_check_ = service_.clock().Now();
}

Drills::~Drills() { Stop(); }

bool Drills::MayRead(const core::Actor& actor, const std::string& resource) const {
  if (actor.Has(core::Role::kAdmin) || actor.Has(core::Role::kAuditor)) return true;
  auto policy = service_.policy();
  const core::Resource* r = policy ? policy->FindResource(resource) : nullptr;
  return r != nullptr && !r->owner.empty() && policy->Matches(actor.name, r->owner);
}

Status Drills::Save(store::DrillRecord& d) {
  store::DrillRecord copy = d;
  BG_TRY(AwaitWrite(service_, [copy](Tx& tx) {
    tx.PutDrill(copy);
    return Ok();
  }));
  ++d.version;
  return Ok();
}

Result<store::DrillRecord> Drills::Start(const core::Actor& actor, const std::string& resource,
                                         const std::string& privilege) {
  return Begin(actor, resource, privilege, false);
}

Result<store::DrillRecord> Drills::Begin(const core::Actor& actor, const std::string& resource,
                                         const std::string& privilege, bool scheduled) {
  auto policy = service_.policy();
  if (!policy) return Error::Unavailable("no policy is loaded");
  if (resource.empty()) return Error::InvalidArgument("resource", "a resource is required");
  const core::Resource* res = policy->FindResource(resource);
  if (res == nullptr) {
    return Error::InvalidArgument("resource", fmt::format("unknown resource '{}'", resource));
  }
  if (std::find(res->privileges.begin(), res->privileges.end(), privilege) ==
      res->privileges.end()) {
    return Error::InvalidArgument(
        "privilege", fmt::format("resource '{}' has no privilege '{}'; it has: {}", resource,
                                 privilege, fmt::join(res->privileges, ", ")));
  }
  BG_TRY(core::CheckDrillRunner(*policy, actor, *res));
  std::vector<const core::Rule*> rules =
      policy->MatchingRules(actor.name, resource, privilege, /*any_requester=*/true);
  if (rules.empty()) {
    return Error::PermissionDenied(
        fmt::format("no rule gives '{}' on '{}': there is no path to drill", privilege, resource));
  }
  auto run = std::make_shared<Running>();
  run->actor = actor;
  run->t0 = SteadyClock::now();
  {
    std::lock_guard lock(mu_);
    if (stopping_) return Error::Unavailable("the server is stopping");
    if (static_cast<int>(running_.size()) >= kMaxRunning) {
      return Error::ResourceExhausted(
          fmt::format("{} drills are running; try again when one has finished", kMaxRunning));
    }
  }
  store::DrillRecord d;
  d.resource = resource;
  d.privilege = privilege;
  d.tier = rules.front()->tier;
  d.started_by = scheduled ? "schedule" : actor.name;
  d.scheduled = scheduled;
  d.started_at = service_.clock().Now();
  auto out = std::make_shared<store::DrillRecord>();
  BG_TRY(AwaitWrite(service_, [d, out, actor](Tx& tx) mutable -> Status {
    BG_ASSIGN_OR_RETURN(auto count, tx.GetMeta(std::string(kCountKey)));
    int64_t n = 1;
    if (count) n = std::max<int64_t>(1, std::strtoll(count->c_str(), nullptr, 10) + 1);
    d.number = n;
    d.id = fmt::format("dr_{}", n);
    tx.PutMeta(std::string(kCountKey), std::to_string(n));
    tx.PutDrill(d);
    tx.Audit(core::AuditEvent{"drill.started",
                              actor.name,
                              {},
                              {{"drill", d.id},
                               {"resource", d.resource},
                               {"privilege", d.privilege},
                               {"tier", std::to_string(d.tier)},
                               {"scheduled", d.scheduled ? "true" : "false"}}});
    *out = d;
    return Ok();
  }));
  out->version = 1;
  run->record = *out;
  {
    std::lock_guard lock(mu_);
    running_[out->id] = true;
  }
  log::Info("drill.started", {{"drill", out->id}, {"resource", resource}, {"user", actor.name}});
  std::thread([this, run] { Run(run); }).detach();
  return *out;
}

void Drills::Run(std::shared_ptr<Running> run) {
  store::DrillRecord& d = run->record;
  const std::string drill_id = d.id;
  uint64_t sub = service_.Subscribe([run, drill_id](const StateEvent& e) {
    if (e.type != "request" || e.request.drill_id != drill_id) return;
    std::lock_guard lock(run->mu);
    run->latest = e.request;
    run->changed = true;
    run->changed_cv.notify_all();
  });

  core::CreateCommand cmd;
  cmd.resource = d.resource;
  cmd.privilege = d.privilege;
  cmd.duration = kDrillDuration;
  cmd.reason = "drill " + d.id;
  cmd.ticket = fmt::format("DRILL-{}", d.number);
  cmd.drill_id = d.id;
  Result<core::Request> created = Await<core::Request>(
      [&](std::function<void(Result<core::Request>)> cb) {
        service_.Create(run->actor, cmd, std::move(cb));
      });
  std::optional<core::Request> r;
  if (!created) {
    run->Step("request", false, created.error().message());
  } else {
    r = *created;
    d.request = r->id;
    run->Step("request", true, fmt::format("{} at tier {}", r->id.value(), r->tier));
    if (r->self_approved) run->Step("self-approval", true, "tier 1");
  }
  (void)Save(d);  // progress for readers; the final record is what counts

  // Wait for the approvals and the credential.
  bool active = false;
  if (r) {
    size_t approvals_seen = 0;
    const SteadyClock::time_point give_up =
        SteadyClock::now() + r->approval_window + kCredentialWait;
    std::optional<SteadyClock::time_point> credential_deadline;
    for (;;) {
      bool woke = false;
      {
        std::unique_lock lock(run->mu);
        woke = run->changed_cv.wait_for(lock, std::chrono::milliseconds(200),
                                        [&] { return run->changed; });
        if (run->changed && run->latest && run->latest->version >= r->version) r = run->latest;
        run->changed = false;
      }
      // The subscription (made before the request) sees every change; the store is read only
      // when a wait passes without one, as a backstop.
      if (!woke) {
        if (auto stored = service_.store().GetRequest(r->id);
            stored && *stored && (*stored)->version > r->version) {
          r = **stored;
        }
      }
      for (; approvals_seen < r->approvals.size(); ++approvals_seen) {
        const core::Approval& a = r->approvals[approvals_seen];
        run->Step(fmt::format("approval {} ({})", approvals_seen + 1, a.approver), true,
                  a.approver);
      }
      if (r->state == core::RequestState::kActive) {
        run->Step("credential", true, "issued by connector " + r->connector);
        active = true;
        break;
      }
      if (core::IsTerminal(r->state)) {
        std::string why = r->end_reason.empty() ? r->last_error : r->end_reason;
        run->Step("credential", false,
                  fmt::format("the request was {}{}{}", core::ToString(r->state),
                              why.empty() ? "" : ": ", why));
        break;
      }
      if (r->state == core::RequestState::kApproved) {
        if (!r->last_error.empty()) {
          run->Step("credential", false, r->last_error);
          break;
        }
        if (!credential_deadline) credential_deadline = SteadyClock::now() + kCredentialWait;
      }
      bool stopping = false;
      {
        std::lock_guard lock(mu_);
        stopping = stopping_;
      }
      if (stopping) {
        run->Step("credential", false, "the server is stopping");
        break;
      }
      const auto now = SteadyClock::now();
      if (now >= give_up || (credential_deadline && now >= *credential_deadline)) {
        run->Step("credential", false,
                  r->state == core::RequestState::kPending
                      ? fmt::format("still waiting for approvals ({} of {})", r->approvals.size(),
                                    r->required_approvals)
                      : "the connector did not issue the credential in time");
        break;
      }
    }
  }

  // Use it, as a person would.
  if (active) {
    connector::Connector* c = service_.connectors().Find(r->connector);
    connector::DrillUser* user = c == nullptr ? nullptr : c->AsDrillUser();
    if (user == nullptr) {
      run->Step("use", false, "connector " + r->connector + " cannot use a drill grant");
    } else {
      const core::Request grant = *r;
      const core::Actor actor = run->actor;
      Result<connector::DrillUse> used =
          user->UseDrillGrant(grant, [this, &grant, &actor](const connector::DrillCredential& cr) {
            if (cr.kind == connector::DrillCredential::Kind::kSshCertificate) {
              return service_.AuditSshCertIssued(actor, grant, cr.public_key_line,
                                                 cr.certificate.serial, cr.principals,
                                                 cr.certificate.valid_after,
                                                 cr.certificate.valid_before);
            }
            return service_.AuditCredentialTaken(actor, grant);
          });
      if (used) {
        run->Step("use", true, used->detail);
        d.time_to_access_ms = d.steps.back().ms;
        d.host_key = used->host_key;
      } else {
        run->Step("use", false, used.error().message());
      }
    }
  }

  // End it: a grant is revoked, a request still waiting is cancelled.
  if (r && !core::IsTerminal(r->state)) {
    const bool pending = r->state == core::RequestState::kPending;
    Result<core::Request> ended = Await<core::Request>(
        [&](std::function<void(Result<core::Request>)> cb) {
          if (pending) {
            service_.Cancel(run->actor, r->id, std::move(cb));
          } else {
            service_.Revoke(run->actor, r->id, "drill " + d.id + " finished", std::move(cb));
          }
        });
    if (ended && core::IsTerminal(ended->state)) {
      run->Step(pending ? "cancel" : "revoke", true, std::string(core::ToString(ended->state)));
    } else {
      run->Step(pending ? "cancel" : "revoke", false,
                ended ? "the request is " + std::string(core::ToString(ended->state))
                      : ended.error().message());
    }
  }
  service_.Unsubscribe(sub);

  const bool ok = std::all_of(d.steps.begin(), d.steps.end(),
                              [](const store::DrillStep& s) { return s.ok; }) &&
                  d.time_to_access_ms.has_value();
  d.state = ok ? "ok" : "failed";
  d.finished_at = service_.clock().Now();
  store::DrillRecord final_record = d;
  core::AuditEvent finished{"drill.finished", run->actor.name, d.request,
                            {{"drill", d.id},
                             {"resource", d.resource},
                             {"ok", ok ? "true" : "false"},
                             {"steps", std::to_string(d.steps.size())},
                             {"failure", d.failure}}};
  if (d.time_to_access_ms) finished.details["time_to_access_ms"] = std::to_string(*d.time_to_access_ms);
  Status saved = AwaitWrite(service_, [final_record, finished](Tx& tx) {
    tx.PutDrill(final_record);
    tx.Audit(finished);
    return Ok();
  });
  if (!saved) {
    log::Error("drill.save_failed", {{"drill", d.id}, {"error", saved.error().message()}});
  }
  if (drills_total_ != nullptr) drills_total_->Inc({d.resource, d.state});
  if (time_to_access_ != nullptr && d.time_to_access_ms) {
    time_to_access_->Observe(static_cast<double>(*d.time_to_access_ms) / 1000.0,
                             {d.resource, std::to_string(d.tier)});
  }
  log::Info("drill.finished", {{"drill", d.id},
                               {"resource", d.resource},
                               {"state", d.state},
                               {"request_id", d.request.value()},
                               {"failure", d.failure}});
  std::lock_guard lock(mu_);
  running_.erase(d.id);
  cv_.notify_all();
}

bool Drills::WaitFinished(const std::string& id, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return running_.count(id) == 0; });
}

Result<store::DrillRecord> Drills::Get(const core::Actor& actor, const std::string& id) {
  BG_ASSIGN_OR_RETURN(auto d, service_.store().GetDrill(id));
  if (!d || !MayRead(actor, d->resource)) return Error::NotFound("no drill " + id);
  return *d;
}

Result<std::vector<store::DrillRecord>> Drills::List(const core::Actor& actor,
                                                     store::DrillFilter filter) {
  const bool all = actor.Has(core::Role::kAdmin) || actor.Has(core::Role::kAuditor);
  if (!all && filter.resource && !MayRead(actor, *filter.resource)) {
    return Error::PermissionDenied("drills are read by admins, auditors and the resource's owner");
  }
  BG_ASSIGN_OR_RETURN(auto list, service_.store().ListDrills(filter));
  if (!all) {
    list.erase(std::remove_if(list.begin(), list.end(),
                              [&](const store::DrillRecord& d) { return !MayRead(actor, d.resource); }),
               list.end());
  }
  return list;
}

Result<json> Drills::Report(const core::Actor& actor, std::optional<std::string> resource,
                            Timestamp since) {
  store::DrillFilter f;
  f.resource = resource;
  f.since = since;
  f.limit = 1000;
  BG_ASSIGN_OR_RETURN(auto drills, List(actor, f));
  std::reverse(drills.begin(), drills.end());  // oldest first: the trend
  struct Group {
    int count = 0;
    int failed = 0;
    std::vector<int64_t> access;
    std::map<int, std::vector<int64_t>> approval;  // n-th approval -> ms
    std::optional<Timestamp> last_ok;
    json trend = json::array();
  };
  std::map<std::pair<std::string, int>, Group> groups;
  for (const store::DrillRecord& d : drills) {
    if (d.state == "running") continue;
    Group& g = groups[{d.resource, d.tier}];
    ++g.count;
    if (d.state != "ok") ++g.failed;
    if (d.time_to_access_ms) g.access.push_back(*d.time_to_access_ms);
    int n = 0;
    for (const store::DrillStep& s : d.steps) {
      if (s.name.rfind("approval ", 0) == 0) g.approval[++n].push_back(s.ms);
    }
    if (d.state == "ok" && d.finished_at) g.last_ok = d.finished_at;
    g.trend.push_back({{"id", d.id},
                       {"started_at", FormatRfc3339(d.started_at)},
                       {"ok", d.state == "ok"},
                       {"scheduled", d.scheduled},
                       {"time_to_access_ms", d.time_to_access_ms ? json(*d.time_to_access_ms)
                                                                 : json(nullptr)},
                       {"failure", d.failure}});
  }
  json out = json::array();
  for (auto& [key, g] : groups) {
    json approvals = json::array();
    for (auto& [n, ms] : g.approval) {
      json a = Stats(ms);
      a["approval"] = n;
      approvals.push_back(std::move(a));
    }
    out.push_back({{"resource", key.first},
                   {"tier", key.second},
                   {"drills", g.count},
                   {"failed", g.failed},
                   {"time_to_access", Stats(g.access)},
                   {"approvals", std::move(approvals)},
                   {"last_success", g.last_ok ? json(FormatRfc3339(*g.last_ok)) : json(nullptr)},
                   {"trend", std::move(g.trend)}});
  }
  return json{{"since", FormatRfc3339(since)}, {"resources", std::move(out)}};
}

Status Drills::FailInterrupted() {
  store::DrillFilter f;
  f.limit = 1000;
  BG_ASSIGN_OR_RETURN(auto drills, service_.store().ListDrills(f));
  for (store::DrillRecord& d : drills) {
    if (d.state != "running") continue;
    d.state = "failed";
    d.finished_at = service_.clock().Now();
    if (d.failure.empty()) d.failure = "interrupted: the server stopped during the drill";
    store::DrillRecord copy = d;
    BG_TRY(AwaitWrite(service_, [copy](Tx& tx) {
      tx.PutDrill(copy);
      tx.Audit(core::AuditEvent{"drill.finished",
                                std::string(core::kSystemActor),
                                copy.request,
                                {{"drill", copy.id},
                                 {"resource", copy.resource},
                                 {"ok", "false"},
                                 {"failure", copy.failure}}});
      return Ok();
    }));
  }
  return Ok();
}

void Drills::CheckSchedules() {
  auto policy = service_.policy();
  const Timestamp now = service_.clock().Now();
  Timestamp from;
  {
    std::lock_guard lock(mu_);
    from = last_schedule_check_;
    last_schedule_check_ = now;
  }
  if (!policy || policy->drills.empty()) return;
  // Every minute boundary in (from, now], at most a day of them (after a long pause, the
  // schedule resumes rather than replaying every missed drill).
  int64_t first = ToUnixSeconds(from) / 60 + 1;
  const int64_t last = ToUnixSeconds(now) / 60;
  first = std::max(first, last - 24 * 60);
  core::Actor actor;
  actor.name = std::string(kScheduleActor);
  actor.roles = {core::Role::kAuditor};
  for (const core::DrillSchedule& s : policy->drills) {
    Result<core::CronSchedule> cron = core::ParseCron(s.schedule);
    if (!cron) continue;
    for (int64_t m = first; m <= last; ++m) {
      const Timestamp at = FromUnixSeconds(m * 60);
      CivilTime ct = ToCivilTime(at, policy->settings.timezone);
      core::CivilMinute cm{ct.minute, ct.hour, ct.mday, ct.month, ct.weekday};
      if (!cron->Matches(cm)) continue;
      Result<store::DrillRecord> started = Begin(actor, s.resource, s.privilege, true);
      if (!started) {
        log::Error("drill.schedule_failed", {{"resource", s.resource},
                                             {"schedule", s.schedule},
                                             {"error", started.error().message()}});
      }
      break;  // one drill per schedule per check
    }
  }
}

void Drills::StartSchedules() { schedule_.Start(kScheduleInterval); }

void Drills::Stop() {
  schedule_.Stop();
  std::unique_lock lock(mu_);
  stopping_ = true;
  cv_.wait(lock, [&] { return running_.empty(); });
}

json Drills::ToJson(const store::DrillRecord& d) {
  json steps = json::array();
  for (const store::DrillStep& s : d.steps) {
    steps.push_back({{"name", s.name}, {"ok", s.ok}, {"ms", s.ms}, {"detail", s.detail}});
  }
  return {{"id", d.id},
          {"number", d.number},
          {"resource", d.resource},
          {"privilege", d.privilege},
          {"tier", d.tier},
          {"request_id", d.request.value().empty() ? json(nullptr) : json(d.request.value())},
          {"ticket", fmt::format("DRILL-{}", d.number)},
          {"started_by", d.started_by},
          {"scheduled", d.scheduled},
          {"state", d.state},
          {"ok", d.state == "ok"},
          {"started_at", FormatRfc3339(d.started_at)},
          {"finished_at", d.finished_at ? json(FormatRfc3339(*d.finished_at)) : json(nullptr)},
          {"steps", std::move(steps)},
          {"time_to_access_ms",
           d.time_to_access_ms ? json(*d.time_to_access_ms) : json(nullptr)},
          {"failure", d.failure.empty() ? json(nullptr) : json(d.failure)},
          {"host_key", d.host_key.empty() ? json(nullptr) : json(d.host_key)}};
}

std::vector<std::string> Drills::PolicyProblems(
    const core::Policy& policy, const std::map<std::string, connector::PluginConfig>& configs,
    const connector::ConnectorRegistry& connectors, const std::string& path) {
  std::vector<std::string> out;
  for (const core::Resource& r : policy.resources) {
    if (!r.drill) continue;
    auto it = configs.find(r.connector);
    connector::Connector* c = connectors.Find(r.connector);
    if (it == configs.end() || c == nullptr) continue;  // reported as an unknown connector
    const std::string& kind = it->second.kind;
    if (c->AsDrillUser() == nullptr) {
      out.push_back(fmt::format("{}: resource '{}' has a drill target, but its connector '{}' "
                                "({}) cannot run drills (ssh_ca, postgres_role and exec can)",
                                path, r.name, r.connector, kind));
      continue;
    }
    const core::DrillTarget& t = *r.drill;
    std::string need;
    if (kind == "ssh_ca" && t.principal.empty()) {
      need = "principal, user and host (an ssh_ca drill target)";
    } else if (kind == "postgres_role" && t.database.empty()) {
      need = "database (a postgres_role drill target)";
    } else if (kind == "exec" && t.check.empty()) {
      need = "check (an exec drill target)";
    }
    if (!need.empty()) {
      out.push_back(fmt::format("{}: resource '{}' has a drill target its connector '{}' ({}) "
                                "cannot use: it needs {}",
                                path, r.name, r.connector, kind, need));
    }
  }
  return out;
}

}  // namespace bg::service
