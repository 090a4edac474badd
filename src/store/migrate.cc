#include "store/migrate.h"

#include <fmt/format.h>

#include <algorithm>

#include "store/pg_store.h"
#include "store/sqlite_db.h"
#include "store/sqlite_store.h"

namespace bg::store {
namespace {

// A column and how its values are read from SQLite: 'i' an integer, 't' text, 'b' bytes.
struct Column {
  std::string_view name;
  char kind;
};

struct Table {
  std::string_view name;
  std::vector<Column> columns;
  std::string_view order;          // the key, so that a copy is reproducible
  bool identity = {};            // its serial column is GENERATED ALWAYS (copied as it is)
  std::string_view serial = {};  // the column a sequence numbers: moved past the largest copied
};

// Every table of the schema (version 11, the same on both backends), in an order where a
// reader never meets a row that refers to one not yet copied (sessions before their chunks).
const std::vector<Table>& Tables() {
  static const std::vector<Table> kTables = {
      {"requests",
       {{"seq", 'i'},
        {"id", 't'},
        {"requester", 't'},
        {"state", 't'},
        {"created_at", 'i'},
        {"ends_at", 'i'},
        {"version", 'i'},
        {"body", 't'},
        {"drill", 'i'}},
       "seq",
       true,
       "seq"},
      {"users",
       {{"name", 't'},
        {"roles", 't'},
        {"password_hash", 't'},
        {"totp_secret_enc", 't'},
        {"totp_last_step", 'i'},
        {"disabled", 'i'},
        {"created_at", 'i'},
        {"mfa_verified_at", 'i'},
        {"failed_logins", 'i'},
        {"locked_until", 'i'},
        {"unlocked_at", 'i'},
        {"email", 't'},
        {"passkeys", 't'}},
       "name"},
      {"tokens",
       {{"token_hash", 't'},
        {"\"user\"", 't'},
        {"issued_at", 'i'},
        {"expires_at", 'i'},
        {"source_address", 't'},
        {"scope", 't'},
        {"family_started_at", 'i'},
        {"mfa_verified_at", 'i'},
        {"step_up_failures", 'i'}},
       "token_hash"},
      {"timers",
       {{"id", 'i'}, {"kind", 't'}, {"request", 't'}, {"at", 'i'}},
       "id",
       false,
       "id"},
      {"outbox",
       {{"id", 'i'},
        {"kind", 't'},
        {"request", 't'},
        {"payload", 't'},
        {"attempts", 'i'},
        {"next_attempt", 'i'},
        {"last_error", 't'}},
       "id",
       false,
       "id"},
      {"sources", {{"\"user\"", 't'}, {"address", 't'}, {"last_seen", 'i'}}, "\"user\", address"},
      {"meta", {{"key", 't'}, {"value", 't'}}, "key"},
      {"audit_leaves", {{"idx", 'i'}, {"leaf", 'b'}}, "idx"},
      {"audit_nodes", {{"level", 'i'}, {"idx", 'i'}, {"hash", 'b'}}, "level, idx"},
      {"audit_requests", {{"request_id", 't'}, {"idx", 'i'}}, "request_id, idx"},
      {"sessions",
       {{"seq", 'i'},
        {"id", 't'},
        {"request", 't'},
        {"\"user\"", 't'},
        {"started_at", 'i'},
        {"ended_at", 'i'},
        {"complete", 'i'},
        {"header", 't'},
        {"chunks", 'i'},
        {"bytes", 'i'},
        {"last_event_us", 'i'},
        {"end_reason", 't'}},
       "seq",
       true,
       "seq"},
      {"session_chunks",
       {{"session", 't'}, {"seq", 'i'}, {"data", 'b'}, {"sha256", 't'}, {"received_at", 'i'}},
       "session, seq"},
      {"reviews",
       {{"id", 't'},
        {"subject", 't'},
        {"request", 't'},
        {"requester", 't'},
        {"state", 't'},
        {"opened_at", 'i'},
        {"due_at", 'i'},
        {"overdue_alerted", 'i'},
        {"version", 'i'},
        {"body", 't'}},
       "id"},
      {"campaigns",
       {{"id", 't'},
        {"scope", 't'},
        {"state", 't'},
        {"opened_at", 'i'},
        {"due_at", 'i'},
        {"version", 'i'},
        {"body", 't'}},
       "id"},
      {"drills",
       {{"id", 't'},
        {"resource", 't'},
        {"state", 't'},
        {"started_at", 'i'},
        {"finished_at", 'i'},
        {"version", 'i'},
        {"body", 't'}},
       "id"},
  };
  return kTables;
}

std::string ColumnList(const Table& t) {
  std::string out;
  for (const Column& c : t.columns) {
    if (!out.empty()) out += ", ";
    out += c.name;
  }
  return out;
}

// Rows per INSERT: many at once (a round trip each), within PostgreSQL's 65535 parameters.
constexpr size_t kRowsPerInsert = 500;

Status Flush(pg::Connection& to, const Table& t, const pg::Params& params, size_t rows) {
  if (rows == 0) return Ok();
  std::string sql = fmt::format("INSERT INTO {}({}){} VALUES ", t.name, ColumnList(t),
                                t.identity ? " OVERRIDING SYSTEM VALUE" : "");
  const size_t n = t.columns.size();
  for (size_t r = 0; r < rows; ++r) {
    sql += r == 0 ? "(" : ", (";
    for (size_t c = 0; c < n; ++c) sql += fmt::format("{}${}", c == 0 ? "" : ", ", r * n + c + 1);
    sql += ")";
  }
  BG_TRY(to.Exec(sql, params, fmt::format("copy {}", t.name)));
  return Ok();
}

Result<int64_t> CopyTable(sqlite::Connection& from, pg::Connection& to, const Table& t,
                          const MigrateProgress& progress) {
  BG_ASSIGN_OR_RETURN(sqlite::Stmt count,
                      from.Prepare(fmt::format("SELECT COUNT(*) FROM {}", t.name)));
  BG_ASSIGN_OR_RETURN(bool counted, count.Step());
  const int64_t total = counted ? count.Int(0) : 0;
  BG_ASSIGN_OR_RETURN(sqlite::Stmt q, from.Prepare(fmt::format("SELECT {} FROM {} ORDER BY {}",
                                                               ColumnList(t), t.name, t.order)));
  pg::Params batch;
  size_t in_batch = 0;
  int64_t done = 0;
  for (;;) {
    BG_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    for (size_t c = 0; c < t.columns.size(); ++c) {
      const int col = static_cast<int>(c);
      if (q.IsNull(col)) {
        batch.Null();
      } else if (t.columns[c].kind == 'i') {
        batch.Int(q.Int(col));
      } else if (t.columns[c].kind == 'b') {
        batch.Bytes(q.Blob(col));
      } else {
        batch.Text(q.Text(col));
      }
    }
    ++done;
    if (++in_batch == kRowsPerInsert) {
      BG_TRY(Flush(to, t, batch, in_batch));
      batch = pg::Params();
      in_batch = 0;
      if (progress) progress(t.name, done, total);
    }
  }
  BG_TRY(Flush(to, t, batch, in_batch));
  if (!t.serial.empty() && done > 0) {
    // Rows inserted later are numbered after the copied ones (an insert with the number given
    // does not move the sequence).
    BG_TRY(to.Exec(fmt::format("SELECT setval(pg_get_serial_sequence('{0}', '{1}'), (SELECT "
                               "MAX({1}) FROM {0}))",
                               t.name, t.serial),
                   fmt::format("advance the numbering of {}", t.name)));
  }
  if (progress) progress(t.name, done, total);
  return done;
}

}  // namespace

Result<MigrateReport> CopySqliteToPostgres(const std::string& sqlite_path,
                                           const pg::ConnectSpec& to,
                                           const MigrateProgress& progress) {
  MigrateReport report;
  {
    // Both at the newest schema first (the same on both sides), each by its own backend.
    BG_ASSIGN_OR_RETURN(auto source, SqliteStore::Open(sqlite_path));
    BG_ASSIGN_OR_RETURN(auto target, PgStore::Open(to));
    if (source->schema_version() != target->schema_version()) {
      return Error::Internal(fmt::format("schema versions differ: sqlite {}, postgres {}",
                                         source->schema_version(), target->schema_version()));
    }
    report.schema_version = target->schema_version();
  }
  BG_ASSIGN_OR_RETURN(auto from, sqlite::Connection::Open(sqlite_path, /*create=*/false));
  BG_ASSIGN_OR_RETURN(auto dest, pg::Connection::Open(to));
  // One read transaction on the source: a consistent snapshot even if something writes.
  BG_TRY(from->Exec("BEGIN"));
  BG_TRY(dest->ExecScript("BEGIN", "migrate"));
  auto copy = [&]() -> Status {
    BG_ASSIGN_OR_RETURN(
        pg::Rows used,
        dest->Exec("SELECT (SELECT COUNT(*) FROM requests) + (SELECT COUNT(*) FROM users) + "
                   "(SELECT COUNT(*) FROM audit_leaves) + (SELECT COUNT(*) FROM meta)",
                   "check that the target is empty"));
    if (used.Int(0, 0) != 0) {
      return Error::FailedPrecondition(
          "the target database already holds an installation (requests, users, audit entries "
          "or settings): migrate into an empty database");
    }
    for (const Table& t : Tables()) {
      BG_ASSIGN_OR_RETURN(int64_t rows, CopyTable(*from, *dest, t, progress));
      report.tables.emplace_back(std::string(t.name), rows);
    }
    return Ok();
  };
  Status s = copy();
  (void)from->Exec("ROLLBACK");
  if (!s) {
    (void)dest->ExecScript("ROLLBACK", "migrate");
    return s.error();
  }
  BG_TRY(dest->ExecScript("COMMIT", "migrate"));
  return report;
}

}  // namespace bg::store
