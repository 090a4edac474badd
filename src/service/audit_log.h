// The service's side of the tamper-evident log: the right edge of the Merkle tree kept in
// memory (so an append is O(log n)), the checkpoint signing key (sealed at rest under the
// master key), and proofs read from the store.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "audit/checkpoint.h"
#include "audit/merkle.h"
#include "auth/master_key.h"
#include "core/request.h"
#include "service/background.h"
#include "store/store.h"
#include "util/secret.h"
#include "util/time.h"

namespace bg::service {

// A copy of the log's right edge, advanced by the writer while it stages a group and adopted
// by the AuditLog only once the group committed.
class AuditAppender {
 public:
  AuditAppender() = default;
  explicit AuditAppender(audit::CompactRange range) : range_(std::move(range)) {}
  store::AuditAppend Append(std::string leaf);
  int64_t size() const;
  const audit::CompactRange& range() const { return range_; }

 private:
  audit::CompactRange range_;
};

struct SignedCheckpoint {
  int64_t size = 0;
  std::string root;  // 32 raw bytes
  std::string note;  // the signed note text
};

// The leaves about one request with their inclusion proofs against one signed checkpoint (the
// page's timeline, a review's evidence). Leaves appended after the checkpoint are left out:
// the next checkpoint covers them.
struct AuditTrail {
  SignedCheckpoint checkpoint;
  struct Entry {
    int64_t index = 0;
    std::string leaf;                // the leaf bytes
    std::vector<std::string> proof;  // RFC 9162 inclusion proof, raw 32-byte hashes
  };
  std::vector<Entry> entries;
};

// Checks a trail as an outsider would: the checkpoint's signature under `verifier_key`, then
// each entry's inclusion in the checkpoint's tree. Ok, or the first failure (naming the index).
Status VerifyTrail(const AuditTrail& trail, std::string_view verifier_key);

inline constexpr char kLatestCheckpointMeta[] = "audit.checkpoint.latest";
inline constexpr char kVerifierKeyMeta[] = "audit.verifier_key";

class AuditLog {
 public:
  // Rebuilds the right edge from the store; loads or creates the signing key (meta
  // "audit.signing_key", sealed with `master_key`) and the audit HMAC key.
  static Result<std::unique_ptr<AuditLog>> Open(store::Store& store,
                                                const auth::MasterKey& master_key,
                                                std::string origin);

  AuditAppender Appender() const;
  void Adopt(const AuditAppender& committed);
  // Re-reads the right edge from the store (another process appended, e.g. `user add`). Only
  // ever grows the in-memory edge: a read that raced with a newer Adopt() is dropped.
  Status Reload();
  // Canonical JSON leaf bytes of an event at `now`.
  std::string Encode(const core::AuditEvent& event, Timestamp now) const;
  // HMAC-SHA256 of a sensitive value under the audit key, for matchable-but-unreadable fields.
  std::string Hmac(std::string_view value) const;

  int64_t Size() const;
  // Signs the current tree head (cached while the size does not change). A checkpoint is
  // durable before it is returned: each new one is stored as meta "audit.checkpoint.latest"
  // (with "audit.verifier_key"), so a checkpoint anybody was handed is never newer than the
  // one the data directory keeps, even after a crash. The stored one only grows.
  Result<SignedCheckpoint> Checkpoint();
  std::string VerifierKey() const;  // "<name>+<hex id>+<base64(0x01||pub)>"
  Result<std::vector<std::string>> InclusionProof(int64_t index, int64_t size);
  Result<std::vector<std::string>> ConsistencyProof(int64_t first, int64_t second);
  // The request's leaves (at most `limit`) against the current checkpoint.
  Result<AuditTrail> TrailOf(const RequestId& id, int limit);

 private:
  AuditLog(store::Store& store, std::string origin, audit::NoteSigner signer, Secret hmac_key);
  store::Store& store_;
  std::string origin_;
  std::mutex checkpoint_mu_;  // serialises Checkpoint() (sign, then store); before mu_
  mutable std::mutex mu_;
  audit::CompactRange range_;
  audit::NoteSigner signer_;
  Secret hmac_key_;
  SignedCheckpoint last_;
};

// Follows the store's log and hands every leaf, once and in index order, to `deliver` (the
// audit subscribers: syslog): the leaves this process commits (OnCommitted, called by the writer
// after each commit) and the leaves another process appends to the same store (`breakglass user
// add|disable|enable|reset` beside a running server, or while it was down), found by Poll().
// Poll() also reloads the AuditLog's right edge when the store is ahead of it, so the next
// checkpoint (and the witnesses) cover those leaves too. Where delivery got to is kept as meta
// "audit.forwarded", so leaves appended while the server was down are forwarded at its next
// start; without that mark (first start) forwarding starts at the end of the log. At least once:
// a crash may repeat leaves after the last stored mark. Thread-safe.
class AuditFollower {
 public:
  // `from_store`: read from the store (another process or replica appended it), not handed over
  // by this process's writer.
  using Deliver = std::function<void(int64_t index, const std::string& leaf, bool from_store)>;
  static constexpr char kForwardedMeta[] = "audit.forwarded";
  // Reads the mark (or the log's size) as the first index to deliver.
  static Result<std::unique_ptr<AuditFollower>> Open(store::Store& store, AuditLog& log,
                                                     Deliver deliver);
  ~AuditFollower();

  void OnCommitted(int64_t index, const std::string& leaf);
  // Catches up with the store: reloads the AuditLog if the store is ahead, delivers what is
  // new, stores the mark if it moved.
  Status Poll();
  // Polls every `interval` on a thread of its own until Stop(), which polls a last time.
  void Start(std::chrono::milliseconds interval);
  // The next poll runs now (the store said it changed).
  void Wake();
  void Stop();
  int64_t next() const;
  // Whether Poll stores the mark (kForwardedMeta): by one process of an installation only (the
  // replica that does the background work), so that replicas do not overwrite each other's.
  void set_store_mark(bool on) { store_mark_.store(on); }

 private:
  AuditFollower(store::Store& store, AuditLog& log, Deliver deliver, int64_t next,
                int64_t stored_mark);
  Status DeliverUpTo(int64_t end);  // mu_ held
  Status StoreMark();

  store::Store& store_;
  AuditLog& log_;
  Deliver deliver_;
  mutable std::mutex mu_;  // delivery order; held while delivering
  int64_t next_ = 0;
  int64_t stored_mark_ = -1;
  void PollOrWarn();
  std::atomic<bool> store_mark_{true};
  std::atomic<bool> polling_{false};
  Periodic poller_{[this] { PollOrWarn(); }};  // last: its thread uses the rest
};

}  // namespace bg::service
