#include "connectors/health.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "metrics/metrics.h"

namespace bg::connectors {

ConnectorHealth::ConnectorHealth(service::Service& service, Seconds interval, const Clock& clock)
    : service_(service), interval_(interval), clock_(clock) {
  for (const auto& [name, cfg] : service_.config().connectors) {
    status_[name] = ProbeStatus{name, cfg.kind};
  }
  auto& reg = service_.metrics();
  (void)reg.AddGaugeCallback(
      "breakglass_connector_probe_ok",
      "1 when the connector's last probe succeeded and is recent, else 0.", {"connector"},
      [this] {
        std::vector<metrics::Sample> out;
        for (const auto& s : Snapshot()) out.push_back({{s.connector}, s.state == "ok" ? 1.0 : 0.0});
        return out;
      });
  (void)reg.AddGaugeCallback(
      "breakglass_connector_probe_timestamp_seconds",
      "Unix time of the connector's last probe (0: never).", {"connector"}, [this] {
        std::vector<metrics::Sample> out;
        for (const auto& s : Snapshot()) {
          out.push_back({{s.connector},
                         s.last_probe ? static_cast<double>(ToUnixSeconds(*s.last_probe)) : 0.0});
        }
        return out;
      });
}

ConnectorHealth::~ConnectorHealth() { Stop(); }

void ConnectorHealth::Start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { Loop(); });
}

void ConnectorHealth::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ConnectorHealth::Loop() {
  for (;;) {
    (void)ProbeNow();
    std::unique_lock lock(mu_);
    if (cv_.wait_for(lock, interval_, [this] { return stopping_; })) return;
  }
}

std::string ConnectorHealth::StateOf(const ProbeStatus& s) const {
  if (!s.last_probe) return "unknown";
  if (!s.ok) return "failing";
  if (clock_.Now() - *s.last_success > 2 * interval_) return "stale";
  return "ok";
}

ProbeStatus ConnectorHealth::ProbeOne(const std::string& name, const std::string& kind) {
  ProbeStatus s{name, kind};
  connector::Connector* c = service_.connectors().Find(name);
  int64_t t0 = clock_.NowMicros();
  Status r = c ? c->Probe() : Status(Error::FailedPrecondition("not configured"));
  s.seconds = static_cast<double>(clock_.NowMicros() - t0) / 1e6;
  s.last_probe = clock_.Now();
  s.ok = r.has_value();
  if (!s.ok) s.error = r.error().message();
  return s;
}

Result<std::vector<ProbeStatus>> ConnectorHealth::ProbeNow(const std::string& name) {
  std::vector<std::pair<std::string, std::string>> targets;
  {
    std::lock_guard lock(mu_);
    for (const auto& [n, s] : status_) {
      if (name.empty() || n == name) targets.emplace_back(n, s.kind);
    }
  }
  if (targets.empty() && !name.empty()) return Error::NotFound("no connector named " + name);
  std::lock_guard round(probe_mu_);
  std::vector<ProbeStatus> out;
  for (const auto& [n, kind] : targets) {
    ProbeStatus s = ProbeOne(n, kind);
    bool newly_failing = false;
    {
      std::lock_guard lock(mu_);
      ProbeStatus& prev = status_[n];
      newly_failing = !s.ok && (prev.ok || !prev.last_probe);
      s.last_success = s.ok ? s.last_probe : prev.last_success;
      prev = s;
      prev.state = StateOf(prev);
      out.push_back(prev);
    }
    spdlog::log(s.ok ? spdlog::level::debug : spdlog::level::warn,
                "{{\"event\":\"connector.probe\",\"connector\":\"{}\",\"ok\":{}}}", n, s.ok);
    if (newly_failing && service_.Ready() && service_.RunsBackground()) {
      if (auto st = service_.RaiseAlert("probe_failed", s.error, {{"connector", n}}); !st) {
        spdlog::error("{{\"event\":\"connector.probe_alert_failed\",\"connector\":\"{}\"}}", n);
      }
    }
  }
  return out;
}

std::vector<ProbeStatus> ConnectorHealth::Snapshot() const {
  std::lock_guard lock(mu_);
  std::vector<ProbeStatus> out;
  for (const auto& [n, s] : status_) {
    out.push_back(s);
    out.back().state = StateOf(s);
  }
  return out;
}

}  // namespace bg::connectors
