// The Policy model's queries. Parsing and validation live in policy_parse.cc.
#include "core/policy.h"

#include <fmt/format.h>

#include <algorithm>

namespace bg::core {

std::string_view ToString(Recording r) {
  return r == Recording::kRequired ? "required" : "best_effort";
}

std::optional<Recording> ParseRecording(std::string_view s) {
  if (s == "required") return Recording::kRequired;
  if (s == "best_effort") return Recording::kBestEffort;
  return std::nullopt;
}
namespace {

constexpr std::string_view kGroupPrefix = "group:";

}  // namespace

bool Policy::Matches(std::string_view user, std::string_view principal) const {
  if (user.empty()) return false;
  if (principal.substr(0, kGroupPrefix.size()) != kGroupPrefix) return principal == user;
  auto it = groups.find(std::string(principal.substr(kGroupPrefix.size())));
  if (it == groups.end()) return false;
  return std::find(it->second.begin(), it->second.end(), user) != it->second.end();
}

bool Policy::MatchesAny(std::string_view user, const std::vector<std::string>& principals) const {
  return std::any_of(principals.begin(), principals.end(),
                     [&](const std::string& p) { return Matches(user, p); });
}

bool Policy::InPool(std::string_view user, std::string_view pool) const {
  auto it = pools.find(std::string(pool));
  return it != pools.end() && MatchesAny(user, it->second);
}

std::vector<std::string> Policy::Expand(const std::vector<std::string>& principals) const {
  std::vector<std::string> out;
  for (const std::string& p : principals) {
    if (std::string_view(p).substr(0, kGroupPrefix.size()) != kGroupPrefix) {
      out.push_back(p);
      continue;
    }
    auto it = groups.find(p.substr(kGroupPrefix.size()));
    if (it != groups.end()) out.insert(out.end(), it->second.begin(), it->second.end());
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

const Resource* Policy::FindResource(std::string_view name) const {
  for (const Resource& r : resources) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

Seconds DefaultReviewWithin(int tier) {
  if (tier >= 3) return std::chrono::hours(12);
  if (tier == 2) return std::chrono::hours(24);
  return std::chrono::hours(72);
}

std::vector<const Rule*> Policy::MatchingRules(std::string_view requester,
                                               std::string_view resource,
                                               std::string_view privilege,
                                               bool any_requester) const {
  std::vector<const Rule*> out;
  for (const Rule& rule : rules) {
    if (rule.resource != resource) continue;
    if (std::find(rule.privileges.begin(), rule.privileges.end(), privilege) ==
        rule.privileges.end()) {
      continue;
    }
    if (any_requester || MatchesAny(requester, rule.requesters)) out.push_back(&rule);
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const Rule* a, const Rule* b) { return a->tier < b->tier; });
  return out;
}

std::string PolicyProblem::ToString() const {
  if (line == 0) return fmt::format("{}: {}", file, message);
  return fmt::format("{}:{}:{}: {}", file, line, column, message);
}

}  // namespace bg::core
