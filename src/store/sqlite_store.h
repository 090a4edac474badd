// The SQLite backend of Store: one database file in WAL mode, synchronous=FULL (a commit is on
// disk when Commit returns).
//
// Thread-safety: every method may be called from any thread. Commits are serialized on one writer
// connection; reads use pooled connections of their own and see the last committed state, so they
// proceed while the writer commits. Nothing is cached in memory except prepared statements: one
// process writes at a time (SQLite's lock); AuditSize and audit appends read the size from the
// database, so a second process (`breakglass user add` beside a server) keeps the log gap-free.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "store/pool.h"
#include "store/sqlite_db.h"
#include "store/store.h"

namespace bg::store {

class SqliteStore final : public Store {
 public:
  // Opens or creates the database at `path` and migrates it to the newest schema.
  static Result<std::unique_ptr<SqliteStore>> Open(const std::string& path);
  ~SqliteStore() override;

  Status Commit(const WriteBatch& batch) override;

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

  // The schema version the database is at (the number of migrations applied).
  int schema_version() const { return schema_version_; }
  const std::string& path() const { return path_; }

 private:
  SqliteStore(std::string path, std::unique_ptr<sqlite::Connection> writer, int schema_version,
              int64_t audit_size);

  Status ApplyBatch(const WriteBatch& batch);  // inside the writer's transaction, under writer_mu_
  static Result<int64_t> ReadAuditSize(sqlite::Connection& c);

  const std::string path_;
  const int schema_version_;

  std::mutex writer_mu_;
  std::unique_ptr<sqlite::Connection> writer_;  // guarded by writer_mu_
  std::atomic<int64_t> audit_size_;             // written under writer_mu_ after a commit

  ConnectionPool<sqlite::Connection> readers_;
};

}  // namespace bg::store
