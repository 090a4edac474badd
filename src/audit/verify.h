// The offline verifier behind `breakglass audit verify`: an exported bundle (entries, the
// signed checkpoint, the server's verifier key, optionally an older checkpoint trusted from
// before) is checked without trusting the server that produced it.
//
// Export format (JSON lines, one entry per line, in index order):
//   {"index":0,"leaf":"<base64 of the exact leaf bytes>"}
// An entry may also carry "hash": the base64 leaf hash the server stored for it; when present
// it is checked, which lets a changed leaf be named by its index. Other keys (the decoded
// "event" of FormatExportLine) are ignored: only the leaf's bytes count.
//
// Failures are Errors whose message names what failed first:
//   "entry 17: expected index 17, found 18"         (a dropped, duplicated or reordered entry)
//   "entry 17: leaf does not match its stored hash"
//   "entry 17: missing: the checkpoint covers 20 entries"  (truncated)
//   "entry 17: missing: the trusted checkpoint covers 20 entries: the log was truncated"
//   "checkpoint signature does not verify"
//   "older checkpoint of size N is not a prefix: log was rewritten or truncated"
// Pure functions over memory; the progress callback runs on the caller's thread.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "audit/checkpoint.h"
#include "util/result.h"

namespace bg::audit {

struct BundleEntry {
  int64_t index = 0;
  std::string leaf;                 // raw leaf bytes
  std::optional<std::string> hash;  // raw 32-byte leaf hash, when exported
};

// One export line (no trailing newline), canonical JSON.
std::string FormatEntryLine(int64_t index, std::string_view leaf);
// One line of `audit export` (jsonl and the bundle's entries.jsonl), no trailing newline:
//   {"index":N,"leaf":"<base64>","hash":"<base64>","event":{...}}
// "event" is the decoded event (the leaf's own canonical JSON, so a SIEM can index it without
// a decoder), present when the leaf is a canonical event. Readers check the leaf's bytes and
// ignore "event".
std::string FormatExportLine(int64_t index, std::string_view leaf, std::string_view hash);
// Parses JSON lines (blank lines and a final newline allowed). InvalidArgument("entries",
// "line N: ...") on the first malformed line. Indices are not checked here (VerifyBundle does).
Result<std::vector<BundleEntry>> ParseEntries(std::string_view jsonl);

// One non-blank line, read two ways; ParseEntries uses the first and falls back to the second.
// The fast path takes only the exact forms FormatEntryLine and FormatExportLine write (with or
// without "hash", with or without "event") and returns nullopt for anything else; whenever it returns an entry, the JSON
// path returns the same entry. Exposed so that tests (and other readers of exports) can rely
// on that. The JSON path's errors are InvalidArgument("entries", "line <line_no>: ...").
std::optional<BundleEntry> ParseEntryLineFast(std::string_view line);
Result<BundleEntry> ParseEntryLineJson(std::string_view line, int64_t line_no = 1);

using ProgressFn = std::function<void(int64_t done, int64_t total)>;

struct VerifyOptions {
  // A checkpoint note (same key) saved earlier; the bundle's entries must hash to its root at
  // its size. It may be newer than the bundle's checkpoint when the bundle holds the entries it
  // covers (they are then checked, as part of the unsigned tail).
  std::optional<std::string> trusted_checkpoint;
  // Also require each leaf to be a canonical version-1 audit event (see event.h).
  bool check_leaf_format = true;
  ProgressFn progress;              // called every `progress_every` entries and at the end
  int64_t progress_every = 1 << 16;
};

struct VerifyReport {
  Checkpoint checkpoint;
  std::optional<Checkpoint> trusted;
  int64_t entries = 0;
  // Entries after the checkpoint's size: well-formed and contiguous but not yet covered by a
  // signature (the log grew between the export and the checkpoint).
  int64_t unsigned_tail = 0;
};

// Checks that indices run 0, 1, 2, ... with no gap, recomputes the tree root over the first
// checkpoint.size entries, verifies the checkpoint signature and root, and, given a trusted older
// checkpoint, that its root is the root of the same entries' prefix.
Result<VerifyReport> VerifyBundle(const std::vector<BundleEntry>& entries,
                                  std::string_view checkpoint_note, std::string_view verifier_key,
                                  const VerifyOptions& options = {});

// ParseEntries then VerifyBundle in one pass over the export, without holding its entries in
// memory: the same result and the same first error. (One difference: with options.progress
// set, progress may be reported before a malformed line further on is found.)
Result<VerifyReport> VerifyExport(std::string_view jsonl, std::string_view checkpoint_note,
                                  std::string_view verifier_key, const VerifyOptions& options = {});

// The server's answer to /v1/audit/proof/{inclusion,consistency}: {"hashes": [base64, ...]}
// (other keys ignored), as raw hashes. Internal ("the server's <kind> proof ...") when the body
// is not such an object: a server that answers so is broken, not the user's input.
Result<std::vector<std::string>> ParseProofAnswer(std::string_view body, std::string_view kind);

// Two signed checkpoints by one key and a consistency proof between them (as served by
// /v1/audit/proof/consistency): Ok when the newer one extends the older one.
Result<std::pair<Checkpoint, Checkpoint>> VerifyCheckpointConsistency(
    std::string_view older_note, std::string_view newer_note, std::string_view verifier_key,
    const std::vector<std::string>& proof);

// Where a server's leaves depart from the tree its checkpoint signs, found from the top down:
// at each node of the RFC 9162 tree whose signed hash is known, the server's inclusion proofs
// (of the first leaf of each half) give the two children's hashes; they are believed only when
// they hash to the known parent, and the search goes into the first half whose hash differs
// from the one computed over the leaves. So the answer is never wrong, only sometimes wide:
// where the server's proofs stop agreeing with the signed tree (its stored hashes were changed
// too, or it lies), the range narrowed so far is returned.
struct ChangedRange {
  int64_t first = 0;  // inclusive
  int64_t last = 0;   // inclusive; == first when one entry is named
  bool exact() const { return first == last; }
};
using InclusionProofFn =
    std::function<Result<std::vector<std::string>>(int64_t index, int64_t size)>;
// `leaf_hashes` are the hashes of the leaves the server sent (at least `size` of them);
// FailedPrecondition when they hash to `root` (nothing to find).
Result<ChangedRange> LocateChange(const std::vector<std::string>& leaf_hashes, int64_t size,
                                  std::string_view root, const InclusionProofFn& inclusion_proof);

// The errors verification reports, shared by every verifier (bundles, exports, reports):
// "entry N: ..." (field "entries"), and a trusted checkpoint the log does not extend (field
// "trusted_checkpoint").
Error EntryError(int64_t index, std::string_view message);
Error NotAPrefix(int64_t size);

}  // namespace bg::audit
