// The policy file (core/policy.h): TOML that `policy check` and the server read.
//
// Invariants: a policy comes back exactly when there are no problems; every problem names the
// file, says something on one line, and points into the text (line 1..lines, or 0 when unknown); an
// accepted policy is coherent: rules name defined resources and privileges of them, tier-2+
// rules have approval groups from defined pools whose counts add up to `approvals`, durations
// are positive where they bound a grant, and matching its own rules finds them.
#include <algorithm>
#include <string>

#include "core/policy.h"
#include "fuzz/fuzz.h"

namespace {

using bg::core::Policy;
using bg::core::Rule;

void CheckCoherent(const Policy& p) {
  for (size_t i = 0; i < p.resources.size(); ++i) {
    for (size_t j = 0; j < i; ++j) BG_FUZZ_CHECK(p.resources[i].name != p.resources[j].name);
  }
  for (const Rule& rule : p.rules) {
    const bg::core::Resource* res = p.FindResource(rule.resource);
    BG_FUZZ_CHECK(res != nullptr);
    for (const std::string& priv : rule.privileges) {
      BG_FUZZ_CHECK(std::find(res->privileges.begin(), res->privileges.end(), priv) !=
                    res->privileges.end());
    }
    BG_FUZZ_CHECK(rule.tier >= 1 && rule.tier <= 3);
    BG_FUZZ_CHECK(rule.max_duration.count() > 0);
    BG_FUZZ_CHECK(rule.approval_window.count() >= 0 && rule.mfa_max_age.count() >= 0);
    BG_FUZZ_CHECK(rule.review_within.count() >= 0);
    if (rule.tier >= 2) {
      BG_FUZZ_CHECK(!rule.groups.empty());
      int total = 0;
      for (const auto& g : rule.groups) {
        BG_FUZZ_CHECK(p.pools.count(g.pool) == 1 && g.count >= 1);
        if (!g.escalate_to.empty()) BG_FUZZ_CHECK(p.pools.count(g.escalate_to) == 1);
        total += g.count;
      }
      BG_FUZZ_CHECK(rule.approvals == total && rule.pool == rule.groups.front().pool);
    }
    // A requester the rule names directly finds it (or a lower tier rule) for each privilege.
    for (const std::string& who : rule.requesters) {
      if (who.rfind("group:", 0) == 0) continue;
      const std::string& priv =
          rule.privileges.empty() ? res->privileges.front() : rule.privileges.front();
      BG_FUZZ_CHECK(!p.MatchingRules(who, rule.resource, priv).empty());
    }
  }
  for (const auto& [pool, members] : p.pools) (void)p.Expand(members);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = bg::fuzz::AsText(data, size);
  const auto result = bg::core::ParsePolicy(text, "fuzz/policy.toml");
  BG_FUZZ_CHECK(result.policy.has_value() == result.problems.empty());
  const auto lines = static_cast<int>(std::count(text.begin(), text.end(), '\n')) + 1;
  for (const auto& problem : result.problems) {
    BG_FUZZ_CHECK(problem.file == "fuzz/policy.toml" && !problem.message.empty());
    BG_FUZZ_CHECK(problem.message.find_first_of("\r\n") == std::string::npos);
    BG_FUZZ_CHECK(problem.line >= 0 && problem.line <= lines && problem.column >= 0);
    BG_FUZZ_CHECK(problem.ToString().rfind("fuzz/policy.toml:", 0) == 0);
  }
  if (result.policy) CheckCoherent(*result.policy);
  return 0;
}
