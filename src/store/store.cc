#include "store/store.h"

#include <fmt/format.h>
#include <libpq-fe.h>

#include <filesystem>
#include <optional>
#include <string_view>

#include "store/pg_store.h"
#include "store/sqlite_store.h"
#include "util/fs.h"

namespace bg::store {

bool WriteBatch::empty() const {
  return requests.empty() && users.empty() && tokens.empty() && tokens_updated.empty() &&
         tokens_deleted.empty() && timers.empty() && timers_deleted.empty() && outbox.empty() &&
         outbox_deleted.empty() && audit.empty() && meta.empty() && sources.empty() &&
         sessions.empty() && chunks.empty() && reviews.empty() && campaigns.empty() &&
         drills.empty();
}

namespace {

Error NoRecordings() {
  return Error::FailedPrecondition("this storage backend does not keep session recordings");
}

}  // namespace

Result<std::optional<SessionRecord>> Store::GetSession(const SessionId&) { return NoRecordings(); }
Result<std::vector<SessionRecord>> Store::ListSessions(const SessionFilter&) {
  return NoRecordings();
}
Result<std::vector<SessionChunk>> Store::GetSessionChunks(const SessionId&, int64_t, int64_t) {
  return NoRecordings();
}

namespace {

// `location` is what follows "kind:" in the spec (empty when the spec is just the kind).
// Openers of a file (sqlite) get `location`; openers of a URI (postgres) get the whole spec.
using Opener = Result<std::unique_ptr<Store>> (*)(std::string_view location,
                                                  const std::string& data_dir);

Result<std::unique_ptr<Store>> OpenSqlite(std::string_view location, const std::string& data_dir) {
  std::filesystem::path path;
  if (location.empty()) {
    path = std::filesystem::path(data_dir) / "breakglass.db";
  } else {
    path = std::filesystem::path(location);
    // Relative paths in the configuration are relative to data_dir.
    if (path.is_relative() && !data_dir.empty()) path = std::filesystem::path(data_dir) / path;
  }
  BG_ASSIGN_OR_RETURN(auto store, SqliteStore::Open(path.string()));
  return std::unique_ptr<Store>(std::move(store));
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<std::string> PercentDecoded(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size() || HexValue(s[i + 1]) < 0 || HexValue(s[i + 2]) < 0) {
      return Error::InvalidArgument("storage", "password_file: a bad %-escape");
    }
    out += static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2]));
    i += 2;
  }
  return out;
}

}  // namespace

Result<pg::ConnectSpec> ParsePostgresSpec(const std::string& spec, const std::string& data_dir) {
  // Never quote `spec` in an error: it may hold a password.
  pg::ConnectSpec out;
  std::string uri = spec;
  std::optional<std::string> password_file;
  if (size_t q = uri.find('?'); q != std::string::npos) {
    std::string kept;
    std::string_view query = std::string_view(uri).substr(q + 1);
    while (!query.empty()) {
      size_t amp = query.find('&');
      std::string_view item = query.substr(0, amp);
      query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
      if (item.rfind("password_file=", 0) == 0) {
        BG_ASSIGN_OR_RETURN(password_file, PercentDecoded(item.substr(14)));
        continue;
      }
      if (!kept.empty()) kept += '&';
      kept += item;
    }
    uri = uri.substr(0, q) + (kept.empty() ? "" : "?" + kept);
  }
  char* err = nullptr;
  PQconninfoOption* info = PQconninfoParse(uri.c_str(), &err);
  if (info == nullptr) {
    std::string msg = err != nullptr ? err : "unparsable";
    if (err != nullptr) PQfreemem(err);
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    return Error::InvalidArgument("storage", "not a PostgreSQL connection URI: " + msg);
  }
  bool has_password = false;
  bool has_dbname = false;
  for (PQconninfoOption* o = info; o->keyword != nullptr; ++o) {
    if (o->val == nullptr || *o->val == '\0') continue;
    const std::string_view k = o->keyword;
    if (k == "password") has_password = true;
    if (k == "dbname") has_dbname = true;
  }
  PQconninfoFree(info);
  if (!has_dbname) {
    return Error::InvalidArgument("storage",
                                  "the PostgreSQL URI names no database "
                                  "(postgresql://USER@HOST:PORT/DATABASE)");
  }
  if (password_file) {
    if (has_password) {
      return Error::InvalidArgument(
          "storage", "the PostgreSQL URI has both a password and a password_file: give one");
    }
    std::filesystem::path path(*password_file);
    if (path.is_relative() && !data_dir.empty()) path = std::filesystem::path(data_dir) / path;
    BG_ASSIGN_OR_RETURN(out.password, fs::ReadSecretFile(path.string(), "storage.password_file"));
  }
  out.conninfo = std::move(uri);
  return out;
}

namespace {

Result<std::unique_ptr<Store>> OpenPostgres(std::string_view spec, const std::string& data_dir) {
  BG_ASSIGN_OR_RETURN(pg::ConnectSpec connect, ParsePostgresSpec(std::string(spec), data_dir));
  BG_ASSIGN_OR_RETURN(auto store, PgStore::Open(connect));
  return std::unique_ptr<Store>(std::move(store));
}

struct Backend {
  std::string_view kind;
  Opener open;  // nullptr: known, but not compiled into this build
  bool uri = false;
};

// The backends, by the name a storage spec starts with.
constexpr Backend kBackends[] = {
    {"sqlite", &OpenSqlite},
    {"postgres", &OpenPostgres, true},
    {"postgresql", &OpenPostgres, true},
};

}  // namespace

Result<std::unique_ptr<Store>> OpenStore(const std::string& spec, const std::string& data_dir) {
  std::string_view s = spec;
  size_t colon = s.find(':');
  std::string_view kind = s.substr(0, colon);
  std::string_view location = colon == std::string_view::npos ? "" : s.substr(colon + 1);
  for (const Backend& b : kBackends) {
    if (b.kind != kind) continue;
    if (b.open == nullptr) {
      return Error::InvalidArgument(
          "storage", fmt::format("storage backend '{}' is not available in this build", kind));
    }
    if (b.uri) {
      if (location.rfind("//", 0) != 0) {
        return Error::InvalidArgument(
            "storage",
            fmt::format("a {} storage is a URI: {}://USER@HOST:PORT/DATABASE", kind, kind));
      }
      return b.open(s, data_dir);
    }
    if (colon != std::string_view::npos && location.empty()) {
      return Error::InvalidArgument("storage",
                                    fmt::format("storage '{}' names no location after ':'", spec));
    }
    return b.open(location, data_dir);
  }
  std::string known;
  for (const Backend& b : kBackends) {
    if (b.open == nullptr) continue;
    if (!known.empty()) known += ", ";
    known += b.kind;
  }
  return Error::InvalidArgument(
      "storage", fmt::format("storage backend '{}' is not available in this build (available: {})",
                             kind, known));
}

}  // namespace bg::store
