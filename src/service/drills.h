// Drills: the whole emergency path run for real against a resource's drill target, timed.
//
// A drill creates a request marked as a drill (core::CreateCommand::drill_id; reason
// "drill <id>", ticket DRILL-<n>, the shortest duration the rule allows that is at least one
// minute), so the pool is notified and approves as in a real incident (a tier-1 path completes
// by itself). Once the connector issued the grant, the drill uses it through the connector's
// DrillUser capability (an SSH login running `true`, a database login running `select 1`, the
// exec connector's check), each credential audited before it is used, then revokes it. The
// record (store::DrillRecord) says how long each step took from the start: the request, each
// approval, the credential, its verified use, the revocation; and what failed. Approvers who are
// slow are a result, not a failure.
//
// Each drill runs on its own thread; at most kMaxRunning at once (ResourceExhausted beyond).
// Scheduled drills ([[drills]] in the policy) start when their cron schedule matches a minute
// in the policy's time zone, checked every kScheduleInterval; their requester is
// kScheduleActor. Drills are read by admins and auditors, and by a resource's owner for that
// resource.
//
// Thread-safe.
#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "connector/connector.h"
#include "connector/plugin_config.h"
#include "core/policy.h"
#include "core/request.h"
#include "service/background.h"
#include "store/store.h"
#include "util/result.h"
#include "util/time.h"

namespace bg::metrics {
class Counter;
class Histogram;
}  // namespace bg::metrics

namespace bg::service {

class Service;

class Drills {
 public:
  static constexpr int kMaxRunning = 4;
  static constexpr Seconds kScheduleInterval{20};
  // The requester of a scheduled drill: not an account name (':' is not allowed in one).
  static constexpr std::string_view kScheduleActor = "schedule:drills";
  // How long a drill waits for its credential after the approvals (the connector's retries).
  static constexpr Seconds kCredentialWait{60};

  explicit Drills(Service& service);
  ~Drills();

  // Starts a drill of `resource` with `privilege` by `actor` (core::CheckDrillRunner) and
  // returns its record as first stored ("running"); the drill goes on by itself.
  // InvalidArgument for an unknown resource or privilege, FailedPrecondition when the resource
  // has no drill target, PermissionDenied for a caller who may not run drills of it.
  Result<store::DrillRecord> Start(const core::Actor& actor, const std::string& resource,
                                   const std::string& privilege);
  // NotFound also when the caller may not read it.
  Result<store::DrillRecord> Get(const core::Actor& actor, const std::string& id);
  Result<std::vector<store::DrillRecord>> List(const core::Actor& actor,
                                               store::DrillFilter filter);
  // Time to access per resource and tier over the drills started since `since` (at most the
  // newest 1000): count, failures, p50/p99/max of time_to_access_ms and of each approval, the
  // last successful drill, and every drill in order as the trend.
  Result<nlohmann::json> Report(const core::Actor& actor, std::optional<std::string> resource,
                                Timestamp since);
  // Blocks until the drill `id` is no longer running or `timeout` passed (tests, the bench).
  bool WaitFinished(const std::string& id, std::chrono::milliseconds timeout);

  // At start: drills a previous process left running are failed ("interrupted").
  Status FailInterrupted();
  // Starts the scheduled drills whose schedule matched a minute in (last check, now].
  void CheckSchedules();
  void StartSchedules();
  // Ends the schedule, asks running drills to stop (each revokes what it holds) and waits.
  void Stop();

  // {"id","number","resource","privilege","tier","request_id","ticket","started_by",
  //  "scheduled","state","ok","started_at","finished_at","steps":[{"name","ok","ms","detail"}],
  //  "time_to_access_ms","failure","host_key"}.
  static nlohmann::json ToJson(const store::DrillRecord& d);

  // Policy problems only the server sees: a resource with a drill target needs a connector that
  // can use drill grants (connector::DrillUser), and the target must suit its kind (ssh_ca:
  // principal, user, host; postgres_role: database; exec: check).
  static std::vector<std::string> PolicyProblems(
      const core::Policy& policy, const std::map<std::string, connector::PluginConfig>& configs,
      const connector::ConnectorRegistry& connectors, const std::string& path);

 private:
  struct Running;
  void Run(std::shared_ptr<Running> run);
  bool MayRead(const core::Actor& actor, const std::string& resource) const;
  Status Save(store::DrillRecord& d);
  Result<store::DrillRecord> Begin(const core::Actor& actor, const std::string& resource,
                                   const std::string& privilege, bool scheduled);

  Service& service_;
  metrics::Counter* drills_total_ = nullptr;
  metrics::Histogram* time_to_access_ = nullptr;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::map<std::string, bool> running_;  // drill ids whose (detached) thread has not ended
  Timestamp last_schedule_check_{};
  Periodic schedule_;
};

}  // namespace bg::service
