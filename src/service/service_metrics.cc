#include "service/service_metrics.h"

#include "log/json_log.h"
#include "service/audit_log.h"
#include "service/reviews.h"
#include "service/service.h"

namespace bg::service {
namespace {

template <typename T>
T* OrNull(Result<T*> r) {
  if (!r) {
    log::Error("metrics.register_failed", {{"error", r.error().ToString()}});
    return nullptr;
  }
  return *r;
}

}  // namespace

void ServiceMetrics::Register(metrics::Registry& registry, Service& service) {
  logins = OrNull(registry.AddCounter("breakglass_logins_total",
                                      "Login attempts by outcome.", {"outcome"}));
  decisions = OrNull(registry.AddCounter("breakglass_approvals_total",
                                         "Approver decisions recorded, by decision.",
                                         {"decision"}));
  drill_decisions = OrNull(registry.AddCounter(
      "breakglass_drill_approvals_total",
      "Approver decisions recorded on drills' requests, by decision (not counted in "
      "breakglass_approvals_total).",
      {"decision"}));
  connector_calls = OrNull(registry.AddCounter(
      "breakglass_connector_calls_total", "Connector grant/revoke calls by outcome.",
      {"kind", "outcome"}));
  // Every series exists from the start (at zero), so dashboards and alerts see them at once.
  for (const char* o : {"success", "failure", "throttled"}) {
    if (logins) logins->Inc({o}, 0);
  }
  for (const char* d : {"approve", "deny"}) {
    if (decisions) decisions->Inc({d}, 0);
    if (drill_decisions) drill_decisions->Inc({d}, 0);
  }
  expiry_lag = OrNull(registry.AddHistogram(
      "breakglass_expiry_lag_seconds",
      "Delay between a grant's end time and the commit of its expiry.",
      {0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 1, 2, 5, 10, 30}));
  // Requests by state: drills' requests (`drills`) or all others, every state present.
  auto by_state = [&service](bool drills) {
    std::vector<metrics::Sample> out;
    for (auto s :
         {core::RequestState::kPending, core::RequestState::kApproved, core::RequestState::kActive,
          core::RequestState::kExpired, core::RequestState::kRevoked, core::RequestState::kDenied,
          core::RequestState::kCancelled, core::RequestState::kTimedOut}) {
      out.push_back({{std::string(core::ToString(s))}, 0});
    }
    if (auto counts = service.store().CountRequestsByState(drills)) {
      for (const auto& [state, n] : *counts) {
        for (auto& sample : out) {
          if (sample.labels[0] == state) sample.value = static_cast<double>(n);
        }
      }
    }
    return out;
  };
  OrNull(registry.AddGaugeCallback("breakglass_requests",
                                   "Stored requests by state (drills' requests not included).",
                                   {"state"}, [by_state] { return by_state(false); }));
  OrNull(registry.AddGaugeCallback("breakglass_drill_requests",
                                   "Stored requests of drills, by state.", {"state"},
                                   [by_state] { return by_state(true); }));
  OrNull(registry.AddGaugeCallback("breakglass_grants_active",
                                   "Grants active right now (drills' grants not included).",
                                   [by_state] {
                                     for (const auto& sample : by_state(false)) {
                                       if (sample.labels[0] == "active") return sample.value;
                                     }
                                     return 0.0;
                                   }));
  OrNull(registry.AddGaugeCallback(
      "breakglass_reviews_overdue", "Open post-incident reviews past their deadline.",
      [&service] {
        Reviews* reviews = service.reviews();
        auto n = reviews ? reviews->OverdueCount() : Result<int64_t>(int64_t{0});
        return n ? static_cast<double>(*n) : 0.0;
      }));
  OrNull(registry.AddGaugeCallback(
      "breakglass_reviews", "Post-incident reviews by state.", {"state"}, [&service] {
        std::vector<metrics::Sample> out;
        for (auto st : {core::ReviewState::kOpen, core::ReviewState::kDone}) {
          store::ReviewFilter f;
          f.state = st;
          auto n = service.store().CountReviews(f);
          out.push_back({{std::string(core::ToString(st))}, n ? static_cast<double>(*n) : 0.0});
        }
        return out;
      }));
  OrNull(registry.AddGaugeCallback(
      "breakglass_background",
      "1 when this server does the installation's background work (timers, outbox, "
      "checkpoints, sinks, periodic checks), else 0 (a replica waiting to take it over).",
      [&service] { return service.RunsBackground() ? 1.0 : 0.0; }));
  OrNull(registry.AddGaugeCallback("breakglass_audit_log_size", "Leaves in the audit log.",
                                   [&service] {
                                     return static_cast<double>(service.audit().Size());
                                   }));
}

}  // namespace bg::service
