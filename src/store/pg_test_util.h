// For tests against a real PostgreSQL: BG_TEST_POSTGRES=postgresql://USER:PASSWORD@HOST:PORT (a
// role that may create databases; test/integration/store_postgres_test.sh starts a server and
// sets it). Each test makes databases of its own and drops them.
#pragma once

#include <fmt/format.h>

#include <cstdlib>
#include <string>

#include "store/pg_db.h"

namespace bg::store::pg_test {

inline std::string PostgresBase() {
  const char* base = std::getenv("BG_TEST_POSTGRES");
  return base != nullptr ? base : "";
}

inline std::string Unavailable() {
  return PostgresBase().empty() ? std::string(
                                      "BG_TEST_POSTGRES is not set "
                                      "(store_postgres_integration runs these tests "
                                      "against a real server)")
                                : std::string();
}

// SQL as the test role on its maintenance database.
inline Status Admin(const std::string& sql) {
  auto admin = pg::Connection::Open({PostgresBase() + "/postgres", std::nullopt});
  if (!admin) return admin.error();
  return (*admin)->ExecScript(sql, "test database");
}

inline Status CreateDatabase(const std::string& name) {
  return Admin(fmt::format("CREATE DATABASE \"{}\"", name));
}

inline void DropDatabase(const std::string& name) {
  (void)Admin(fmt::format("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", name));
}

// The storage spec of database `name`.
inline std::string Spec(const std::string& name) { return PostgresBase() + "/" + name; }

}  // namespace bg::store::pg_test
