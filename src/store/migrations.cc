#include "store/migrations.h"

#include <fmt/format.h>

#include <string>

namespace bg::store::sqlite {
namespace {

// Version 1: every table of the store. Times are Unix seconds (INTEGER). Requests keep the
// columns that are searched or ordered on; everything else of a request is JSON in `body`.
constexpr std::string_view kV1 = R"sql(
CREATE TABLE requests (
  seq        INTEGER PRIMARY KEY AUTOINCREMENT,  -- insertion order: ties of created_at
  id         TEXT NOT NULL UNIQUE,               -- the request id (the logical key)
  requester  TEXT NOT NULL,
  state      TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  ends_at    INTEGER,
  version    INTEGER NOT NULL,
  body       TEXT NOT NULL
);
-- Each index implicitly ends in seq, so (x, created_at) yields newest-first pages directly.
CREATE INDEX requests_by_state ON requests(state, created_at);
CREATE INDEX requests_by_requester ON requests(requester, created_at);
CREATE INDEX requests_by_created ON requests(created_at);
CREATE INDEX requests_by_ends ON requests(ends_at);
CREATE INDEX requests_open ON requests(seq) WHERE state IN ('pending', 'approved', 'active');

CREATE TABLE users (
  name            TEXT PRIMARY KEY,
  roles           TEXT NOT NULL,     -- comma-separated role names
  password_hash   TEXT NOT NULL,
  totp_secret_enc TEXT NOT NULL,
  totp_last_step  INTEGER NOT NULL,
  disabled        INTEGER NOT NULL,
  created_at      INTEGER NOT NULL,
  mfa_verified_at INTEGER,
  failed_logins   INTEGER NOT NULL,
  locked_until    INTEGER
) WITHOUT ROWID;

CREATE TABLE tokens (
  token_hash     TEXT PRIMARY KEY,
  user           TEXT NOT NULL,
  issued_at      INTEGER NOT NULL,
  expires_at     INTEGER NOT NULL,
  source_address TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX tokens_by_expiry ON tokens(expires_at);

CREATE TABLE timers (
  id      INTEGER PRIMARY KEY AUTOINCREMENT,
  kind    TEXT NOT NULL,
  request TEXT NOT NULL,
  at      INTEGER NOT NULL
);
CREATE INDEX timers_by_at ON timers(at, id);

CREATE TABLE outbox (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  kind         TEXT NOT NULL,
  request      TEXT NOT NULL,
  payload      TEXT NOT NULL,
  attempts     INTEGER NOT NULL,
  next_attempt INTEGER NOT NULL,
  last_error   TEXT NOT NULL
);

CREATE TABLE sources (
  user      TEXT NOT NULL,
  address   TEXT NOT NULL,
  last_seen INTEGER NOT NULL,
  PRIMARY KEY (user, address)
) WITHOUT ROWID;

CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE audit_leaves (
  idx  INTEGER PRIMARY KEY,
  leaf BLOB NOT NULL
);

CREATE TABLE audit_nodes (
  level INTEGER NOT NULL,
  idx   INTEGER NOT NULL,
  hash  BLOB NOT NULL,
  PRIMARY KEY (level, idx)
) WITHOUT ROWID;
)sql";

// Version 2: recorded sessions and their chunks (issue 6). A chunk's (session, seq) is unique,
// so a replayed or concurrent upload of the same piece cannot be stored twice.
constexpr std::string_view kV2 = R"sql(
CREATE TABLE sessions (
  seq           INTEGER PRIMARY KEY AUTOINCREMENT,  -- insertion order: ties of started_at
  id            TEXT NOT NULL UNIQUE,
  request       TEXT NOT NULL,
  user          TEXT NOT NULL,
  started_at    INTEGER NOT NULL,
  ended_at      INTEGER,
  complete      INTEGER NOT NULL,
  header        TEXT NOT NULL,
  chunks        INTEGER NOT NULL,
  bytes         INTEGER NOT NULL,
  last_event_us INTEGER NOT NULL,
  end_reason    TEXT NOT NULL
);
CREATE INDEX sessions_by_request ON sessions(request, started_at);
CREATE INDEX sessions_by_user ON sessions(user, started_at);
CREATE INDEX sessions_by_started ON sessions(started_at);

CREATE TABLE session_chunks (
  session     TEXT NOT NULL,
  seq         INTEGER NOT NULL,
  data        BLOB NOT NULL,
  sha256      TEXT NOT NULL,
  received_at INTEGER NOT NULL,
  PRIMARY KEY (session, seq)
) WITHOUT ROWID;
)sql";

Result<int> CurrentVersion(Connection& conn) {
  BG_ASSIGN_OR_RETURN(Stmt q, conn.Prepare("SELECT COALESCE(MAX(version), 0) FROM schema_version"));
  BG_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return Error::Internal("schema_version: no result");
  return static_cast<int>(q.Int(0));
}

Status ApplyOne(Connection& conn, int version, std::string_view script) {
  BG_TRY(conn.Exec("BEGIN IMMEDIATE"));
  auto body = [&]() -> Status {
    // Re-read inside the write lock: another process may have migrated meanwhile.
    BG_ASSIGN_OR_RETURN(int current, CurrentVersion(conn));
    if (current >= version) return Ok();
    std::string sql(script);
    BG_TRY(conn.Exec(sql.c_str()));
    BG_ASSIGN_OR_RETURN(Stmt ins,
                        conn.Prepare("INSERT INTO schema_version(version, applied_at) "
                                     "VALUES (?1, CAST(strftime('%s', 'now') AS INTEGER))"));
    ins.Bind(1, int64_t{version});
    return ins.Run();
  };
  Status s = body();
  if (!s) {
    (void)conn.Exec("ROLLBACK");
    return Error(s.error().code(),
                 fmt::format("schema migration {}: {}", version, s.error().message()));
  }
  return conn.Exec("COMMIT");
}

// Version 3: scoped tokens. A recording credential is a token whose scope limits it to
// recording one grant's sessions; the person's own tokens keep the empty scope.
constexpr std::string_view kV3 = R"sql(
ALTER TABLE tokens ADD COLUMN scope TEXT NOT NULL DEFAULT '';
)sql";

// Version 4: login throttling per source (issue 13): an operator's unlock time per account;
// per token its family's start (the login), its last verified TOTP and its wrong step-up codes.
constexpr std::string_view kV4 = R"sql(
ALTER TABLE users ADD COLUMN unlocked_at INTEGER;
ALTER TABLE tokens ADD COLUMN family_started_at INTEGER;
ALTER TABLE tokens ADD COLUMN mfa_verified_at INTEGER;
ALTER TABLE tokens ADD COLUMN step_up_failures INTEGER NOT NULL DEFAULT 0;
)sql";

// Version 5: an account's e-mail address (issue 14), where person-addressed notifications go.
constexpr std::string_view kV5 = R"sql(
ALTER TABLE users ADD COLUMN email TEXT NOT NULL DEFAULT '';
)sql";

// Version 6: passkeys (issue 14): each account's WebAuthn credentials, as a JSON array.
constexpr std::string_view kV6 = R"sql(
ALTER TABLE users ADD COLUMN passkeys TEXT NOT NULL DEFAULT '[]';
)sql";

// Version 7: which leaves are about which request (the page's timeline of a request), filled
// from the leaves already stored (canonical JSON; "request" absent for events about none).
constexpr std::string_view kV7 = R"sql(
CREATE TABLE audit_requests (
  request_id TEXT NOT NULL,
  idx        INTEGER NOT NULL,
  PRIMARY KEY (request_id, idx)
) WITHOUT ROWID;
INSERT INTO audit_requests(request_id, idx)
  SELECT json_extract(CAST(leaf AS TEXT), '$.request'), idx FROM audit_leaves
  WHERE json_valid(CAST(leaf AS TEXT)) AND json_type(CAST(leaf AS TEXT), '$.request') = 'text';
)sql";

// Version 8: post-incident reviews (issue 15): one per ended grant or reconciled offline kit use
// (`subject`: the request id, or "kit:<record id>"), the queue ordered by deadline.
constexpr std::string_view kV8 = R"sql(
CREATE TABLE reviews (
  id         TEXT NOT NULL PRIMARY KEY,
  subject    TEXT NOT NULL UNIQUE,
  request    TEXT NOT NULL,
  requester  TEXT NOT NULL,
  state      TEXT NOT NULL,
  opened_at  INTEGER NOT NULL,
  due_at     INTEGER NOT NULL,
  overdue_alerted INTEGER NOT NULL,
  version    INTEGER NOT NULL,
  body       TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX reviews_by_due ON reviews(state, due_at, id);
CREATE INDEX reviews_overdue ON reviews(due_at) WHERE state = 'open' AND overdue_alerted = 0;
CREATE INDEX reviews_by_requester ON reviews(requester, state, due_at);
)sql";

// Version 9: attestation campaigns (issue 15); the items and their answers in `body` (JSON).
constexpr std::string_view kV9 = R"sql(
CREATE TABLE campaigns (
  id         TEXT NOT NULL PRIMARY KEY,
  scope      TEXT NOT NULL,
  state      TEXT NOT NULL,
  opened_at  INTEGER NOT NULL,
  due_at     INTEGER NOT NULL,
  version    INTEGER NOT NULL,
  body       TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX campaigns_by_state ON campaigns(state, opened_at, id);
CREATE INDEX campaigns_by_opened ON campaigns(opened_at, id);
)sql";

// Version 10: drills (issue 15): one row per drill, its steps in `body` (JSON).
constexpr std::string_view kV10 = R"sql(
CREATE TABLE drills (
  id          TEXT NOT NULL PRIMARY KEY,
  resource    TEXT NOT NULL,
  state       TEXT NOT NULL,
  started_at  INTEGER NOT NULL,
  finished_at INTEGER,
  version     INTEGER NOT NULL,
  body        TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX drills_by_started ON drills(started_at, id);
CREATE INDEX drills_by_resource ON drills(resource, started_at, id);
CREATE INDEX drills_ok ON drills(resource, finished_at) WHERE state = 'ok';
)sql";

}  // namespace

// Version 11: a request says whether it is a drill's, so that statistics keep drills apart
// (issue 15); existing drill requests are marked from their body.
constexpr std::string_view kV11 = R"sql(
ALTER TABLE requests ADD COLUMN drill INTEGER NOT NULL DEFAULT 0;
UPDATE requests SET drill = 1 WHERE json_extract(body, '$.drill_id') IS NOT NULL;
CREATE INDEX requests_by_drill_state ON requests(drill, state);
)sql";

const std::vector<std::string_view>& Migrations() {
  static const std::vector<std::string_view> kMigrations = {kV1, kV2, kV3, kV4,  kV5, kV6,
                                                            kV7, kV8, kV9, kV10, kV11};
  return kMigrations;
}

Result<int> ApplyMigrations(Connection& conn) {
  BG_TRY(
      conn.Exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
                "applied_at INTEGER NOT NULL)"));
  const auto& migrations = Migrations();
  const int newest = static_cast<int>(migrations.size());
  BG_ASSIGN_OR_RETURN(int current, CurrentVersion(conn));
  if (current > newest) {
    return Error::FailedPrecondition(fmt::format(
        "database schema version {} is newer than this build supports ({}); upgrade breakglass",
        current, newest));
  }
  for (int v = current + 1; v <= newest; ++v) {
    BG_TRY(ApplyOne(conn, v, migrations[static_cast<size_t>(v - 1)]));
  }
  return newest;
}

}  // namespace bg::store::sqlite
