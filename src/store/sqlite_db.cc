#include "store/sqlite_db.h"

#include <fmt/format.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace bg::store::sqlite {

Error SqliteError(int rc, std::string_view what, std::string_view detail) {
  std::string msg = fmt::format("{}: {}", what, detail.empty() ? sqlite3_errstr(rc) : detail);
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_NOMEM:
    case SQLITE_READONLY:
      return Error::Unavailable(std::move(msg));
    case SQLITE_CONSTRAINT:
      return Error::Conflict(std::move(msg));
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
      return Error::FailedPrecondition(std::move(msg));
    default:
      return Error::Internal(std::move(msg));
  }
}

Stmt::~Stmt() {
  if (stmt_ != nullptr) {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
}

// A bind error (a wrong index, out of memory, a statement in use) is kept and reported by the
// next Step(), so that a statement never runs with stale values.
void Stmt::CheckBind(int rc) {
  if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) bind_rc_ = rc;
}

Stmt& Stmt::Bind(int i, int64_t v) {
  CheckBind(sqlite3_bind_int64(stmt_, i, v));
  return *this;
}

Stmt& Stmt::Bind(int i, std::string_view text) {
  CheckBind(sqlite3_bind_text64(stmt_, i, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
  return *this;
}

Stmt& Stmt::BindBlob(int i, std::string_view bytes) {
  // A zero-length blob must still be a blob, not NULL: data() of an empty view may be null.
  static const char kEmpty = 0;
  CheckBind(sqlite3_bind_blob64(stmt_, i, bytes.empty() ? &kEmpty : bytes.data(), bytes.size(),
                                SQLITE_TRANSIENT));
  return *this;
}

Stmt& Stmt::BindNull(int i) {
  CheckBind(sqlite3_bind_null(stmt_, i));
  return *this;
}

Result<bool> Stmt::Step() {
  if (bind_rc_ != SQLITE_OK) {
    int rc = bind_rc_;
    bind_rc_ = SQLITE_OK;
    return SqliteError(rc, "sqlite bind", sqlite3_errmsg(db_));
  }
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqliteError(rc, "sqlite step", sqlite3_errmsg(db_));
}

Status Stmt::Run() {
  Status result;
  for (;;) {
    auto row = Step();
    if (!row.has_value()) {
      result = row.error();
      break;
    }
    if (!*row) break;
  }
  // Reset now so the statement can be bound and run again (the next Bind() on an un-reset
  // statement would fail and the step would silently reuse the old values). The change count
  // is per connection, so Changes() still reports this run.
  sqlite3_reset(stmt_);
  return result;
}

bool Stmt::IsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

int64_t Stmt::Int(int col) const { return sqlite3_column_int64(stmt_, col); }

std::string Stmt::Text(int col) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
  int n = sqlite3_column_bytes(stmt_, col);
  return p == nullptr ? std::string() : std::string(p, static_cast<size_t>(n));
}

std::string Stmt::Blob(int col) const {
  const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt_, col));
  int n = sqlite3_column_bytes(stmt_, col);
  return p == nullptr ? std::string() : std::string(p, static_cast<size_t>(n));
}

std::optional<int64_t> Stmt::OptInt(int col) const {
  if (IsNull(col)) return std::nullopt;
  return Int(col);
}

int64_t Stmt::Changes() const { return sqlite3_changes64(db_); }

int64_t Stmt::LastInsertRowid() const { return sqlite3_last_insert_rowid(db_); }

namespace {

// The database holds password hashes and session keystrokes: it is created 0600 before SQLite
// opens it (SQLite gives its -wal and -shm files the database file's mode, whatever the umask),
// and an existing database or journal readable by others is made 0600. Done by the writing
// connection only (readers may be another account with read access).
Status KeepPrivate(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd >= 0) ::close(fd);  // an error is SQLite's to report, with its own words
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    const std::string p = path + suffix;
    struct stat st {};
    if (::lstat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 077) != 0) {
      if (::chmod(p.c_str(), 0600) != 0) {
        return Error::Unavailable(fmt::format("{} is readable by others (mode {:o}) and cannot be "
                                              "made 0600: {}",
                                              p, st.st_mode & 0777, std::strerror(errno)));
      }
    }
  }
  return Ok();
}

}  // namespace

Result<std::unique_ptr<Connection>> Connection::Open(const std::string& path, bool create) {
  if (create && path != ":memory:" && !path.empty()) BG_TRY(KeepPrivate(path));
  sqlite3* db = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string detail = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return SqliteError(rc, fmt::format("open {}", path), detail);
  }
  std::unique_ptr<Connection> conn(new Connection(db));
  sqlite3_extended_result_codes(db, 1);
  // The busy timeout first: the pragmas below may need the lock another process holds.
  sqlite3_busy_timeout(db, 5000);
  // journal_mode is the first statement that reads the file header, so a file that is not a
  // database fails here with NOTADB; say which file and what it means.
  static constexpr const char* kPragmas[] = {
      "PRAGMA journal_mode=WAL",
      "PRAGMA synchronous=FULL",
      "PRAGMA foreign_keys=ON",
  };
  for (const char* pragma : kPragmas) {
    char* err = nullptr;
    rc = sqlite3_exec(db, pragma, nullptr, nullptr, &err);
    std::string detail = err != nullptr ? err : "";
    sqlite3_free(err);
    if (rc != SQLITE_OK) {
      if ((rc & 0xff) == SQLITE_NOTADB || (rc & 0xff) == SQLITE_CORRUPT) {
        return Error::FailedPrecondition(fmt::format(
            "{} is not a usable SQLite database ({}); restore it from a backup or point the "
            "storage setting at another file",
            path, detail));
      }
      return SqliteError(rc, fmt::format("open {}: {}", path, pragma), detail);
    }
  }
  return conn;
}

Connection::~Connection() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  sqlite3_close(db_);
}

Result<Stmt> Connection::Prepare(std::string_view sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) return Stmt(db_, it->second);
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) return SqliteError(rc, fmt::format("prepare {}", sql), sqlite3_errmsg(db_));
  cache_.emplace(std::string(sql), stmt);
  return Stmt(db_, stmt);
}

Status Connection::Exec(const char* sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
  std::string detail = err != nullptr ? err : "";
  sqlite3_free(err);
  if (rc != SQLITE_OK) return SqliteError(rc, sql, detail);
  return Ok();
}

}  // namespace bg::store::sqlite
