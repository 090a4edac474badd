// How serious each audit event is, in every output that ranks events: the CEF header's
// severity (0-10) and the RFC 5424 syslog severity. One table, read top to bottom, first
// match wins; docs/audit-format.md shows the same table and severity_test.cc checks that it
// does. Pure; thread-safe.
#pragma once

#include <span>
#include <string_view>

namespace bg::notify {

// RFC 5424 severities used here.
inline constexpr int kSyslogWarning = 4;
inline constexpr int kSyslogNotice = 5;

struct SeverityRule {
  // Event types this row covers, separated by ", ": an exact type ("request.revoked"), a prefix
  // ("alert.*") or a suffix ("*.failed", "*_failed"); "*" matches every type.
  std::string_view types;
  int cef = 3;
  int syslog = kSyslogNotice;
};

// The table, in matching order.
std::span<const SeverityRule> SeverityRules();

struct Severity {
  int cef = 3;
  int syslog = kSyslogNotice;
  bool operator==(const Severity&) const = default;
};
// The first row whose patterns match `type`.
Severity SeverityOf(std::string_view type);
// Whether one pattern of SeverityRule::types matches `type`.
bool SeverityPatternMatches(std::string_view pattern, std::string_view type);

}  // namespace bg::notify
