// The inventory of emergency paths (`breakglass inventory`, GET /v1/inventory): every resource
// with its connector, the tiers its rules offer, each approving pool's reachable size (members
// whose account is enabled, approver and TOTP-enrolled: People::CanApproveNow) against the M its
// rules need, the last successful probe, the last successful drill, open findings of reviews,
// and the legacy paths admins record (a sealed envelope in a safe) with the date they must be
// gone by. Warnings name what would fail in an emergency. Building it is a pure function of
// its inputs; the legacy paths are kept as meta "inventory.legacy_paths" (JSON).
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/policy.h"
#include "core/review.h"
#include "store/store.h"
#include "util/result.h"
#include "util/time.h"

namespace bg::service {

class Tx;

struct LegacyPath {
  std::string id;
  std::string description;  // "sealed envelope in safe B"
  std::string resource;
  std::string decommission_by;  // YYYY-MM-DD
  std::string added_by;
  Timestamp added_at;
};

inline constexpr char kLegacyPathsMeta[] = "inventory.legacy_paths";
Result<std::vector<LegacyPath>> DecodeLegacyPaths(const std::optional<std::string>& meta);
std::string EncodeLegacyPaths(const std::vector<LegacyPath>& paths);
// Validates and appends one (admins only, checked by the caller): the resource must exist,
// the date be a real YYYY-MM-DD, the description non-empty.
Result<LegacyPath> NewLegacyPath(const core::Policy& policy, std::string description,
                                 std::string resource, std::string decommission_by,
                                 std::string added_by, Timestamp now);

struct ProbeInfo {
  std::string state;  // "ok", "failing", "stale", "unknown"
  std::optional<Timestamp> last_success;
};

struct InventoryInputs {
  const core::Policy* policy = nullptr;
  std::vector<store::UserRecord> users;
  std::map<std::string, ProbeInfo> probes;          // by connector name
  std::map<std::string, Timestamp> last_drill;      // by resource: the last successful drill
  std::map<std::string, int> open_findings;         // by resource
  std::vector<LegacyPath> legacy;
  Seconds drill_within = std::chrono::hours(24 * 90);
  Timestamp now;
};

// {"resources": [{"name","connector","tiers","pools":[{"pool","members","reachable",
// "needed"}],"last_probe","probe_state","last_drill","open_findings","legacy_paths",
// "warnings"}], "legacy_paths": [...], "warnings": [...]}
nlohmann::json BuildInventory(const InventoryInputs& in);
// One row per resource (RFC 4180).
std::string InventoryCsv(const nlohmann::json& inventory);

}  // namespace bg::service
