// An evidence report's files (docs/evidence.md), made and checked.
//
// WriteEvidenceReport writes them from the builder's output, the tree's nodes and the signed
// checkpoint; the command line gives it files, tests give it strings.
//
// VerifyEvidence is the offline check (`breakglass audit verify --report DIR`): nothing but the
// report's files and a verifier key, no server and no log. It checks, and reports the first
// failure:
//   1. the checkpoint's signature under the key ("checkpoint signature does not verify");
//   2. given a checkpoint trusted from before, that the report's extends it (a consistency
//      proof the report carries, consistency.jsonl) or is it;
//   3. every proofs.jsonl line: its leaf's inclusion proof leads to the signed root at the
//      checkpoint's size ("entry 17: ... do not lead to the signed root"), the leaf is a
//      canonical event, indices increase;
//   4. the records: EvidenceBuilder, fed exactly those leaves, gives grants.jsonl line for line
//      ("entry 17: grants.jsonl line 3 (grant req_..): approvals[0].actor says "mallory", the
//      signed entry says "carol""), and every proof is cited by a grant;
//   5. summary.json, summary.md and grants.csv are what those records give (summary.json's
//      "generated" object, which cannot be re-derived, excepted).
// Failures are InvalidArgument with field "checkpoint", "trusted_checkpoint", "proof" or
// "entries"; a message naming an entry starts "entry N:". Pure; the progress callback runs on
// the caller's thread.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "audit/checkpoint.h"
#include "audit/evidence.h"
#include "audit/evidence_summary.h"
#include "audit/merkle.h"
#include "audit/verify.h"

namespace bg::audit {

// The files of a report directory, by name.
inline constexpr const char* kEvidenceFileNames[] = {
    "checkpoint.txt", "key.txt",      "proofs.jsonl", "grants.jsonl",
    "grants.csv",     "summary.json", "summary.md",   "consistency.jsonl"};

// Appends `bytes` to the report's file `name` (one of kEvidenceFileNames).
using EvidenceSink = std::function<Status(std::string_view name, std::string_view bytes)>;

struct EvidenceInput {
  EvidenceBuilder::Output built;  // the grants and the leaves they cite
  NodeReader nodes;               // the tree's perfect-subtree hashes, at least cp.size leaves
  EvidenceContext context;        // cited_entries is set here
  std::string checkpoint_note;    // the signed note of context.checkpoint
  std::string verifier_key;
  // A checkpoint trusted from before (size <= the report's): consistency.jsonl then holds the
  // proof from its size to the report's.
  std::optional<int64_t> trusted_size;
};

// Writes every file (consistency.jsonl only with trusted_size). Errors: the sink's, or the
// node reader's when a proof cannot be made.
Status WriteEvidenceReport(EvidenceInput input, const EvidenceSink& sink,
                           const ProgressFn& progress = nullptr);

// A report's files as read back; views into buffers the caller keeps.
struct EvidenceFiles {
  std::string_view checkpoint;    // checkpoint.txt
  std::string_view proofs;        // proofs.jsonl
  std::string_view grants;        // grants.jsonl
  std::string_view grants_csv;    // grants.csv
  std::string_view summary_json;  // summary.json
  std::string_view summary_md;    // summary.md
  std::string_view consistency;   // consistency.jsonl ("" when the report has none)
};

struct EvidenceVerifyOptions {
  std::string verifier_key;
  std::optional<std::string> trusted_checkpoint;
  ProgressFn progress;  // over the proofs.jsonl lines
  int64_t progress_every = 4096;
};

struct EvidenceVerifyReport {
  Checkpoint checkpoint;
  std::optional<Checkpoint> trusted;
  int64_t entries = 0;  // proofs checked
  int64_t grants = 0;
};

Result<EvidenceVerifyReport> VerifyEvidence(const EvidenceFiles& files,
                                            const EvidenceVerifyOptions& options);

// consistency.jsonl's line: {"first":M,"hashes":[...],"second":N}, canonical, no newline.
std::string ConsistencyJsonLine(int64_t first, int64_t second,
                                const std::vector<std::string>& hashes);
// "name+8 hex digits": how summaries name a verifier key ("" if it does not parse).
std::string VerifierKeyName(std::string_view verifier_key);

}  // namespace bg::audit
