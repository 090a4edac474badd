// The summary of an evidence report: the checks every grant is held to (justified, approved,
// identity confirmed, limited in time, attributable, reviewed), the grants that are exceptions
// to each (why, and the entry that shows it), the counts, and the controls they evidence:
// PCI DSS 4.0 8.2.2, NIST SP 800-53 AC-2(2), AU-9(3) and AU-10, HIPAA 164.312(a)(2)(ii).
// docs/evidence.md describes each check.
//
// summary.json and summary.md are functions of the records and of the context below, so the
// verifier rebuilds both from the records it re-derived and compares them byte for byte.
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "audit/checkpoint.h"
#include "audit/evidence.h"

namespace bg::audit {

// A grant that ended more than this after its end (or whose credential outlives its end by
// more) is an exception to "limited in time": expiry runs within a second of the end.
inline constexpr Seconds kEvidenceEndGrace{60};

struct EvidenceContext {
  EvidenceWindow window;
  Checkpoint checkpoint;
  std::string key_name;  // the verifier key's name and key id ("name+8 hex digits")
  int64_t cited_entries = 0;
  // Not checked by the verifier (it cannot be re-derived): when and from where the report
  // was made, and the size of the log then (entries after the checkpoint are not read).
  std::string generated_at;
  std::string source;
  int64_t log_size = 0;
};

struct CheckException {
  std::string request;
  int64_t audit_index = -1;  // the entry that shows it
  std::string why;
};

struct CheckResult {
  std::string name;   // "justified", ...
  std::string title;  // one line
  int64_t passed = 0;
  int64_t emergency_passed = 0;
  std::vector<CheckException> exceptions;  // in grant order
  int64_t emergency_exceptions = 0;
};

// The checks, in the order docs/evidence.md lists them.
std::vector<CheckResult> RunEvidenceChecks(const std::vector<GrantRecord>& grants);

// Each control of the summary and how many grants (in its scope) are exceptions to it.
struct ControlStatus {
  std::string framework, id, requirement;
  int64_t grants_with_exceptions = 0;
};
std::vector<ControlStatus> EvaluateControls(const std::vector<GrantRecord>& grants);

// summary.json (pretty-printed JSON with sorted keys, ending in a newline) and summary.md.
std::string SummaryJson(const std::vector<GrantRecord>& grants, const EvidenceContext& c);
std::string SummaryMarkdown(const std::vector<GrantRecord>& grants, const EvidenceContext& c);

}  // namespace bg::audit
