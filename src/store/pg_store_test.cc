// The PostgreSQL storage spec, without a server; the serve lease against a real one (skipped
// without BG_TEST_POSTGRES, see store/pg_test_util.h; the conformance suite has the rest).
#include "store/pg_store.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "store/migrate.h"
#include "store/pg_test_util.h"
#include "store/store.h"
#include "store/store_test_util.h"

namespace bg::store {
namespace {

class PgSpecTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "bg_pgspec_XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void Write(const std::string& name, const std::string& text, mode_t mode) {
    std::ofstream(dir_ + "/" + name) << text;
    ::chmod((dir_ + "/" + name).c_str(), mode);
  }
  std::string dir_;
};

TEST_F(PgSpecTest, RefusesSpecsThatNameNoDatabaseOrTwoPasswords) {
  Write("pw", "s3cret\n", 0600);
  struct Case {
    std::string spec;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"postgres", "a postgres storage is a URI: postgres://USER@HOST:PORT/DATABASE"},
      {"postgresql:db", "a postgresql storage is a URI: postgresql://USER@HOST:PORT/DATABASE"},
      {"postgresql://bg@127.0.0.1:5432",
       "the PostgreSQL URI names no database (postgresql://USER@HOST:PORT/DATABASE)"},
      {"postgresql://bg:hunter2@127.0.0.1/db?password_file=pw",
       "the PostgreSQL URI has both a password and a password_file: give one"},
      {"postgresql://bg:hunter2@127.0.0.1/db?nonsense=1",
       "not a PostgreSQL connection URI: invalid URI query parameter: \"nonsense\""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.spec);
    auto s = OpenStore(c.spec, dir_);
    ASSERT_FALSE(s.has_value());
    EXPECT_EQ(s.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(s.error().field(), "storage");
    EXPECT_EQ(s.error().message(), c.message);
    EXPECT_EQ(s.error().ToString().find("hunter2"), std::string::npos);
  }
}

TEST_F(PgSpecTest, PasswordFileIsReadRelativeToTheDataDirAndMustBePrivate) {
  Write("pw", "s3cret\n", 0600);
  auto spec = ParsePostgresSpec(
      "postgresql://bg@127.0.0.1:5432/app?password_file=pw&sslmode=disable", dir_);
  ASSERT_TRUE(spec.has_value()) << spec.error().ToString();
  EXPECT_EQ(spec->conninfo, "postgresql://bg@127.0.0.1:5432/app?sslmode=disable");
  ASSERT_TRUE(spec->password.has_value());
  EXPECT_EQ(spec->password->Reveal(), "s3cret");

  // Percent-escaped, absolute.
  auto absolute = ParsePostgresSpec("postgres://bg@127.0.0.1/app?password_file=" + dir_ + "%2Fpw",
                                    "/nonexistent");
  ASSERT_TRUE(absolute.has_value()) << absolute.error().ToString();
  EXPECT_EQ(absolute->conninfo, "postgres://bg@127.0.0.1/app");

  Write("open", "s3cret\n", 0644);
  auto shared = ParsePostgresSpec("postgresql://bg@127.0.0.1/app?password_file=open", dir_);
  ASSERT_FALSE(shared.has_value());
  EXPECT_EQ(shared.error().code(), ErrorCode::kFailedPrecondition);
  auto missing = ParsePostgresSpec("postgresql://bg@127.0.0.1/app?password_file=nope", dir_);
  ASSERT_FALSE(missing.has_value());
  auto bad_escape = ParsePostgresSpec("postgresql://bg@127.0.0.1/app?password_file=%zz", dir_);
  ASSERT_FALSE(bad_escape.has_value());
  EXPECT_EQ(bad_escape.error().code(), ErrorCode::kInvalidArgument);
}

TEST_F(PgSpecTest, AnUnreachableServerIsUnavailableWithoutThePassword) {
  // Port 1 on loopback: nothing listens; the refusal is immediate.
  auto s = OpenStore("postgresql://bg:hunter2@127.0.0.1:1/app", dir_);
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(s.error().message().find("cannot connect"), std::string::npos) << s.error().message();
  EXPECT_EQ(s.error().ToString().find("hunter2"), std::string::npos);
}

// ---- the serve lease (a real server)
// -------------------------------------------------------------

class PgLeaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::string why = pg_test::Unavailable(); !why.empty()) GTEST_SKIP() << why;
    db_ = fmt::format("bg_lease_{}", ::getpid());
    pg_test::DropDatabase(db_);
    ASSERT_TRUE(pg_test::CreateDatabase(db_).has_value());
  }
  void TearDown() override {
    if (!db_.empty()) pg_test::DropDatabase(db_);
  }
  std::unique_ptr<PgStore> Open() {
    auto spec = ParsePostgresSpec(pg_test::Spec(db_), "");
    EXPECT_TRUE(spec.has_value());
    auto s = PgStore::Open(*spec);
    EXPECT_TRUE(s.has_value()) << s.error().ToString();
    return s.has_value() ? std::move(*s) : nullptr;
  }
  // Ends the session that holds the lease, as a crash or a lost network would, and waits until
  // the server has let go of its lock.
  void KillLeaseSession() {
    auto admin = pg::Connection::Open({pg_test::Spec(db_), std::nullopt});
    ASSERT_TRUE(admin.has_value()) << admin.error().ToString();
    const std::string held = fmt::format(
        "FROM pg_locks WHERE locktype = 'advisory' AND classid = {} AND objid = 3 AND granted",
        0x62676c73);
    ASSERT_TRUE((*admin)->Exec("SELECT pg_terminate_backend(pid) " + held, "kill").has_value());
    for (;;) {
      auto n = (*admin)->Exec("SELECT COUNT(*) " + held, "count");
      ASSERT_TRUE(n.has_value()) << n.error().ToString();
      if (n->Int(0, 0) == 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  static WriteBatch Meta(const std::string& value) {
    WriteBatch b;
    b.meta.emplace_back("k", value);
    return b;
  }
  std::string db_;
};

// Schema migrations on a database of the test's own (the lease tests' fixture).
class PgMigrateSchemaTest : public PgLeaseTest {};

// Schema version 11 marks the drill requests stored before it from their body (issue 15:
// drills apart in statistics), on PostgreSQL as on sqlite.
TEST_F(PgMigrateSchemaTest, MigrationElevenMarksTheDrillRequestsAlreadyStored) {
  {
    auto s = Open();
    ASSERT_NE(s, nullptr);
    ASSERT_TRUE(s->Commit(store_test::RealAndDrillRequests()).has_value());
  }
  {
    auto admin = pg::Connection::Open({pg_test::Spec(db_), std::nullopt});
    ASSERT_TRUE(admin.has_value()) << admin.error().ToString();
    ASSERT_TRUE((*admin)
                    ->ExecScript("DROP INDEX requests_by_drill_state; ALTER TABLE requests DROP "
                                 "COLUMN drill; DELETE FROM schema_version WHERE version >= 11",
                                 "back to version 10")
                    .has_value());
  }
  auto s = Open();
  ASSERT_NE(s, nullptr);
  store_test::ExpectRealAndDrillCountedApart(*s);
}

TEST_F(PgLeaseTest, AStandbyWaitsAndTakesOverWithTheNextToken) {
  auto active = Open();
  auto standby = Open();
  ASSERT_TRUE(active && standby);
  ASSERT_TRUE(active
                  ->HoldServeLease(
                      "host-a pid 1", [](const std::string&) { return true; }, nullptr)
                  .has_value());
  EXPECT_EQ(active->lease_token(), 1);
  EXPECT_TRUE(active->Commit(Meta("a")).has_value());

  // The standby is told who holds the lease, and keeps waiting until the holder goes.
  std::atomic<int> waits{0};
  std::atomic<bool> finished{false};
  std::string seen;
  std::thread t([&] {
    Status held = standby->HoldServeLease(
        "host-b pid 2",
        [&](const std::string& holder) {
          if (waits.fetch_add(1) == 0) seen = holder;
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
          return true;
        },
        nullptr);
    EXPECT_TRUE(held.has_value()) << held.error().ToString();
    finished = true;
  });
  while (waits.load() < 3 && !finished.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (finished.load()) {
    t.join();
    FAIL() << "the standby took the lease while it was held";
  }
  EXPECT_EQ(standby->lease_token(), 0);
  active.reset();  // the holder stops: its session, and so its lock, ends
  t.join();
  EXPECT_EQ(seen.rfind("host-a pid 1 since ", 0), 0u) << seen;
  EXPECT_EQ(standby->lease_token(), 2);
  EXPECT_TRUE(standby->Commit(Meta("b")).has_value());
  EXPECT_EQ(**standby->GetMeta("k"), "b");
}

TEST_F(PgLeaseTest, WaitingStopsWhenTheCallerSaysSo) {
  auto active = Open();
  auto other = Open();
  ASSERT_TRUE(active && other);
  ASSERT_TRUE(active
                  ->HoldServeLease(
                      "a", [](const std::string&) { return true; }, nullptr)
                  .has_value());
  Status s = other->HoldServeLease(
      "b", [](const std::string&) { return false; }, nullptr);
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(other->lease_token(), 0);
}

TEST_F(PgLeaseTest, AServerThatLostTheLeaseWritesNothing) {
  auto old_holder = Open();
  ASSERT_TRUE(old_holder);
  // A watchdog too slow to notice: the fence alone must stop the old holder's writes.
  ASSERT_TRUE(
      old_holder
          ->HoldServeLease(
              "old", [](const std::string&) { return true; }, nullptr, std::chrono::hours(1))
          .has_value());
  ASSERT_TRUE(old_holder->Commit(Meta("old-1")).has_value());
  KillLeaseSession();
  auto new_holder = Open();
  ASSERT_TRUE(new_holder);
  ASSERT_TRUE(new_holder
                  ->HoldServeLease(
                      "new", [](const std::string&) { return true; }, nullptr)
                  .has_value());
  EXPECT_EQ(new_holder->lease_token(), 2);
  Status late = old_holder->Commit(Meta("old-2"));
  ASSERT_FALSE(late.has_value());
  EXPECT_EQ(late.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(late.error().message().find("serve lease"), std::string::npos);
  EXPECT_TRUE(new_holder->Commit(Meta("new-1")).has_value());
  EXPECT_EQ(**new_holder->GetMeta("k"), "new-1");
}

// PostgreSQL restarted, or the network cut: the lease's session ends, but nobody else took the
// lease, so the server takes it again and goes on (the token moves on).
TEST_F(PgLeaseTest, ALeaseCutOffIsTakenAgainWhenNobodyElseHeldIt) {
  auto holder = Open();
  ASSERT_TRUE(holder);
  ASSERT_TRUE(holder
                  ->HoldServeLease(
                      "h", [](const std::string&) { return true; }, nullptr, std::chrono::hours(1))
                  .has_value());
  KillLeaseSession();
  Status checked = holder->CheckLease();
  ASSERT_TRUE(checked.has_value()) << checked.error().ToString();
  EXPECT_EQ(holder->lease_token(), 2);
  EXPECT_TRUE(holder->Commit(Meta("after")).has_value());
}

// Cut off, and meanwhile another server took the lease: this one's state is stale; it is told
// to stop, and writes nothing even when the other has gone again.
TEST_F(PgLeaseTest, ALeaseAnotherServerTookIsLostForGood) {
  auto first = Open();
  ASSERT_TRUE(first);
  ASSERT_TRUE(
      first
          ->HoldServeLease(
              "first", [](const std::string&) { return true; }, nullptr, std::chrono::hours(1))
          .has_value());
  KillLeaseSession();
  {
    auto second = Open();
    ASSERT_TRUE(second);
    ASSERT_TRUE(second
                    ->HoldServeLease(
                        "second", [](const std::string&) { return true; }, nullptr)
                    .has_value());
    Status checked = first->CheckLease();
    ASSERT_FALSE(checked.has_value());
    EXPECT_EQ(checked.error().code(), ErrorCode::kFailedPrecondition);
  }
  // The second is gone too; the first still may not take the lease back.
  Status again = first->CheckLease();
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(first->Commit(Meta("stale")).error().code(), ErrorCode::kUnavailable);
}

// The watchdog does the checking by itself.
TEST_F(PgLeaseTest, TheWatchdogTakesACutOffLeaseAgain) {
  auto holder = Open();
  ASSERT_TRUE(holder);
  std::atomic<bool> lost{false};
  ASSERT_TRUE(holder
                  ->HoldServeLease(
                      "h", [](const std::string&) { return true; },
                      [&](const std::string&) { lost = true; }, std::chrono::milliseconds(20))
                  .has_value());
  KillLeaseSession();
  // No deadline: the watchdog checks every 20 ms; a hang is the test runner's timeout.
  while (holder->lease_token() != 2) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_FALSE(lost.load());
  EXPECT_TRUE(holder->Commit(Meta("after")).has_value());
}

// ---- replicas: the writers' exclusive section and change notifications ----------------------

class PgLeaseReplicasTest : public PgLeaseTest {};

TEST_F(PgLeaseReplicasTest, OneWriterAtATimeHoldsTheExclusiveSection) {
  auto a = Open(), b = Open();
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->BeginExclusive());
  std::atomic<bool> a_ended{false}, b_held{false};
  std::thread other([&] {
    b_held = b->BeginExclusive();
    // Held only once the first let go: never while it still held the section.
    EXPECT_TRUE(a_ended.load()) << "two writers held the exclusive section at once";
    b->EndExclusive();
  });
  // The first commits inside its section (its commit's lock on the log is its own already).
  WriteBatch batch = Meta("inside");
  batch.audit.push_back({0, R"({"type":"x"})", "", {}});
  EXPECT_TRUE(a->Commit(batch).has_value());
  a_ended = true;
  a->EndExclusive();
  other.join();
  EXPECT_TRUE(b_held.load());
}

TEST_F(PgLeaseReplicasTest, ACommitWithLeavesTimersOrJobsWakesTheOtherServersWatchers) {
  auto a = Open(), b = Open();
  ASSERT_TRUE(a && b);
  std::mutex mu;
  std::condition_variable cv;
  int calls = 0;
  b->WatchChanges([&] {
    std::lock_guard lock(mu);
    ++calls;
    cv.notify_all();
  });
  // Until the watcher listens, a notification may be missed: commit until one arrives (no
  // deadline: a hang is the test runner's timeout).
  for (int i = 0;; ++i) {
    WriteBatch batch;
    batch.timers.push_back({0, core::TimerKind::kExpiry, RequestId("req_" + std::to_string(i)),
                            FromUnixSeconds(1'900'000'000)});
    ASSERT_TRUE(a->Commit(batch).has_value());
    std::unique_lock lock(mu);
    if (cv.wait_for(lock, std::chrono::milliseconds(200), [&] { return calls > 0; })) break;
  }
  b->WatchChanges(nullptr);
  const int before = calls;
  WriteBatch timer;
  timer.timers.push_back(
      {0, core::TimerKind::kExpiry, RequestId("req_z"), FromUnixSeconds(1'900'000'000)});
  ASSERT_TRUE(a->Commit(timer).has_value());
  ASSERT_TRUE(a->Commit(Meta("only meta")).has_value());
  // A commit's notification arrives within milliseconds; none may reach a watcher removed.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  std::lock_guard lock(mu);
  EXPECT_EQ(calls, before) << "a watcher removed was called";
}

// ---- breakglass migrate's copy (a real server) ----------------------------------------------------

core::Request Pending(const std::string& id, int64_t created) {
  core::Request r;
  r.id = RequestId(id);
  r.requester = "alice";
  r.state = core::RequestState::kPending;
  r.created_at = FromUnixSeconds(created);
  r.updated_at = FromUnixSeconds(created);
  return r;
}

class PgMigrateTest : public PgLeaseTest {};

TEST_F(PgMigrateTest, EveryTableIsCopiedAndNumberingGoesOnAfterTheCopiedRows) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "bg_migrate_XXXXXX").string();
  ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
  const std::string path = tmpl + "/breakglass.db";
  {
    auto sqlite = OpenStore("sqlite:" + path, "");
    ASSERT_TRUE(sqlite.has_value()) << sqlite.error().ToString();
    WriteBatch b;
    for (int i = 0; i < 3; ++i) b.requests.push_back({Pending(fmt::format("r{}", i), 10 + i), 0});
    b.timers.push_back({0, core::TimerKind::kExpiry, RequestId("r0"), FromUnixSeconds(50)});
    b.outbox.push_back({0, "grant", RequestId("r1"), "{}", 0, FromUnixSeconds(5), ""});
    SessionRecord ses;
    ses.id = SessionId("s1");
    ses.request = RequestId("r0");
    ses.user = "alice";
    ses.started_at = FromUnixSeconds(20);
    ses.header = "{}";
    b.sessions.push_back({ses, -1});
    for (int64_t i = 0; i < 3; ++i) {
      AuditAppend a;
      a.index = i;
      a.leaf = std::string("leaf\0", 5) + std::to_string(i);
      a.request = "r0";
      a.nodes.push_back({0, i, std::string(32, static_cast<char>('a' + i))});
      b.audit.push_back(a);
    }
    b.meta.emplace_back("k", "v");
    ASSERT_TRUE((*sqlite)->Commit(b).has_value());
  }
  auto spec = ParsePostgresSpec(pg_test::Spec(db_), "");
  ASSERT_TRUE(spec.has_value());
  std::vector<std::string> progress;
  auto report = CopySqliteToPostgres(path, *spec, [&](std::string_view table, int64_t, int64_t) {
    progress.emplace_back(table);
  });
  ASSERT_TRUE(report.has_value()) << report.error().ToString();
  std::map<std::string, int64_t> rows(report->tables.begin(), report->tables.end());
  EXPECT_EQ(rows.at("requests"), 3);
  EXPECT_EQ(rows.at("timers"), 1);
  EXPECT_EQ(rows.at("outbox"), 1);
  EXPECT_EQ(rows.at("sessions"), 1);
  EXPECT_EQ(rows.at("audit_leaves"), 3);
  EXPECT_EQ(rows.at("audit_requests"), 3);
  EXPECT_EQ(rows.at("meta"), 1);
  EXPECT_FALSE(progress.empty());

  auto pg = Open();
  ASSERT_TRUE(pg);
  EXPECT_EQ(*pg->AuditSize(), 3);
  EXPECT_EQ((*pg->AuditLeaves(1, 2))[0], std::string("leaf\0", 5) + "1");
  EXPECT_EQ(*pg->AuditIndexesOf(RequestId("r0"), 10), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(**pg->GetMeta("k"), "v");
  // New rows are numbered after the copied ones: nothing collides with them.
  WriteBatch more;
  more.requests.push_back({Pending("r3", 30), 0});
  more.timers.push_back({0, core::TimerKind::kExpiry, RequestId("r3"), FromUnixSeconds(60)});
  more.outbox.push_back({0, "grant", RequestId("r3"), "{}", 0, FromUnixSeconds(5), ""});
  SessionRecord ses2;
  ses2.id = SessionId("s2");
  ses2.request = RequestId("r3");
  ses2.user = "alice";
  ses2.started_at = FromUnixSeconds(31);
  ses2.header = "{}";
  more.sessions.push_back({ses2, -1});
  Status st = pg->Commit(more);
  ASSERT_TRUE(st.has_value()) << st.error().ToString();
  RequestFilter all;
  auto listed = pg->ListRequests(all);
  ASSERT_TRUE(listed.has_value());
  ASSERT_EQ(listed->size(), 4u);
  EXPECT_EQ((*listed)[0].id.value(), "r3");
  EXPECT_EQ(pg->ListTimers()->size(), 2u);
  EXPECT_EQ(pg->ListOutbox()->size(), 2u);

  // Into a database that holds an installation: refused, nothing added.
  auto again = CopySqliteToPostgres(path, *spec);
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(pg->ListRequests(all)->size(), 4u);
  std::filesystem::remove_all(tmpl);
}

}  // namespace
}  // namespace bg::store
