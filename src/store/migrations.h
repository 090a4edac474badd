// Schema migrations of the sqlite backend: an ordered list of SQL scripts, version i + 1 being
// the i-th. The versions applied are recorded in the table schema_version.
#pragma once

#include <string_view>
#include <vector>

#include "store/sqlite_db.h"
#include "util/result.h"

namespace bg::store::sqlite {

// Every migration, oldest first. Never edit one that has shipped: append a new one.
const std::vector<std::string_view>& Migrations();

// Brings the database to the newest schema: each missing version in its own transaction
// (BEGIN IMMEDIATE, script, record the version, COMMIT). A database whose schema is newer than
// this build knows is FailedPrecondition. Returns the schema version after migrating.
Result<int> ApplyMigrations(Connection& conn);

}  // namespace bg::store::sqlite
