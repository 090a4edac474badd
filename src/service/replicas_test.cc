// Several writers on one database (replicas of one installation, or `breakglass user add`
// beside a server), and the timer queue of the replica that does the background work.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <memory>
#include <mutex>
#include <set>

#include "auth/master_key.h"
#include "service/audit_log.h"
#include "service/background.h"
#include "service/writer.h"
#include "store/store.h"
#include "test/fakes/fake_clock.h"
#include "test/fakes/temp_dir.h"
#include "util/random.h"

namespace bg::service {
namespace {

using bg::testing::FakeClock;
using bg::testing::TempDir;

store::TimerRecord Timer(int64_t id, Timestamp at) {
  return {id, core::TimerKind::kExpiry, RequestId("req_" + std::to_string(id)), at};
}

// Collects what the scheduler fires.
struct Fired {
  std::mutex mu;
  std::multiset<int64_t> ids;
  std::promise<void> all;
  size_t want = 0;
  void Add(int64_t id) {
    std::lock_guard lock(mu);
    ids.insert(id);
    if (ids.size() == want) all.set_value();
  }
};

TEST(SchedulerTest, AnInactiveSchedulerQueuesAndFiresOnlyOnceActivated) {
  FakeClock clock;
  Fired fired;
  fired.want = 2;
  Scheduler s(
      clock, [&](const store::TimerRecord& t, int) { fired.Add(t.id); }, /*active=*/false);
  s.Add({Timer(1, clock.Now() - Seconds(5)), Timer(2, clock.Now() - Seconds(1))});
  EXPECT_EQ(s.Pending(), 2u) << "queued while inactive";
  {
    std::lock_guard lock(fired.mu);
    EXPECT_TRUE(fired.ids.empty()) << "an inactive scheduler fired";
  }
  s.Activate();
  auto done = fired.all.get_future();
  ASSERT_EQ(done.wait_for(std::chrono::seconds(60)), std::future_status::ready);
  s.Stop();
  EXPECT_EQ(fired.ids, (std::multiset<int64_t>{1, 2}));
  EXPECT_EQ(s.Pending(), 0u);
}

TEST(SchedulerTest, ATimerAddedAgainOrSyncedIsQueuedOnceAndForgottenWhenGoneFromTheStore) {
  FakeClock clock;
  Fired fired;
  fired.want = 2;
  Scheduler s(
      clock, [&](const store::TimerRecord& t, int) { fired.Add(t.id); }, false);
  const Timestamp due = clock.Now() + Seconds(60);
  s.Add({Timer(1, due)});
  s.Add({Timer(1, due)});  // the writer's hand-over and a sync of the same timer
  s.Sync({Timer(1, due), Timer(2, due)});
  s.Sync({Timer(1, due), Timer(2, due)});
  EXPECT_EQ(s.Pending(), 2u);
  clock.Advance(Seconds(61));
  s.Activate();
  auto done = fired.all.get_future();
  ASSERT_EQ(done.wait_for(std::chrono::seconds(60)), std::future_status::ready);
  // Fired, but timer 1's deletion is not committed yet: a sync that still sees it stored must
  // not queue it again (it would fire twice).
  s.Sync({Timer(1, due)});
  EXPECT_EQ(s.Pending(), 0u);
  // Once the store no longer holds it, it is forgotten: the same id stored again (a new
  // timer) is queued.
  s.Sync({});
  s.Sync({Timer(1, due + Seconds(3600))});
  EXPECT_EQ(s.Pending(), 1u);
  s.Stop();
  EXPECT_EQ(fired.ids, (std::multiset<int64_t>{1, 2})) << "each fired exactly once";
}

// Two writers on one database, each with its own store connection and its own copy of the
// log's edge, as two replicas have.
class TwoWritersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    key_ = std::make_unique<auth::MasterKey>(auth::MasterKey::Generate(SystemRandom::Get()));
    for (int i = 0; i < 2; ++i) {
      auto s = store::OpenStore("sqlite", dir_.path());
      ASSERT_TRUE(s.has_value()) << s.error().ToString();
      stores_[i] = std::move(*s);
      auto log = AuditLog::Open(*stores_[i], *key_, "breakglass/test");
      ASSERT_TRUE(log.has_value()) << log.error().ToString();
      logs_[i] = std::move(*log);
      writers_[i] = std::make_unique<Writer>(*stores_[i], *logs_[i], clock_, nullptr);
    }
    core::Request r;
    r.id = RequestId("req_shared");
    r.requester = "alice";
    r.state = core::RequestState::kPending;
    ASSERT_TRUE(writers_[0]->RunSync([r](Tx& tx) {
      tx.PutRequest(r);
      tx.Audit(core::AuditEvent{"request.created", "alice", r.id, {}});
      return Ok();
    }));
  }
  void TearDown() override {
    for (auto& w : writers_) {
      if (w) w->Stop();
    }
  }

  FakeClock clock_;
  TempDir dir_;
  std::unique_ptr<auth::MasterKey> key_;
  std::unique_ptr<store::Store> stores_[2];
  std::unique_ptr<AuditLog> logs_[2];
  std::unique_ptr<Writer> writers_[2];
};

TEST_F(TwoWritersTest, AnAppendAfterTheOtherWriterAppendedRunsAgainOnTheNewEdge) {
  // Writer 1's edge predates writer 0's append of SetUp.
  ASSERT_TRUE(writers_[1]->RunSync([](Tx& tx) {
    tx.Audit(core::AuditEvent{"server.started", "system", {}, {}});
    return Ok();
  }));
  EXPECT_EQ(*stores_[0]->AuditSize(), 2);
  EXPECT_GE(writers_[1]->stats().races, 1u);
  EXPECT_EQ(writers_[1]->stats().commit_failures, 0u);
}

TEST_F(TwoWritersTest, AStaleVersionRunsTheGroupAgainAndItDecidesOnWhatIsStoredNow) {
  // Writer 1's operation reads the request, then writer 0 commits a change to it, then writer 1
  // stages its own: its commit meets a newer version, and its operation runs again.
  std::promise<void> read_once, other_committed;
  auto other = other_committed.get_future().share();
  std::atomic<int> runs{0};
  std::vector<size_t> approvals_seen;
  auto result = std::async(std::launch::async, [&] {
    return writers_[1]->RunSync([&](Tx& tx) -> Status {
      BG_ASSIGN_OR_RETURN(auto r, tx.GetRequest(RequestId("req_shared")));
      approvals_seen.push_back(r->approvals.size());
      if (runs.fetch_add(1) == 0) {
        read_once.set_value();
        other.wait();
      }
      core::Request n = *r;
      n.approvals.push_back(core::Approval{"dave", tx.now(), "second"});
      tx.PutRequest(n);
      tx.Audit(core::AuditEvent{"approval.recorded", "dave", n.id, {}});
      return Ok();
    });
  });
  read_once.get_future().wait();
  ASSERT_TRUE(writers_[0]->RunSync([](Tx& tx) -> Status {
    BG_ASSIGN_OR_RETURN(auto r, tx.GetRequest(RequestId("req_shared")));
    core::Request n = *r;
    n.approvals.push_back(core::Approval{"carol", tx.now(), "first"});
    tx.PutRequest(n);
    tx.Audit(core::AuditEvent{"approval.recorded", "carol", n.id, {}});
    return Ok();
  }));
  other_committed.set_value();
  Status s = result.get();
  ASSERT_TRUE(s.has_value()) << s.error().ToString();
  EXPECT_EQ(runs.load(), 2) << "the group ran again after the conflict";
  EXPECT_EQ(approvals_seen, (std::vector<size_t>{0, 1})) << "the second run saw carol's approval";
  auto stored = stores_[0]->GetRequest(RequestId("req_shared"));
  ASSERT_TRUE(stored.has_value() && stored->has_value());
  ASSERT_EQ((*stored)->approvals.size(), 2u) << "neither approval was lost";
  EXPECT_EQ((*stored)->approvals[0].approver, "carol");
  EXPECT_EQ((*stored)->approvals[1].approver, "dave");
  EXPECT_EQ(*stores_[0]->AuditSize(), 3) << "one leaf each, none doubled";
}

TEST_F(TwoWritersTest, AnEdgeCaughtUpFromTheNewLeavesSignsTheSameTreeAsOneRebuiltFromTheStore) {
  for (int i = 0; i < 7; ++i) {  // writer 0 appends; writer 1's log is left behind
    ASSERT_TRUE(writers_[0]->RunSync([i](Tx& tx) {
      tx.Audit(core::AuditEvent{"test.append", "system", {}, {{"n", std::to_string(i)}}});
      return Ok();
    }));
  }
  ASSERT_EQ(logs_[1]->Size(), 0);               // opened before SetUp's append too
  ASSERT_TRUE(logs_[1]->Reload().has_value());  // the catch-up: 8 leaves read and hashed
  auto rebuilt = AuditLog::Open(*stores_[1], *key_, "breakglass/test");  // from stored nodes
  ASSERT_TRUE(rebuilt.has_value());
  auto a = logs_[1]->Checkpoint(), b = (*rebuilt)->Checkpoint(), c = logs_[0]->Checkpoint();
  ASSERT_TRUE(a.has_value() && b.has_value() && c.has_value());
  EXPECT_EQ(a->size, 8);
  EXPECT_EQ(a->root, b->root);
  EXPECT_EQ(a->root, c->root);
}

TEST_F(TwoWritersTest, TimersOfTwoWritersNeverShareAnId) {
  std::set<int64_t> ids;
  for (int round = 0; round < 50; ++round) {
    for (auto& w : writers_) {
      ASSERT_TRUE(w->RunSync([&](Tx& tx) {
        tx.AddTimer(core::ScheduleTimer{core::TimerKind::kExpiry, RequestId("req_shared"),
                                        tx.now() + Seconds(60)});
        return Ok();
      }));
    }
  }
  auto timers = stores_[0]->ListTimers();
  ASSERT_TRUE(timers.has_value());
  for (const auto& t : *timers) ids.insert(t.id);
  EXPECT_EQ(timers->size(), 100u);
  EXPECT_EQ(ids.size(), 100u);
}

}  // namespace
}  // namespace bg::service
