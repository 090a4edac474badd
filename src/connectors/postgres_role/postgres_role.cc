#include "connectors/postgres_role/postgres_role.h"

#include <fmt/format.h>
#include <libpq-fe.h>

#include <nlohmann/json.hpp>

#include "util/encoding.h"
#include "util/random.h"
#include "util/sha256.h"
#include "util/fs.h"

namespace bg::connectors {

using nlohmann::json;

namespace {

constexpr size_t kMaxIdentifier = 63;  // NAMEDATALEN - 1
constexpr std::string_view kAdminPasswordAad = "admin_password";

std::string Fold(std::string_view in) {
  std::string out;
  for (unsigned char c : in) {
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_') {
      out.push_back(static_cast<char>(c));
    } else if (c >= 'A' && c <= 'Z') {
      out.push_back(static_cast<char>(c - 'A' + 'a'));
    } else {
      out.push_back('_');
    }
  }
  return out;
}

}  // namespace

std::string DerivePostgresRoleName(std::string_view prefix, std::string_view person,
                                   const RequestId& id) {
  std::string p = Fold(prefix), who = Fold(person), tail = Fold(id.value());
  // Folding could make two ids equal (or an id too long to fit): then a digest stands in.
  if (tail != id.value() || p.size() + tail.size() + 2 > kMaxIdentifier) {
    tail = "h" + HexEncode(AsBytes(Sha256(id.value()))).substr(0, 24);
  }
  size_t room = kMaxIdentifier - std::min(kMaxIdentifier, p.size() + tail.size() + 1);
  if (who.size() > room) who.resize(room);
  return p + who + "_" + tail;
}

// One admin connection with the escaping helpers; closed on destruction.
class PostgresRoleConnector::Conn {
 public:
  explicit Conn(PGconn* c) : c_(c) {}
  ~Conn() { PQfinish(c_); }
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  Result<std::string> Ident(std::string_view name) {
    char* e = PQescapeIdentifier(c_, name.data(), name.size());
    if (e == nullptr) return Error::InvalidArgument("privilege", PQerrorMessage(c_));
    std::string out(e);
    PQfreemem(e);
    return out;
  }
  Result<std::string> Literal(std::string_view text) {
    char* e = PQescapeLiteral(c_, text.data(), text.size());
    if (e == nullptr) return Error::Internal(std::string("escape: ") + PQerrorMessage(c_));
    std::string out(e);
    sodium_like_wipe(e);
    PQfreemem(e);
    return out;
  }
  // Runs one statement with bound text parameters; returns the rows' first column.
  Result<std::vector<std::string>> Exec(const std::string& sql,
                                        const std::vector<std::string>& params = {},
                                        std::string* sqlstate = nullptr) {
    std::vector<const char*> values;
    for (const auto& p : params) values.push_back(p.c_str());
    PGresult* r = PQexecParams(c_, sql.c_str(), static_cast<int>(values.size()), nullptr,
                               values.data(), nullptr, nullptr, 0);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
      const char* code = PQresultErrorField(r, PG_DIAG_SQLSTATE);
      if (sqlstate != nullptr) *sqlstate = code ? code : "";
      std::string msg = PQresultErrorMessage(r);
      PQclear(r);
      while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
      return Error::Unavailable("postgres: " + msg);
    }
    std::vector<std::string> rows;
    for (int i = 0; i < PQntuples(r); ++i) {
      rows.emplace_back(PQgetisnull(r, i, 0) ? "" : PQgetvalue(r, i, 0));
    }
    PQclear(r);
    return rows;
  }
  // The password as the server will store it (SCRAM or md5 per its password_encryption), so
  // the clear text never reaches the server's statement log.
  Result<std::string> EncryptPassword(const Secret& password, const std::string& role) {
    std::string clear(password.Reveal());
    char* h = PQencryptPasswordConn(c_, clear.c_str(), role.c_str(), nullptr);
    std::fill(clear.begin(), clear.end(), '\0');
    if (h == nullptr) return Error::Unavailable(std::string("postgres: ") + PQerrorMessage(c_));
    std::string out(h);
    PQfreemem(h);
    return out;
  }

 private:
  static void sodium_like_wipe(char* p) {
    for (volatile char* q = p; *q != '\0'; ++q) *q = '\0';
  }
  PGconn* c_;
};

PostgresRoleConnector::PostgresRoleConnector(ConnectorState state, const Clock& clock,
                                             Random& random)
    : state_(std::move(state)), clock_(clock), random_(random) {}
PostgresRoleConnector::~PostgresRoleConnector() = default;

Result<std::unique_ptr<PostgresRoleConnector>> PostgresRoleConnector::Create(
    const connector::PluginConfig& config, const connector::ConnectorContext& context) {
  BG_ASSIGN_OR_RETURN(Options opts,
                      Options::Parse(config, {"dsn", "password_file", "owned_objects",
                                              "role_prefix", "connect_timeout"}));
  std::unique_ptr<PostgresRoleConnector> c(
      new PostgresRoleConnector(ConnectorState(config.name, context.state), context.clock,
                                context.random));
  BG_ASSIGN_OR_RETURN(c->dsn_, opts.String("dsn", std::nullopt));
  char* err = nullptr;
  PQconninfoOption* info = PQconninfoParse(c->dsn_.c_str(), &err);
  if (info == nullptr) {
    std::string msg = err ? err : "unparsable";
    if (err) PQfreemem(err);
    return Error::InvalidArgument(opts.Field("dsn"), "not a libpq connection string: " + msg);
  }
  bool has_password = false;
  for (PQconninfoOption* o = info; o->keyword != nullptr; ++o) {
    if (o->val == nullptr) continue;
    std::string k = o->keyword;
    if (k == "host" || (k == "hostaddr" && c->host_.empty())) c->host_ = o->val;
    if (k == "port") c->port_ = o->val;
    if (k == "dbname") c->dbname_ = o->val;
    if (k == "password") has_password = true;
  }
  PQconninfoFree(info);
  if (c->port_.empty()) c->port_ = "5432";
  if (has_password) {
    return Error::InvalidArgument(opts.Field("dsn"),
                                  "must not contain a password: use password_file");
  }
  if (opts.Has("password_file")) {
    BG_ASSIGN_OR_RETURN(std::string path, opts.String("password_file", std::nullopt));
    BG_ASSIGN_OR_RETURN(Secret pw, fs::ReadSecretFile(context.resolve_path(path),
                                                  opts.Field("password_file")));
    c->sealed_password_ = c->state_.Seal(kAdminPasswordAad, pw);
  }
  BG_ASSIGN_OR_RETURN(std::string owned, opts.String("owned_objects", "refuse"));
  if (owned != "refuse" && owned != "reassign") {
    return Error::InvalidArgument(opts.Field("owned_objects"), "must be \"refuse\" or \"reassign\"");
  }
  c->reassign_owned_ = owned == "reassign";
  BG_ASSIGN_OR_RETURN(c->role_prefix_, opts.String("role_prefix", "bg_"));
  if (c->role_prefix_.size() > 16 || Fold(c->role_prefix_) != c->role_prefix_) {
    return Error::InvalidArgument(opts.Field("role_prefix"),
                                  "must be at most 16 characters of [a-z0-9_]");
  }
  BG_ASSIGN_OR_RETURN(Seconds timeout, opts.Duration("connect_timeout", Seconds(10)));
  c->connect_timeout_ = static_cast<int>(std::max<int64_t>(1, timeout.count()));
  return c;
}

Result<std::unique_ptr<PostgresRoleConnector::Conn>> PostgresRoleConnector::Connect() const {
  std::optional<Secret> password;
  if (!sealed_password_.empty()) {
    BG_ASSIGN_OR_RETURN(password, state_.Open(kAdminPasswordAad, sealed_password_));
  }
  std::string pw = password ? std::string(password->Reveal()) : std::string();
  std::string timeout = std::to_string(connect_timeout_);
  std::vector<const char*> keys = {"dbname", "connect_timeout", "application_name"};
  std::vector<const char*> vals = {dsn_.c_str(), timeout.c_str(), "breakglass"};
  if (password) {
    keys.push_back("password");
    vals.push_back(pw.c_str());
  }
  keys.push_back(nullptr);
  vals.push_back(nullptr);
  PGconn* c = PQconnectdbParams(keys.data(), vals.data(), /*expand_dbname=*/1);
  std::fill(pw.begin(), pw.end(), '\0');
  auto conn = std::make_unique<Conn>(c);
  if (c == nullptr || PQstatus(c) != CONNECTION_OK) {
    std::string msg = c ? PQerrorMessage(c) : "out of memory";
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    return Error::Unavailable("postgres_role " + state_.instance() + ": cannot connect: " + msg);
  }
  return conn;
}

Status PostgresRoleConnector::Grant(const core::Request& grant) {
  std::lock_guard lock(mu_);
  BG_ASSIGN_OR_RETURN(auto conn, Connect());
  const std::string role = DerivePostgresRoleName(role_prefix_, grant.requester, grant.id);
  // A drill grant logs in to the drill database and is a member of no role.
  const bool drill = !grant.drill_id.empty();
  if (drill && (!grant.drill_target || grant.drill_target->database.empty())) {
    return Error::FailedPrecondition("the drill grant has no drill database");
  }
  BG_ASSIGN_OR_RETURN(auto priv_rows,
                      conn->Exec("SELECT 1 FROM pg_roles WHERE rolname = $1", {grant.privilege}));
  if (priv_rows.empty() && !drill) {
    return Error::FailedPrecondition(
        fmt::format("postgres_role {}: the privilege role '{}' does not exist on the target",
                    state_.instance(), grant.privilege));
  }
  BG_ASSIGN_OR_RETURN(auto rows, conn->Exec("SELECT 1 FROM pg_roles WHERE rolname = $1", {role}));
  const bool exists = !rows.empty();
  OneTimeCredentials creds(state_);
  BG_ASSIGN_OR_RETURN(auto stored, state_.Get("credential/" + grant.id.value()));
  const bool fetched = stored.has_value() && stored->empty();

  BG_ASSIGN_OR_RETURN(std::string ident, conn->Ident(role));
  BG_ASSIGN_OR_RETURN(std::string priv, conn->Ident(grant.privilege));
  Window w = GrantWindow(grant, clock_.Now());
  BG_ASSIGN_OR_RETURN(std::string until, conn->Literal(FormatRfc3339(w.ends_at)));
  std::optional<Secret> password;
  std::string password_clause;
  // A password the requester already saw is kept (an extension re-issue); otherwise a new one.
  if (!exists || !fetched) {
    std::string raw(24, '\0');
    random_.Fill(reinterpret_cast<uint8_t*>(raw.data()), raw.size());
    password.emplace(Base64UrlEncode(raw));
    std::fill(raw.begin(), raw.end(), '\0');
    BG_ASSIGN_OR_RETURN(std::string hashed, conn->EncryptPassword(*password, role));
    BG_ASSIGN_OR_RETURN(std::string lit, conn->Literal(hashed));
    password_clause = " PASSWORD " + lit;
  }
  constexpr std::string_view kAttributes =
      "LOGIN INHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS";
  if (!exists) {
    BG_TRY(conn->Exec(fmt::format("CREATE ROLE {} {}{} VALID UNTIL {}{}", ident, kAttributes,
                                  password_clause, until, drill ? "" : " IN ROLE " + priv)));
  } else {
    // Only LOGIN, the password and the window change: a CREATEROLE admin may not restate
    // NOSUPERUSER and friends, and they are as CREATE ROLE set them.
    BG_TRY(conn->Exec(
        fmt::format("ALTER ROLE {} LOGIN{} VALID UNTIL {}", ident, password_clause, until)));
    if (!drill) BG_TRY(conn->Exec(fmt::format("GRANT {} TO {}", priv, ident)));
  }
  if (password) {
    json cred = {{"username", role},       {"password", std::string(password->Reveal())},
                 {"host", host_},          {"port", port_},
                 {"dbname", drill ? grant.drill_target->database : dbname_},
                 {"valid_until", FormatRfc3339(w.ends_at)}};
    std::string text = cred.dump();
    Secret sealed_text(text);
    std::fill(text.begin(), text.end(), '\0');
    BG_TRY(creds.Store(grant.id, sealed_text));
  }
  return Ok();
}

Status PostgresRoleConnector::Revoke(const core::Request& grant) {
  std::lock_guard lock(mu_);
  BG_ASSIGN_OR_RETURN(auto conn, Connect());
  const std::string role = DerivePostgresRoleName(role_prefix_, grant.requester, grant.id);
  OneTimeCredentials creds(state_);
  BG_ASSIGN_OR_RETURN(auto rows, conn->Exec("SELECT 1 FROM pg_roles WHERE rolname = $1", {role}));
  if (rows.empty()) return creds.Discard(grant.id);
  BG_ASSIGN_OR_RETURN(std::string ident, conn->Ident(role));
  // Locked out first, so no new session starts while the old ones are ended.
  BG_TRY(conn->Exec(fmt::format("ALTER ROLE {} NOLOGIN VALID UNTIL '-infinity'", ident)));
  // Membership lets a CREATEROLE admin end the role's sessions and reassign what it owns.
  BG_TRY(conn->Exec(fmt::format("GRANT {} TO CURRENT_USER", ident)));
  BG_TRY(conn->Exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE usename = $1 AND pid <> pg_backend_pid()",
                    {role}));
  if (reassign_owned_) {
    BG_TRY(conn->Exec(fmt::format("REASSIGN OWNED BY {} TO CURRENT_USER", ident)));
    BG_TRY(conn->Exec(fmt::format("DROP OWNED BY {}", ident)));
  }
  std::string sqlstate;
  auto dropped = conn->Exec(fmt::format("DROP ROLE {}", ident), {}, &sqlstate);
  if (!dropped) {
    if (sqlstate == "2BP01") {
      return Error::FailedPrecondition(fmt::format(
          "postgres_role {}: role {} owns objects or holds privileges and owned_objects = "
          "\"refuse\"; it is locked out (NOLOGIN, sessions ended) and stays until an operator "
          "resolves them: {}",
          state_.instance(), role, dropped.error().message()));
    }
    return dropped.error();
  }
  return creds.Discard(grant.id);
}

Status PostgresRoleConnector::Probe() {
  BG_ASSIGN_OR_RETURN(auto conn, Connect());
  BG_ASSIGN_OR_RETURN(auto rows, conn->Exec("SELECT (rolcreaterole OR rolsuper)::text FROM "
                                            "pg_roles WHERE rolname = current_user"));
  if (rows.empty() || rows[0] != "true") {
    return Error::FailedPrecondition("postgres_role " + state_.instance() +
                                     ": the admin role may not create roles (CREATEROLE)");
  }
  return Ok();
}

Result<Secret> PostgresRoleConnector::TakeCredential(const core::Request& grant) {
  std::lock_guard lock(mu_);
  return OneTimeCredentials(state_).Take(grant.id);
}

Result<connector::DrillUse> PostgresRoleConnector::UseDrillGrant(const core::Request& grant,
                                                                  const Issued& issued) {
  if (grant.drill_id.empty() || !grant.drill_target || grant.drill_target->database.empty()) {
    return Error::FailedPrecondition("not a drill grant");
  }
  BG_ASSIGN_OR_RETURN(Secret taken, TakeCredential(grant));
  connector::DrillCredential made;
  made.kind = connector::DrillCredential::Kind::kTaken;
  BG_TRY(issued(made));
  std::string user, password;
  try {
    json cred = json::parse(taken.Reveal());
    user = cred.at("username").get<std::string>();
    password = cred.at("password").get<std::string>();
  } catch (const json::exception&) {
    return Error::Internal("postgres_role " + state_.instance() + ": the stored credential is "
                           "not the expected JSON");
  }
  const std::string& database = grant.drill_target->database;
  std::string timeout = std::to_string(connect_timeout_);
  // The admin DSN (expanded first) gives host, port and TLS settings; the later keys override
  // the role, its password and the database.
  const char* keys[] = {"dbname", "user", "password", "dbname", "connect_timeout",
                        "application_name", nullptr};
  const char* vals[] = {dsn_.c_str(), user.c_str(), password.c_str(), database.c_str(),
                        timeout.c_str(), "breakglass-drill", nullptr};
  PGconn* c = PQconnectdbParams(keys, vals, /*expand_dbname=*/1);
  std::fill(password.begin(), password.end(), '\0');
  Conn conn(c);
  if (c == nullptr || PQstatus(c) != CONNECTION_OK) {
    std::string msg = c ? PQerrorMessage(c) : "out of memory";
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    return Error::Unavailable(fmt::format("login as {} to database {} failed: {}", user, database,
                                          msg));
  }
  BG_ASSIGN_OR_RETURN(auto rows, conn.Exec("select 1"));
  if (rows.size() != 1 || rows[0] != "1") {
    return Error::Unavailable(fmt::format("select 1 as {} on {} did not return 1", user, database));
  }
  connector::DrillUse use;
  use.detail = fmt::format("login as {} to database {} on {}:{}, select 1", user, database, host_,
                           port_);
  return use;
}

}  // namespace bg::connectors
