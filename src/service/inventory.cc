#include "service/inventory.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "service/people.h"
#include "util/random.h"

namespace bg::service {

using nlohmann::json;

namespace {

bool ValidDate(const std::string& d) {
  if (d.size() != 10 || d[4] != '-' || d[7] != '-') return false;
  auto t = ParseRfc3339(d + "T00:00:00Z");
  return t.has_value() && FormatRfc3339(*t).substr(0, 10) == d;
}

std::string Csv(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char ch : s) out += ch == '"' ? std::string("\"\"") : std::string(1, ch);
  return out + "\"";
}

json LegacyJson(const LegacyPath& l, const std::string& today) {
  return {{"id", l.id},
          {"description", l.description},
          {"resource", l.resource},
          {"decommission_by", l.decommission_by},
          {"overdue", l.decommission_by < today},
          {"added_by", l.added_by},
          {"added_at", FormatRfc3339(l.added_at)}};
}

}  // namespace

Result<std::vector<LegacyPath>> DecodeLegacyPaths(const std::optional<std::string>& meta) {
  std::vector<LegacyPath> out;
  if (!meta) return out;
  json j = json::parse(*meta, nullptr, false);
  if (!j.is_array()) return Error::Internal(std::string(kLegacyPathsMeta) + ": not a JSON array");
  for (const json& e : j) {
    if (!e.is_object()) return Error::Internal(std::string(kLegacyPathsMeta) + ": bad entry");
    LegacyPath l;
    l.id = e.value("id", "");
    l.description = e.value("description", "");
    l.resource = e.value("resource", "");
    l.decommission_by = e.value("decommission_by", "");
    l.added_by = e.value("added_by", "");
    l.added_at = FromUnixSeconds(e.value("added_at", int64_t{0}));
    out.push_back(std::move(l));
  }
  return out;
}

std::string EncodeLegacyPaths(const std::vector<LegacyPath>& paths) {
  json out = json::array();
  for (const LegacyPath& l : paths) {
    out.push_back({{"id", l.id},
                   {"description", l.description},
                   {"resource", l.resource},
                   {"decommission_by", l.decommission_by},
                   {"added_by", l.added_by},
                   {"added_at", ToUnixSeconds(l.added_at)}});
  }
  return out.dump();
}

Result<LegacyPath> NewLegacyPath(const core::Policy& policy, std::string description,
                                 std::string resource, std::string decommission_by,
                                 std::string added_by, Timestamp now) {
  description = core::Trim(description);
  if (description.empty() || description.size() > 500) {
    return Error::InvalidArgument("description", "say what the path is (1 to 500 characters)");
  }
  if (policy.FindResource(resource) == nullptr) {
    return Error::InvalidArgument("resource", fmt::format("no resource '{}' in the policy",
                                                          resource));
  }
  if (!ValidDate(decommission_by)) {
    return Error::InvalidArgument("decommission_by", "must be a date YYYY-MM-DD");
  }
  return LegacyPath{NewId("leg"), std::move(description), std::move(resource),
                    std::move(decommission_by), std::move(added_by), now};
}

json BuildInventory(const InventoryInputs& in) {
  const core::Policy& p = *in.policy;
  const std::string today = FormatRfc3339(in.now).substr(0, 10);
  std::set<std::string> able;
  for (const store::UserRecord& u : in.users) {
    if (People::CanApproveNow(u)) able.insert(u.name);
  }
  json resources = json::array();
  json all_warnings = json::array();
  for (const core::Resource& res : p.resources) {
    std::set<int> tiers;
    std::map<std::string, int> needed;  // pool -> the largest count a rule asks of it
    for (const core::Rule& r : p.rules) {
      if (r.resource != res.name) continue;
      tiers.insert(r.tier);
      for (const core::ApprovalGroup& g : r.groups) {
        needed[g.pool] = std::max(needed[g.pool], g.count);
        if (!g.escalate_to.empty()) needed[g.escalate_to] = std::max(needed[g.escalate_to], 0);
      }
    }
    json warnings = json::array();
    json pools = json::array();
    for (const auto& [pool, m] : needed) {
      auto it = p.pools.find(pool);
      std::vector<std::string> members =
          it == p.pools.end() ? std::vector<std::string>{} : p.Expand(it->second);
      int reachable = 0;
      for (const std::string& name : members) reachable += able.count(name) ? 1 : 0;
      pools.push_back({{"pool", pool},
                       {"members", members.size()},
                       {"reachable", reachable},
                       {"needed", m}});
      if (reachable < m) {
        warnings.push_back(fmt::format("pool {} has {} reachable approver(s) but a rule needs {}",
                                       pool, reachable, m));
      }
    }
    json out = {{"name", res.name},
                {"connector", res.connector},
                {"owner", res.owner.empty() ? json(nullptr) : json(res.owner)},
                {"tiers", std::vector<int>(tiers.begin(), tiers.end())},
                {"pools", std::move(pools)}};
    auto probe = in.probes.find(res.connector);
    if (probe != in.probes.end() && probe->second.last_success) {
      out["last_probe"] = FormatRfc3339(*probe->second.last_success);
    } else {
      out["last_probe"] = nullptr;
    }
    out["probe_state"] = probe == in.probes.end() ? "unknown" : probe->second.state;
    if (probe != in.probes.end() && probe->second.state == "failing") {
      warnings.push_back(fmt::format("the probe of connector {} is failing", res.connector));
    }
    auto drill = in.last_drill.find(res.name);
    out["last_drill"] = drill == in.last_drill.end() ? json(nullptr)
                                                     : json(FormatRfc3339(drill->second));
    if (drill == in.last_drill.end() || drill->second + in.drill_within < in.now) {
      warnings.push_back(fmt::format("no successful drill within {} days",
                                     in.drill_within.count() / 86400));
    }
    auto findings = in.open_findings.find(res.name);
    out["open_findings"] = findings == in.open_findings.end() ? 0 : findings->second;
    json legacy = json::array();
    for (const LegacyPath& l : in.legacy) {
      if (l.resource != res.name) continue;
      legacy.push_back(LegacyJson(l, today));
      if (l.decommission_by < today) {
        warnings.push_back(fmt::format("legacy path '{}' was to be gone by {}", l.description,
                                       l.decommission_by));
      }
    }
    out["legacy_paths"] = std::move(legacy);
    for (const auto& w : warnings) all_warnings.push_back(res.name + ": " + w.get<std::string>());
    out["warnings"] = std::move(warnings);
    resources.push_back(std::move(out));
  }
  json legacy = json::array();
  for (const LegacyPath& l : in.legacy) legacy.push_back(LegacyJson(l, today));
  return {{"resources", std::move(resources)},
          {"legacy_paths", std::move(legacy)},
          {"warnings", std::move(all_warnings)}};
}

std::string InventoryCsv(const json& inv) {
  std::string out =
      "resource,connector,tiers,pools,last_probe,probe_state,last_drill,open_findings,"
      "legacy_paths,warnings\r\n";
  auto text = [](const json& v) { return v.is_string() ? v.get<std::string>() : std::string(); };
  for (const json& r : inv.value("resources", json::array())) {
    std::string tiers, pools, legacy, warnings;
    for (const json& t : r["tiers"]) tiers += (tiers.empty() ? "" : " ") + std::to_string(t.get<int>());
    for (const json& pl : r["pools"]) {
      pools += fmt::format("{}{} {}/{}", pools.empty() ? "" : "; ", text(pl["pool"]),
                           pl["reachable"].get<int>(), pl["needed"].get<int>());
    }
    for (const json& l : r["legacy_paths"]) {
      legacy += fmt::format("{}{} (by {})", legacy.empty() ? "" : "; ", text(l["description"]),
                            text(l["decommission_by"]));
    }
    for (const json& w : r["warnings"]) warnings += (warnings.empty() ? "" : "; ") + text(w);
    const std::vector<std::string> fields = {
        text(r["name"]), text(r["connector"]), tiers, pools, text(r["last_probe"]),
        text(r["probe_state"]), text(r["last_drill"]), std::to_string(r["open_findings"].get<int>()),
        legacy, warnings};
    for (size_t k = 0; k < fields.size(); ++k) out += (k ? "," : "") + Csv(fields[k]);
    out += "\r\n";
  }
  return out;
}

}  // namespace bg::service
