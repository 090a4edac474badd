// The service's Prometheus metrics, registered once per Service.
#pragma once

#include <string>

#include "metrics/metrics.h"

namespace bg::service {

class Service;

struct ServiceMetrics {
  metrics::Counter* logins = nullptr;           // breakglass_logins_total{outcome}
  metrics::Counter* decisions = nullptr;        // breakglass_approvals_total{decision}
  // Drills are apart in statistics: their decisions count here, not in `decisions`.
  metrics::Counter* drill_decisions = nullptr;  // breakglass_drill_approvals_total{decision}
  metrics::Counter* connector_calls = nullptr;  // breakglass_connector_calls_total{kind,outcome}
  metrics::Histogram* expiry_lag = nullptr;     // breakglass_expiry_lag_seconds

  void Register(metrics::Registry& registry, Service& service);
  void CountLogin(const std::string& outcome) {
    if (logins) logins->Inc({outcome});
  }
  void CountDecision(const std::string& decision, bool drill) {
    if (metrics::Counter* c = drill ? drill_decisions : decisions) c->Inc({decision});
  }
  void CountConnectorCall(const std::string& kind, bool ok) {
    if (connector_calls) connector_calls->Inc({kind, ok ? "ok" : "error"});
  }
  void ObserveExpiryLag(double seconds) {
    if (expiry_lag) expiry_lag->Observe(seconds);
  }
};

}  // namespace bg::service
