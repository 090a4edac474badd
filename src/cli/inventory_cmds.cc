// The inventory of emergency paths (docs/inventory.md):
//   breakglass inventory [--csv]                      (admins and auditors; --json too)
//   breakglass inventory legacy add TEXT --resource R --decommission-by YYYY-MM-DD   (admins)
//   breakglass inventory legacy remove ID
// Exit 8 when the inventory has warnings (a pool short of its M, no recent drill, a failing
// probe, a legacy path past its date), so a cron job can alert on it.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <iostream>
#include <memory>

#include "cli/client.h"
#include "cli/common.h"
#include "cli/text.h"

namespace bg::cli {
namespace {

using nlohmann::json;

std::string Str(const json& j, const char* key) { return SafeField(j, key, "-"); }

std::string InventoryText(const json& inv, bool local) {
  std::string out;
  for (const json& r : inv.value("resources", json::array())) {
    std::string tiers, pools;
    for (const json& t : r["tiers"]) tiers += (tiers.empty() ? "" : ",") + std::to_string(t.get<int>());
    for (const json& p : r["pools"]) {
      pools += fmt::format("{}{} {}/{} reachable (needs {})", pools.empty() ? "" : "; ",
                           Str(p, "pool"), p.value("reachable", 0), p.value("members", 0),
                           p.value("needed", 0));
    }
    out += fmt::format("{} ({}), tiers {}\n  pools: {}\n  last probe: {} ({}), last drill: {}, "
                       "open findings: {}\n",
                       Str(r, "name"), Str(r, "connector"), tiers, pools.empty() ? "-" : pools,
                       Str(r, "last_probe") == "-" ? "-" : HumanTime(Str(r, "last_probe"), local),
                       Str(r, "probe_state"),
                       Str(r, "last_drill") == "-" ? "never" : HumanTime(Str(r, "last_drill"), local),
                       r.value("open_findings", 0));
    for (const json& l : r["legacy_paths"]) {
      out += fmt::format("  legacy path {}: {}, to be gone by {}{}\n", Str(l, "id"),
                         Str(l, "description"), Str(l, "decommission_by"),
                         l.value("overdue", false) ? " (PAST DUE)" : "");
    }
    for (const json& w : r["warnings"]) {
      if (w.is_string()) out += "  WARNING: " + TerminalSafe(w.get<std::string>()) + "\n";
    }
  }
  return out.empty() ? "no resources\n" : out;
}

}  // namespace

void AddInventoryCommands(CLI::App& app, Globals& g) {
  auto* inv = app.add_subcommand("inventory", "Every emergency path: connectors, pools, probes, "
                                              "drills, findings and legacy paths (exit 8 on "
                                              "warnings)");
  auto csv = std::make_shared<bool>(false);
  inv->add_flag("--csv", *csv, "One CSV row per resource");
  inv->callback([&g, csv, inv] {
    if (inv->get_subcommands().size() > 0) return;  // legacy add/remove ran
    Client c(ResolveClientOptions(g.client));
    if (*csv) {
      auto r = c.Send("GET", "/v1/inventory?format=csv");
      if (!r) return Fail(g, r.error());
      std::cout << r->body;
    } else {
      auto r = c.Json("GET", "/v1/inventory");
      if (!r) return Fail(g, r.error());
      Print(g, *r, InventoryText(*r, StdoutIsTerminal()));
      if (r->contains("warnings") && !(*r)["warnings"].empty()) {
        Fail(g, Error::Unavailable(fmt::format("the inventory has {} warning(s)",
                                               (*r)["warnings"].size())));
      }
    }
  });
  auto* legacy = inv->add_subcommand("legacy", "Legacy emergency paths breakglass does not "
                                               "control, tracked to their decommissioning");
  legacy->require_subcommand(1);
  {
    auto* cmd = legacy->add_subcommand("add", "Record one (admins)");
    auto text = std::make_shared<std::string>();
    auto resource = std::make_shared<std::string>();
    auto by = std::make_shared<std::string>();
    cmd->add_option("DESCRIPTION", *text, "What it is: \"sealed envelope in safe B\"")->required();
    cmd->add_option("--resource", *resource, "The resource it opens")->required();
    cmd->add_option("--decommission-by", *by, "The date it must be gone by (YYYY-MM-DD)")
        ->required();
    cmd->callback([&g, text, resource, by] {
      Client c(ResolveClientOptions(g.client));
      auto r = c.Json("POST", "/v1/inventory/legacy",
                      json{{"description", *text}, {"resource", *resource},
                           {"decommission_by", *by}});
      if (!r) return Fail(g, r.error());
      Print(g, *r, fmt::format("recorded legacy path {}\n", Str(*r, "id")));
    });
  }
  {
    auto* cmd = legacy->add_subcommand("remove", "Forget one once it is decommissioned (admins)");
    auto id = std::make_shared<std::string>();
    cmd->add_option("ID", *id, "Legacy path id")->required();
    cmd->callback([&g, id] {
      Client c(ResolveClientOptions(g.client));
      auto r = c.Json("DELETE", "/v1/inventory/legacy/" + UrlPart(*id));
      if (!r) return Fail(g, r.error());
      Print(g, *r, fmt::format("removed legacy path {}\n", *id));
    });
  }
}

}  // namespace bg::cli
