// The recorder's local spool: every chunk is written here (one file per chunk, the exact upload
// body, written to a temporary name, synced and renamed) before it is uploaded, and removed once
// the server has it. A recorder that exits while the server is down leaves its directory
// behind; `breakglass sessions upload` (UploadSpool) sends it later. Nothing is lost, and the
// sequence numbers make any gap visible on the server.
//
// Layout: <root>/<session id>/<seq, 10 digits>.json. Thread-compatible.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "util/result.h"

namespace bg::session {

class Transport;

class Spool {
 public:
  // `dir` is the session's directory (created, mode 0700).
  static Result<Spool> Open(const std::string& dir);

  Status Write(int64_t seq, const std::string& body);
  // Sequence numbers waiting, in order.
  Result<std::vector<int64_t>> Pending() const;
  Result<std::string> Read(int64_t seq) const;
  Status Remove(int64_t seq);
  // Renames a chunk the server refused to <seq>.rejected (kept for inspection).
  Status Reject(int64_t seq);
  // Removes the directory when nothing is left in it.
  void RemoveIfEmpty();
  const std::string& dir() const { return dir_; }

 private:
  explicit Spool(std::string dir) : dir_(std::move(dir)) {}
  std::string Path(int64_t seq, const char* ext) const;
  std::string dir_;
};

// The default spool root: $BREAKGLASS_SPOOL, else $XDG_STATE_HOME/breakglass/spool, else
// ~/.local/state/breakglass/spool.
std::string DefaultSpoolRoot();

struct UploadReport {
  int64_t uploaded = 0;
  int64_t pending = 0;   // still on disk (the server was unreachable)
  int64_t rejected = 0;  // refused by the server (kept as .rejected)
};
// Uploads every session directory under `root`, each in sequence order; stops a session at its
// first failure. Unavailable only when nothing could be sent and something was pending.
Result<UploadReport> UploadSpool(Transport& transport, const std::string& root);
// Uploads one session's pending chunks in order (the directory stays). Returns the error that
// stopped it, if any.
Status UploadSession(Transport& transport, Spool& spool, const std::string& session_id,
                     UploadReport& report);

// Uploads one session's directory until nothing is pending: after a failure the server may come
// back from, it waits (`sleep`, doubling from min_backoff to max_backoff) and tries again, for at
// most `retry_for` in total. Stops at a refusal. What the last pass left is in the report.
struct RetryOptions {
  std::chrono::milliseconds retry_for{0};
  std::chrono::milliseconds min_backoff{1000};
  std::chrono::milliseconds max_backoff{30000};
};
Result<UploadReport> UploadSessionUntilDone(
    Transport& transport, const std::string& session_dir, const RetryOptions& retry,
    const std::function<void(std::chrono::milliseconds)>& sleep);

}  // namespace bg::session
