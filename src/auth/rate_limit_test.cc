#include "auth/rate_limit.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace bg::auth {
namespace {

const Timestamp kT0 = FromUnixSeconds(1'700'000'000);
Timestamp At(int64_t seconds_after_t0) { return kT0 + Seconds(seconds_after_t0); }

void Fail(LoginLimiter& l, const std::string& account, const std::string& source, int n,
          Timestamp now) {
  for (int i = 0; i < n; ++i) l.RecordFailure(account, source, now);
}

TEST(LoginLimiterTest, LocksAccountAfterFiveFailuresForFifteenMinutes) {
  LoginLimiter l;
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(l.Check("alice", "10.0.0.1", At(i)).has_value()) << i;
    EXPECT_FALSE(l.RecordFailure("alice", "10.0.0.1", At(i)).has_value());
  }
  auto lock = l.RecordFailure("alice", "10.0.0.1", At(4));
  ASSERT_TRUE(lock.has_value());
  EXPECT_EQ(lock->locked_until, At(4 + 900));
  EXPECT_EQ(lock->lockouts, 1);
  // Locked from any address, until exactly the end of the lock.
  auto st = l.Check("alice", "192.0.2.9", At(5));
  ASSERT_FALSE(st.has_value());
  EXPECT_EQ(st.error().code(), ErrorCode::kResourceExhausted);
  EXPECT_FALSE(l.Check("alice", "10.0.0.1", At(903)).has_value());
  EXPECT_TRUE(l.Check("alice", "10.0.0.1", At(904)).has_value());
  // Other accounts are unaffected.
  EXPECT_TRUE(l.Check("bob", "192.0.2.9", At(5)).has_value());
}

TEST(LoginLimiterTest, MessageSaysWhenToRetryAndNothingAboutTheFactor) {
  LoginLimiter l;
  Fail(l, "alice", "10.0.0.1", 5, At(0));
  auto st = l.Check("alice", "10.0.0.1", At(60));
  ASSERT_FALSE(st.has_value());
  const std::string& m = st.error().message();
  EXPECT_NE(m.find(FormatRfc3339(At(900))), std::string::npos) << m;
  EXPECT_NE(m.find("14m"), std::string::npos) << m;
  for (const char* leak : {"password", "totp", "TOTP", "alice", "10.0.0.1", "account"}) {
    EXPECT_EQ(m.find(leak), std::string::npos) << leak << " in: " << m;
  }
}

TEST(LoginLimiterTest, FailuresOutsideTheWindowDoNotCount) {
  LoginLimiter l;
  Fail(l, "alice", "10.0.0.1", 4, At(0));
  // 15 minutes later the first four have aged out: four more do not lock.
  for (int i = 0; i < 4; ++i) {
    EXPECT_FALSE(l.RecordFailure("alice", "10.0.0.2", At(900 + i)).has_value());
  }
  EXPECT_TRUE(l.Check("alice", "10.0.0.2", At(905)).has_value());
  EXPECT_TRUE(l.RecordFailure("alice", "10.0.0.2", At(906)).has_value());
}

TEST(LoginLimiterTest, SuccessResetsTheAccountCounter) {
  LoginLimiter l;
  Fail(l, "alice", "10.0.0.1", 4, At(0));
  l.RecordSuccess("alice", At(1));
  Fail(l, "alice", "10.0.0.1", 4, At(2));
  EXPECT_TRUE(l.Check("alice", "10.0.0.1", At(3)).has_value());
  EXPECT_FALSE(l.LockedUntil("alice", At(3)).has_value());
}

TEST(LoginLimiterTest, RepeatedLockoutsDoubleUpToTheCap) {
  LoginLimiterConfig c;
  c.account_lockout_max = Seconds(3600);
  LoginLimiter l(c);
  Timestamp now = At(0);
  std::vector<int64_t> durations;
  for (int round = 0; round < 5; ++round) {
    Fail(l, "alice", "10.0.0.1", 4, now);
    auto lock = l.RecordFailure("alice", "10.0.0.1", now);
    ASSERT_TRUE(lock.has_value()) << round;
    EXPECT_EQ(lock->lockouts, round + 1);
    durations.push_back((lock->locked_until - now).count());
    now = lock->locked_until;  // retry the moment the lock ends
  }
  EXPECT_EQ(durations, (std::vector<int64_t>{900, 1800, 3600, 3600, 3600}));
}

TEST(LoginLimiterTest, EscalationStartsOverAfterSuccessOrAQuietPeriod) {
  LoginLimiterConfig c;
  c.account_lockout_max = Seconds(3600);
  LoginLimiter l(c);
  Fail(l, "alice", "10.0.0.1", 5, At(0));    // lock 1: 900 s
  Fail(l, "alice", "10.0.0.1", 5, At(900));  // lock 2: 1800 s, ends at 2700
  auto quiet = At(2700 + 3600);
  Fail(l, "alice", "10.0.0.1", 4, quiet);
  auto lock = l.RecordFailure("alice", "10.0.0.1", quiet);
  ASSERT_TRUE(lock.has_value());
  EXPECT_EQ(lock->lockouts, 1);
  EXPECT_EQ(lock->locked_until, quiet + Seconds(900));

  Fail(l, "bob", "10.0.0.1", 5, At(0));
  l.RecordSuccess("bob", At(900));
  Fail(l, "bob", "10.0.0.1", 4, At(901));
  auto bob = l.RecordFailure("bob", "10.0.0.1", At(901));
  ASSERT_TRUE(bob.has_value());
  EXPECT_EQ(bob->lockouts, 1);
}

TEST(LoginLimiterTest, FailuresDuringALockDoNotExtendIt) {
  LoginLimiter l;
  Fail(l, "alice", "10.0.0.1", 5, At(0));
  EXPECT_FALSE(l.RecordFailure("alice", "10.0.0.1", At(10)).has_value());
  ASSERT_TRUE(l.LockedUntil("alice", At(10)).has_value());
  EXPECT_EQ(l.LockedUntil("alice", At(10))->locked_until, At(900));
}

TEST(LoginLimiterTest, ThrottlesASourceAfterTwentyFailuresInASlidingWindow) {
  LoginLimiter l;
  // 20 failures spread over distinct accounts (password spraying), one every 10 s.
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(
        l.Check("user" + std::to_string(i), "198.51.100.7", At(int64_t{i} * 10)).has_value());
    l.RecordFailure("user" + std::to_string(i), "198.51.100.7", At(int64_t{i} * 10));
  }
  auto st = l.Check("someone-new", "198.51.100.7", At(200));
  ASSERT_FALSE(st.has_value());
  EXPECT_EQ(st.error().code(), ErrorCode::kResourceExhausted);
  // Another address is fine.
  EXPECT_TRUE(l.Check("someone-new", "198.51.100.8", At(200)).has_value());
  // The first failure (t=0) ages out at t=900: then one more attempt is allowed.
  EXPECT_FALSE(l.Check("someone-new", "198.51.100.7", At(899)).has_value());
  EXPECT_TRUE(l.Check("someone-new", "198.51.100.7", At(900)).has_value());
  l.RecordFailure("someone-new", "198.51.100.7", At(900));
  auto again = l.Check("someone-new", "198.51.100.7", At(901));
  ASSERT_FALSE(again.has_value());
  EXPECT_NE(again.error().message().find(FormatRfc3339(At(910))), std::string::npos)
      << again.error().message();
}

TEST(LoginLimiterTest, SuccessDoesNotResetTheSourceCounter) {
  LoginLimiter l;
  for (int i = 0; i < 20; ++i) l.RecordFailure("user" + std::to_string(i), "203.0.113.5", At(0));
  l.RecordSuccess("user0", At(1));
  EXPECT_FALSE(l.Check("user0", "203.0.113.5", At(2)).has_value());
}

TEST(LoginLimiterTest, Ipv6CountsPerSlash64AndMappedIpv4AsIpv4) {
  LoginLimiter l;
  for (int i = 0; i < 20; ++i) {
    l.RecordFailure("u" + std::to_string(i), "2001:db8:1:2::" + std::to_string(i + 1), At(0));
  }
  EXPECT_FALSE(l.Check("x", "2001:db8:1:2:ffff::1", At(1)).has_value());
  EXPECT_TRUE(l.Check("x", "2001:db8:1:3::1", At(1)).has_value());

  for (int i = 0; i < 10; ++i) l.RecordFailure("v" + std::to_string(i), "192.0.2.1", At(0));
  for (int i = 0; i < 10; ++i) l.RecordFailure("w" + std::to_string(i), "::ffff:192.0.2.1", At(0));
  EXPECT_FALSE(l.Check("x", "192.0.2.1", At(1)).has_value());
}

TEST(LoginLimiterTest, UnknownAccountsAreCountedLikeKnownOnes) {
  LoginLimiter l;
  Fail(l, "no-such-user", "10.0.0.1", 5, At(0));
  EXPECT_FALSE(l.Check("no-such-user", "10.0.0.9", At(1)).has_value());
}

TEST(LoginLimiterTest, RestoredLockIsEnforcedAndKeepsItsEscalation) {
  LoginLimiter l;
  l.RestoreAccountLock("alice", AccountLock{At(600), 2}, At(0));
  EXPECT_FALSE(l.Check("alice", "10.0.0.1", At(599)).has_value());
  ASSERT_TRUE(l.LockedUntil("alice", At(1)).has_value());
  EXPECT_EQ(*l.LockedUntil("alice", At(1)), (AccountLock{At(600), 2}));
  EXPECT_TRUE(l.Check("alice", "10.0.0.1", At(600)).has_value());
  Fail(l, "alice", "10.0.0.1", 4, At(700));
  auto lock = l.RecordFailure("alice", "10.0.0.1", At(700));
  ASSERT_TRUE(lock.has_value());
  EXPECT_EQ(lock->lockouts, 3);
  EXPECT_EQ(lock->locked_until, At(700 + 3600));
}

TEST(LoginLimiterTest, TableSizeIsCappedAndIdleEntriesAreDropped) {
  LoginLimiterConfig c;
  c.max_entries = 100;
  LoginLimiter l(c);
  for (int i = 0; i < 1000; ++i) {
    l.RecordFailure("acct" + std::to_string(i),
                    "10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256), At(i));
  }
  EXPECT_EQ(l.AccountEntries(), 100u);
  EXPECT_EQ(l.SourceEntries(), 100u);
  // Once the window has passed, writes drop idle entries from the cold end.
  for (int i = 0; i < 60; ++i) l.RecordFailure("fresh", "10.9.9.9", At(5000 + i));
  EXPECT_LT(l.AccountEntries(), 100u);
  EXPECT_LT(l.SourceEntries(), 100u);
}

TEST(LoginLimiterTest, EvictionPrefersEntriesWithoutALiveLock) {
  LoginLimiterConfig c;
  c.max_entries = 10;
  LoginLimiter l(c);
  Fail(l, "victim", "10.0.0.1", 5, At(0));  // locked until 900, the coldest entry
  for (int i = 0; i < 30; ++i) l.RecordFailure("spray" + std::to_string(i), "10.0.0.2", At(1));
  EXPECT_EQ(l.AccountEntries(), 10u);
  EXPECT_FALSE(l.Check("victim", "10.0.0.3", At(2)).has_value());
}

TEST(LoginLimiterTest, ConcurrentUseIsSafe) {
  LoginLimiterConfig c;
  c.max_entries = 500;
  LoginLimiter l(c);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&l, t] {
      for (int i = 0; i < 2000; ++i) {
        std::string account = "a" + std::to_string((i * 7 + t) % 800);
        std::string source = "10.1." + std::to_string(t) + "." + std::to_string(i % 250);
        (void)l.Check(account, source, At(i));
        l.RecordFailure(account, source, At(i));
        if (i % 13 == 0) l.RecordSuccess(account, At(i));
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_LE(l.AccountEntries(), 500u);
  EXPECT_LE(l.SourceEntries(), 500u);
}

}  // namespace
}  // namespace bg::auth
