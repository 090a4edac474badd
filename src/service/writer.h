// The single writer: every change to the store goes through here, grouped into one transaction
// per batch of queued operations (group commit), with the audit leaves of those changes in the
// same transaction. If the commit fails, every operation of the group fails and nothing of it
// is visible: no grant without its audit record (fail closed).
//
// An operation runs on the writer thread against a Tx: it reads (the Tx overlays what earlier
// operations of the same group staged), decides, and only then stages writes. Staging cannot
// fail; an operation that returns an error after staging poisons its group (all fail), so ops
// must do everything fallible before their first Put/Audit.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "core/request.h"
#include "service/audit_log.h"
#include "store/store.h"
#include "util/result.h"
#include "util/time.h"

namespace bg::service {

class Tx {
 public:
  Tx(store::Store& store, AuditAppender appender, Timestamp now);

  Timestamp now() const { return now_; }
  Result<std::optional<core::Request>> GetRequest(const RequestId& id);
  Result<std::optional<store::UserRecord>> GetUser(const std::string& name);

  void PutRequest(const core::Request& r);  // r.version is the version it was read at
  void PutUser(const store::UserRecord& u);
  void PutToken(const store::TokenRecord& t) { Staged(); batch_.tokens.push_back(t); }
  // The token as this group leaves it so far (its staged insert, update or delete overlays the
  // store); UpdateToken replaces one that exists.
  Result<std::optional<store::TokenRecord>> GetToken(const std::string& hash);
  void UpdateToken(const store::TokenRecord& t) { Staged(); batch_.tokens_updated.push_back(t); }
  void DeleteToken(const std::string& hash) { Staged(); batch_.tokens_deleted.push_back(hash); }
  void DeleteTimer(int64_t id) { Staged(); batch_.timers_deleted.push_back(id); }
  void PutOutbox(const store::OutboxJob& j) { Staged(); batch_.outbox.push_back(j); }
  void DeleteOutbox(int64_t id) { Staged(); batch_.outbox_deleted.push_back(id); }
  void PutMeta(std::string k, std::string v) { Staged(); batch_.meta.emplace_back(std::move(k), std::move(v)); }
  // The meta value as this group leaves it so far (its latest PutMeta overlays the store).
  Result<std::optional<std::string>> GetMeta(const std::string& key);
  void UseSource(const std::string& user, const std::string& address);
  // Recorded sessions; GetSession sees what this group staged. PutSession's `expected_chunks`
  // is the chunk count it was read at (< 0 inserts).
  Result<std::optional<store::SessionRecord>> GetSession(const SessionId& id);
  void PutSession(const store::SessionRecord& s, int64_t expected_chunks);
  void PutChunk(store::SessionChunk c) { Staged(); batch_.chunks.push_back(std::move(c)); }
  // Post-incident reviews; GetReview sees what this group staged. PutReview's review.version is
  // the version it was read at (0 inserts).
  Result<std::optional<core::Review>> GetReview(const std::string& id);
  void PutReview(const core::Review& r);
  // Attestation campaigns, likewise (c.version as read; 0 inserts).
  Result<std::optional<core::Campaign>> GetCampaign(const std::string& id);
  void PutCampaign(const core::Campaign& c);
  // Drills, likewise (d.version as read; 0 inserts).
  Result<std::optional<store::DrillRecord>> GetDrill(const std::string& id);
  void PutDrill(const store::DrillRecord& d);
  // Appends one audit leaf (canonical JSON of the event at now()).
  void Audit(const core::AuditEvent& event);
  // A durable timer (its id is assigned here) and a connector job ("grant", "revoke").
  void AddTimer(const core::ScheduleTimer& t);
  void AddJob(std::string kind, const RequestId& request);
  // Runs on the writer thread after a successful commit, in staging order.
  void AfterCommit(std::function<void()> fn) { after_commit_.push_back(std::move(fn)); }

  bool staged() const { return staged_; }
  void ResetStagedFlag() { staged_ = false; }

 private:
  friend class Writer;
  void Staged() { staged_ = true; }

  store::Store& store_;
  AuditAppender appender_;
  Timestamp now_;
  store::WriteBatch batch_;
  std::map<RequestId, size_t> request_slot_;  // id -> index in batch_.requests
  std::map<std::string, size_t> user_slot_;
  std::map<std::string, size_t> review_slot_;  // id -> index in batch_.reviews
  std::map<std::string, size_t> campaign_slot_;
  std::map<std::string, size_t> drill_slot_;
  std::vector<std::function<void()>> after_commit_;
  std::vector<store::TimerRecord> new_timers_;
  bool staged_ = false;
  std::function<std::string(const core::AuditEvent&, Timestamp)> appender_leaf_encoder_;
};

class Writer {
 public:
  struct Op {
    std::function<Status(Tx&)> run;
    std::function<void(Status)> done;  // called on the writer thread
  };
  // How often a group that raced with another writer runs again before it fails.
  static constexpr int kMaxAttempts = 10;
  // `on_timers` receives timers of each committed group (for the scheduler's queue).
  Writer(store::Store& store, AuditLog& audit, const Clock& clock,
         std::function<void(const std::vector<store::TimerRecord>&)> on_timers);
  ~Writer();

  void Submit(Op op);
  // Called after each commit for every appended leaf, in order, on the writer thread.
  void SetAuditListener(std::function<void(int64_t, const std::string&)> l) {
    audit_listener_ = std::move(l);
  }
  // Runs `run` and waits for its commit. For CLI and start-up paths, not for HTTP handlers.
  Status RunSync(std::function<Status(Tx&)> run);
  void Stop();

  struct Stats {
    uint64_t groups = 0;
    uint64_t ops = 0;
    uint64_t commit_failures = 0;
    uint64_t races = 0;  // groups run again because another writer committed first
  };
  Stats stats() const;

 private:
  void Loop();
  void RunGroup(std::vector<Op>& ops);

  store::Store& store_;
  AuditLog& audit_;
  const Clock& clock_;
  std::function<void(const std::vector<store::TimerRecord>&)> on_timers_;
  std::function<void(int64_t, const std::string&)> audit_listener_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Op> queue_;
  bool stopping_ = false;
  Stats stats_;
  std::thread thread_;
};

// Adapts a value-returning operation to Writer::Op: `fn` runs in the Tx; `cb` gets its value
// once the group committed (or the error).
template <typename T>
Writer::Op MakeOp(std::function<Result<T>(Tx&)> fn, std::function<void(Result<T>)> cb) {
  auto slot = std::make_shared<std::optional<T>>();
  return Writer::Op{
      [fn = std::move(fn), slot](Tx& tx) -> Status {
        auto r = fn(tx);
        if (!r) return r.error();
        slot->emplace(std::move(r).value());
        return Ok();
      },
      [cb = std::move(cb), slot](Status s) {
        if (!s) {
          cb(s.error());
        } else {
          cb(std::move(**slot));
        }
      }};
}

}  // namespace bg::service
