// Where the auditor's commands (`audit export|verify|show`, `report evidence`) read the log,
// and the small I/O pieces they share. A LogSource is a data directory read offline and
// read-only (OpenOfflineStore, no lock) or a live server through the API (auditors and admins);
// both hand out entries in index order with the signed checkpoint and the verifier key.
// Not thread-safe: one command uses one source at a time.
#pragma once

#include <cstdio>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "audit/checkpoint.h"
#include "audit/verify.h"
#include "cli/client.h"
#include "cli/common.h"
#include "util/result.h"
#include "util/time.h"

namespace CLI {
class App;
}

namespace bg::cli {

// `audit verify`'s exit code for "verification failed", distinct from usage errors (2).
inline constexpr int kVerifyFailed = 1;

// ---- small I/O helpers ----

// A bundle or export that cannot be read is a bad argument (exit 2, as audit_test holds).
Result<std::string> ReadFile(const std::string& path);
// Writes through a temporary file renamed into place, so a failed export leaves no half file.
class OutFile {
 public:
  Status Open(const std::string& path);
  bool open() const { return f_ != nullptr; }
  void Line(std::string_view s);
  Status Commit();
  ~OutFile();

 private:
  std::string path_, tmp_;
  FILE* f_ = nullptr;
};

Status WriteWhole(const std::string& path, std::string_view text);

// A progress bar on stderr: redrawn in place on a terminal, one line per 10% otherwise.
class Progress {
 public:
  Progress(std::string label, bool enabled);
  void Update(int64_t done, int64_t total);
  void Finish();

 private:
  std::string label_;
  bool enabled_;
  bool tty_;
  int last_ = -1;
  bool drawn_ = false;
};

// Progress is shown when forced (--progress) or when stderr is a terminal.
bool ShowProgress(bool forced);

// "entry 17: ..." -> 17
std::optional<int64_t> EntryIndexOf(const std::string& message);
// "entries 3..4: ..." -> (3, 4)
std::optional<std::pair<int64_t, int64_t>> EntryRangeOf(const std::string& message);

// An RFC 3339 time, or a duration meaning "that long ago" (90d, 24h; days, then h, m, s);
// nullopt for "".
Result<std::optional<Timestamp>> ParseTimeBound(const std::string& text, const char* field);
// A file that may be named: its text, or nullopt when `path` is "".
Result<std::optional<std::string>> ReadOptional(const std::string& path);
// Without trailing CR, LF and spaces.
std::string Trim(std::string s);

// ---- where the log comes from ----

using EntryFn = std::function<Status(int64_t index, std::string leaf,
                                     const std::optional<std::string>& stored_hash)>;

class LogSource {
 public:
  virtual ~LogSource() = default;
  virtual std::string Describe() const = 0;
  virtual Result<std::string> CheckpointNote() = 0;
  virtual Result<std::string> VerifierKey() = 0;
  virtual Result<int64_t> Size() = 0;
  // Entries [start, end) in order; `stored_hash` is the hash the store kept, when known.
  virtual Status Read(int64_t start, int64_t end, const EntryFn& fn) = 0;
  // The RFC 9162 audit path of `index` in the tree of `size` leaves, from the hashes the
  // source keeps (the store's nodes, or the server's /v1/audit/proof/inclusion).
  virtual Result<std::vector<std::string>> InclusionProof(int64_t index, int64_t size) = 0;
};

// A live server, through the API (auditors and admins).
class ServerSource final : public LogSource {
 public:
  explicit ServerSource(ClientOptions o) : client_(std::move(o)) {}
  std::string Describe() const override { return client_.options().server; }
  Result<std::string> CheckpointNote() override;
  Result<std::string> VerifierKey() override;
  Result<int64_t> Size() override;
  Status Read(int64_t start, int64_t end, const EntryFn& fn) override;
  Result<std::vector<std::string>> InclusionProof(int64_t index, int64_t size) override;
  Result<std::vector<std::string>> ConsistencyProof(int64_t first, int64_t second);

 private:
  Result<std::string> Text(const std::string& path);
  Result<std::vector<std::string>> Proof(const std::string& path, std::string_view kind);
  Client client_;
};

bool IsLocal(const LocalConfigFlags& f);
// The data directory of --data-dir/--config when given, else the server of --server or the
// saved login (InvalidArgument "server" when there is none).
Result<std::unique_ptr<LogSource>> OpenSource(const Globals& g, const LocalConfigFlags& local);

// The entries do not hash to the signed root: which entry (or, where the source's proofs
// cannot single one out, which range) differs from the signed tree. Proofs are checked against
// the signed root (audit::LocateChange), so a source can widen the answer but not move it.
audit::ChangedRange LocateChangedLeaf(LogSource& source,
                                      const std::vector<std::string>& leaf_hashes,
                                      const audit::Checkpoint& cp);

// --data-dir and --config, for a command that reads the log offline.
void AddLocalFlags(CLI::App* cmd, LocalConfigFlags& local);

// Prints the outcome of a verification (its "summary", or "verification FAILED: ..." with
// exit 1 for a failed check, naming the first bad entry) and sets the exit code.
void Report(Globals& g, const Result<nlohmann::json>& r);

}  // namespace bg::cli
