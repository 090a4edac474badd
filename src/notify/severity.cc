#include "notify/severity.h"

namespace bg::notify {
namespace {

// Failures and refusals rank above the changes they stand for ("policy.rejected" before
// "policy.*"): keep the order.
constexpr SeverityRule kRules[] = {
    {"alert.*", 8, kSyslogWarning},
    {"*.failed, *_failed", 6, kSyslogWarning},
    {"*.rejected, *.refused, *.locked", 6, kSyslogWarning},
    {"request.auto_approved, request.revoked, mfa.*, user.*, policy.*", 5, kSyslogNotice},
    {"request.activated, request.approved, request.self_approved, request.extended", 4,
     kSyslogNotice},
    {"*", 3, kSyslogNotice},
};

}  // namespace

std::span<const SeverityRule> SeverityRules() { return kRules; }

bool SeverityPatternMatches(std::string_view pattern, std::string_view type) {
  if (pattern == "*") return true;
  if (pattern.size() > 1 && pattern.back() == '*') {
    return type.substr(0, pattern.size() - 1) == pattern.substr(0, pattern.size() - 1);
  }
  if (pattern.size() > 1 && pattern.front() == '*') {
    const std::string_view suffix = pattern.substr(1);
    return type.size() >= suffix.size() && type.substr(type.size() - suffix.size()) == suffix;
  }
  return pattern == type;
}

Severity SeverityOf(std::string_view type) {
  for (const SeverityRule& rule : kRules) {
    std::string_view rest = rule.types;
    while (!rest.empty()) {
      const size_t comma = rest.find(", ");
      const std::string_view pattern = rest.substr(0, comma);
      rest.remove_prefix(comma == std::string_view::npos ? rest.size() : comma + 2);
      if (SeverityPatternMatches(pattern, type)) return Severity{rule.cef, rule.syslog};
    }
  }
  return Severity{};
}

}  // namespace bg::notify
