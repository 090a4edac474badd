#include "store/pg_store.h"

#include <fmt/format.h>

#include <algorithm>
#include <functional>

#include "store/codec.h"
#include "store/rows.h"

namespace bg::store {

using pg::Connection;
using pg::Params;
using pg::Row;
using pg::Rows;
using rows::Context;
using rows::Value;

namespace {

constexpr int kMaxListLimit = 1000;
constexpr size_t kMaxIdleReaders = 4;

// Advisory lock keys: (kLockClass, what). Transaction locks, released at commit or rollback.
constexpr int64_t kLockClass = 0x62676c73;  // "bgls"
constexpr int64_t kLockMigrations = 1;
constexpr int64_t kLockAudit = 2;
constexpr int64_t kLockServe = 3;  // a session lock: held by the serving server's lease connection

// The schema this backend starts from: the sqlite backend's tables at its version 10, in
// PostgreSQL's types (BIGINT for integers and Unix seconds, BYTEA for blobs). Ids that lists
// order and page by compare bytewise (COLLATE "C"), as in sqlite, whatever the database's
// locale. Later versions are appended to kMigrations for both backends alike.
constexpr int kBaselineVersion = 10;
constexpr std::string_view kBaseline = R"sql(
CREATE TABLE requests (
  seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id         TEXT COLLATE "C" NOT NULL UNIQUE,
  requester  TEXT NOT NULL,
  state      TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  ends_at    BIGINT,
  version    BIGINT NOT NULL,
  body       TEXT NOT NULL
);
CREATE INDEX requests_by_state ON requests(state, created_at, seq);
CREATE INDEX requests_by_requester ON requests(requester, created_at, seq);
CREATE INDEX requests_by_created ON requests(created_at, seq);
CREATE INDEX requests_by_ends ON requests(ends_at);
CREATE INDEX requests_open ON requests(seq) WHERE state IN ('pending', 'approved', 'active');

CREATE TABLE users (
  name            TEXT PRIMARY KEY,
  roles           TEXT NOT NULL,
  password_hash   TEXT NOT NULL,
  totp_secret_enc TEXT NOT NULL,
  totp_last_step  BIGINT NOT NULL,
  disabled        BIGINT NOT NULL,
  created_at      BIGINT NOT NULL,
  mfa_verified_at BIGINT,
  failed_logins   BIGINT NOT NULL,
  locked_until    BIGINT,
  unlocked_at     BIGINT,
  email           TEXT NOT NULL DEFAULT '',
  passkeys        TEXT NOT NULL DEFAULT '[]'
);

CREATE TABLE tokens (
  token_hash        TEXT PRIMARY KEY,
  "user"            TEXT NOT NULL,
  issued_at         BIGINT NOT NULL,
  expires_at        BIGINT NOT NULL,
  source_address    TEXT NOT NULL,
  scope             TEXT NOT NULL DEFAULT '',
  family_started_at BIGINT,
  mfa_verified_at   BIGINT,
  step_up_failures  BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX tokens_by_expiry ON tokens(expires_at);

CREATE TABLE timers (
  id      BIGSERIAL PRIMARY KEY,
  kind    TEXT NOT NULL,
  request TEXT NOT NULL,
  at      BIGINT NOT NULL
);
CREATE INDEX timers_by_at ON timers(at, id);

CREATE TABLE outbox (
  id           BIGSERIAL PRIMARY KEY,
  kind         TEXT NOT NULL,
  request      TEXT NOT NULL,
  payload      TEXT NOT NULL,
  attempts     BIGINT NOT NULL,
  next_attempt BIGINT NOT NULL,
  last_error   TEXT NOT NULL
);

CREATE TABLE sources (
  "user"    TEXT NOT NULL,
  address   TEXT NOT NULL,
  last_seen BIGINT NOT NULL,
  PRIMARY KEY ("user", address)
);

CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);

CREATE TABLE audit_leaves (
  idx  BIGINT PRIMARY KEY,
  leaf BYTEA NOT NULL
);

CREATE TABLE audit_nodes (
  level BIGINT NOT NULL,
  idx   BIGINT NOT NULL,
  hash  BYTEA NOT NULL,
  PRIMARY KEY (level, idx)
);

CREATE TABLE audit_requests (
  request_id TEXT NOT NULL,
  idx        BIGINT NOT NULL,
  PRIMARY KEY (request_id, idx)
);

CREATE TABLE sessions (
  seq           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id            TEXT NOT NULL UNIQUE,
  request       TEXT NOT NULL,
  "user"        TEXT NOT NULL,
  started_at    BIGINT NOT NULL,
  ended_at      BIGINT,
  complete      BIGINT NOT NULL,
  header        TEXT NOT NULL,
  chunks        BIGINT NOT NULL,
  bytes         BIGINT NOT NULL,
  last_event_us BIGINT NOT NULL,
  end_reason    TEXT NOT NULL
);
CREATE INDEX sessions_by_request ON sessions(request, started_at, seq);
CREATE INDEX sessions_by_user ON sessions("user", started_at, seq);
CREATE INDEX sessions_by_started ON sessions(started_at, seq);

CREATE TABLE session_chunks (
  session     TEXT NOT NULL,
  seq         BIGINT NOT NULL,
  data        BYTEA NOT NULL,
  sha256      TEXT NOT NULL,
  received_at BIGINT NOT NULL,
  PRIMARY KEY (session, seq)
);

CREATE TABLE reviews (
  id              TEXT COLLATE "C" NOT NULL PRIMARY KEY,
  subject         TEXT NOT NULL UNIQUE,
  request         TEXT NOT NULL,
  requester       TEXT NOT NULL,
  state           TEXT NOT NULL,
  opened_at       BIGINT NOT NULL,
  due_at          BIGINT NOT NULL,
  overdue_alerted BIGINT NOT NULL,
  version         BIGINT NOT NULL,
  body            TEXT NOT NULL
);
CREATE INDEX reviews_by_due ON reviews(state, due_at, id);
CREATE INDEX reviews_overdue ON reviews(due_at) WHERE state = 'open' AND overdue_alerted = 0;
CREATE INDEX reviews_by_requester ON reviews(requester, state, due_at);

CREATE TABLE campaigns (
  id        TEXT COLLATE "C" NOT NULL PRIMARY KEY,
  scope     TEXT NOT NULL,
  state     TEXT NOT NULL,
  opened_at BIGINT NOT NULL,
  due_at    BIGINT NOT NULL,
  version   BIGINT NOT NULL,
  body      TEXT NOT NULL
);
CREATE INDEX campaigns_by_state ON campaigns(state, opened_at, id);
CREATE INDEX campaigns_by_opened ON campaigns(opened_at, id);

CREATE TABLE drills (
  id          TEXT COLLATE "C" NOT NULL PRIMARY KEY,
  resource    TEXT NOT NULL,
  state       TEXT NOT NULL,
  started_at  BIGINT NOT NULL,
  finished_at BIGINT,
  version     BIGINT NOT NULL,
  body        TEXT NOT NULL
);
CREATE INDEX drills_by_started ON drills(started_at, id);
CREATE INDEX drills_by_resource ON drills(resource, started_at, id);
CREATE INDEX drills_ok ON drills(resource, finished_at) WHERE state = 'ok';
)sql";

// Version 11 (as on sqlite): a request says whether it is a drill's.
constexpr std::string_view kV11 = R"sql(
ALTER TABLE requests ADD COLUMN drill BIGINT NOT NULL DEFAULT 0;
UPDATE requests SET drill = 1 WHERE (body::jsonb) ? 'drill_id';
CREATE INDEX requests_by_drill_state ON requests(drill, state);
)sql";

void Add(Params& p, const Value& v) {
  if (std::holds_alternative<std::monostate>(v)) {
    p.Null();
  } else if (const auto* n = std::get_if<int64_t>(&v)) {
    p.Int(*n);
  } else if (const auto* s = std::get_if<std::string>(&v)) {
    p.Text(*s);
  } else {
    p.Bytes(std::get<rows::Blob>(v).bytes);
  }
}

Params ParamsOf(const std::vector<Value>& values) {
  Params p;
  for (const Value& v : values) Add(p, v);
  return p;
}

// "$1, $2, ..., $n"
std::string Placeholders(size_t n, size_t first = 1) {
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    if (i > 0) out += ", ";
    out += fmt::format("${}", first + i);
  }
  return out;
}

// ---- schema ---------------------------------------------------------------------------------

Result<int> CurrentVersion(Connection& c) {
  BG_ASSIGN_OR_RETURN(Rows r, c.Exec("SELECT COALESCE(MAX(version), 0) FROM schema_version",
                                     "read the schema version"));
  return static_cast<int>(r.Int(0, 0));
}

// Every migration in its own transaction, under an advisory lock so that replicas starting
// together apply each once.
Result<int> ApplyMigrations(Connection& c) {
  BG_TRY(
      c.ExecScript("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT PRIMARY KEY, "
                   "applied_at BIGINT NOT NULL)",
                   "create schema_version"));
  const std::vector<std::pair<int, std::string_view>> migrations = {{kBaselineVersion, kBaseline},
                                                                    {11, kV11}};
  const int newest = migrations.back().first;
  for (const auto& [version, script] : migrations) {
    BG_TRY(c.ExecScript("BEGIN", "schema migration"));
    auto one = [&]() -> Status {
      BG_TRY(
          c.Exec(fmt::format("SELECT pg_advisory_xact_lock({}, {})", kLockClass, kLockMigrations),
                 "lock the schema"));
      BG_ASSIGN_OR_RETURN(int current, CurrentVersion(c));
      if (current > newest) {
        return Error::FailedPrecondition(fmt::format(
            "database schema version {} is newer than this build supports ({}); upgrade "
            "breakglass",
            current, newest));
      }
      if (current >= version) return Ok();
      BG_TRY(c.ExecScript(script, fmt::format("schema migration {}", version)));
      BG_TRY(
          c.Exec("INSERT INTO schema_version(version, applied_at) VALUES "
                 "($1, EXTRACT(EPOCH FROM now())::bigint)",
                 Params().Int(version), "record the schema version"));
      return Ok();
    };
    Status s = one();
    if (!s) {
      (void)c.ExecScript("ROLLBACK", "rollback");
      return s.error();
    }
    BG_TRY(c.ExecScript("COMMIT", "schema migration"));
  }
  return newest;
}

// ---- writes -----------------------------------------------------------------------------------

// A batch's statements, sent in one pipeline (Connection::ExecPipeline) between BEGIN and
// COMMIT, and what each answer must be. A unique violation becomes `duplicate` (Conflict); a
// check that fails (a versioned update that matched no row, an audit append at the wrong index)
// makes the whole transaction roll back, and `explain`, when given, reads why after the
// rollback, for the message.
struct Step {
  pg::Connection::Statement statement;
  std::string duplicate;                      // empty: the error as it is
  std::function<Status(const Rows&)> check;   // empty: any answer but an error
  std::function<Error(Connection&)> explain;  // empty: check's error as it is
};

}  // namespace

class PgSteps {
 public:
  Step& Add(std::string sql, Params params, std::string what) {
    steps_.push_back({{std::move(sql), std::move(params), std::move(what)}, "", {}, {}});
    return steps_.back();
  }
  // Exactly one row changed, else `error`.
  static std::function<Status(const Rows&)> One(std::function<Error()> error) {
    return [error = std::move(error)](const Rows& r) -> Status {
      if (r.Affected() == 1) return Ok();
      return error();
    };
  }
  bool empty() const { return steps_.empty(); }

  // Runs every step inside the open transaction; the first failure, in order, is the batch's.
  // `failed` is set to the step whose explain should run after the rollback.
  Status Run(Connection& c, const Step** failed) const {
    std::vector<pg::Connection::Statement> statements;
    statements.reserve(steps_.size());
    for (const Step& s : steps_) statements.push_back(s.statement);
    BG_ASSIGN_OR_RETURN(auto answers, c.ExecPipeline(statements));
    for (size_t i = 0; i < steps_.size(); ++i) {
      const Step& s = steps_[i];
      if (!answers[i]) {
        const Error& e = answers[i].error();
        if (e.code() == ErrorCode::kConflict && !s.duplicate.empty()) {
          return Error::Conflict(s.duplicate);
        }
        return e;
      }
      if (s.check) {
        Status ok = s.check(*answers[i]);
        if (!ok) {
          if (s.explain) *failed = &s;
          return ok;
        }
      }
    }
    return Ok();
  }

 private:
  std::vector<Step> steps_;
};

namespace {

// An insert of `values` into `table(columns)`; a duplicate key is Conflict with `duplicate`.
void Insert(PgSteps& steps, std::string_view table, std::string_view columns,
            const std::vector<Value>& values, std::string duplicate, std::string what) {
  steps
      .Add(fmt::format("INSERT INTO {}({}) VALUES ({})", table, columns,
                       Placeholders(values.size())),
           ParamsOf(values), std::move(what))
      .duplicate = std::move(duplicate);
}

// A versioned update: `sql` assigns from the values ($1...) and checks the identity columns; the
// expected version is the last parameter. Conflict with `stale` when no row matched.
void Update(PgSteps& steps, std::string sql, std::vector<Value> values, int64_t expected_version,
            std::string stale, std::string what) {
  values.emplace_back(expected_version);
  steps.Add(std::move(sql), ParamsOf(values), std::move(what)).check =
      PgSteps::One([stale = std::move(stale)] { return Error::Conflict(stale); });
}

void WriteRequest(PgSteps& steps, const WriteBatch::RequestWrite& w) {
  const core::Request& r = w.request;
  const std::string id = r.id.value();
  if (w.expected_version == 0) {
    Insert(steps, "requests", rows::kRequestColumns, rows::RequestValues(r, 1),
           fmt::format("request '{}' already exists", id), fmt::format("insert request '{}'", id));
    return;
  }
  auto values = rows::RequestValues(r, w.expected_version + 1);
  values.emplace_back(w.expected_version);
  Step& s = steps.Add(
      "UPDATE requests SET requester = $2, state = $3, created_at = $4, ends_at = $5, "
      "version = $6, body = $7, drill = $8 WHERE id = $1 AND version = $9",
      ParamsOf(values), fmt::format("update request '{}'", id));
  const int64_t expected = w.expected_version;
  s.check = PgSteps::One([id, expected] {
    return Error::Conflict(
        fmt::format("request '{}' is missing or not at version {}", id, expected));
  });
  // Say why: the caller retries on a stale version, but a missing request is a different bug.
  s.explain = [id, expected](Connection& c) -> Error {
    auto q = c.Exec("SELECT version FROM requests WHERE id = $1", Params().Text(id),
                    "read a request's version");
    if (!q) return q.error();
    if (q->empty()) {
      return Error::Conflict(
          fmt::format("request '{}' does not exist (expected version {})", id, expected));
    }
    return Error::Conflict(fmt::format("request '{}' is at version {}, not the expected {}", id,
                                       q->Int(0, 0), expected));
  };
}

void WriteReview(PgSteps& steps, const WriteBatch::ReviewWrite& w) {
  const core::Review& r = w.review;
  auto values = rows::ReviewValues(r, w.expected_version + 1);
  if (w.expected_version == 0) {
    Insert(steps, "reviews", rows::kReviewColumns, values,
           fmt::format("review '{}' (of {}) already exists", r.id, r.Subject()),
           fmt::format("insert review '{}'", r.id));
    return;
  }
  // The subject, request, requester and opening of a review never change.
  Update(steps,
         "UPDATE reviews SET state = $5, due_at = $7, overdue_alerted = $8, version = $9, "
         "body = $10 WHERE id = $1 AND version = $11 AND subject = $2 AND request = $3 "
         "AND requester = $4 AND opened_at = $6",
         std::move(values), w.expected_version,
         fmt::format("review '{}' is missing or not at version {}", r.id, w.expected_version),
         fmt::format("update review '{}'", r.id));
}

void WriteDrill(PgSteps& steps, const WriteBatch::DrillWrite& w) {
  const DrillRecord& d = w.drill;
  auto values = rows::DrillValues(d, w.expected_version + 1);
  if (w.expected_version == 0) {
    Insert(steps, "drills", rows::kDrillColumns, values,
           fmt::format("drill '{}' already exists", d.id), fmt::format("insert drill '{}'", d.id));
    return;
  }
  // The resource and start of a drill never change.
  Update(steps,
         "UPDATE drills SET state = $3, finished_at = $5, version = $6, body = $7 "
         "WHERE id = $1 AND version = $8 AND resource = $2 AND started_at = $4",
         std::move(values), w.expected_version,
         fmt::format("drill '{}' is missing or not at version {}", d.id, w.expected_version),
         fmt::format("update drill '{}'", d.id));
}

void WriteCampaign(PgSteps& steps, const WriteBatch::CampaignWrite& w) {
  const core::Campaign& k = w.campaign;
  auto values = rows::CampaignValues(k, w.expected_version + 1);
  if (w.expected_version == 0) {
    Insert(steps, "campaigns", rows::kCampaignColumns, values,
           fmt::format("campaign '{}' already exists", k.id),
           fmt::format("insert campaign '{}'", k.id));
    return;
  }
  // The scope and opening of a campaign never change.
  Update(steps,
         "UPDATE campaigns SET state = $3, due_at = $5, version = $6, body = $7 "
         "WHERE id = $1 AND version = $8 AND scope = $2 AND opened_at = $4",
         std::move(values), w.expected_version,
         fmt::format("campaign '{}' is missing or not at version {}", k.id, w.expected_version),
         fmt::format("update campaign '{}'", k.id));
}

void WriteUser(PgSteps& steps, const UserRecord& u) {
  static const std::string kSql = [] {
    std::string set;
    std::string_view cols = rows::kUserColumns;
    // Every column but the key (the first) takes the new value.
    size_t start = cols.find(',') + 1;
    while (start < cols.size()) {
      size_t end = cols.find(',', start);
      if (end == std::string_view::npos) end = cols.size();
      std::string_view name = cols.substr(start, end - start);
      while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
      if (!set.empty()) set += ", ";
      set += fmt::format("{0} = EXCLUDED.{0}", name);
      start = end + 1;
    }
    return fmt::format("INSERT INTO users({}) VALUES ({}) ON CONFLICT (name) DO UPDATE SET {}",
                       rows::kUserColumns, Placeholders(13), set);
  }();
  steps.Add(kSql, ParamsOf(rows::UserValues(u)), fmt::format("write user '{}'", u.name));
}

void WriteToken(PgSteps& steps, const TokenRecord& t, bool update) {
  std::string what = fmt::format("{} token of user '{}'", update ? "update" : "insert", t.user);
  if (update) {
    steps.Add(
        "UPDATE tokens SET \"user\" = $2, issued_at = $3, expires_at = $4, "
        "source_address = $5, scope = $6, family_started_at = $7, "
        "mfa_verified_at = $8, step_up_failures = $9 WHERE token_hash = $1",
        ParamsOf(rows::TokenValues(t)), std::move(what));
    return;
  }
  Insert(steps, "tokens", rows::kTokenColumns, rows::TokenValues(t),
         fmt::format("{}: a token with this hash exists", what), what);
}

void WriteOutbox(PgSteps& steps, const OutboxJob& j) {
  if (j.id == 0) {
    steps.Add(
        "INSERT INTO outbox(kind, request, payload, attempts, next_attempt, last_error) "
        "VALUES ($1, $2, $3, $4, $5, $6)",
        Params()
            .Text(j.kind)
            .Text(j.request.value())
            .Text(j.payload)
            .Int(j.attempts)
            .Int(ToUnixSeconds(j.next_attempt))
            .Text(j.last_error),
        "insert outbox job");
    return;
  }
  const int64_t id = j.id;
  steps
      .Add("UPDATE outbox SET attempts = $2, next_attempt = $3, last_error = $4 WHERE id = $1",
           Params().Int(j.id).Int(j.attempts).Int(ToUnixSeconds(j.next_attempt)).Text(j.last_error),
           fmt::format("update outbox job {}", j.id))
      .check = PgSteps::One(
      [id] { return Error::NotFound(fmt::format("outbox job {} does not exist", id)); });
}

// An append at `a.index`, which must be the log's size inside this transaction (after the lock
// the batch took): appends are gap-free whoever makes them.
void WriteAudit(PgSteps& steps, const AuditAppend& a) {
  const int64_t index = a.index;
  Step& leaf = steps.Add(
      "INSERT INTO audit_leaves(idx, leaf) SELECT $1, $2 WHERE $1 = (SELECT COALESCE(MAX(idx) + "
      "1, 0) FROM audit_leaves)",
      Params().Int(a.index).Bytes(a.leaf), fmt::format("append audit leaf {}", a.index));
  leaf.check = PgSteps::One([index] {
    return Error::FailedPrecondition(
        fmt::format("audit append at index {} refused: it is not the log's size", index));
  });
  leaf.explain = [index](Connection& c) -> Error {
    auto size =
        c.Exec("SELECT COALESCE(MAX(idx) + 1, 0) FROM audit_leaves", "read the audit log size");
    if (!size) return size.error();
    return Error::FailedPrecondition(fmt::format(
        "audit append at index {} refused: the log has {} leaves", index, size->Int(0, 0)));
  };
  if (!a.request.empty()) {
    steps.Add("INSERT INTO audit_requests(request_id, idx) VALUES ($1, $2)",
              Params().Text(a.request).Int(a.index), fmt::format("index audit leaf {}", a.index));
  }
  for (const AuditNode& n : a.nodes) {
    steps.Add("INSERT INTO audit_nodes(level, idx, hash) VALUES ($1, $2, $3)",
              Params().Int(n.level).Int(n.index).Bytes(n.hash),
              fmt::format("store audit node (level {}, index {})", n.level, n.index));
  }
}

void WriteSession(PgSteps& steps, const WriteBatch::SessionWrite& w) {
  const SessionRecord& r = w.session;
  const std::string id = r.id.value();
  if (w.expected_chunks < 0) {
    Insert(steps, "sessions", rows::kSessionColumns, rows::SessionValues(r),
           fmt::format("session '{}' already exists", id), fmt::format("insert session '{}'", id));
    return;
  }
  // The request, user, start and header of a session never change.
  Params p;
  p.Text(id);
  Add(p, rows::Opt(r.ended_at));
  p.Int(r.complete ? 1 : 0)
      .Int(r.chunks)
      .Int(r.bytes)
      .Int(r.last_event_us)
      .Text(r.end_reason)
      .Int(w.expected_chunks);
  const int64_t expected = w.expected_chunks;
  steps
      .Add(
          "UPDATE sessions SET ended_at = $2, complete = $3, chunks = $4, bytes = $5, "
          "last_event_us = $6, end_reason = $7 WHERE id = $1 AND chunks = $8",
          std::move(p), fmt::format("update session '{}'", id))
      .check = PgSteps::One([id, expected] {
    return Error::Conflict(
        fmt::format("session '{}' does not exist or does not have {} chunks", id, expected));
  });
}

void WriteChunk(PgSteps& steps, const SessionChunk& k) {
  const std::string session = k.session.value();
  const int64_t seq = k.seq;
  Step& s = steps.Add(
      "INSERT INTO session_chunks(session, seq, data, sha256, received_at) "
      "SELECT $1, $2, $3, $4, $5 WHERE EXISTS (SELECT 1 FROM sessions WHERE id = $1)",
      Params().Text(session).Int(k.seq).Bytes(k.data).Text(k.sha256).Int(
          ToUnixSeconds(k.received_at)),
      fmt::format("insert chunk {} of session '{}'", k.seq, session));
  s.duplicate = fmt::format("session '{}' already has chunk {}", session, seq);
  s.check = PgSteps::One([session, seq] {
    return Error::Conflict(fmt::format("chunk {} for unknown session '{}'", seq, session));
  });
}

template <typename T, typename Read>
Result<std::vector<T>> ReadAll(const Rows& r, Read read) {
  std::vector<T> out;
  out.reserve(static_cast<size_t>(r.size()));
  for (int i = 0; i < r.size(); ++i) {
    BG_ASSIGN_OR_RETURN(T v, read(Row(r, i)));
    out.push_back(std::move(v));
  }
  return out;
}

template <typename T, typename Read>
Result<std::optional<T>> ReadOne(const Rows& r, Read read) {
  if (r.empty()) return std::optional<T>();
  BG_ASSIGN_OR_RETURN(T v, read(Row(r, 0)));
  return std::optional<T>(std::move(v));
}

}  // namespace

// ---- reads
// ----------------------------------------------------------------------------------------

Result<Rows> PgStore::Read(std::string_view sql, const Params& params, std::string_view what) {
  BG_ASSIGN_OR_RETURN(auto conn, readers_.Get());
  auto rows = conn->Exec(sql, params, what);
  if (rows || rows.error().code() != ErrorCode::kUnavailable || conn->Idle()) return rows;
  // The pooled connection had broken (PostgreSQL restarted since it was last used): a read is
  // safe to run again, on a connection of its own.
  BG_ASSIGN_OR_RETURN(auto fresh, Connection::Open(spec_));
  return fresh->Exec(sql, params, what);
}

// ---- open -------------------------------------------------------------------------------------

PgStore::PgStore(pg::ConnectSpec spec, std::unique_ptr<Connection> writer, int schema_version)
    : spec_(std::move(spec)),
      schema_version_(schema_version),
      writer_(std::move(writer)),
      // A connection that broke, or was left inside a transaction, is not reused.
      readers_([this] { return Connection::Open(spec_); }, kMaxIdleReaders,
               [](Connection& c) { return c.Idle(); }) {}

PgStore::~PgStore() {
  {
    std::lock_guard lock(watchdog_mu_);
    stopping_ = true;
  }
  watchdog_cv_.notify_all();
  if (watchdog_.joinable()) watchdog_.join();
  if (watcher_.joinable()) watcher_.join();
}

bool PgStore::BeginExclusive() {
  std::lock_guard lock(writer_mu_);
  // lock_timeout bounds the wait (a holder that hangs without its session ending); the lock
  // is the session's, so it ends with the session if this server dies or its connection breaks.
  auto answers = writer_->ExecPipeline(
      {{fmt::format("SET lock_timeout = {}", kExclusiveWait.count()), Params(),
        "bound the wait for the writers' lock"},
       {fmt::format("SELECT pg_advisory_lock({}, {})", kLockClass, kLockAudit), Params(),
        "take the writers' lock"}});
  return answers && answers->size() == 2 && (*answers)[1].has_value();
}

void PgStore::EndExclusive() {
  std::lock_guard lock(writer_mu_);
  // Not held any more if the connection was made again meanwhile: then nothing to release.
  (void)writer_->Exec(fmt::format("SELECT pg_advisory_unlock({}, {})", kLockClass, kLockAudit),
                      "release the writers' lock");
}

void PgStore::WatchChanges(std::function<void()> changed) {
  const bool has_watcher = changed != nullptr;
  {
    std::lock_guard lock(watch_mu_);  // a call in progress holds it
    changed_ = std::move(changed);
  }
  std::lock_guard lock(watchdog_mu_);
  if (!watcher_.joinable() && !stopping_ && has_watcher) {
    watcher_ = std::thread([this] { WatchLoop(); });
  }
}

void PgStore::WatchLoop() {
  auto stopping = [this] {
    std::lock_guard lock(watchdog_mu_);
    return stopping_;
  };
  auto call = [this] {
    std::lock_guard lock(watch_mu_);
    if (changed_) changed_();
  };
  std::unique_ptr<Connection> conn;
  bool missed = false;
  while (!stopping()) {
    if (!conn) {
      auto c = Connection::Open(spec_);
      if (c) {
        (*c)->set_reconnect(false);
        if ((*c)->Exec(fmt::format("LISTEN {}", kChangesChannel), "listen for changes")) {
          conn = std::move(*c);
          if (missed) call();
          missed = false;
        }
      }
      if (!conn) {
        missed = true;
        std::unique_lock lock(watchdog_mu_);
        watchdog_cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_; });
        continue;
      }
    }
    auto n = conn->WaitForNotifications(std::chrono::milliseconds(250));
    if (!n) {  // PostgreSQL restarted or the network broke: listen again once it answers
      conn.reset();
      missed = true;
      continue;
    }
    if (*n > 0) call();
  }
}

// The lease is held on `conn`: moves the token on and returns it. The UPDATE waits for any
// commit of a previous holder still in flight (each holds the row FOR SHARE), and every later one
// of that holder fails. `expected_token` > 0: only if the token is still that one (nobody else
// held the lease since), else FailedPrecondition.
Result<int64_t> PgStore::TakeLease(Connection& conn, int64_t expected_token) {
  BG_TRY(conn.ExecScript(
      "CREATE TABLE IF NOT EXISTS serve_lease (id BIGINT PRIMARY KEY, token BIGINT NOT NULL, "
      "holder TEXT NOT NULL, since BIGINT NOT NULL)",
      "create the serve lease"));
  if (expected_token > 0) {
    BG_ASSIGN_OR_RETURN(
        Rows now, conn.Exec("SELECT token FROM serve_lease WHERE id = 1", "read the serve lease"));
    if (now.empty() || now.Int(0, 0) != expected_token) {
      return Error::FailedPrecondition(
          "another server held the serve lease while this one was cut off");
    }
  }
  BG_ASSIGN_OR_RETURN(
      Rows token,
      conn.Exec("INSERT INTO serve_lease(id, token, holder, since) VALUES (1, 1, $1, "
                "EXTRACT(EPOCH FROM now())::bigint) ON CONFLICT (id) DO UPDATE SET token = "
                "serve_lease.token + 1, holder = EXCLUDED.holder, since = EXCLUDED.since "
                "RETURNING token",
                Params().Text(lease_holder_), "move the serve lease's token on"));
  return token.Int(0, 0);
}

Status PgStore::HoldServeLease(const std::string& holder,
                               const std::function<bool(const std::string& holder)>& waiting,
                               std::function<void(const std::string& why)> lost,
                               std::chrono::milliseconds check_every) {
  std::unique_lock lease_lock(lease_mu_);
  if (lease_) return Error::FailedPrecondition("the serve lease is already held");
  lease_holder_ = holder;
  BG_ASSIGN_OR_RETURN(auto conn, Connection::Open(spec_));
  conn->set_reconnect(false);
  const std::string try_lock =
      fmt::format("SELECT pg_try_advisory_lock({}, {})", kLockClass, kLockServe);
  for (;;) {
    BG_ASSIGN_OR_RETURN(Rows got, conn->Exec(try_lock, "take the serve lease"));
    if (got.Int(0, 0) != 0) break;
    std::string current = "another server";
    auto who = conn->Exec(
        "SELECT holder || ' since ' || to_char(to_timestamp(since) AT TIME ZONE 'UTC', "
        "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM serve_lease WHERE id = 1",
        "read the serve lease");
    if (who && !who->empty()) current = who->Text(0, 0);
    if (!waiting(current)) return Error::Unavailable("stopped while waiting as a standby");
  }
  BG_ASSIGN_OR_RETURN(held_token_, TakeLease(*conn, 0));
  fence_token_.store(held_token_);
  lease_ = std::move(conn);
  lease_lock.unlock();
  watchdog_ = std::thread([this, lost = std::move(lost), check_every] {
    std::unique_lock lock(watchdog_mu_);
    while (!watchdog_cv_.wait_for(lock, check_every, [this] { return stopping_; })) {
      lock.unlock();
      Status s = CheckLease();
      lock.lock();
      if (!s && s.error().code() == ErrorCode::kFailedPrecondition) {
        lock.unlock();
        if (lost) lost(s.error().message());
        return;
      }
    }
  });
  return Ok();
}

Status PgStore::CheckLease() {
  std::lock_guard lock(lease_mu_);
  if (held_token_ == 0) return Error::FailedPrecondition("this store holds no serve lease");
  if (fence_token_.load() == -2) {
    return Error::FailedPrecondition("another server took the serve lease");
  }
  if (lease_ && lease_->Exec("SELECT 1", "check the serve lease")) return Ok();
  // Cut off: nothing passes the fence until the lease is this server's again.
  fence_token_.store(-1);
  lease_.reset();
  BG_ASSIGN_OR_RETURN(auto conn, Connection::Open(spec_));
  conn->set_reconnect(false);
  BG_ASSIGN_OR_RETURN(Rows got, conn->Exec(fmt::format("SELECT pg_try_advisory_lock({}, {})",
                                                       kLockClass, kLockServe),
                                           "take the serve lease again"));
  if (got.Int(0, 0) == 0) {
    fence_token_.store(-2);
    return Error::FailedPrecondition("another server holds the serve lease");
  }
  auto token = TakeLease(*conn, held_token_);
  if (!token) {
    if (token.error().code() == ErrorCode::kFailedPrecondition) fence_token_.store(-2);
    return token.error();
  }
  held_token_ = *token;
  lease_ = std::move(conn);
  fence_token_.store(held_token_);
  return Ok();
}

Result<std::unique_ptr<PgStore>> PgStore::Open(const pg::ConnectSpec& spec) {
  BG_ASSIGN_OR_RETURN(auto writer, Connection::Open(spec));
  BG_ASSIGN_OR_RETURN(int version, ApplyMigrations(*writer));
  return std::unique_ptr<PgStore>(new PgStore(spec, std::move(writer), version));
}

// ---- commit -----------------------------------------------------------------------------------

Status PgStore::Commit(const WriteBatch& batch) {
  if (batch.empty()) return Ok();
  PgSteps steps;
  steps.Add("BEGIN", Params(), "commit: begin");
  BuildSteps(batch, steps);
  std::lock_guard lock(writer_mu_);
  const Step* explain = nullptr;
  Status st = steps.Run(*writer_, &explain);
  if (!st && !writer_->Idle() && !writer_->InTransaction()) {
    // The connection had broken since its last use (PostgreSQL restarted): nothing was
    // committed, since COMMIT was not sent. Once more, on a connection made again.
    explain = nullptr;
    st = steps.Run(*writer_, &explain);
  }
  if (st) {
    auto done = writer_->Exec("COMMIT", "commit");
    if (!done) {
      // The server may or may not have committed before the connection broke.
      return Error(done.error().code(),
                   fmt::format("{} (the batch's outcome is unknown until the next read)",
                               done.error().message()));
    }
    return Ok();
  }
  if (writer_->InTransaction()) (void)writer_->Exec("ROLLBACK", "rollback");
  if (explain != nullptr && writer_->Idle()) return explain->explain(*writer_);
  return st;
}

void PgStore::BuildSteps(const WriteBatch& batch, PgSteps& steps) const {
  if (const int64_t token = fence_token_.load(); token != 0) {
    // The fence: this server still holds the serve lease (-1: cut off from it, being taken
    // again; -2: another server took it). FOR SHARE keeps a new holder's token change waiting
    // until this transaction ends.
    steps
        .Add("SELECT token FROM serve_lease WHERE id = 1 FOR SHARE", Params(),
             "check the serve lease")
        .check = [token](const Rows& now) -> Status {
      if (token < 0 || now.empty() || now.Int(0, 0) != token) {
        return Error::Unavailable(
            "this server no longer holds the installation's serve lease (another server took "
            "over): nothing is written");
      }
      return Ok();
    };
  }
  for (const auto& w : batch.requests) WriteRequest(steps, w);
  for (const auto& u : batch.users) WriteUser(steps, u);
  for (const auto& t : batch.tokens) WriteToken(steps, t, /*update=*/false);
  for (const auto& t : batch.tokens_updated) WriteToken(steps, t, /*update=*/true);
  for (const auto& h : batch.tokens_deleted) {
    steps.Add("DELETE FROM tokens WHERE token_hash = $1", Params().Text(h), "delete token");
  }
  for (const auto& t : batch.timers) {
    // A non-zero id is the caller's (the service numbers its timers so it can delete them once
    // fired); the sequence then moves past it, so an id the store picks never collides.
    if (t.id != 0) {
      steps.Add("INSERT INTO timers(id, kind, request, at) VALUES ($1, $2, $3, $4)",
                Params()
                    .Int(t.id)
                    .Text(StoredName(t.kind))
                    .Text(t.request.value())
                    .Int(ToUnixSeconds(t.at)),
                "insert timer");
      steps.Add(
          "SELECT setval('timers_id_seq', GREATEST($1, (SELECT last_value FROM "
          "timers_id_seq)))",
          Params().Int(t.id), "advance the timer ids");
    } else {
      steps.Add("INSERT INTO timers(kind, request, at) VALUES ($1, $2, $3)",
                Params().Text(StoredName(t.kind)).Text(t.request.value()).Int(ToUnixSeconds(t.at)),
                "insert timer");
    }
  }
  for (int64_t id : batch.timers_deleted) {
    steps.Add("DELETE FROM timers WHERE id = $1", Params().Int(id), "delete timer");
  }
  for (const auto& j : batch.outbox) WriteOutbox(steps, j);
  for (int64_t id : batch.outbox_deleted) {
    steps.Add("DELETE FROM outbox WHERE id = $1", Params().Int(id), "delete outbox job");
  }
  if (!batch.audit.empty()) {
    // One linear log whoever appends: appends wait for each other here, and each checks its
    // index against the size inside this transaction.
    steps.Add(fmt::format("SELECT pg_advisory_xact_lock({}, {})", kLockClass, kLockAudit), Params(),
              "lock the audit log");
    for (const auto& a : batch.audit) WriteAudit(steps, a);
  }
  for (const auto& [key, value] : batch.meta) {
    steps.Add(
        "INSERT INTO meta(key, value) VALUES ($1, $2) "
        "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        Params().Text(key).Text(value), fmt::format("write meta '{}'", key));
  }
  for (const auto& w : batch.sessions) WriteSession(steps, w);
  for (const auto& ch : batch.chunks) WriteChunk(steps, ch);
  for (const auto& w : batch.reviews) WriteReview(steps, w);
  for (const auto& w : batch.campaigns) WriteCampaign(steps, w);
  for (const auto& w : batch.drills) WriteDrill(steps, w);
  for (const auto& u : batch.sources) {
    steps.Add(
        "INSERT INTO sources(\"user\", address, last_seen) VALUES ($1, $2, $3) "
        "ON CONFLICT (\"user\", address) DO UPDATE SET last_seen = EXCLUDED.last_seen",
        Params().Text(u.user).Text(u.address).Int(ToUnixSeconds(u.at)), "write source address use");
  }
  if (!batch.audit.empty() || !batch.timers.empty() || !batch.outbox.empty()) {
    // Delivered to the listeners (WatchChanges) when, and only if, the transaction commits.
    steps.Add(fmt::format("SELECT pg_notify('{}', '')", kChangesChannel), Params(),
              "notify the other servers");
  }
}

// ---- reads: requests --------------------------------------------------------------------------

Result<std::optional<core::Request>> PgStore::GetRequest(const RequestId& id) {
  BG_ASSIGN_OR_RETURN(
      Rows r, Read(fmt::format("SELECT {} FROM requests WHERE id = $1", rows::kRequestColumns),
                   Params().Text(id.value()), "read a request"));
  return ReadOne<core::Request>(r, rows::ReadRequest<Row>);
}

Result<std::vector<core::Request>> PgStore::ListRequests(const RequestFilter& filter) {
  if (filter.limit <= 0) return Error::InvalidArgument("limit", "limit must be a positive number");
  BG_ASSIGN_OR_RETURN(auto conn, readers_.Get());
  // The WHERE clause is assembled from fixed fragments only; every value is a bound parameter.
  std::string sql = fmt::format("SELECT {} FROM requests WHERE TRUE", rows::kRequestColumns);
  Params params;
  auto add = [&](std::string_view fragment) {
    sql += fmt::format(" AND {} ${}", fragment, params.size());
  };
  if (filter.state) {
    params.Text(StoredName(*filter.state));
    add("state =");
  }
  if (filter.requester) {
    params.Text(*filter.requester);
    add("requester =");
  }
  if (filter.created_since) {
    params.Int(ToUnixSeconds(*filter.created_since));
    add("created_at >=");
  }
  if (!filter.before_id.empty()) {
    BG_ASSIGN_OR_RETURN(Rows at, conn->Exec("SELECT created_at, seq FROM requests WHERE id = $1",
                                            Params().Text(filter.before_id), "page requests"));
    if (at.empty()) {
      return Error::InvalidArgument("before_id",
                                    fmt::format("no request with id '{}'", filter.before_id));
    }
    params.Int(at.Int(0, 0)).Int(at.Int(0, 1));
    sql += fmt::format(" AND (created_at, seq) < (${}, ${})", params.size() - 1, params.size());
  }
  params.Int(std::min(filter.limit, kMaxListLimit));
  sql += fmt::format(" ORDER BY created_at DESC, seq DESC LIMIT ${}", params.size());
  BG_ASSIGN_OR_RETURN(Rows r, conn->Exec(sql, params, "list requests"));
  return ReadAll<core::Request>(r, rows::ReadRequest<Row>);
}

Result<std::vector<core::Request>> PgStore::ListOpenRequests() {
  BG_ASSIGN_OR_RETURN(
      Rows r, Read(fmt::format("SELECT {} FROM requests WHERE state IN ('pending', 'approved', "
                               "'active') ORDER BY seq",
                               rows::kRequestColumns),
                   Params(), "list open requests"));
  return ReadAll<core::Request>(r, rows::ReadRequest<Row>);
}

Result<int64_t> PgStore::CountRequestsSince(const std::string& requester, Timestamp since,
                                            int64_t at_most) {
  BG_ASSIGN_OR_RETURN(
      Rows r,
      Read("SELECT COUNT(*) FROM (SELECT 1 FROM requests WHERE requester = $1 AND "
           "created_at >= $2 LIMIT $3) AS recent",
           Params().Text(requester).Int(ToUnixSeconds(since)).Int(std::max<int64_t>(at_most, 0)),
           "count requests"));
  return r.Int(0, 0);
}

Result<std::vector<std::pair<std::string, int64_t>>> PgStore::CountRequestsByState(bool drills) {
  static constexpr core::RequestState kAll[] = {
      core::RequestState::kPending,   core::RequestState::kApproved, core::RequestState::kActive,
      core::RequestState::kExpired,   core::RequestState::kRevoked,  core::RequestState::kDenied,
      core::RequestState::kCancelled, core::RequestState::kTimedOut};
  std::vector<std::pair<std::string, int64_t>> out;
  for (core::RequestState s : kAll) out.emplace_back(std::string(StoredName(s)), 0);
  BG_ASSIGN_OR_RETURN(Rows r,
                      Read("SELECT state, COUNT(*) FROM requests WHERE drill = $1 GROUP BY state",
                           Params().Int(drills ? 1 : 0), "count requests by state"));
  for (int i = 0; i < r.size(); ++i) {
    BG_ASSIGN_OR_RETURN(core::RequestState s, ParseStoredState(r.Text(i, 0), "requests.state"));
    out[static_cast<size_t>(s)].second = r.Int(i, 1);
  }
  return out;
}

// ---- reads: everything else -------------------------------------------------------------------

Result<std::optional<UserRecord>> PgStore::GetUser(const std::string& name) {
  BG_ASSIGN_OR_RETURN(Rows r,
                      Read(fmt::format("SELECT {} FROM users WHERE name = $1", rows::kUserColumns),
                           Params().Text(name), "read a user"));
  return ReadOne<UserRecord>(r, rows::ReadUser<Row>);
}

Result<std::vector<UserRecord>> PgStore::ListUsers() {
  BG_ASSIGN_OR_RETURN(Rows r, Read(fmt::format("SELECT {} FROM users ORDER BY name COLLATE \"C\"",
                                               rows::kUserColumns),
                                   Params(), "list users"));
  return ReadAll<UserRecord>(r, rows::ReadUser<Row>);
}

Result<std::optional<TokenRecord>> PgStore::GetToken(const std::string& token_hash) {
  BG_ASSIGN_OR_RETURN(
      Rows r, Read(fmt::format("SELECT {} FROM tokens WHERE token_hash = $1", rows::kTokenColumns),
                   Params().Text(token_hash), "read a token"));
  return ReadOne<TokenRecord>(r, rows::ReadToken<Row>);
}

Result<std::vector<TimerRecord>> PgStore::ListTimers() {
  BG_ASSIGN_OR_RETURN(
      Rows r, Read(fmt::format("SELECT {} FROM timers ORDER BY at, id", rows::kTimerColumns),
                   Params(), "list timers"));
  return ReadAll<TimerRecord>(r, rows::ReadTimer<Row>);
}

Result<std::vector<OutboxJob>> PgStore::ListOutbox() {
  BG_ASSIGN_OR_RETURN(
      Rows r, Read(fmt::format("SELECT {} FROM outbox ORDER BY id", rows::kOutboxColumns), Params(),
                   "list the outbox"));
  return ReadAll<OutboxJob>(r, rows::ReadOutbox<Row>);
}

Result<bool> PgStore::HasUsedSource(const std::string& user, const std::string& address) {
  BG_ASSIGN_OR_RETURN(Rows r, Read("SELECT 1 FROM sources WHERE \"user\" = $1 AND address = $2",
                                   Params().Text(user).Text(address), "read source uses"));
  return !r.empty();
}

Result<std::optional<std::string>> PgStore::GetMeta(const std::string& key) {
  BG_ASSIGN_OR_RETURN(
      Rows r, Read("SELECT value FROM meta WHERE key = $1", Params().Text(key), "read meta"));
  if (r.empty()) return std::optional<std::string>();
  return std::optional<std::string>(r.Text(0, 0));
}

Result<int64_t> PgStore::AuditSize() {
  BG_ASSIGN_OR_RETURN(Rows r, Read("SELECT COALESCE(MAX(idx) + 1, 0) FROM audit_leaves", Params(),
                                   "read the audit log size"));
  return r.Int(0, 0);
}

Result<std::vector<std::string>> PgStore::AuditLeaves(int64_t start, int64_t end) {
  if (start < 0 || end < start) {
    return Error::InvalidArgument("start", fmt::format("invalid leaf range [{}, {})", start, end));
  }
  std::vector<std::string> out;
  if (start == end) return out;
  BG_ASSIGN_OR_RETURN(
      Rows r, Read("SELECT leaf FROM audit_leaves WHERE idx >= $1 AND idx < $2 ORDER BY idx",
                   Params().Int(start).Int(end), "read audit leaves"));
  out.reserve(static_cast<size_t>(r.size()));
  for (int i = 0; i < r.size(); ++i) out.push_back(r.Bytes(i, 0));
  return out;
}

Result<std::vector<int64_t>> PgStore::AuditIndexesOf(const RequestId& id, int limit) {
  BG_ASSIGN_OR_RETURN(Rows r,
                      Read("SELECT idx FROM audit_requests WHERE request_id = $1 ORDER BY "
                           "idx LIMIT $2",
                           Params().Text(id.value()).Int(limit), "read a request's audit leaves"));
  std::vector<int64_t> out;
  for (int i = 0; i < r.size(); ++i) out.push_back(r.Int(i, 0));
  return out;
}

Result<std::string> PgStore::AuditNodeHash(int level, int64_t index) {
  BG_ASSIGN_OR_RETURN(Rows r, Read("SELECT hash FROM audit_nodes WHERE level = $1 AND idx = $2",
                                   Params().Int(level).Int(index), "read an audit node"));
  if (r.empty()) {
    return Error::NotFound(
        fmt::format("audit node (level {}, index {}) is not stored", level, index));
  }
  return r.Bytes(0, 0);
}

// ---- reads: reviews, campaigns, drills --------------------------------------------------------

Result<std::optional<core::Review>> PgStore::GetReview(const std::string& id) {
  BG_ASSIGN_OR_RETURN(
      Rows r, Read(fmt::format("SELECT {} FROM reviews WHERE id = $1", rows::kReviewColumns),
                   Params().Text(id), "read a review"));
  return ReadOne<core::Review>(r, rows::ReadReview<Row>);
}

namespace {

// The WHERE clause of a review filter, from fixed fragments; every value bound.
std::string ReviewWhere(const ReviewFilter& f, Params& p) {
  std::string where = " WHERE TRUE";
  auto add = [&](std::string_view fragment) {
    where += fmt::format(" AND {} ${}", fragment, p.size());
  };
  if (f.state) {
    p.Text(core::ToString(*f.state));
    add("state =");
  }
  if (f.requester) {
    p.Text(*f.requester);
    add("requester =");
  }
  if (f.subject) {
    p.Text(*f.subject);
    add("subject =");
  }
  if (f.due_before) {
    p.Int(ToUnixSeconds(*f.due_before));
    add("due_at <");
  }
  if (f.overdue_alerted) {
    p.Int(*f.overdue_alerted ? 1 : 0);
    add("overdue_alerted =");
  }
  return where;
}

}  // namespace

Result<std::vector<core::Review>> PgStore::ListReviews(const ReviewFilter& filter) {
  if (filter.limit <= 0) return Error::InvalidArgument("limit", "limit must be a positive number");
  BG_ASSIGN_OR_RETURN(auto conn, readers_.Get());
  Params params;
  std::string where = ReviewWhere(filter, params);
  if (!filter.after_id.empty()) {
    BG_ASSIGN_OR_RETURN(Rows at, conn->Exec("SELECT due_at FROM reviews WHERE id = $1",
                                            Params().Text(filter.after_id), "page reviews"));
    if (at.empty()) {
      return Error::InvalidArgument("after",
                                    fmt::format("no review with id '{}'", filter.after_id));
    }
    params.Int(at.Int(0, 0)).Text(filter.after_id);
    where += fmt::format(" AND (due_at, id) > (${}, ${})", params.size() - 1, params.size());
  }
  params.Int(std::min(filter.limit, kMaxListLimit));
  BG_ASSIGN_OR_RETURN(
      Rows r, conn->Exec(fmt::format("SELECT {} FROM reviews{} ORDER BY due_at, id LIMIT ${}",
                                     rows::kReviewColumns, where, params.size()),
                         params, "list reviews"));
  return ReadAll<core::Review>(r, rows::ReadReview<Row>);
}

Result<int64_t> PgStore::CountReviews(const ReviewFilter& filter) {
  Params params;
  std::string where = ReviewWhere(filter, params);
  BG_ASSIGN_OR_RETURN(Rows r,
                      Read("SELECT COUNT(*) FROM reviews" + where, params, "count reviews"));
  return r.Int(0, 0);
}

Result<std::optional<core::Campaign>> PgStore::GetCampaign(const std::string& id) {
  BG_ASSIGN_OR_RETURN(
      Rows r, Read(fmt::format("SELECT {} FROM campaigns WHERE id = $1", rows::kCampaignColumns),
                   Params().Text(id), "read a campaign"));
  return ReadOne<core::Campaign>(r, rows::ReadCampaign<Row>);
}

Result<std::vector<core::Campaign>> PgStore::ListCampaigns(std::optional<core::CampaignState> state,
                                                           int limit) {
  if (limit <= 0) return Error::InvalidArgument("limit", "limit must be a positive number");
  Params params;
  std::string where;
  if (state) {
    params.Text(core::ToString(*state));
    where = " WHERE state = $1";
  }
  params.Int(std::min(limit, kMaxListLimit));
  BG_ASSIGN_OR_RETURN(
      Rows r, Read(fmt::format("SELECT {} FROM campaigns{} ORDER BY opened_at, id LIMIT ${}",
                               rows::kCampaignColumns, where, params.size()),
                   params, "list campaigns"));
  return ReadAll<core::Campaign>(r, rows::ReadCampaign<Row>);
}

Result<std::optional<DrillRecord>> PgStore::GetDrill(const std::string& id) {
  BG_ASSIGN_OR_RETURN(Rows r,
                      Read(fmt::format("SELECT {} FROM drills WHERE id = $1", rows::kDrillColumns),
                           Params().Text(id), "read a drill"));
  return ReadOne<DrillRecord>(r, rows::ReadDrill<Row>);
}

Result<std::vector<DrillRecord>> PgStore::ListDrills(const DrillFilter& filter) {
  if (filter.limit <= 0) return Error::InvalidArgument("limit", "limit must be a positive number");
  Params params;
  std::string where = " WHERE TRUE";
  if (filter.resource) {
    params.Text(*filter.resource);
    where += fmt::format(" AND resource = ${}", params.size());
  }
  if (filter.since) {
    params.Int(ToUnixSeconds(*filter.since));
    where += fmt::format(" AND started_at >= ${}", params.size());
  }
  params.Int(std::min(filter.limit, kMaxListLimit));
  BG_ASSIGN_OR_RETURN(
      Rows r,
      Read(fmt::format("SELECT {} FROM drills{} ORDER BY started_at DESC, id DESC LIMIT ${}",
                       rows::kDrillColumns, where, params.size()),
           params, "list drills"));
  return ReadAll<DrillRecord>(r, rows::ReadDrill<Row>);
}

Result<std::map<std::string, Timestamp>> PgStore::LastSuccessfulDrills() {
  BG_ASSIGN_OR_RETURN(Rows r, Read("SELECT resource, MAX(finished_at) FROM drills WHERE state = "
                                   "'ok' GROUP BY resource",
                                   Params(), "read the last successful drills"));
  std::map<std::string, Timestamp> out;
  for (int i = 0; i < r.size(); ++i) {
    if (auto at = r.OptInt(i, 1)) out[r.Text(i, 0)] = FromUnixSeconds(*at);
  }
  return out;
}

// ---- reads: sessions ----------------------------------------------------------------------------

Result<std::optional<SessionRecord>> PgStore::GetSession(const SessionId& id) {
  BG_ASSIGN_OR_RETURN(
      Rows r, Read(fmt::format("SELECT {} FROM sessions WHERE id = $1", rows::kSessionColumns),
                   Params().Text(id.value()), "read a session"));
  if (r.empty()) return std::optional<SessionRecord>();
  return std::optional<SessionRecord>(rows::ReadSession(Row(r, 0)));
}

Result<std::vector<SessionRecord>> PgStore::ListSessions(const SessionFilter& filter) {
  if (filter.limit <= 0) return Error::InvalidArgument("limit", "limit must be a positive number");
  Params params;
  std::string where = " WHERE TRUE";
  if (filter.request) {
    params.Text(filter.request->value());
    where += fmt::format(" AND request = ${}", params.size());
  }
  if (filter.user) {
    params.Text(*filter.user);
    where += fmt::format(" AND \"user\" = ${}", params.size());
  }
  params.Int(std::min(filter.limit, kMaxListLimit));
  BG_ASSIGN_OR_RETURN(
      Rows r, Read(fmt::format("SELECT {} FROM sessions{} ORDER BY started_at, seq LIMIT ${}",
                               rows::kSessionColumns, where, params.size()),
                   params, "list sessions"));
  std::vector<SessionRecord> out;
  for (int i = 0; i < r.size(); ++i) out.push_back(rows::ReadSession(Row(r, i)));
  return out;
}

Result<std::vector<SessionChunk>> PgStore::GetSessionChunks(const SessionId& id, int64_t from_seq,
                                                            int64_t limit) {
  if (from_seq < 0 || limit < 0) {
    return Error::InvalidArgument(
        "seq", fmt::format("invalid chunk range from {} limit {}", from_seq, limit));
  }
  std::vector<SessionChunk> out;
  if (limit == 0) return out;
  BG_ASSIGN_OR_RETURN(
      Rows r, Read("SELECT seq, data, sha256, received_at FROM session_chunks WHERE session = $1 "
                   "AND seq >= $2 ORDER BY seq LIMIT $3",
                   Params().Text(id.value()).Int(from_seq).Int(limit), "read session chunks"));
  for (int i = 0; i < r.size(); ++i) {
    SessionChunk c;
    c.session = id;
    c.seq = r.Int(i, 0);
    c.data = r.Bytes(i, 1);
    c.sha256 = r.Text(i, 2);
    c.received_at = FromUnixSeconds(r.Int(i, 3));
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace bg::store
