// Evidence of privileged access built from the audit log alone (`breakglass report evidence`,
// docs/evidence.md): for every grant, who asked and why, who approved it, when and with what
// MFA, the credentials issued and their validity, the sessions and their digests, the end and
// the review, each fact with the index of the leaf it was read from.
//
// One EvidenceBuilder makes the records when a report is written (fed the whole log) and when
// it is verified (fed only the leaves the report cites): a record depends on nothing but the
// leaves it cites, so the verifier re-derives every record from signed leaves and an edited
// record is caught, not only an edited leaf.
//
// Pure: no I/O, no clock. Not thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "audit/event.h"
#include "audit/merkle.h"
#include "util/result.h"
#include "util/time.h"

namespace bg::audit {

// Grants whose time of use [granted, ended] overlaps [since, until); an open bound is absent.
// A grant with no end yet overlaps every window that starts before `until`.
struct EvidenceWindow {
  std::optional<Timestamp> since;
  std::optional<Timestamp> until;
};

// Where a fact comes from: the leaf's index, its time and its actor.
struct Fact {
  int64_t audit_index = -1;
  Timestamp time;
  std::string actor;
};

struct Asked {  // request.created
  Fact fact;
  std::string resource, privilege, tier, duration, reason, ticket, source_address, emergency, pool,
      required_approvals, risk_signals;
  std::optional<Timestamp> mfa_verified_at;  // the requester's TOTP, when the log says
  std::string drill;  // the drill id when the request was a drill (request.created "drill")
};

struct Decision {  // approval.recorded or denial.recorded
  Fact fact;
  std::string for_what;  // "request" or "extension"; "" for a denial
  std::string comment;   // the approval's comment, the denial's reason
  std::string mfa;       // "totp", "passkey", "session"; "" when the log does not say
  std::optional<Timestamp> mfa_verified_at;
  std::optional<int64_t> mfa_max_age;     // seconds
  std::optional<int64_t> MfaAge() const;  // seconds from the MFA to the decision
};

struct Withdrawal {  // request.approval_withdrawn
  Fact fact;
  std::string approver, reason;
};

struct Approved {  // request.approved, request.self_approved or request.auto_approved
  Fact fact;
  std::string how;      // "approved", "self_approved", "auto_approved"
  std::string alerted;  // auto_approved: who was alerted
};

struct Granted {  // request.activated
  Fact fact;
  std::optional<Timestamp> starts_at, ends_at;
};

struct Extension {  // request.extended
  Fact fact;
  std::string added, reason;
  std::optional<Timestamp> ends_at;
};

struct Credential {  // ssh.cert_issued or credential.taken
  Fact fact;
  std::string type, connector, serial, key_fingerprint, principals, source_address;
  std::optional<Timestamp> valid_after, valid_before;
};

struct ConnectorCall {  // connector.grant or connector.revoke: the target system's answer
  Fact fact;
  std::string job;                                 // "grant" or "revoke"
  std::string connector, attempt, outcome, error;  // outcome: "ok", "error", "skipped"
};

struct Chunk {  // session.chunk
  int64_t audit_index = -1;
  std::string seq, sha256, bytes;
};

struct SessionEnd {  // session.ended
  Fact fact;
  std::string chunks, bytes, end_reason;
  std::optional<Timestamp> ended_at;
};

struct Session {  // session.started and what followed
  std::string id;
  Fact started;
  std::string command, header_sha256;
  std::vector<Chunk> chunks;
  std::optional<SessionEnd> ended;
};

struct Ended {  // request.expired or request.revoked
  Fact fact;
  std::string how;  // "expired" or "revoked"
  std::string reason, cause;
  std::optional<Timestamp> review_due;
};

struct Verdict {  // review.verdict
  Fact fact;
  std::string verdict, findings, follow_up_ticket;
};

struct ReviewMark {  // review.closed or review.overdue
  Fact fact;
  std::string inappropriate, late;  // review.closed only
};

struct ReviewFacts {  // review.opened and what followed
  std::string id;
  Fact opened;
  std::string trigger, granted_by, reviewers_needed;
  std::optional<Timestamp> due_at;
  std::vector<Verdict> verdicts;
  std::optional<ReviewMark> closed, overdue;
};

struct GrantRecord {
  std::string request;
  Asked asked;
  std::vector<Decision> approvals;  // in log order, extensions' too
  std::vector<Decision> denials;
  std::vector<Withdrawal> withdrawals;
  std::optional<Approved> approved;
  Granted granted;
  std::vector<Extension> extensions;
  std::vector<Credential> credentials;
  std::vector<Session> sessions;  // in order of their start
  std::optional<Ended> ended;
  std::optional<ReviewFacts> review;
  std::vector<ConnectorCall> connector_calls;

  // The grant's end as last set: the latest extension's ends_at, else the activation's.
  std::optional<Timestamp> EndsAt() const;
  // Every audit index a fact of this record comes from, increasing.
  std::vector<int64_t> CitedIndices() const;
};

// The event types a record is made from. Other leaves are never read (and never cited).
bool IsEvidenceEventType(std::string_view type);

class EvidenceBuilder {
 public:
  // `keep_leaves` false: Output::leaves holds the cited indices with empty bytes (a verifier
  // that has the leaves already needs no second copy).
  explicit EvidenceBuilder(EvidenceWindow window, bool keep_leaves = true)
      : window_(window), keep_leaves_(keep_leaves) {}

  // One leaf, in increasing index order. Leaves of other types, without a request, or of a
  // request whose request.created was not seen are ignored; `leaf` is kept while the event
  // may end up cited.
  void Add(int64_t index, const LeafEvent& event, std::string_view leaf);

  struct Output {
    std::vector<GrantRecord> grants;  // in order of their request.created
    // The leaves the grants cite, by increasing index.
    std::vector<std::pair<int64_t, std::string>> leaves;
  };
  Output Finish() &&;

 private:
  struct Pending {
    GrantRecord record;
    bool granted = false;
    std::vector<std::pair<int64_t, std::string>> leaves;
  };
  // Whether the event was taken into the record.
  bool Apply(Pending& p, int64_t index, const LeafEvent& e);
  bool OutsideWindow(const Pending& p) const;

  EvidenceWindow window_;
  bool keep_leaves_ = true;
  std::unordered_map<std::string, Pending> pending_;
  std::unordered_set<std::string> dropped_;  // ended without a grant, or outside the window
};

// One grants.jsonl line (canonical JSON, no newline) and its grants.csv row (RFC 4180, cells
// that a spreadsheet would run as a formula prefixed with '). docs/evidence.md lists the keys.
std::string GrantJsonLine(const GrantRecord& g);
std::string GrantCsvHeader();
std::string GrantCsvRow(const GrantRecord& g);

// One proofs.jsonl line: {"hashes":[...],"index":I,"leaf":"<base64>","size":N}, canonical.
std::string ProofJsonLine(int64_t index, int64_t size, std::string_view leaf,
                          const std::vector<std::string>& hashes);

// The hashes of a tree's perfect subtrees, built in memory from its leaf hashes (the same
// nodes the store keeps), so that many inclusion proofs need no store: 2n hashes for n leaves.
class MemoryTree {
 public:
  void Append(std::string_view leaf_hash);  // 32 bytes
  int64_t size() const;
  NodeReader Reader() const;  // valid while this tree lives and does not grow

 private:
  std::vector<std::string> levels_;  // levels_[l]: the 32-byte hashes of level l, concatenated
};

}  // namespace bg::audit
