// The PostgreSQL backend of the Store (libpq): selected by storage = "postgresql://…" (or
// "postgres://…"). The same tables as the sqlite backend (store/rows.h lays the records out for
// both); migrations run on open under an advisory lock; audit appends are serialised in the
// database (an advisory transaction lock), so the log stays one linear history whoever appends.
//
// One writer connection under a mutex (the service group-commits), a pool of reader connections.
// A lost connection is re-established on the next use; meanwhile calls answer Unavailable.
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

#include "store/pg_db.h"
#include "store/pool.h"
#include "store/store.h"

namespace bg::store {

// The connection of a storage spec "postgresql://…" or "postgres://…": the URI for libpq, less
// the query parameter password_file=PATH (relative to data_dir), whose file's secret becomes the
// password (refused beside a password in the URI). Errors never quote the spec.
Result<pg::ConnectSpec> ParsePostgresSpec(const std::string& spec, const std::string& data_dir);

class PgSteps;  // a batch's statements and their checks (pg_store.cc)

class PgStore final : public Store {
 public:
  // Connects and migrates the database to the newest schema.
  static Result<std::unique_ptr<PgStore>> Open(const pg::ConnectSpec& spec);
  ~PgStore() override;

  Status Commit(const WriteBatch& batch) override;
  // LISTEN on a connection of its own (kChangesChannel), which every commit with audit leaves,
  // timers or outbox jobs notifies; reconnects by itself (then calls `changed` once, since
  // notifications may have been missed while it was away).
  void WatchChanges(std::function<void()> changed) override;
  // A session advisory lock on the writer connection (its commit's transaction lock on the
  // audit log is then its own already), waited for at most kExclusiveWait.
  bool BeginExclusive() override;
  void EndExclusive() override;
  static constexpr std::chrono::milliseconds kExclusiveWait{5000};
  static constexpr char kChangesChannel[] = "breakglass_changes";

  Result<std::optional<core::Request>> GetRequest(const RequestId& id) override;
  Result<std::vector<core::Request>> ListRequests(const RequestFilter& filter) override;
  Result<std::vector<core::Request>> ListOpenRequests() override;
  Result<int64_t> CountRequestsSince(const std::string& requester, Timestamp since,
                                     int64_t at_most) override;
  Result<std::vector<std::pair<std::string, int64_t>>> CountRequestsByState(bool drills) override;

  Result<std::optional<UserRecord>> GetUser(const std::string& name) override;
  Result<std::vector<UserRecord>> ListUsers() override;
  Result<std::optional<TokenRecord>> GetToken(const std::string& token_hash) override;
  Result<std::vector<TimerRecord>> ListTimers() override;
  Result<std::vector<OutboxJob>> ListOutbox() override;
  Result<bool> HasUsedSource(const std::string& user, const std::string& address) override;
  Result<std::optional<std::string>> GetMeta(const std::string& key) override;

  Result<int64_t> AuditSize() override;
  Result<std::vector<std::string>> AuditLeaves(int64_t start, int64_t end) override;
  Result<std::vector<int64_t>> AuditIndexesOf(const RequestId& id, int limit) override;
  Result<std::string> AuditNodeHash(int level, int64_t index) override;

  Result<std::optional<core::Review>> GetReview(const std::string& id) override;
  Result<std::vector<core::Review>> ListReviews(const ReviewFilter& filter) override;
  Result<int64_t> CountReviews(const ReviewFilter& filter) override;
  Result<std::optional<core::Campaign>> GetCampaign(const std::string& id) override;
  Result<std::vector<core::Campaign>> ListCampaigns(std::optional<core::CampaignState> state,
                                                    int limit) override;
  Result<std::optional<DrillRecord>> GetDrill(const std::string& id) override;
  Result<std::vector<DrillRecord>> ListDrills(const DrillFilter& filter) override;
  Result<std::map<std::string, Timestamp>> LastSuccessfulDrills() override;

  Result<std::optional<SessionRecord>> GetSession(const SessionId& id) override;
  Result<std::vector<SessionRecord>> ListSessions(const SessionFilter& filter) override;
  Result<std::vector<SessionChunk>> GetSessionChunks(const SessionId& id, int64_t from_seq,
                                                     int64_t limit) override;

  int schema_version() const { return schema_version_; }

  // `breakglass serve` on PostgreSQL: one server at a time serves an installation; others wait
  // as standbys and take over when it goes. Waits until this process holds the installation's
  // lease (a session advisory lock on a connection of its own), calling `waiting(holder)` while
  // another server holds it ("host pid 123 since …"); `waiting` paces the wait (about a second)
  // and stops it by returning false (then Unavailable). Once held, the lease's fencing token is
  // moved on, and every later Commit checks the token inside its transaction, so a server that
  // lost the lease cannot write any more. A watchdog runs CheckLease every `check_every`; when
  // the lease is gone for good it calls `lost(why)` from its thread.
  Status HoldServeLease(const std::string& holder,
                        const std::function<bool(const std::string& holder)>& waiting,
                        std::function<void(const std::string& why)> lost,
                        std::chrono::milliseconds check_every = std::chrono::seconds(1));
  // Checks the lease's connection. When it broke (PostgreSQL restarted, the network failed),
  // commits stop at the fence and the lease is taken again as soon as the database answers,
  // provided no other server held it meanwhile (the token is still this server's): Ok. While
  // the database does not answer: Unavailable (try again). FailedPrecondition when another
  // server took the lease: this server's state is stale, it must stop.
  Status CheckLease();
  // The fencing token this store holds (0: it holds no lease; -1: it is being taken again).
  int64_t lease_token() const { return fence_token_.load(); }

 private:
  PgStore(pg::ConnectSpec spec, std::unique_ptr<pg::Connection> writer, int schema_version);

  // The statements of a batch, and what each answer must be (pg_store.cc).
  void BuildSteps(const WriteBatch& batch, PgSteps& steps) const;
  // One statement on a pooled reader connection.
  Result<pg::Rows> Read(std::string_view sql, const pg::Params& params, std::string_view what);

  const pg::ConnectSpec spec_;
  const int schema_version_;

  std::mutex writer_mu_;
  std::unique_ptr<pg::Connection> writer_;  // guarded by writer_mu_

  ConnectionPool<pg::Connection> readers_;

  // The serve lease: its connection and holder (guarded by lease_mu_), the token every Commit
  // checks, the last token this server held, and the watchdog's stop signal.
  Result<int64_t> TakeLease(pg::Connection& conn, int64_t expected_token);
  std::mutex lease_mu_;
  std::unique_ptr<pg::Connection> lease_;
  std::string lease_holder_;
  int64_t held_token_ = 0;
  std::atomic<int64_t> fence_token_{0};
  // The change listener (WatchChanges): its callback under watch_mu_, its thread.
  void WatchLoop();
  std::mutex watch_mu_;
  std::function<void()> changed_;  // guarded by watch_mu_
  std::thread watcher_;
  std::mutex watchdog_mu_;
  std::condition_variable watchdog_cv_;
  bool stopping_ = false;  // guarded by watchdog_mu_
  std::thread watchdog_;
};

}  // namespace bg::store
