// Probes against credential decay: every configured connector is probed on a schedule and on
// demand; the last result and time are kept for `GET /v1/connectors` (breakglass status) and
// exported as metrics (breakglass_connector_probe_ok, ..._probe_timestamp_seconds); a probe that
// starts failing appends an "alert.raised" audit event (kind "probe_failed"). A connector whose
// last success is older than two intervals is reported as "stale".
//
// Thread-safe. Start() runs one background thread; Stop() (or the destructor) joins it.
#pragma once

#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "service/service.h"
#include "util/time.h"

namespace bg::connectors {

struct ProbeStatus {
  std::string connector{};
  std::string kind{};
  std::optional<Timestamp> last_probe{};  // never probed: nullopt
  std::optional<Timestamp> last_success{};
  bool ok = false;
  std::string error{};   // of the last probe
  double seconds = 0;    // how long the last probe took
  std::string state{};   // "ok", "failing", "stale", "unknown"
};

class ConnectorHealth {
 public:
  ConnectorHealth(service::Service& service, Seconds interval = std::chrono::minutes(15),
                  const Clock& clock = SystemClock::Get());
  ~ConnectorHealth();
  void Start();
  void Stop();

  // Probes one connector (or every one when `name` is empty) now and records the result.
  // NotFound for an unknown name.
  Result<std::vector<ProbeStatus>> ProbeNow(const std::string& name = "");
  // The last results of every configured connector, by name.
  std::vector<ProbeStatus> Snapshot() const;

 private:
  ProbeStatus ProbeOne(const std::string& name, const std::string& kind);
  void Loop();
  std::string StateOf(const ProbeStatus& s) const;

  service::Service& service_;
  const Seconds interval_;
  const Clock& clock_;
  mutable std::mutex mu_;
  std::map<std::string, ProbeStatus> status_;
  std::mutex probe_mu_;  // one probe round at a time
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace bg::connectors
