#include "store/sqlite_store.h"

#include <fmt/format.h>
#include <sqlite3.h>

#include <variant>

#include "store/codec.h"
#include "store/migrations.h"
#include "store/rows.h"

namespace bg::store {

using rows::Context;
using rows::Value;
using sqlite::Connection;
using sqlite::Stmt;

namespace {

constexpr int kMaxListLimit = 1000;
constexpr size_t kMaxIdleReaders = 4;

// ---- requests ---------------------------------------------------------------------------------

using Param = std::variant<int64_t, std::string>;

// Binds `params` to ?1, ?2, ...
void BindAll(Stmt& st, const std::vector<Param>& params) {
  for (size_t i = 0; i < params.size(); ++i) {
    int index = static_cast<int>(i) + 1;
    if (const auto* n = std::get_if<int64_t>(&params[i])) {
      st.Bind(index, *n);
    } else {
      st.Bind(index, std::get<std::string>(params[i]));
    }
  }
}

Result<std::vector<core::Request>> QueryRequests(Connection& conn, std::string_view sql,
                                                 const std::vector<Param>& params,
                                                 int64_t expected_rows = 0) {
  BG_ASSIGN_OR_RETURN(Stmt q, conn.Prepare(sql));
  BindAll(q, params);
  std::vector<core::Request> out;
  out.reserve(static_cast<size_t>(expected_rows));
  for (;;) {
    BG_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    BG_ASSIGN_OR_RETURN(core::Request r, rows::ReadRequest(q));
    out.push_back(std::move(r));
  }
  return out;
}

std::optional<int64_t> OptSeconds(const std::optional<Timestamp>& t) {
  if (!t) return std::nullopt;
  return ToUnixSeconds(*t);
}

// Binds `values` to ?first, ?first+1, ...
Stmt& BindValues(Stmt& s, const std::vector<Value>& values, int first = 1) {
  for (size_t i = 0; i < values.size(); ++i) {
    const int index = first + static_cast<int>(i);
    const Value& v = values[i];
    if (std::holds_alternative<std::monostate>(v)) {
      s.BindNull(index);
    } else if (const auto* n = std::get_if<int64_t>(&v)) {
      s.Bind(index, *n);
    } else if (const auto* t = std::get_if<std::string>(&v)) {
      s.Bind(index, *t);
    } else {
      s.BindBlob(index, std::get<rows::Blob>(v).bytes);
    }
  }
  return s;
}

Status WriteRequest(Connection& conn, const WriteBatch::RequestWrite& w) {
  const core::Request& r = w.request;
  if (w.expected_version == 0) {
    BG_ASSIGN_OR_RETURN(
        Stmt ins,
        conn.Prepare(
            "INSERT INTO requests(id, requester, state, created_at, ends_at, version, body, drill) "
            "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"));
    BindValues(ins, rows::RequestValues(r, 1));
    Status s = ins.Run();
    if (!s && s.error().code() == ErrorCode::kConflict) {
      return Error::Conflict(fmt::format("request '{}' already exists", r.id.value()));
    }
    if (!s) return Context(s.error(), fmt::format("insert request '{}'", r.id.value()));
    return Ok();
  }
  BG_ASSIGN_OR_RETURN(
      Stmt upd,
      conn.Prepare("UPDATE requests SET requester = ?2, state = ?3, created_at = ?4, ends_at = ?5, "
                   "version = ?6, body = ?7, drill = ?8 WHERE id = ?1 AND version = ?9"));
  BindValues(upd, rows::RequestValues(r, w.expected_version + 1)).Bind(9, w.expected_version);
  Status s = upd.Run();
  if (!s) return Context(s.error(), fmt::format("update request '{}'", r.id.value()));
  if (upd.Changes() == 1) return Ok();
  // Say why: the caller retries on a stale version, but a missing request is a different bug.
  BG_ASSIGN_OR_RETURN(Stmt q, conn.Prepare("SELECT version FROM requests WHERE id = ?1"));
  q.Bind(1, r.id.value());
  BG_ASSIGN_OR_RETURN(bool found, q.Step());
  if (!found) {
    return Error::Conflict(fmt::format("request '{}' does not exist (expected version {})",
                                       r.id.value(), w.expected_version));
  }
  return Error::Conflict(fmt::format("request '{}' is at version {}, not the expected {}",
                                     r.id.value(), q.Int(0), w.expected_version));
}

// ---- reviews ------------------------------------------------------------------------------------

Status WriteReview(Connection& conn, const WriteBatch::ReviewWrite& w) {
  const core::Review& r = w.review;
  auto bind = [&](Stmt& st) { BindValues(st, rows::ReviewValues(r, w.expected_version + 1)); };
  if (w.expected_version == 0) {
    BG_ASSIGN_OR_RETURN(Stmt ins, conn.Prepare(fmt::format(
                                      "INSERT INTO reviews({}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
                                      "?7, ?8, ?9, ?10)",
                                      rows::kReviewColumns)));
    bind(ins);
    Status st = ins.Run();
    if (!st && st.error().code() == ErrorCode::kConflict) {
      return Error::Conflict(fmt::format("review '{}' (of {}) already exists", r.id, r.Subject()));
    }
    if (!st) return Context(st.error(), fmt::format("insert review '{}'", r.id));
    return Ok();
  }
  // The subject, request, requester and opening of a review never change.
  BG_ASSIGN_OR_RETURN(
      Stmt upd,
      conn.Prepare("UPDATE reviews SET state = ?5, due_at = ?7, overdue_alerted = ?8, "
                   "version = ?9, body = ?10 WHERE id = ?1 AND version = ?11 AND "
                   "subject = ?2 AND request = ?3 AND requester = ?4 AND opened_at = ?6"));
  bind(upd);
  upd.Bind(11, w.expected_version);
  Status st = upd.Run();
  if (!st) return Context(st.error(), fmt::format("update review '{}'", r.id));
  if (upd.Changes() == 1) return Ok();
  return Error::Conflict(
      fmt::format("review '{}' is missing or not at version {}", r.id, w.expected_version));
}

// ---- drills -----------------------------------------------------------------------------------

Status WriteDrill(Connection& conn, const WriteBatch::DrillWrite& w) {
  const DrillRecord& d = w.drill;
  auto bind = [&](Stmt& st) { BindValues(st, rows::DrillValues(d, w.expected_version + 1)); };
  if (w.expected_version == 0) {
    BG_ASSIGN_OR_RETURN(Stmt ins, conn.Prepare(fmt::format(
                                      "INSERT INTO drills({}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                                      rows::kDrillColumns)));
    bind(ins);
    Status st = ins.Run();
    if (!st && st.error().code() == ErrorCode::kConflict) {
      return Error::Conflict(fmt::format("drill '{}' already exists", d.id));
    }
    if (!st) return Context(st.error(), fmt::format("insert drill '{}'", d.id));
    return Ok();
  }
  // The resource and start of a drill never change.
  BG_ASSIGN_OR_RETURN(Stmt upd, conn.Prepare("UPDATE drills SET state = ?3, finished_at = ?5, "
                                             "version = ?6, body = ?7 WHERE id = ?1 AND "
                                             "version = ?8 AND resource = ?2 AND started_at = ?4"));
  bind(upd);
  upd.Bind(8, w.expected_version);
  Status st = upd.Run();
  if (!st) return Context(st.error(), fmt::format("update drill '{}'", d.id));
  if (upd.Changes() == 1) return Ok();
  return Error::Conflict(
      fmt::format("drill '{}' is missing or not at version {}", d.id, w.expected_version));
}

// ---- attestation campaigns ----------------------------------------------------------------------

Status WriteCampaign(Connection& conn, const WriteBatch::CampaignWrite& w) {
  const core::Campaign& c = w.campaign;
  auto bind = [&](Stmt& st) { BindValues(st, rows::CampaignValues(c, w.expected_version + 1)); };
  if (w.expected_version == 0) {
    BG_ASSIGN_OR_RETURN(
        Stmt ins,
        conn.Prepare(fmt::format("INSERT INTO campaigns({}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                                 rows::kCampaignColumns)));
    bind(ins);
    Status st = ins.Run();
    if (!st && st.error().code() == ErrorCode::kConflict) {
      return Error::Conflict(fmt::format("campaign '{}' already exists", c.id));
    }
    if (!st) return Context(st.error(), fmt::format("insert campaign '{}'", c.id));
    return Ok();
  }
  // The scope and opening of a campaign never change.
  BG_ASSIGN_OR_RETURN(Stmt upd, conn.Prepare("UPDATE campaigns SET state = ?3, due_at = ?5, "
                                             "version = ?6, body = ?7 WHERE id = ?1 AND "
                                             "version = ?8 AND scope = ?2 AND opened_at = ?4"));
  bind(upd);
  upd.Bind(8, w.expected_version);
  Status st = upd.Run();
  if (!st) return Context(st.error(), fmt::format("update campaign '{}'", c.id));
  if (upd.Changes() == 1) return Ok();
  return Error::Conflict(
      fmt::format("campaign '{}' is missing or not at version {}", c.id, w.expected_version));
}

// ---- users, tokens, timers, outbox --------------------------------------------------------------

Status WriteUser(Connection& conn, const UserRecord& u) {
  BG_ASSIGN_OR_RETURN(
      Stmt s,
      conn.Prepare("INSERT OR REPLACE INTO users(name, roles, password_hash, "
                   "totp_secret_enc, totp_last_step, "
                   "disabled, created_at, mfa_verified_at, failed_logins, locked_until, "
                   "unlocked_at, email, passkeys) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, "
                   "?11, ?12, ?13)"));
  BindValues(s, rows::UserValues(u));
  Status st = s.Run();
  if (!st) return Context(st.error(), fmt::format("write user '{}'", u.name));
  return Ok();
}

Status WriteToken(Connection& conn, const TokenRecord& t, bool update) {
  BG_ASSIGN_OR_RETURN(
      Stmt s,
      conn.Prepare(update ? "UPDATE tokens SET user = ?2, issued_at = ?3, expires_at = ?4, "
                            "source_address = ?5, scope = ?6, family_started_at = ?7, "
                            "mfa_verified_at = ?8, step_up_failures = ?9 WHERE token_hash = ?1"
                          : "INSERT INTO tokens(token_hash, user, issued_at, expires_at, "
                            "source_address, scope, family_started_at, mfa_verified_at, "
                            "step_up_failures) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"));
  BindValues(s, rows::TokenValues(t));
  Status st = s.Run();
  if (!st) {
    return Context(st.error(),
                   fmt::format("{} token of user '{}'", update ? "update" : "insert", t.user));
  }
  return Ok();
}

Status WriteOutbox(Connection& conn, const OutboxJob& j) {
  if (j.id == 0) {
    BG_ASSIGN_OR_RETURN(
        Stmt s,
        conn.Prepare(
            "INSERT INTO outbox(kind, request, payload, attempts, next_attempt, last_error) "
            "VALUES (?1, ?2, ?3, ?4, ?5, ?6)"));
    s.Bind(1, j.kind)
        .Bind(2, j.request.value())
        .Bind(3, j.payload)
        .Bind(4, int64_t{j.attempts})
        .Bind(5, ToUnixSeconds(j.next_attempt))
        .Bind(6, j.last_error);
    Status st = s.Run();
    if (!st) return Context(st.error(), "insert outbox job");
    return Ok();
  }
  BG_ASSIGN_OR_RETURN(
      Stmt s,
      conn.Prepare(
          "UPDATE outbox SET attempts = ?2, next_attempt = ?3, last_error = ?4 WHERE id = ?1"));
  s.Bind(1, j.id)
      .Bind(2, int64_t{j.attempts})
      .Bind(3, ToUnixSeconds(j.next_attempt))
      .Bind(4, j.last_error);
  Status st = s.Run();
  if (!st) return Context(st.error(), fmt::format("update outbox job {}", j.id));
  if (s.Changes() != 1) return Error::NotFound(fmt::format("outbox job {} does not exist", j.id));
  return Ok();
}

// Runs a one-parameter statement (deletes, mostly) for each value.
template <typename T>
Status RunEach(Connection& conn, std::string_view sql, const std::vector<T>& values,
               std::string_view what) {
  if (values.empty()) return Ok();
  BG_ASSIGN_OR_RETURN(Stmt s, conn.Prepare(sql));
  for (const T& v : values) {
    s.Bind(1, v);
    Status st = s.Run();
    if (!st) return Context(st.error(), what);
  }
  return Ok();
}

Status WriteAudit(Connection& conn, const AuditAppend& a, int64_t expected_index) {
  if (a.index != expected_index) {
    return Error::FailedPrecondition(fmt::format(
        "audit append at index {} refused: the log has {} leaves", a.index, expected_index));
  }
  BG_ASSIGN_OR_RETURN(Stmt leaf,
                      conn.Prepare("INSERT INTO audit_leaves(idx, leaf) VALUES (?1, ?2)"));
  leaf.Bind(1, a.index).BindBlob(2, a.leaf);
  Status st = leaf.Run();
  if (!st) return Context(st.error(), fmt::format("append audit leaf {}", a.index));
  if (!a.request.empty()) {
    BG_ASSIGN_OR_RETURN(
        Stmt by_request,
        conn.Prepare("INSERT INTO audit_requests(request_id, idx) VALUES (?1, ?2)"));
    by_request.Bind(1, a.request).Bind(2, a.index);
    st = by_request.Run();
    if (!st) return Context(st.error(), fmt::format("index audit leaf {}", a.index));
  }
  BG_ASSIGN_OR_RETURN(
      Stmt node, conn.Prepare("INSERT INTO audit_nodes(level, idx, hash) VALUES (?1, ?2, ?3)"));
  for (const AuditNode& n : a.nodes) {
    node.Bind(1, int64_t{n.level}).Bind(2, n.index).BindBlob(3, n.hash);
    st = node.Run();
    if (!st) {
      return Context(st.error(),
                     fmt::format("store audit node (level {}, index {})", n.level, n.index));
    }
  }
  return Ok();
}

// ---- sessions ---------------------------------------------------------------------------------

Status WriteSession(Connection& conn, const WriteBatch::SessionWrite& w) {
  const SessionRecord& r = w.session;
  if (w.expected_chunks < 0) {
    BG_ASSIGN_OR_RETURN(
        Stmt ins, conn.Prepare(fmt::format("INSERT INTO sessions({}) VALUES (?1, ?2, ?3, ?4, ?5, "
                                           "?6, ?7, ?8, ?9, ?10, ?11)",
                                           rows::kSessionColumns)));
    BindValues(ins, rows::SessionValues(r));
    Status s = ins.Run();
    if (!s && s.error().code() == ErrorCode::kConflict) {
      return Error::Conflict(fmt::format("session '{}' already exists", r.id.value()));
    }
    if (!s) return Context(s.error(), fmt::format("insert session '{}'", r.id.value()));
    return Ok();
  }
  // The request, user, start and header of a session never change.
  BG_ASSIGN_OR_RETURN(Stmt upd,
                      conn.Prepare("UPDATE sessions SET ended_at = ?2, complete = ?3, chunks = ?4, "
                                   "bytes = ?5, last_event_us = ?6, end_reason = ?7 "
                                   "WHERE id = ?1 AND chunks = ?8"));
  upd.Bind(1, r.id.value())
      .Bind(2, OptSeconds(r.ended_at))
      .Bind(3, int64_t{r.complete ? 1 : 0})
      .Bind(4, r.chunks)
      .Bind(5, r.bytes)
      .Bind(6, r.last_event_us)
      .Bind(7, r.end_reason)
      .Bind(8, w.expected_chunks);
  Status s = upd.Run();
  if (!s) return Context(s.error(), fmt::format("update session '{}'", r.id.value()));
  if (upd.Changes() == 1) return Ok();
  return Error::Conflict(fmt::format("session '{}' does not exist or does not have {} chunks",
                                     r.id.value(), w.expected_chunks));
}

Status WriteChunk(Connection& conn, const SessionChunk& c) {
  BG_ASSIGN_OR_RETURN(
      Stmt ins,
      conn.Prepare(
          "INSERT INTO session_chunks(session, seq, data, sha256, received_at) "
          "SELECT ?1, ?2, ?3, ?4, ?5 WHERE EXISTS (SELECT 1 FROM sessions WHERE id = ?1)"));
  ins.Bind(1, c.session.value())
      .Bind(2, c.seq)
      .BindBlob(3, c.data)
      .Bind(4, c.sha256)
      .Bind(5, ToUnixSeconds(c.received_at));
  Status s = ins.Run();
  if (!s && s.error().code() == ErrorCode::kConflict) {
    return Error::Conflict(
        fmt::format("session '{}' already has chunk {}", c.session.value(), c.seq));
  }
  if (!s)
    return Context(s.error(),
                   fmt::format("insert chunk {} of session '{}'", c.seq, c.session.value()));
  if (ins.Changes() != 1) {
    return Error::Conflict(
        fmt::format("chunk {} for unknown session '{}'", c.seq, c.session.value()));
  }
  return Ok();
}

}  // namespace

// ---- open -------------------------------------------------------------------------------------

SqliteStore::SqliteStore(std::string path, std::unique_ptr<Connection> writer, int schema_version,
                         int64_t audit_size)
    : path_(std::move(path)),
      schema_version_(schema_version),
      writer_(std::move(writer)),
      audit_size_(audit_size),
      readers_(
          [this]() -> Result<std::unique_ptr<Connection>> {
            BG_ASSIGN_OR_RETURN(auto conn, Connection::Open(path_, /*create=*/false));
            BG_TRY(conn->Exec("PRAGMA query_only=ON"));
            return conn;
          },
          kMaxIdleReaders) {}

SqliteStore::~SqliteStore() = default;

Result<int64_t> SqliteStore::ReadAuditSize(Connection& c) {
  BG_ASSIGN_OR_RETURN(Stmt q, c.Prepare("SELECT COALESCE(MAX(idx) + 1, 0) FROM audit_leaves"));
  BG_ASSIGN_OR_RETURN(bool row, q.Step());
  return row ? q.Int(0) : 0;
}

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path) {
  BG_ASSIGN_OR_RETURN(auto writer, Connection::Open(path, /*create=*/true));
  auto version = sqlite::ApplyMigrations(*writer);
  if (!version) return Context(version.error(), fmt::format("open {}", path));
  // Leaves are gap-free from 0 (every append checks its index), so the size is the largest
  // index plus one: an index lookup, not a scan.
  BG_ASSIGN_OR_RETURN(int64_t audit_size, ReadAuditSize(*writer));
  return std::unique_ptr<SqliteStore>(
      new SqliteStore(path, std::move(writer), *version, audit_size));
}

// ---- commit -----------------------------------------------------------------------------------

Status SqliteStore::Commit(const WriteBatch& batch) {
  if (batch.empty()) return Ok();
  std::lock_guard lock(writer_mu_);
  {
    BG_ASSIGN_OR_RETURN(Stmt begin, writer_->Prepare("BEGIN IMMEDIATE"));
    Status st = begin.Run();
    if (!st) return Context(st.error(), "commit: begin");
  }
  Status st = ApplyBatch(batch);
  if (st) {
    st = [&]() -> Status {
      BG_ASSIGN_OR_RETURN(Stmt commit, writer_->Prepare("COMMIT"));
      Status done = commit.Run();
      if (!done) return Context(done.error(), "commit");
      return Ok();
    }();
  }
  if (!st) {
    // SQLite may already have rolled back (e.g. on SQLITE_FULL); a second ROLLBACK would fail.
    if (sqlite3_get_autocommit(writer_->raw()) == 0) (void)writer_->Exec("ROLLBACK");
    return st;
  }
  audit_size_.fetch_add(static_cast<int64_t>(batch.audit.size()));
  return Ok();
}

Status SqliteStore::ApplyBatch(const WriteBatch& batch) {
  Connection& c = *writer_;
  for (const auto& w : batch.requests) BG_TRY(WriteRequest(c, w));
  for (const auto& u : batch.users) BG_TRY(WriteUser(c, u));
  for (const auto& t : batch.tokens) BG_TRY(WriteToken(c, t, /*update=*/false));
  for (const auto& t : batch.tokens_updated) BG_TRY(WriteToken(c, t, /*update=*/true));
  BG_TRY(
      RunEach(c, "DELETE FROM tokens WHERE token_hash = ?1", batch.tokens_deleted, "delete token"));
  if (!batch.timers.empty()) {
    BG_ASSIGN_OR_RETURN(Stmt s, c.Prepare("INSERT INTO timers(id, kind, request, at) "
                                          "VALUES (NULLIF(?1, 0), ?2, ?3, ?4)"));
    for (const auto& t : batch.timers) {
      // A non-zero id is the caller's (the service numbers its timers so it can delete them
      // once fired); 0 lets SQLite choose.
      s.Bind(1, t.id)
          .Bind(2, StoredName(t.kind))
          .Bind(3, t.request.value())
          .Bind(4, ToUnixSeconds(t.at));
      Status st = s.Run();
      if (!st) return Context(st.error(), "insert timer");
    }
  }
  BG_TRY(RunEach(c, "DELETE FROM timers WHERE id = ?1", batch.timers_deleted, "delete timer"));
  for (const auto& j : batch.outbox) BG_TRY(WriteOutbox(c, j));
  BG_TRY(RunEach(c, "DELETE FROM outbox WHERE id = ?1", batch.outbox_deleted, "delete outbox job"));
  if (!batch.audit.empty()) {
    // Read the size inside the transaction: another process (`breakglass user add` beside a
    // running server) may have appended since this object last looked.
    BG_ASSIGN_OR_RETURN(int64_t size, ReadAuditSize(c));
    audit_size_.store(size);
  }
  int64_t next_index = audit_size_.load();
  for (const auto& a : batch.audit) BG_TRY(WriteAudit(c, a, next_index++));
  if (!batch.meta.empty()) {
    BG_ASSIGN_OR_RETURN(Stmt s, c.Prepare("INSERT INTO meta(key, value) VALUES (?1, ?2) "
                                          "ON CONFLICT(key) DO UPDATE SET value = excluded.value"));
    for (const auto& [key, value] : batch.meta) {
      s.Bind(1, key).Bind(2, value);
      Status st = s.Run();
      if (!st) return Context(st.error(), fmt::format("write meta '{}'", key));
    }
  }
  for (const auto& w : batch.sessions) BG_TRY(WriteSession(c, w));
  for (const auto& ch : batch.chunks) BG_TRY(WriteChunk(c, ch));
  for (const auto& w : batch.reviews) BG_TRY(WriteReview(c, w));
  for (const auto& w : batch.campaigns) BG_TRY(WriteCampaign(c, w));
  for (const auto& w : batch.drills) BG_TRY(WriteDrill(c, w));
  if (!batch.sources.empty()) {
    BG_ASSIGN_OR_RETURN(
        Stmt s,
        c.Prepare("INSERT INTO sources(user, address, last_seen) VALUES (?1, ?2, ?3) "
                  "ON CONFLICT(user, address) DO UPDATE SET last_seen = excluded.last_seen"));
    for (const auto& u : batch.sources) {
      s.Bind(1, u.user).Bind(2, u.address).Bind(3, ToUnixSeconds(u.at));
      Status st = s.Run();
      if (!st) return Context(st.error(), "write source address use");
    }
  }
  return Ok();
}

// ---- reads: requests --------------------------------------------------------------------------

Result<std::optional<core::Request>> SqliteStore::GetRequest(const RequestId& id) {
  BG_ASSIGN_OR_RETURN(auto conn, readers_.Get());
  BG_ASSIGN_OR_RETURN(auto rows, QueryRequests(*conn,
                                               fmt::format("SELECT {} FROM requests WHERE id = ?1",
                                                           rows::kRequestColumns),
                                               {Param(id.value())}));
  if (rows.empty()) return std::optional<core::Request>();
  return std::optional<core::Request>(std::move(rows.front()));
}

Result<std::vector<core::Request>> SqliteStore::ListRequests(const RequestFilter& filter) {
  if (filter.limit <= 0) {
    return Error::InvalidArgument("limit", "limit must be a positive number");
  }
  BG_ASSIGN_OR_RETURN(auto conn, readers_.Get());
  // The WHERE clause is assembled from fixed fragments only; every value is a bound parameter,
  // and each of the 16 shapes is prepared once per connection.
  std::string sql = fmt::format("SELECT {} FROM requests WHERE 1", rows::kRequestColumns);
  std::vector<Param> params;
  auto add = [&](std::string_view fragment, Param p) {
    params.push_back(std::move(p));
    sql += fmt::format(" AND {} ?{}", fragment, params.size());
  };
  if (filter.state) add("state =", std::string(StoredName(*filter.state)));
  if (filter.requester) add("requester =", *filter.requester);
  if (filter.created_since) add("created_at >=", ToUnixSeconds(*filter.created_since));
  if (!filter.before_id.empty()) {
    BG_ASSIGN_OR_RETURN(Stmt q,
                        conn->Prepare("SELECT created_at, seq FROM requests WHERE id = ?1"));
    q.Bind(1, filter.before_id);
    BG_ASSIGN_OR_RETURN(bool found, q.Step());
    if (!found) {
      return Error::InvalidArgument("before_id",
                                    fmt::format("no request with id '{}'", filter.before_id));
    }
    params.emplace_back(q.Int(0));
    params.emplace_back(q.Int(1));
    sql += fmt::format(" AND (created_at, seq) < (?{}, ?{})", params.size() - 1, params.size());
  }
  // Newest first: by creation time, ties in insertion order. Every index on the table ends in
  // the rowid (seq), so each filter's index delivers rows in this order without a sort.
  params.emplace_back(int64_t{std::min(filter.limit, kMaxListLimit)});
  sql += fmt::format(" ORDER BY created_at DESC, seq DESC LIMIT ?{}", params.size());
  return QueryRequests(*conn, sql, params);
}

Result<std::vector<core::Request>> SqliteStore::ListOpenRequests() {
  BG_ASSIGN_OR_RETURN(auto conn, readers_.Get());
  // The WHERE clauses match the partial index requests_open exactly, so it is used.
  // Counting first sizes the vector once: at start-up this may be many rows.
  BG_ASSIGN_OR_RETURN(
      Stmt count,
      conn->Prepare(
          "SELECT COUNT(*) FROM requests WHERE state IN ('pending', 'approved', 'active')"));
  BG_ASSIGN_OR_RETURN(bool counted, count.Step());
  const int64_t expected = counted ? count.Int(0) : 0;
  return QueryRequests(*conn,
                       fmt::format("SELECT {} FROM requests WHERE state IN ('pending', "
                                   "'approved', 'active') ORDER BY seq",
                                   rows::kRequestColumns),
                       {}, expected);
}

Result<int64_t> SqliteStore::CountRequestsSince(const std::string& requester, Timestamp since,
                                                int64_t at_most) {
  BG_ASSIGN_OR_RETURN(auto conn, readers_.Get());
  BG_ASSIGN_OR_RETURN(Stmt q, conn->Prepare("SELECT COUNT(*) FROM (SELECT 1 FROM requests "
                                            "WHERE requester = ?1 AND created_at >= ?2 LIMIT ?3)"));
  q.Bind(1, requester).Bind(2, ToUnixSeconds(since)).Bind(3, std::max<int64_t>(at_most, 0));
  BG_ASSIGN_OR_RETURN(bool row, q.Step());
  return row ? q.Int(0) : int64_t{0};
}

Result<std::vector<std::pair<std::string, int64_t>>> SqliteStore::CountRequestsByState(
    bool drills) {
  static constexpr core::RequestState kAll[] = {
      core::RequestState::kPending,   core::RequestState::kApproved, core::RequestState::kActive,
      core::RequestState::kExpired,   core::RequestState::kRevoked,  core::RequestState::kDenied,
      core::RequestState::kCancelled, core::RequestState::kTimedOut};
  std::vector<std::pair<std::string, int64_t>> out;
  for (core::RequestState s : kAll) out.emplace_back(std::string(StoredName(s)), 0);
  BG_ASSIGN_OR_RETURN(auto conn, readers_.Get());
  BG_ASSIGN_OR_RETURN(
      Stmt q,
      conn->Prepare("SELECT state, COUNT(*) FROM requests WHERE drill = ?1 GROUP BY state"));
  q.Bind(1, int64_t{drills ? 1 : 0});
  for (;;) {
    BG_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    BG_ASSIGN_OR_RETURN(core::RequestState s, ParseStoredState(q.Text(0), "requests.state"));
    out[static_cast<size_t>(s)].second = q.Int(1);
  }
  return out;
}

// ---- reads: everything else -------------------------------------------------------------------

Result<std::optional<UserRecord>> SqliteStore::GetUser(const std::string& name) {
  BG_ASSIGN_OR_RETURN(auto conn, readers_.Get());
  BG_ASSIGN_OR_RETURN(Stmt q, conn->Prepare(fmt::format("SELECT {} FROM users WHERE name = ?1",
                                                        rows::kUserColumns)));
  q.Bind(1, name);
  BG_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return std::optional<UserRecord>();
  BG_ASSIGN_OR_RETURN(UserRecord u, rows::ReadUser(q));
  return std::optional<UserRecord>(std::move(u));
}

Result<std::vector<UserRecord>> SqliteStore::ListUsers() {
  BG_ASSIGN_OR_RETURN(auto conn, readers_.Get());
  BG_ASSIGN_OR_RETURN(
      Stmt q, conn->Prepare(fmt::format("SELECT {} FROM users ORDER BY name", rows::kUserColumns)));
  std::vector<UserRecord> out;
  for (;;) {
    BG_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    BG_ASSIGN_OR_RETURN(UserRecord u, rows::ReadUser(q));
    out.push_back(std::move(u));
  }
  return out;
}

Result<std::optional<TokenRecord>> SqliteStore::GetToken(const std::string& token_hash) {
  BG_ASSIGN_OR_RETURN(auto conn, readers_.Get());
  BG_ASSIGN_OR_RETURN(
      Stmt q, conn->Prepare(
                  fmt::format("SELECT {} FROM tokens WHERE token_hash = ?1", rows::kTokenColumns)));
  q.Bind(1, token_hash);
  BG_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return std::optional<TokenRecord>();
  BG_ASSIGN_OR_RETURN(TokenRecord t, rows::ReadToken(q));
  return std::optional<TokenRecord>(std::move(t));
}

Result<std::vector<TimerRecord>> SqliteStore::ListTimers() {
  BG_ASSIGN_OR_RETURN(auto conn, readers_.Get());
  BG_ASSIGN_OR_RETURN(Stmt q, conn->Prepare(fmt::format("SELECT {} FROM timers ORDER BY at, id",
                                                        rows::kTimerColumns)));
  std::vector<TimerRecord> out;
  for (;;) {
    BG_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    BG_ASSIGN_OR_RETURN(TimerRecord t, rows::ReadTimer(q));
    out.push_back(std::move(t));
  }
  return out;
}

Result<std::vector<OutboxJob>> SqliteStore::ListOutbox() {
  BG_ASSIGN_OR_RETURN(auto conn, readers_.Get());
  BG_ASSIGN_OR_RETURN(Stmt q, conn->Prepare(fmt::format("SELECT {} FROM outbox ORDER BY id",
                                                        rows::kOutboxColumns)));
  std::vector<OutboxJob> out;
  for (;;) {
    BG_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    BG_ASSIGN_OR_RETURN(OutboxJob j, rows::ReadOutbox(q));
    out.push_back(std::move(j));
  }
  return out;
}

Result<bool> SqliteStore::HasUsedSource(const std::string& user, const std::string& address) {
  BG_ASSIGN_OR_RETURN(auto conn, readers_.Get());
  BG_ASSIGN_OR_RETURN(Stmt q,
                      conn->Prepare("SELECT 1 FROM sources WHERE user = ?1 AND address = ?2"));
  q.Bind(1, user).Bind(2, address);
  return q.Step();
}

Result<std::optional<std::string>> SqliteStore::GetMeta(const std::string& key) {
  BG_ASSIGN_OR_RETURN(auto conn, readers_.Get());
  BG_ASSIGN_OR_RETURN(Stmt q, conn->Prepare("SELECT value FROM meta WHERE key = ?1"));
  q.Bind(1, key);
  BG_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return std::optional<std::string>();
  return std::optional<std::string>(q.Text(0));
}

Result<int64_t> SqliteStore::AuditSize() {
  std::lock_guard lock(writer_mu_);
  BG_ASSIGN_OR_RETURN(int64_t size, ReadAuditSize(*writer_));
  audit_size_.store(size);
  return size;
}

Result<std::vector<std::string>> SqliteStore::AuditLeaves(int64_t start, int64_t end) {
  if (start < 0 || end < start) {
    return Error::InvalidArgument("start", fmt::format("invalid leaf range [{}, {})", start, end));
  }
  std::vector<std::string> out;
  if (start == end) return out;
  BG_ASSIGN_OR_RETURN(auto conn, readers_.Get());
  BG_ASSIGN_OR_RETURN(
      Stmt q,
      conn->Prepare("SELECT leaf FROM audit_leaves WHERE idx >= ?1 AND idx < ?2 ORDER BY idx"));
  q.Bind(1, start).Bind(2, end);
  for (;;) {
    BG_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    out.push_back(q.Blob(0));
  }
  return out;
}

Result<std::vector<int64_t>> SqliteStore::AuditIndexesOf(const RequestId& id, int limit) {
  BG_ASSIGN_OR_RETURN(auto conn, readers_.Get());
  BG_ASSIGN_OR_RETURN(Stmt q, conn->Prepare("SELECT idx FROM audit_requests WHERE request_id = ?1 "
                                            "ORDER BY idx LIMIT ?2"));
  q.Bind(1, id.value()).Bind(2, int64_t{limit});
  std::vector<int64_t> out;
  for (;;) {
    BG_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    out.push_back(q.Int(0));
  }
  return out;
}

Result<std::string> SqliteStore::AuditNodeHash(int level, int64_t index) {
  BG_ASSIGN_OR_RETURN(auto conn, readers_.Get());
  BG_ASSIGN_OR_RETURN(Stmt q,
                      conn->Prepare("SELECT hash FROM audit_nodes WHERE level = ?1 AND idx = ?2"));
  q.Bind(1, int64_t{level}).Bind(2, index);
  BG_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) {
    return Error::NotFound(
        fmt::format("audit node (level {}, index {}) is not stored", level, index));
  }
  return q.Blob(0);
}

// ---- reads: sessions ---------------------------------------------------------------------------

// ---- reads: reviews ---------------------------------------------------------------------------

Result<std::optional<core::Review>> SqliteStore::GetReview(const std::string& id) {
  BG_ASSIGN_OR_RETURN(auto conn, readers_.Get());
  BG_ASSIGN_OR_RETURN(Stmt q, conn->Prepare(fmt::format("SELECT {} FROM reviews WHERE id = ?1",
                                                        rows::kReviewColumns)));
  q.Bind(1, id);
  BG_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return std::optional<core::Review>();
  BG_ASSIGN_OR_RETURN(core::Review r, rows::ReadReview(q));
  return std::optional<core::Review>(std::move(r));
}

namespace {

// The WHERE clause of a review filter, from fixed fragments; every value bound.
struct ReviewQuery {
  std::string where = " WHERE 1";
  std::vector<Param> params;
  void Add(std::string_view fragment, Param p) {
    params.push_back(std::move(p));
    where += fmt::format(" AND {} ?{}", fragment, params.size());
  }
};

ReviewQuery ReviewWhere(const ReviewFilter& f) {
  ReviewQuery q;
  if (f.state) q.Add("state =", std::string(core::ToString(*f.state)));
  if (f.requester) q.Add("requester =", *f.requester);
  if (f.subject) q.Add("subject =", *f.subject);
  if (f.due_before) q.Add("due_at <", ToUnixSeconds(*f.due_before));
  if (f.overdue_alerted) q.Add("overdue_alerted =", int64_t{*f.overdue_alerted ? 1 : 0});
  return q;
}

}  // namespace

Result<std::vector<core::Review>> SqliteStore::ListReviews(const ReviewFilter& filter) {
  if (filter.limit <= 0) return Error::InvalidArgument("limit", "limit must be a positive number");
  BG_ASSIGN_OR_RETURN(auto conn, readers_.Get());
  ReviewQuery rq = ReviewWhere(filter);
  if (!filter.after_id.empty()) {
    BG_ASSIGN_OR_RETURN(Stmt q, conn->Prepare("SELECT due_at FROM reviews WHERE id = ?1"));
    q.Bind(1, filter.after_id);
    BG_ASSIGN_OR_RETURN(bool found, q.Step());
    if (!found) {
      return Error::InvalidArgument("after",
                                    fmt::format("no review with id '{}'", filter.after_id));
    }
    rq.params.emplace_back(q.Int(0));
    rq.params.emplace_back(filter.after_id);
    rq.where +=
        fmt::format(" AND (due_at, id) > (?{}, ?{})", rq.params.size() - 1, rq.params.size());
  }
  rq.params.emplace_back(int64_t{std::min(filter.limit, kMaxListLimit)});
  BG_ASSIGN_OR_RETURN(
      Stmt q, conn->Prepare(fmt::format("SELECT {} FROM reviews{} ORDER BY due_at, id LIMIT ?{}",
                                        rows::kReviewColumns, rq.where, rq.params.size())));
  BindAll(q, rq.params);
  std::vector<core::Review> out;
  for (;;) {
    BG_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    BG_ASSIGN_OR_RETURN(core::Review r, rows::ReadReview(q));
    out.push_back(std::move(r));
  }
  return out;
}

Result<int64_t> SqliteStore::CountReviews(const ReviewFilter& filter) {
  BG_ASSIGN_OR_RETURN(auto conn, readers_.Get());
  ReviewQuery rq = ReviewWhere(filter);
  BG_ASSIGN_OR_RETURN(Stmt q, conn->Prepare("SELECT COUNT(*) FROM reviews" + rq.where));
  BindAll(q, rq.params);
  BG_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return Error::Internal("count reviews: no result");
  return q.Int(0);
}

// ---- reads: attestation campaigns -------------------------------------------------------------

Result<std::optional<core::Campaign>> SqliteStore::GetCampaign(const std::string& id) {
  BG_ASSIGN_OR_RETURN(auto conn, readers_.Get());
  BG_ASSIGN_OR_RETURN(Stmt q, conn->Prepare(fmt::format("SELECT {} FROM campaigns WHERE id = ?1",
                                                        rows::kCampaignColumns)));
  q.Bind(1, id);
  BG_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return std::optional<core::Campaign>();
  BG_ASSIGN_OR_RETURN(core::Campaign c, rows::ReadCampaign(q));
  return std::optional<core::Campaign>(std::move(c));
}

Result<std::vector<core::Campaign>> SqliteStore::ListCampaigns(
    std::optional<core::CampaignState> state, int limit) {
  if (limit <= 0) return Error::InvalidArgument("limit", "limit must be a positive number");
  BG_ASSIGN_OR_RETURN(auto conn, readers_.Get());
  std::vector<Param> params;
  std::string where;
  if (state) {
    params.emplace_back(std::string(core::ToString(*state)));
    where = " WHERE state = ?1";
  }
  params.emplace_back(int64_t{std::min(limit, kMaxListLimit)});
  BG_ASSIGN_OR_RETURN(Stmt q, conn->Prepare(fmt::format(
                                  "SELECT {} FROM campaigns{} ORDER BY opened_at, id LIMIT ?{}",
                                  rows::kCampaignColumns, where, params.size())));
  BindAll(q, params);
  std::vector<core::Campaign> out;
  for (;;) {
    BG_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    BG_ASSIGN_OR_RETURN(core::Campaign c, rows::ReadCampaign(q));
    out.push_back(std::move(c));
  }
  return out;
}

// ---- reads: drills
// -------------------------------------------------------------------------------

Result<std::optional<DrillRecord>> SqliteStore::GetDrill(const std::string& id) {
  BG_ASSIGN_OR_RETURN(auto conn, readers_.Get());
  BG_ASSIGN_OR_RETURN(Stmt q, conn->Prepare(fmt::format("SELECT {} FROM drills WHERE id = ?1",
                                                        rows::kDrillColumns)));
  q.Bind(1, id);
  BG_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return std::optional<DrillRecord>();
  BG_ASSIGN_OR_RETURN(DrillRecord d, rows::ReadDrill(q));
  return std::optional<DrillRecord>(std::move(d));
}

Result<std::vector<DrillRecord>> SqliteStore::ListDrills(const DrillFilter& filter) {
  if (filter.limit <= 0) return Error::InvalidArgument("limit", "limit must be a positive number");
  BG_ASSIGN_OR_RETURN(auto conn, readers_.Get());
  std::vector<Param> params;
  std::vector<std::string> conds;
  if (filter.resource) {
    params.emplace_back(*filter.resource);
    conds.push_back(fmt::format("resource = ?{}", params.size()));
  }
  if (filter.since) {
    params.emplace_back(ToUnixSeconds(*filter.since));
    conds.push_back(fmt::format("started_at >= ?{}", params.size()));
  }
  std::string where = conds.empty() ? "" : " WHERE " + fmt::format("{}", fmt::join(conds, " AND "));
  params.emplace_back(int64_t{std::min(filter.limit, kMaxListLimit)});
  BG_ASSIGN_OR_RETURN(
      Stmt q, conn->Prepare(
                  fmt::format("SELECT {} FROM drills{} ORDER BY started_at DESC, id DESC LIMIT ?{}",
                              rows::kDrillColumns, where, params.size())));
  BindAll(q, params);
  std::vector<DrillRecord> out;
  for (;;) {
    BG_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    BG_ASSIGN_OR_RETURN(DrillRecord d, rows::ReadDrill(q));
    out.push_back(std::move(d));
  }
  return out;
}

Result<std::map<std::string, Timestamp>> SqliteStore::LastSuccessfulDrills() {
  BG_ASSIGN_OR_RETURN(auto conn, readers_.Get());
  BG_ASSIGN_OR_RETURN(Stmt q, conn->Prepare("SELECT resource, MAX(finished_at) FROM drills "
                                            "WHERE state = 'ok' GROUP BY resource"));
  std::map<std::string, Timestamp> out;
  for (;;) {
    BG_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    if (auto at = q.OptInt(1)) out[q.Text(0)] = FromUnixSeconds(*at);
  }
  return out;
}

Result<std::optional<SessionRecord>> SqliteStore::GetSession(const SessionId& id) {
  BG_ASSIGN_OR_RETURN(auto conn, readers_.Get());
  BG_ASSIGN_OR_RETURN(Stmt q, conn->Prepare(fmt::format("SELECT {} FROM sessions WHERE id = ?1",
                                                        rows::kSessionColumns)));
  q.Bind(1, id.value());
  BG_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return std::optional<SessionRecord>();
  return std::optional<SessionRecord>(rows::ReadSession(q));
}

Result<std::vector<SessionRecord>> SqliteStore::ListSessions(const SessionFilter& filter) {
  if (filter.limit <= 0) return Error::InvalidArgument("limit", "limit must be a positive number");
  BG_ASSIGN_OR_RETURN(auto conn, readers_.Get());
  // Fixed fragments only; every value is bound.
  std::string sql = fmt::format("SELECT {} FROM sessions WHERE 1", rows::kSessionColumns);
  std::vector<std::string> params;
  if (filter.request) {
    params.push_back(filter.request->value());
    sql += fmt::format(" AND request = ?{}", params.size());
  }
  if (filter.user) {
    params.push_back(*filter.user);
    sql += fmt::format(" AND user = ?{}", params.size());
  }
  sql += fmt::format(" ORDER BY started_at, seq LIMIT ?{}", params.size() + 1);
  BG_ASSIGN_OR_RETURN(Stmt q, conn->Prepare(sql));
  for (size_t i = 0; i < params.size(); ++i) q.Bind(static_cast<int>(i) + 1, params[i]);
  q.Bind(static_cast<int>(params.size()) + 1, int64_t{std::min(filter.limit, kMaxListLimit)});
  std::vector<SessionRecord> out;
  for (;;) {
    BG_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    out.push_back(rows::ReadSession(q));
  }
  return out;
}

Result<std::vector<SessionChunk>> SqliteStore::GetSessionChunks(const SessionId& id,
                                                                int64_t from_seq, int64_t limit) {
  if (from_seq < 0 || limit < 0) {
    return Error::InvalidArgument(
        "seq", fmt::format("invalid chunk range from {} limit {}", from_seq, limit));
  }
  std::vector<SessionChunk> out;
  if (limit == 0) return out;
  BG_ASSIGN_OR_RETURN(auto conn, readers_.Get());
  BG_ASSIGN_OR_RETURN(Stmt q,
                      conn->Prepare("SELECT seq, data, sha256, received_at FROM session_chunks "
                                    "WHERE session = ?1 AND seq >= ?2 ORDER BY seq LIMIT ?3"));
  q.Bind(1, id.value()).Bind(2, from_seq).Bind(3, limit);
  for (;;) {
    BG_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    SessionChunk c;
    c.session = id;
    c.seq = q.Int(0);
    c.data = q.Blob(1);
    c.sha256 = q.Text(2);
    c.received_at = FromUnixSeconds(q.Int(3));
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace bg::store
