#include "service/checkpointer.h"

#include <gtest/gtest.h>

#include "test/fakes/fake_clock.h"

namespace bg::service {
namespace {

using std::chrono::seconds;

TEST(CheckpointSchedule, SignsAtOnceThenOncePerIntervalOnlyWhileTheLogGrows) {
  CheckpointSchedule s(seconds(10));
  const Timestamp t0 = FromUnixSeconds(1000);
  EXPECT_TRUE(s.Due(t0, 1)) << "first checkpoint at once";
  s.Signed(t0, 1);
  EXPECT_FALSE(s.Due(t0 + seconds(30), 1)) << "no growth, no new checkpoint";
  EXPECT_FALSE(s.Due(t0 + seconds(9), 5)) << "grew, but within the interval";
  EXPECT_TRUE(s.Due(t0 + seconds(10), 5));
  s.Signed(t0 + seconds(10), 5);
  EXPECT_FALSE(s.Due(t0 + seconds(19), 6));
  EXPECT_TRUE(s.Due(t0 + seconds(20), 6));
}

TEST(CheckpointSchedule, AnEmptyLogIsSignedOnceSoExportsHaveACheckpoint) {
  CheckpointSchedule s(seconds(10));
  EXPECT_TRUE(s.Due(FromUnixSeconds(0), 0));
  s.Signed(FromUnixSeconds(0), 0);
  EXPECT_FALSE(s.Due(FromUnixSeconds(100), 0));
}

TEST(Backoff, DoublesFromTheFirstWaitUpToTheCap) {
  RetryPolicy p{10, seconds(1), seconds(8)};
  const int64_t kWant[] = {1, 1, 2, 4, 8, 8, 8};
  for (int f = 0; f < 7; ++f) EXPECT_EQ(Backoff(f, p).count(), kWant[f]) << f;
}

TEST(WitnessQueue, RetriesWithBackoffThenGivesUp) {
  WitnessQueue q({"http://w1"}, RetryPolicy{3, seconds(2), seconds(60)});
  const Timestamp t0 = FromUnixSeconds(1000);
  EXPECT_FALSE(q.Next().has_value());
  q.Offer(5, "note5", t0);
  auto due = q.Due(t0);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_FALSE(q.Done(due[0], false, t0));
  EXPECT_TRUE(q.Due(t0 + seconds(1)).empty()) << "backing off 2 s";
  ASSERT_EQ(q.Due(t0 + seconds(2)).size(), 1u);
  EXPECT_FALSE(q.Done(due[0], false, t0 + seconds(2)));
  EXPECT_TRUE(q.Due(t0 + seconds(5)).empty()) << "backing off 4 s";
  ASSERT_EQ(q.Due(t0 + seconds(6)).size(), 1u);
  EXPECT_TRUE(q.Done(due[0], false, t0 + seconds(6))) << "third failure: gave up";
  EXPECT_FALSE(q.Next().has_value());
}

TEST(WitnessQueue, ANewerCheckpointReplacesAPendingOneAndItsOldOutcomeIsIgnored) {
  WitnessQueue q({"http://w1", "http://w2"}, RetryPolicy{});
  const Timestamp t0 = FromUnixSeconds(1000);
  q.Offer(5, "note5", t0);
  auto old_pushes = q.Due(t0);
  ASSERT_EQ(old_pushes.size(), 2u);
  q.Offer(7, "note7", t0);
  EXPECT_FALSE(q.Done(old_pushes[0], true, t0));  // delivered 5, but 7 is still owed
  auto due = q.Due(t0);
  ASSERT_EQ(due.size(), 2u);
  EXPECT_EQ(due[0].note, "note7");
  EXPECT_EQ(due[1].size, 7);
  q.Done(due[0], true, t0);
  q.Done(due[1], true, t0);
  EXPECT_FALSE(q.Next().has_value());
}

struct Fake {
  int64_t size = 0;
  int signs = 0;
  std::vector<std::string> persisted;
  std::vector<std::pair<std::string, std::string>> posts;
  bool persist_fails = false;
  bool post_fails = false;
  CheckpointerHooks Hooks() {
    CheckpointerHooks h;
    h.log_size = [this] { return size; };
    h.sign = [this]() -> Result<std::pair<int64_t, std::string>> {
      ++signs;
      return std::make_pair(size, "note" + std::to_string(size));
    };
    h.persist = [this](const std::string& note) -> Status {
      if (persist_fails) return Error::Unavailable("disk full");
      persisted.push_back(note);
      return Ok();
    };
    h.post = [this](const std::string& url, const std::string& note) -> Status {
      posts.emplace_back(url, note);
      if (post_fails) return Error::Unavailable("refused");
      return Ok();
    };
    return h;
  }
};

TEST(Checkpointer, SignsPersistsAndPushesOnTheInjectedClock) {
  testing::FakeClock clock;
  Fake fake;
  CheckpointerOptions o;
  o.interval = seconds(10);
  o.witnesses = {"http://w1"};
  Checkpointer c(o, fake.Hooks(), clock);
  fake.size = 3;
  EXPECT_EQ(c.Tick(), 3);
  EXPECT_EQ(fake.persisted, std::vector<std::string>{"note3"});
  EXPECT_EQ(c.PushDue(), 1);
  ASSERT_EQ(fake.posts.size(), 1u);
  EXPECT_EQ(fake.posts[0], std::make_pair(std::string("http://w1"), std::string("note3")));
  EXPECT_EQ(c.PushDue(), 0) << "delivered once";

  fake.size = 4;
  clock.Advance(seconds(9));
  EXPECT_EQ(c.Tick(), std::nullopt);
  clock.Advance(seconds(1));
  EXPECT_EQ(c.Tick(), 4);
  EXPECT_EQ(fake.signs, 2);
}

TEST(Checkpointer, AFailedPersistIsRetriedOnTheNextTick) {
  testing::FakeClock clock;
  Fake fake;
  Checkpointer c(CheckpointerOptions{}, fake.Hooks(), clock);
  fake.size = 2;
  fake.persist_fails = true;
  EXPECT_EQ(c.Tick(), std::nullopt);
  fake.persist_fails = false;
  EXPECT_EQ(c.Tick(), 2) << "not held back by the interval: nothing was stored";
}

TEST(Checkpointer, FailedPushesAreCountedAndRetriedAfterTheBackoff) {
  testing::FakeClock clock;
  Fake fake;
  CheckpointerOptions o;
  o.witnesses = {"http://w1"};
  o.retry = RetryPolicy{4, seconds(1), seconds(60)};
  Checkpointer c(o, fake.Hooks(), clock);
  fake.size = 1;
  fake.post_fails = true;
  ASSERT_EQ(c.Tick(), 1);
  EXPECT_EQ(c.PushDue(), 1);
  EXPECT_EQ(c.PushDue(), 0) << "backing off";
  clock.Advance(seconds(1));
  EXPECT_EQ(c.PushDue(), 1);
  EXPECT_EQ(c.push_failures(), 2u);
  fake.post_fails = false;
  clock.Advance(seconds(2));
  EXPECT_EQ(c.PushDue(), 1);
  EXPECT_EQ(c.push_failures(), 2u);
  EXPECT_EQ(fake.posts.size(), 3u);
}

}  // namespace
}  // namespace bg::service
