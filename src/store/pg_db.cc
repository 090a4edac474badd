#include "store/pg_db.h"

#include <fmt/format.h>
#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

namespace bg::store::pg {
namespace {

// Type Oids (server/catalog/pg_type_d.h, not installed with libpq-dev).
constexpr Oid kBool = 16;
constexpr Oid kBytea = 17;
constexpr Oid kInt8 = 20;
constexpr Oid kInt2 = 21;
constexpr Oid kInt4 = 23;
constexpr Oid kText = 25;

std::string Trimmed(const char* message) {
  std::string m = message != nullptr ? message : "";
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  // libpq prefixes "ERROR:  "; the code says that already.
  for (std::string_view prefix : {"ERROR:  ", "FATAL:  "}) {
    if (m.rfind(prefix, 0) == 0) m.erase(0, prefix.size());
  }
  std::replace(m.begin(), m.end(), '\n', ' ');
  return m;
}

int64_t BigEndian(const char* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  // Sign-extend from n bytes.
  if (n < 8 && (v >> (8 * n - 1)) & 1) v |= ~uint64_t{0} << (8 * n);
  return static_cast<int64_t>(v);
}

}  // namespace

Error PgError(std::string_view sqlstate, std::string_view what, std::string_view detail) {
  const std::string message = fmt::format("{}: {}", what, detail);
  const std::string_view cls = sqlstate.substr(0, std::min<size_t>(2, sqlstate.size()));
  if (sqlstate == "23505") return Error::Conflict(message);
  if (cls == "08" || cls == "53" || cls == "57" || cls == "40" || sqlstate == "25006" ||
      sqlstate.empty()) {
    return Error::Unavailable(message);
  }
  return Error::Internal(message);
}

// ---- Params -----------------------------------------------------------------------------------

Params& Params::Int(int64_t v) {
  values_.push_back(std::to_string(v));
  null_.push_back(false);
  types_.push_back(kInt8);
  formats_.push_back(0);
  return *this;
}

Params& Params::Text(std::string_view v) {
  values_.emplace_back(v);
  null_.push_back(false);
  types_.push_back(kText);
  formats_.push_back(0);
  return *this;
}

Params& Params::Bytes(std::string_view v) {
  values_.emplace_back(v);
  null_.push_back(false);
  types_.push_back(kBytea);
  formats_.push_back(1);
  return *this;
}

Params& Params::Null() {
  values_.emplace_back();
  null_.push_back(true);
  types_.push_back(0);  // unknown: the server infers it from the context
  formats_.push_back(0);
  return *this;
}

// ---- Rows -------------------------------------------------------------------------------------

void Rows::Free::operator()(pg_result* r) const { PQclear(r); }

Rows::Rows(pg_result* r) : r_(r) {}

int Rows::size() const { return r_ ? PQntuples(r_.get()) : 0; }

int64_t Rows::Affected() const {
  if (!r_) return 0;
  const char* n = PQcmdTuples(r_.get());
  return (n == nullptr || *n == '\0') ? 0 : std::atoll(n);
}

bool Rows::IsNull(int row, int col) const { return PQgetisnull(r_.get(), row, col) != 0; }

int64_t Rows::Int(int row, int col) const {
  if (IsNull(row, col)) return 0;
  const char* p = PQgetvalue(r_.get(), row, col);
  const int n = PQgetlength(r_.get(), row, col);
  const Oid type = PQftype(r_.get(), col);
  if ((type == kInt8 && n == 8) || (type == kInt4 && n == 4) || (type == kInt2 && n == 2) ||
      (type == kBool && n == 1)) {
    return BigEndian(p, n);
  }
  return 0;  // the statements of this backend only read integers from integer columns
}

std::optional<int64_t> Rows::OptInt(int row, int col) const {
  if (IsNull(row, col)) return std::nullopt;
  return Int(row, col);
}

std::string Rows::Text(int row, int col) const {
  if (IsNull(row, col)) return {};
  return std::string(PQgetvalue(r_.get(), row, col),
                     static_cast<size_t>(PQgetlength(r_.get(), row, col)));
}

// ---- Connection -------------------------------------------------------------------------------

Result<pg_conn*> Connection::Connect(const ConnectSpec& spec) {
  std::string password = spec.password ? std::string(spec.password->Reveal()) : std::string();
  std::vector<const char*> keys = {"dbname",          "application_name", "connect_timeout",
                                   "keepalives",      "keepalives_idle",  "keepalives_interval",
                                   "keepalives_count"};
  std::vector<const char*> vals = {spec.conninfo.c_str(), "breakglass", "10", "1", "10", "5", "3"};
  if (spec.password) {
    keys.push_back("password");
    vals.push_back(password.c_str());
  }
  keys.push_back(nullptr);
  vals.push_back(nullptr);
  // expand_dbname: "dbname" holds the whole URI or key=value string; the keys after it only
  // fill what it leaves unset.
  PGconn* c = PQconnectdbParams(keys.data(), vals.data(), /*expand_dbname=*/1);
  std::fill(password.begin(), password.end(), '\0');
  if (c == nullptr) return Error::Unavailable("postgres: cannot connect: out of memory");
  if (PQstatus(c) != CONNECTION_OK) {
    std::string msg = Trimmed(PQerrorMessage(c));
    PQfinish(c);
    return Error::Unavailable(fmt::format("postgres: cannot connect: {}", msg));
  }
  // NOTICEs ("relation already exists, skipping") are not errors and not for stderr.
  PQsetNoticeProcessor(
      c, [](void*, const char*) {}, nullptr);
  return c;
}

Result<std::unique_ptr<Connection>> Connection::Open(const ConnectSpec& spec) {
  BG_ASSIGN_OR_RETURN(pg_conn * c, Connect(spec));
  return std::unique_ptr<Connection>(new Connection(spec, c));
}

Connection::~Connection() {
  if (c_ != nullptr) PQfinish(c_);
}

Status Connection::EnsureConnected() {
  if (c_ != nullptr && PQstatus(c_) == CONNECTION_OK) return Ok();
  if (c_ != nullptr && !reconnect_) {
    return Error::Unavailable("the connection to PostgreSQL was lost");
  }
  if (c_ != nullptr) PQfinish(c_);
  c_ = nullptr;
  BG_ASSIGN_OR_RETURN(c_, Connect(spec_));
  return Ok();
}

bool Connection::Idle() const {
  return c_ != nullptr && PQstatus(c_) == CONNECTION_OK && PQtransactionStatus(c_) == PQTRANS_IDLE;
}

bool Connection::InTransaction() const {
  if (c_ == nullptr || PQstatus(c_) != CONNECTION_OK) return false;
  const PGTransactionStatusType t = PQtransactionStatus(c_);
  return t == PQTRANS_INTRANS || t == PQTRANS_INERROR;
}

int Connection::BackendPid() const { return c_ != nullptr ? PQbackendPID(c_) : 0; }

Result<int> Connection::WaitForNotifications(std::chrono::milliseconds timeout) {
  if (c_ == nullptr || PQstatus(c_) != CONNECTION_OK) {
    return Error::Unavailable("the connection to PostgreSQL was lost");
  }
  auto drain = [this]() -> int {
    int n = 0;
    while (PGnotify* note = PQnotifies(c_)) {
      PQfreemem(note);
      ++n;
    }
    return n;
  };
  if (int n = drain(); n > 0) return n;  // arrived with an earlier answer
  pollfd fd{PQsocket(c_), POLLIN, 0};
  if (fd.fd < 0) return Error::Unavailable("the connection to PostgreSQL was lost");
  const int ready = ::poll(&fd, 1, static_cast<int>(timeout.count()));
  if (ready < 0) {
    if (errno == EINTR) return 0;
    return Error::Unavailable("poll on the PostgreSQL connection failed");
  }
  if (ready == 0) return 0;
  if (PQconsumeInput(c_) == 0 || PQstatus(c_) != CONNECTION_OK) {
    return Error::Unavailable("the connection to PostgreSQL was lost");
  }
  return drain();
}

Result<Rows> Connection::Exec(std::string_view sql, const Params& params, std::string_view what) {
  // Reconnecting inside a transaction would silently drop its first statements: only between.
  if (c_ == nullptr || PQstatus(c_) != CONNECTION_OK) {
    Status s = EnsureConnected();
    if (!s) return Error(s.error().code(), fmt::format("{}: {}", what, s.error().message()));
  }
  std::vector<const char*> values(params.size());
  std::vector<int> lengths(params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    values[i] = params.null_[i] ? nullptr : params.values_[i].data();
    lengths[i] = static_cast<int>(params.values_[i].size());
  }
  const std::string text(sql);
  PGresult* r =
      PQexecParams(c_, text.c_str(), static_cast<int>(params.size()), params.types_.data(),
                   values.data(), lengths.data(), params.formats_.data(), /*resultFormat=*/1);
  Rows rows(r);
  const ExecStatusType status = r != nullptr ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return rows;
  const char* state = r != nullptr ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  const std::string detail = Trimmed(
      r != nullptr && *PQresultErrorMessage(r) ? PQresultErrorMessage(r) : PQerrorMessage(c_));
  if (PQstatus(c_) != CONNECTION_OK) {
    return Error::Unavailable(
        fmt::format("{}: the connection to PostgreSQL was lost: {}", what, detail));
  }
  return PgError(state != nullptr ? state : "", what, detail);
}

Result<std::vector<Result<Rows>>> Connection::ExecPipeline(const std::vector<Statement>& statements,
                                                           size_t per_sync) {
  auto lost = [&](std::string_view where) {
    const std::string msg = Trimmed(PQerrorMessage(c_));
    if (PQpipelineStatus(c_) != PQ_PIPELINE_OFF) (void)PQexitPipelineMode(c_);
    return Error::Unavailable(
        fmt::format("{}: the connection to PostgreSQL was lost: {}", where, msg));
  };
  if (c_ == nullptr || PQstatus(c_) != CONNECTION_OK) {
    Status s = EnsureConnected();
    if (!s) return Error(s.error().code(), fmt::format("pipeline: {}", s.error().message()));
  }
  if (PQenterPipelineMode(c_) != 1) return lost("enter pipeline mode");
  std::vector<Result<Rows>> out;
  out.reserve(statements.size());
  std::vector<const char*> values;
  std::vector<int> lengths;
  for (size_t begin = 0; begin < statements.size(); begin += per_sync) {
    const size_t end = std::min(statements.size(), begin + per_sync);
    for (size_t i = begin; i < end; ++i) {
      const Statement& st = statements[i];
      const Params& p = st.params;
      values.assign(p.size(), nullptr);
      lengths.assign(p.size(), 0);
      for (size_t k = 0; k < p.size(); ++k) {
        values[k] = p.null_[k] ? nullptr : p.values_[k].data();
        lengths[k] = static_cast<int>(p.values_[k].size());
      }
      if (PQsendQueryParams(c_, st.sql.c_str(), static_cast<int>(p.size()), p.types_.data(),
                            values.data(), lengths.data(), p.formats_.data(),
                            /*resultFormat=*/1) != 1) {
        return lost(st.what);
      }
    }
    if (PQpipelineSync(c_) != 1) return lost("pipeline sync");
    for (size_t i = begin; i < end; ++i) {
      PGresult* r = PQgetResult(c_);
      if (r == nullptr) return lost(statements[i].what);
      Rows rows(r);
      const ExecStatusType status = PQresultStatus(r);
      // The end of this statement's results.
      while (PGresult* extra = PQgetResult(c_)) PQclear(extra);
      if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
        out.emplace_back(std::move(rows));
      } else if (status == PGRES_PIPELINE_ABORTED) {
        out.emplace_back(Error::Unavailable(
            fmt::format("{}: not run (an earlier statement failed)", statements[i].what)));
      } else {
        const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        out.emplace_back(PgError(state != nullptr ? state : "", statements[i].what,
                                 Trimmed(PQresultErrorMessage(r))));
      }
    }
    PGresult* sync = PQgetResult(c_);
    const bool synced = sync != nullptr && PQresultStatus(sync) == PGRES_PIPELINE_SYNC;
    PQclear(sync);
    if (!synced) return lost("pipeline sync");
  }
  if (PQexitPipelineMode(c_) != 1) return lost("leave pipeline mode");
  return out;
}

Status Connection::ExecScript(std::string_view sql, std::string_view what) {
  if (c_ == nullptr || PQstatus(c_) != CONNECTION_OK) {
    Status s = EnsureConnected();
    if (!s) return Error(s.error().code(), fmt::format("{}: {}", what, s.error().message()));
  }
  const std::string text(sql);
  // PQexec runs every statement of the string and returns the result of the last one, or of
  // the first that failed.
  PGresult* r = PQexec(c_, text.c_str());
  const ExecStatusType status = r != nullptr ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  std::string state;
  if (r != nullptr && PQresultErrorField(r, PG_DIAG_SQLSTATE) != nullptr) {
    state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
  }
  const std::string detail = Trimmed(
      r != nullptr && *PQresultErrorMessage(r) ? PQresultErrorMessage(r) : PQerrorMessage(c_));
  PQclear(r);
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return Ok();
  if (PQstatus(c_) != CONNECTION_OK) {
    return Error::Unavailable(
        fmt::format("{}: the connection to PostgreSQL was lost: {}", what, detail));
  }
  return PgError(state, what, detail);
}

}  // namespace bg::store::pg
