// Integration check: a rendering with every metric kind must pass `promtool check metrics`.
// Exit codes: 0 pass, 1 fail, 77 promtool not installed (CTest SKIP_RETURN_CODE).
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <string>

#include "metrics/metrics.h"

namespace {

// Runs promtool on `text`; returns its exit status, or -1 if it could not run.
int PromtoolCheck(const std::string& text, const std::string& path) {
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) return -1;
  }
  std::string command = "promtool check metrics < '" + path + "'";
  int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool BuildRegistry(bg::metrics::Registry& registry) {
  using bg::metrics::Sample;
  auto requests = registry.AddCounter("bg_http_requests_total", "HTTP requests served.",
                                      {"method", "route", "status"});
  auto logins = registry.AddCounter("bg_logins_total", "Login attempts.");
  auto queue = registry.AddGauge("bg_outbox_jobs", "Jobs waiting in the outbox.", {"kind"});
  auto latency = registry.AddHistogram("bg_http_request_duration_seconds",
                                       "HTTP latency, \"quoted\" and back\\slashed\nhelp.",
                                       bg::metrics::DefaultLatencyBuckets(), {"route"});
  auto lag = registry.AddHistogram("bg_expiry_lag_seconds", "Expiry lag.", {0.1, 0.5, 1});
  auto active =
      registry.AddGaugeCallback("bg_grants_active", "Grants active now.", [] { return 42.0; });
  auto by_state = registry.AddGaugeCallback("bg_requests", "Requests by state.", {"state"}, [] {
    return std::vector<Sample>{{{"pending"}, 3}, {{"active"}, 1}, {{"expired"}, 10}};
  });
  if (!requests || !logins || !queue || !latency || !lag || !active || !by_state) return false;
  (*requests)->Inc({"GET", "/v1/requests/{id}", "200"}, 17);
  (*requests)->Inc({"POST", "/v1/requests", "400"});
  (*requests)->Inc({"GET", "/weird\"path\\with\nnewline", "404"});
  (*logins)->Inc();
  (*queue)->Set(2, {"webhook"});
  (*queue)->Set(-1.5e-3, {"smtp"});
  for (double v : {0.001, 0.02, 0.3, 7.0, 30.0}) (*latency)->Observe(v, {"/v1/requests"});
  (*latency)->Observe(0.004, {"/healthz"});
  (*lag)->Observe(std::numeric_limits<double>::infinity());
  return true;
}

}  // namespace

int main() {
  if (std::system("command -v promtool >/dev/null 2>&1") != 0) {
    std::fprintf(stderr, "promtool not found: skipping\n");
    return 77;
  }
  char dir_template[] = "/tmp/bg_promtool_XXXXXX";
  if (mkdtemp(dir_template) == nullptr) return 1;
  std::string path = std::string(dir_template) + "/metrics.txt";

  // Negative control: promtool must refuse a malformed exposition, so a pass below means
  // something.
  int bad = PromtoolCheck("# TYPE broken counter\nbroken{le=\"x\" 1\n", path);
  if (bad == 0 || bad == -1) {
    std::fprintf(stderr, "promtool accepted a malformed file (status %d)\n", bad);
    return 1;
  }

  bg::metrics::Registry registry;
  if (!BuildRegistry(registry)) {
    std::fprintf(stderr, "registration failed\n");
    return 1;
  }
  std::string text = registry.Render();
  int status = PromtoolCheck(text, path);
  std::remove(path.c_str());
  rmdir(dir_template);
  if (status != 0) {
    std::fprintf(stderr, "promtool check metrics failed (status %d) on:\n%s", status, text.c_str());
    return 1;
  }
  std::printf("promtool check metrics: ok (%zu bytes)\n", text.size());
  return 0;
}
