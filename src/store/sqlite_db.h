// A thin RAII layer over one sqlite3 connection: opening with the store's pragmas, a cache of
// prepared statements keyed by SQL text, and mapping of SQLite result codes to bg::Error.
//
// Internal to the sqlite backend. A Connection is not thread-safe: one thread uses it at a time
// (the writer under its mutex, a reader while it holds the connection from the pool).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "util/result.h"

struct sqlite3;
struct sqlite3_stmt;

namespace bg::store::sqlite {

// Maps a SQLite result code to an Error: BUSY/LOCKED/FULL/IOERR/CANTOPEN/NOMEM -> Unavailable,
// CONSTRAINT -> Conflict, NOTADB/CORRUPT -> FailedPrecondition, anything else -> Internal.
// `what` says what was being done; the SQLite message follows it.
Error SqliteError(int rc, std::string_view what, std::string_view detail);

// A prepared statement borrowed from a Connection's cache. Binding indexes are 1-based.
// Destruction resets the statement and clears its bindings so the next user finds it clean.
class Stmt {
 public:
  Stmt(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  Stmt(Stmt&& other) noexcept : db_(other.db_), stmt_(other.stmt_), bind_rc_(other.bind_rc_) {
    other.stmt_ = nullptr;
  }
  Stmt& operator=(Stmt&&) = delete;
  ~Stmt();

  Stmt& Bind(int i, int64_t v);
  Stmt& Bind(int i, std::string_view text);
  Stmt& BindBlob(int i, std::string_view bytes);
  Stmt& BindNull(int i);
  Stmt& Bind(int i, const std::optional<int64_t>& v) { return v ? Bind(i, *v) : BindNull(i); }

  // Steps once: true when a row is available, false when done, or the error.
  Result<bool> Step();
  // Steps to completion on a statement that returns no rows, then resets it for another Run()
  // with new bindings.
  Status Run();

  bool IsNull(int col) const;
  int64_t Int(int col) const;
  std::string Text(int col) const;
  std::string Blob(int col) const;
  std::optional<int64_t> OptInt(int col) const;

  // Rows changed by the last Run() on this connection.
  int64_t Changes() const;
  int64_t LastInsertRowid() const;

 private:
  void CheckBind(int rc);

  sqlite3* db_;
  sqlite3_stmt* stmt_;
  int bind_rc_ = 0;  // the first failed bind since the last Step, reported by Step
};

class Connection {
 public:
  // Opens (creating when `create`) the database file and applies the connection pragmas
  // (WAL, synchronous=FULL, foreign keys, busy timeout). A file that is not an SQLite database
  // is FailedPrecondition naming the path.
  static Result<std::unique_ptr<Connection>> Open(const std::string& path, bool create);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // A cached prepared statement for `sql` (prepared on first use).
  Result<Stmt> Prepare(std::string_view sql);
  // Runs SQL without parameters (pragmas, DDL, BEGIN/COMMIT). Never for input data.
  Status Exec(const char* sql);
  sqlite3* raw() { return db_; }

 private:
  explicit Connection(sqlite3* db) : db_(db) {}
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  sqlite3* db_;
  std::unordered_map<std::string, sqlite3_stmt*, Hash, std::equal_to<>> cache_;
};

}  // namespace bg::store::sqlite
