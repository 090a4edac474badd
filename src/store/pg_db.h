// A thin RAII layer over one libpq connection for the PostgreSQL backend: connecting (with the
// password kept as a Secret, reconnecting after a lost connection), statements with bound
// parameters ($1, $2, ...), results read in binary, and SQLSTATE codes mapped to bg::Error.
//
// Internal to the postgres backend. A Connection is not thread-safe: one thread uses it at a
// time (the writer under its mutex, a reader while it holds the connection from the pool).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.h"
#include "util/secret.h"

struct pg_conn;
struct pg_result;

namespace bg::store::pg {

// Maps a SQLSTATE to an Error code: 23505 (unique violation) -> Conflict; connection failures
// (08), insufficient resources (53: disk full, out of memory, too many connections), operator
// intervention (57: shutdown, cancel), a read-only transaction (25006), serialization failures
// and deadlocks (40) -> Unavailable; anything else -> Internal. `what` says what was being done.
Error PgError(std::string_view sqlstate, std::string_view what, std::string_view detail);

// Where a connection goes: a libpq URI or key=value string (its password, if any, stays in it)
// and optionally a password read from elsewhere (a password_file).
struct ConnectSpec {
  std::string conninfo;
  std::optional<Secret> password;
};

// Bound parameters, in order: the first added is $1.
class Params {
 public:
  Params& Int(int64_t v);
  Params& Text(std::string_view v);
  Params& Bytes(std::string_view v);  // bytea
  Params& Null();
  Params& OptInt(const std::optional<int64_t>& v) { return v ? Int(*v) : Null(); }
  size_t size() const { return values_.size(); }

 private:
  friend class Connection;
  std::vector<std::string> values_;
  std::vector<bool> null_;
  std::vector<unsigned int> types_;  // Oids
  std::vector<int> formats_;         // 0 text, 1 binary
};

// The rows of a statement, read in binary.
class Rows {
 public:
  Rows() = default;
  explicit Rows(pg_result* r);
  int size() const;
  bool empty() const { return size() == 0; }
  // Rows an INSERT, UPDATE or DELETE changed.
  int64_t Affected() const;
  bool IsNull(int row, int col) const;
  int64_t Int(int row, int col) const;  // int2, int4, int8 or bool
  std::optional<int64_t> OptInt(int row, int col) const;
  std::string Text(int row, int col) const;  // text or bytea: the raw bytes
  std::string Bytes(int row, int col) const { return Text(row, col); }

 private:
  struct Free {
    void operator()(pg_result* r) const;
  };
  std::unique_ptr<pg_result, Free> r_;
};

// One row of Rows, read like a sqlite::Stmt (store/rows.h reads records from either).
class Row {
 public:
  Row(const Rows& rows, int row) : rows_(rows), row_(row) {}
  bool IsNull(int col) const { return rows_.IsNull(row_, col); }
  int64_t Int(int col) const { return rows_.Int(row_, col); }
  std::optional<int64_t> OptInt(int col) const { return rows_.OptInt(row_, col); }
  std::string Text(int col) const { return rows_.Text(row_, col); }
  std::string Blob(int col) const { return rows_.Text(row_, col); }

 private:
  const Rows& rows_;
  int row_;
};

class Connection {
 public:
  // Connects; Unavailable with libpq's message (never the password) when it cannot.
  static Result<std::unique_ptr<Connection>> Open(const ConnectSpec& spec);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs one statement. A connection found broken is re-established first (once); a statement
  // that fails because the connection broke is Unavailable (the next call reconnects).
  Result<Rows> Exec(std::string_view sql, const Params& params, std::string_view what);
  Result<Rows> Exec(std::string_view sql, std::string_view what) {
    return Exec(sql, Params(), what);
  }
  // Statements sent without waiting for each other's answers (libpq's pipeline mode: one
  // round trip per `per_sync` statements instead of one each), answered in order: each its
  // Rows or its error; a statement after a failed one of the same transaction is Unavailable
  // ("not run"). The whole call fails (Unavailable) only when the connection breaks; a
  // connection found broken before is made again first, as by Exec. A transaction's BEGIN may
  // be the first statement; its COMMIT is the caller's, once the answers are checked.
  struct Statement {
    std::string sql;
    Params params;
    std::string what;
  };
  Result<std::vector<Result<Rows>>> ExecPipeline(const std::vector<Statement>& statements,
                                                 size_t per_sync = 256);
  // A script of several statements without parameters (migrations).
  Status ExecScript(std::string_view sql, std::string_view what);

  // True while no transaction is open on the connection (idle, not in or after a failed one).
  bool Idle() const;
  // True inside a transaction (open or failed, which only ROLLBACK ends).
  bool InTransaction() const;
  // The server process serving this connection (pg_backend_pid()), 0 when not connected.
  int BackendPid() const;
  // On a connection that ran LISTEN: waits up to `timeout` for notifications and returns how
  // many arrived (0 when none did). Unavailable when the connection broke (reconnecting is the
  // caller's: a new session listens to nothing).
  Result<int> WaitForNotifications(std::chrono::milliseconds timeout);
  // Whether a broken connection is re-established by the next Exec (the default). A connection
  // that holds a session's advisory lock must not be: a new session does not hold it.
  void set_reconnect(bool reconnect) { reconnect_ = reconnect; }

 private:
  Connection(ConnectSpec spec, pg_conn* c) : spec_(std::move(spec)), c_(c) {}
  static Result<pg_conn*> Connect(const ConnectSpec& spec);
  Status EnsureConnected();

  ConnectSpec spec_;
  pg_conn* c_;
  bool reconnect_ = true;
};

}  // namespace bg::store::pg
