// `breakglass report evidence`: the evidence an auditor checks offline (docs/evidence.md), and
// its check, `breakglass audit verify --report DIR`.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "cli/common.h"
#include "util/result.h"

namespace CLI {
class App;
}

namespace bg::cli {

void AddReportCommands(CLI::App& app, Globals& g);

struct VerifyReportFlags {
  std::string dir;
  std::string key;      // a pinned verifier key file; "" for the report's own key.txt
  std::string trusted;  // a checkpoint saved earlier; "" for none
  std::string save;     // where to save the verified checkpoint; "" for nowhere
  bool progress = false;
};

// Verifies the report in `dir` (audit::VerifyEvidence over its files). The result is what
// `audit verify` prints (Report() in audit_source.h): a failed check is an InvalidArgument
// naming "entries", "checkpoint", "trusted_checkpoint" or "proof"; an unreadable file names
// "file".
Result<nlohmann::json> VerifyReportDir(const VerifyReportFlags& f);

}  // namespace bg::cli
