// Drills from the command line (admins, auditors, a resource's owner):
//   breakglass drill run RESOURCE --privilege P [--wait-timeout 1h] [--json]
//   breakglass drill list [--resource R] [--limit N]
//   breakglass drill show ID
//   breakglass drill report [--resource R] [--since 90d]
// `drill run` starts the drill, then follows it (each step on stderr as it completes) until it
// has finished; it exits 0 when the drill succeeded and 8 when it failed.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <chrono>
#include <iostream>
#include <memory>
#include <thread>

#include "cli/audit_source.h"
#include "cli/client.h"
#include "cli/common.h"
#include "cli/text.h"
#include "util/time.h"

namespace bg::cli {
namespace {

using nlohmann::json;

std::string Str(const json& j, const char* key) { return SafeField(j, key); }

std::string StepLine(const json& s) {
  return fmt::format("  {:<24} {:<6} {:>8} ms  {}\n", Str(s, "name"),
                     s.value("ok", false) ? "ok" : "FAILED", s.value("ms", int64_t{0}),
                     Str(s, "detail"));
}

std::string DrillText(const json& d) {
  std::string out = fmt::format("drill {} of {} ({}, tier {}): {}", Str(d, "id"),
                                Str(d, "resource"), Str(d, "privilege"), d.value("tier", 0),
                                Str(d, "state"));
  if (d.contains("time_to_access_ms") && d["time_to_access_ms"].is_number_integer()) {
    out += fmt::format(", time to access {} ms", d["time_to_access_ms"].get<int64_t>());
  }
  out += "\n";
  if (!Str(d, "request_id").empty()) {
    out += fmt::format("  request {} ({}), started by {}\n", Str(d, "request_id"),
                       Str(d, "ticket"), Str(d, "started_by"));
  }
  if (d.contains("steps") && d["steps"].is_array()) {
    for (const json& s : d["steps"]) out += StepLine(s);
  }
  if (!Str(d, "host_key").empty()) {
    out += "  host key accepted on first use: " + Str(d, "host_key") + "\n";
  }
  if (!Str(d, "failure").empty()) out += "  failure: " + Str(d, "failure") + "\n";
  return out;
}

void AddRun(CLI::App& drill, Globals& g) {
  auto* cmd = drill.add_subcommand(
      "run", "Run the whole emergency path for real against the resource's drill target and "
             "time it (exit 0 when it worked, 8 when it failed)");
  auto resource = std::make_shared<std::string>();
  auto privilege = std::make_shared<std::string>();
  auto wait = std::make_shared<std::string>("1h");
  cmd->add_option("RESOURCE", *resource, "Resource with a drill target")->required();
  cmd->add_option("--privilege", *privilege, "Privilege to drill")->required();
  cmd->add_option("--wait-timeout", *wait,
                  "Stop following after this long (the drill goes on on the server)");
  cmd->callback([&g, resource, privilege, wait] {
    auto timeout = ParseDuration(*wait, "wait-timeout");
    if (!timeout) return Fail(g, timeout.error());
    Client c(ResolveClientOptions(g.client));
    auto started = c.Json("POST", "/v1/drills", {{"resource", *resource}, {"privilege", *privilege}});
    if (!started) return Fail(g, started.error());
    const std::string id = Str(*started, "id");
    std::cerr << fmt::format("drill {} of {} started\n", id, *resource);
    const auto deadline = std::chrono::steady_clock::now() + *timeout;
    size_t shown = 0;
    json d = *started;
    for (;;) {
      if (d.contains("steps") && d["steps"].is_array()) {
        for (; shown < d["steps"].size(); ++shown) std::cerr << StepLine(d["steps"][shown]);
      }
      if (Str(d, "state") != "running") break;
      if (std::chrono::steady_clock::now() >= deadline) {
        return Fail(g, Error::Unavailable(fmt::format(
                           "drill {} still runs after {}: breakglass drill show {}", id,
                           *wait, id)));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      auto next = c.Json("GET", "/v1/drills/" + UrlPart(id));
      if (!next) return Fail(g, next.error());
      d = std::move(*next);
    }
    Print(g, d, DrillText(d));
    if (!d.value("ok", false)) {
      Fail(g, Error::Unavailable(fmt::format("drill {} failed: {}", id, Str(d, "failure"))));
    }
  });
}

void AddList(CLI::App& drill, Globals& g) {
  auto* cmd = drill.add_subcommand("list", "Drills, newest first");
  auto resource = std::make_shared<std::string>();
  auto limit = std::make_shared<int>(50);
  cmd->add_option("--resource", *resource, "Only this resource's");
  cmd->add_option("--limit", *limit, "At most this many (1-1000)");
  cmd->callback([&g, resource, limit] {
    std::string path = fmt::format("/v1/drills?limit={}", *limit);
    if (!resource->empty()) path += "&resource=" + UrlPart(*resource);
    Client c(ResolveClientOptions(g.client));
    auto r = c.Json("GET", path);
    if (!r) return Fail(g, r.error());
    std::string text;
    for (const json& d : (*r)["drills"]) {
      text += fmt::format("{:<8} {:<20} {:<12} {:<8} {:>10}  {}\n", Str(d, "id"),
                          Str(d, "resource"), Str(d, "privilege"), Str(d, "state"),
                          d["time_to_access_ms"].is_number_integer()
                              ? fmt::format("{} ms", d["time_to_access_ms"].get<int64_t>())
                              : std::string("-"),
                          HumanTime(Str(d, "started_at"), StdoutIsTerminal()));
    }
    if (text.empty()) text = "no drills\n";
    Print(g, *r, text);
  });
}

void AddShow(CLI::App& drill, Globals& g) {
  auto* cmd = drill.add_subcommand("show", "One drill and how long each step took");
  auto id = std::make_shared<std::string>();
  cmd->add_option("ID", *id, "Drill id")->required();
  cmd->callback([&g, id] {
    Client c(ResolveClientOptions(g.client));
    auto r = c.Json("GET", "/v1/drills/" + UrlPart(*id));
    if (!r) return Fail(g, r.error());
    Print(g, *r, DrillText(*r));
  });
}

std::string StatsText(const json& s) {
  if (!s.is_object()) return "-";
  return fmt::format("p50 {} ms, p99 {} ms, max {} ms", s.value("p50_ms", int64_t{0}),
                     s.value("p99_ms", int64_t{0}), s.value("max_ms", int64_t{0}));
}

void AddReport(CLI::App& drill, Globals& g) {
  auto* cmd = drill.add_subcommand(
      "report", "Time to access per resource and tier, failures and the last successful drill");
  auto resource = std::make_shared<std::string>();
  auto since = std::make_shared<std::string>("90d");
  cmd->add_option("--resource", *resource, "Only this resource");
  cmd->add_option("--since", *since, "Drills started at or after this (RFC 3339, or ago: 90d)");
  cmd->callback([&g, resource, since] {
    auto from = ParseTimeBound(*since, "since");
    if (!from) return Fail(g, from.error());
    std::string path = "/v1/drills/report";
    std::string sep = "?";
    if (*from) {
      path += sep + "since=" + UrlPart(FormatRfc3339(**from));
      sep = "&";
    }
    if (!resource->empty()) path += sep + "resource=" + UrlPart(*resource);
    Client c(ResolveClientOptions(g.client));
    auto r = c.Json("GET", path);
    if (!r) return Fail(g, r.error());
    std::string text;
    for (const json& e : (*r)["resources"]) {
      text += fmt::format("{} tier {}: {} drills, {} failed; time to access {}; last success {}\n",
                          Str(e, "resource"), e.value("tier", 0), e.value("drills", 0),
                          e.value("failed", 0), StatsText(e["time_to_access"]),
                          Str(e, "last_success").empty()
                              ? std::string("never")
                              : HumanTime(Str(e, "last_success"), StdoutIsTerminal()));
      for (const json& a : e["approvals"]) {
        text += fmt::format("  approval {}: {}\n", a.value("approval", 0), StatsText(a));
      }
    }
    if (text.empty()) text = "no drills in the window\n";
    Print(g, *r, text);
  });
}

}  // namespace

void AddDrillCommands(CLI::App& app, Globals& g) {
  auto* drill = app.add_subcommand("drill", "Drills: the emergency path, run for real and timed");
  drill->require_subcommand(1);
  AddRun(*drill, g);
  AddList(*drill, g);
  AddShow(*drill, g);
  AddReport(*drill, g);
}

}  // namespace bg::cli
