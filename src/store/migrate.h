// Moving an installation from its SQLite database to PostgreSQL (`breakglass migrate`): every
// table, row by row and byte for byte, in one PostgreSQL transaction (all or nothing), into a
// database that holds nothing yet. The caller verifies the audit log afterwards.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/pg_db.h"
#include "util/result.h"

namespace bg::store {

// Called as rows are copied: the table, rows copied of it so far, and its row count.
using MigrateProgress = std::function<void(std::string_view table, int64_t done, int64_t total)>;

struct MigrateReport {
  std::vector<std::pair<std::string, int64_t>> tables;  // in copy order, with their row counts
  int schema_version = 0;
};

// Migrates the SQLite database at `sqlite_path` to the newest schema, then copies it into the
// PostgreSQL database `to` (migrated too). FailedPrecondition when the target already holds
// requests, users, audit entries or settings; the source is only read.
Result<MigrateReport> CopySqliteToPostgres(const std::string& sqlite_path,
                                           const pg::ConnectSpec& to,
                                           const MigrateProgress& progress = {});

}  // namespace bg::store
