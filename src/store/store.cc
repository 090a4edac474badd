#include "store/store.h"

#include <fmt/format.h>

#include <filesystem>
#include <string_view>

#include "store/sqlite_store.h"

namespace bg::store {

bool WriteBatch::empty() const {
  return requests.empty() && users.empty() && tokens.empty() && tokens_updated.empty() &&
         tokens_deleted.empty() &&
         timers.empty() && timers_deleted.empty() && outbox.empty() && outbox_deleted.empty() &&
         audit.empty() && meta.empty() && sources.empty() && sessions.empty() &&
         chunks.empty() && reviews.empty() && campaigns.empty() && drills.empty();
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

struct Backend {
  std::string_view kind;
  Opener open;  // nullptr: known, but not compiled into this build
};

// The backends, by the name a storage spec starts with.
constexpr Backend kBackends[] = {
    {"sqlite", &OpenSqlite},
    {"postgres", nullptr},
    {"postgresql", nullptr},
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
