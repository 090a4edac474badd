// Tests particular to the sqlite backend: files, pragmas, migrations, and what it does with a
// database that something else has damaged.
#include "store/sqlite_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>

#include "store/migrations.h"
#include "store/store_test_util.h"

namespace bg::store {
namespace {

template <typename T>
std::optional<Error> ErrorOf(const Result<T>& r) {
  if (r.has_value()) return std::nullopt;
  return r.error();
}

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "bg_sqlite_XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/test.db";
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // Runs SQL on the file through a separate raw connection (as another program would).
  void RawExec(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
    EXPECT_EQ(rc, SQLITE_OK) << (err ? err : "");
    sqlite3_free(err);
    sqlite3_close(db);
  }
  // The first column of the first row of `sql`, as text.
  std::string RawQuery(const std::string& sql) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK)
        << sqlite3_errmsg(db);
    std::string out;
    if (sqlite3_step(st) == SQLITE_ROW) {
      const unsigned char* t = sqlite3_column_text(st, 0);
      out = t ? reinterpret_cast<const char*>(t) : "NULL";
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out;
  }
  void WriteFile(const std::string& bytes) {
    std::ofstream f(path_, std::ios::binary | std::ios::trunc);
    f << bytes;
  }
  std::unique_ptr<SqliteStore> MustOpen() {
    auto s = SqliteStore::Open(path_);
    EXPECT_TRUE(s.has_value()) << s.error().ToString();
    return s.has_value() ? std::move(*s) : nullptr;
  }

  std::string dir_;
  std::string path_;
};

TEST_F(SqliteStoreTest, OpenStoreChoosesTheFileBySpec) {
  struct Case {
    std::string spec;
    std::string file;  // expected to exist afterwards, relative to dir_
  };
  for (const Case& c : std::vector<Case>{{"sqlite", "breakglass.db"},
                                         {"sqlite:rel.db", "rel.db"},
                                         {"sqlite:" + dir_ + "/abs.db", "abs.db"}}) {
    SCOPED_TRACE(c.spec);
    auto s = OpenStore(c.spec, dir_);
    ASSERT_TRUE(s.has_value()) << s.error().ToString();
    EXPECT_TRUE(std::filesystem::exists(dir_ + "/" + c.file));
  }
}

TEST_F(SqliteStoreTest, OpenStoreRefusesUnknownAndUnavailableBackends) {
  struct Case {
    std::string spec;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"mysql://x",
       "storage backend 'mysql' is not available in this build (available: sqlite, postgres, "
       "postgresql)"},
      {"",
       "storage backend '' is not available in this build (available: sqlite, postgres, "
       "postgresql)"},
      {"sqlite:", "storage 'sqlite:' names no location after ':'"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.spec);
    auto s = OpenStore(c.spec, dir_);
    ASSERT_FALSE(s.has_value());
    EXPECT_EQ(s.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(s.error().field(), "storage");
    EXPECT_EQ(s.error().message(), c.message);
  }
}

TEST_F(SqliteStoreTest, UsesWalAndRecordsEachMigrationOnce) {
  {
    auto s = MustOpen();
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->schema_version(), static_cast<int>(sqlite::Migrations().size()));
  }
  EXPECT_EQ(RawQuery("PRAGMA journal_mode"), "wal");
  const std::string applied = RawQuery("SELECT applied_at FROM schema_version WHERE version = 1");
  {
    auto s = MustOpen();
    ASSERT_NE(s, nullptr);
  }
  {
    auto s = MustOpen();
    ASSERT_NE(s, nullptr);
  }
  EXPECT_EQ(RawQuery("SELECT COUNT(*) FROM schema_version"),
            std::to_string(sqlite::Migrations().size()));
  EXPECT_EQ(RawQuery("SELECT applied_at FROM schema_version WHERE version = 1"), applied);
}

TEST_F(SqliteStoreTest, AnEmptyFileIsMigratedFromScratch) {
  WriteFile("");
  auto s = MustOpen();
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->schema_version(), static_cast<int>(sqlite::Migrations().size()));
  WriteBatch b;
  b.meta = {{"k", "v"}};
  ASSERT_TRUE(s->Commit(b).has_value());
  EXPECT_EQ(**s->GetMeta("k"), "v");
}

// Schema v7 indexes leaves by request; a database from before it is indexed on migration from
// the leaves it holds.
TEST_F(SqliteStoreTest, MigrationSevenIndexesTheLeavesAlreadyStored) {
  {
    auto s = MustOpen();
    ASSERT_NE(s, nullptr);
    WriteBatch b;
    const char* leaves[] = {
        R"({"actor":"a","details":{},"request":"req_1","time":"2026-01-01T00:00:00Z","type":"request.created","v":1})",
        R"({"actor":"a","details":{},"time":"2026-01-01T00:00:00Z","type":"auth.login","v":1})",
        R"({"actor":"b","details":{},"request":"req_2","time":"2026-01-01T00:00:00Z","type":"request.created","v":1})",
        R"({"actor":"c","details":{},"request":"req_1","time":"2026-01-01T00:00:01Z","type":"approval.recorded","v":1})"};
    for (int64_t i = 0; i < 4; ++i) {
      AuditAppend a;
      a.index = i;
      a.leaf = leaves[i];
      a.nodes.push_back({0, i, std::string(32, 'h')});
      b.audit.push_back(a);  // no request field: as rows written before v7 were
    }
    ASSERT_TRUE(s->Commit(b).has_value());
    EXPECT_TRUE(s->AuditIndexesOf(RequestId("req_1"), 1000).value().empty());
  }
  // Back to schema 6: version 7 and every later one run again.
  RawExec("DROP TABLE audit_requests");
  RawExec("DROP TABLE reviews");
  RawExec("DROP TABLE campaigns");
  RawExec("DROP TABLE drills");
  RawExec("DROP INDEX requests_by_drill_state");
  RawExec("ALTER TABLE requests DROP COLUMN drill");
  RawExec("DELETE FROM schema_version WHERE version >= 7");
  auto s = MustOpen();
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->AuditIndexesOf(RequestId("req_1"), 1000).value(), (std::vector<int64_t>{0, 3}));
  EXPECT_EQ(s->AuditIndexesOf(RequestId("req_2"), 1000).value(), (std::vector<int64_t>{2}));
  EXPECT_TRUE(s->AuditIndexesOf(RequestId("req_3"), 1000).value().empty());
}

// Version 11 marks the drill requests stored before it from their body (issue 15: drills apart
// in statistics).
TEST_F(SqliteStoreTest, MigrationElevenMarksTheDrillRequestsAlreadyStored) {
  {
    auto s = MustOpen();
    ASSERT_NE(s, nullptr);
    ASSERT_TRUE(s->Commit(store_test::RealAndDrillRequests()).has_value());
  }
  RawExec("DROP INDEX requests_by_drill_state");
  RawExec("ALTER TABLE requests DROP COLUMN drill");
  RawExec("DELETE FROM schema_version WHERE version >= 11");
  auto s = MustOpen();
  ASSERT_NE(s, nullptr);
  store_test::ExpectRealAndDrillCountedApart(*s);
  EXPECT_EQ(RawQuery("SELECT id FROM requests WHERE drill = 1"), "req_drill");
}

TEST_F(SqliteStoreTest, ANewerSchemaIsRefused) {
  {
    auto s = MustOpen();
    ASSERT_NE(s, nullptr);
  }
  RawExec("INSERT INTO schema_version(version, applied_at) VALUES (99, 0)");
  auto s = SqliteStore::Open(path_);
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(s.error().message().find("newer than this build"), std::string::npos);
}

TEST_F(SqliteStoreTest, AFileThatIsNotADatabaseIsAClearError) {
  for (const std::string& content :
       {std::string("this is a configuration file, not a database\n"), std::string(8192, '\xff'),
        std::string("SQLite format 3") + std::string(4000, '\0')}) {
    WriteFile(content);
    auto s = SqliteStore::Open(path_);
    ASSERT_FALSE(s.has_value());
    EXPECT_EQ(s.error().code(), ErrorCode::kFailedPrecondition) << s.error().ToString();
    EXPECT_NE(s.error().message().find(path_), std::string::npos) << s.error().message();
    EXPECT_NE(s.error().message().find("not a usable SQLite database"), std::string::npos)
        << s.error().message();
  }
}

TEST_F(SqliteStoreTest, ADirectoryWhereTheFileShouldBeIsAnError) {
  std::filesystem::create_directory(path_);
  auto s = SqliteStore::Open(path_);
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code(), ErrorCode::kUnavailable) << s.error().ToString();
}

// Pages overwritten in the middle of a real database: every call returns, with data or an error.
TEST_F(SqliteStoreTest, DamagedPagesGiveErrorsNotCrashes) {
  {
    auto s = MustOpen();
    ASSERT_NE(s, nullptr);
    WriteBatch b;
    for (int i = 0; i < 300; ++i) {
      core::Request r;
      r.id = RequestId("r" + std::to_string(i));
      r.requester = "alice";
      r.reason = std::string(200, 'x');
      b.requests.push_back({r, 0});
    }
    ASSERT_TRUE(s->Commit(b).has_value());
  }
  RawExec("PRAGMA wal_checkpoint(TRUNCATE)");
  const auto size = std::filesystem::file_size(path_);
  ASSERT_GT(size, 16384u);
  {
    std::fstream f(path_, std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(8192);
    const std::string junk(static_cast<size_t>(size) - 8192 - 4096, '\x5a');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  auto s = SqliteStore::Open(path_);
  if (!s.has_value()) {
    EXPECT_NE(s.error().message(), "");
    return;
  }
  RequestFilter f;
  f.limit = 1000;
  auto list = (*s)->ListRequests(f);
  auto open = (*s)->ListOpenRequests();
  auto count = (*s)->CountRequestsByState(false);
  // With most pages destroyed, at least one of the scans must notice.
  EXPECT_FALSE(list.has_value() && open.has_value() && count.has_value() && list->size() == 300);
}

TEST_F(SqliteStoreTest, InvalidStoredValuesAreInternalErrorsNamingTheColumn) {
  {
    auto s = MustOpen();
    ASSERT_NE(s, nullptr);
    WriteBatch b;
    core::Request r;
    r.id = RequestId("r1");
    r.requester = "alice";
    b.requests.push_back({r, 0});
    UserRecord u;
    u.name = "alice";
    u.roles = {core::Role::kAdmin};
    b.users.push_back(u);
    b.timers.push_back({0, core::TimerKind::kExpiry, RequestId("r1"), FromUnixSeconds(1)});
    ASSERT_TRUE(s->Commit(b).has_value());
  }
  struct Case {
    std::string name;
    std::string sql;
    std::function<std::optional<Error>(SqliteStore&)> read;
    std::string column;
  };
  auto get_request = [](SqliteStore& s) { return ErrorOf(s.GetRequest(RequestId("r1"))); };
  auto list_open = [](SqliteStore& s) { return ErrorOf(s.ListOpenRequests()); };
  const std::vector<Case> cases = {
      {"unknown state", "UPDATE requests SET state = 'exploded'", get_request, "requests.state"},
      {"unknown state counted", "UPDATE requests SET state = 'exploded'",
       [](SqliteStore& s) { return ErrorOf(s.CountRequestsByState(false)); }, "requests.state"},
      {"body not JSON", "UPDATE requests SET body = '{\"tier\": '", get_request, "requests.body"},
      {"body not an object", "UPDATE requests SET body = '[1,2]'", get_request, "requests.body"},
      {"body field of the wrong type", "UPDATE requests SET body = '{\"tier\": \"three\"}'",
       list_open, "requests.body.tier"},
      {"body integer out of range", "UPDATE requests SET body = '{\"tier\": 99999999999}'",
       get_request, "requests.body.tier"},
      {"approval not an object", "UPDATE requests SET body = '{\"approvals\": [1]}'", get_request,
       "requests.body.approvals"},
      {"extension field of the wrong type",
       "UPDATE requests SET body = '{\"extension\": {\"deadline\": \"soon\"}}'", get_request,
       "requests.body.extension.deadline"},
      {"unknown role", "UPDATE users SET roles = 'admin,root'",
       [](SqliteStore& s) { return ErrorOf(s.GetUser("alice")); }, "users.roles"},
      {"unknown role listed", "UPDATE users SET roles = 'admin,'",
       [](SqliteStore& s) { return ErrorOf(s.ListUsers()); }, "users.roles"},
      {"unknown timer kind", "UPDATE timers SET kind = 'nap'",
       [](SqliteStore& s) { return ErrorOf(s.ListTimers()); }, "timers.kind"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    // Each case starts from the good row again.
    RawExec("UPDATE requests SET state = 'pending', body = '{}'");
    RawExec("UPDATE users SET roles = 'admin'");
    RawExec("UPDATE timers SET kind = 'expiry'");
    RawExec(c.sql);
    auto s = MustOpen();
    ASSERT_NE(s, nullptr);
    std::optional<Error> e = c.read(*s);
    ASSERT_TRUE(e.has_value()) << "the read succeeded";
    EXPECT_EQ(e->code(), ErrorCode::kInternal) << e->ToString();
    EXPECT_NE(e->message().find(c.column), std::string::npos) << e->message();
  }
}

}  // namespace
}  // namespace bg::store
