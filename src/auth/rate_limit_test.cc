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

// Seconds until the pair may try again (0: now).
int64_t Wait(const LoginLimiter& l, const std::string& account, const std::string& source,
             Timestamp now) {
  auto st = l.Check(account, source, now);
  if (st.has_value()) return 0;
  EXPECT_EQ(st.error().code(), ErrorCode::kResourceExhausted);
  EXPECT_GT(st.error().retry_after_seconds(), 0);
  return st.error().retry_after_seconds();
}

// The attacker this throttle is built against: one (account, source) pair retrying the very
// second it is allowed to. Returns how many attempts it gets within `seconds`.
int AttemptsWithin(LoginLimiter& l, const std::string& account, const std::string& source,
                   int64_t seconds) {
  int attempts = 0;
  int64_t t = 0;
  while (t < seconds) {
    const int64_t wait = Wait(l, account, source, At(t));
    if (wait > 0) {
      t += wait;
      continue;
    }
    ++attempts;
    l.RecordFailure(account, source, At(t));
  }
  return attempts;
}

TEST(LoginLimiterTest, ACleanSourceLogsInWhateverOtherSourcesDo) {
  LoginLimiter l;
  // 1,000 failures for alice from one address and one from each of 200 others.
  Fail(l, "alice", "198.51.100.7", 1000, At(0));
  for (int i = 0; i < 200; ++i) l.RecordFailure("alice", "203.0.113." + std::to_string(i), At(1));
  EXPECT_GT(Wait(l, "alice", "198.51.100.7", At(2)), 0);
  // Her own laptop has no failures: her correct password + TOTP is checked at once.
  EXPECT_TRUE(l.Check("alice", "10.0.0.1", At(2)).has_value());
}

TEST(LoginLimiterTest, APairWaitsTwiceAsLongAfterEachFailureBeyondThreeUpToFifteenMinutes) {
  LoginLimiter l;
  std::vector<int64_t> waits;
  int64_t t = 0;
  for (int i = 0; i < 14; ++i) {
    ASSERT_EQ(Wait(l, "alice", "10.0.0.1", At(t)), 0) << i;
    l.RecordFailure("alice", "10.0.0.1", At(t));
    waits.push_back(Wait(l, "alice", "10.0.0.1", At(t)));
    t += waits.back();
  }
  EXPECT_EQ(waits, (std::vector<int64_t>{0, 0, 0, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900}));
  // Attempts refused while waiting are not counted (the caller records only checked ones), so
  // waiting out the time always gets one attempt.
  EXPECT_GT(Wait(l, "alice", "10.0.0.1", At(t - 1)), 0);
  EXPECT_EQ(Wait(l, "alice", "10.0.0.1", At(t)), 0);
}

// The limits, measured: what one guesser gets from one address against one account.
TEST(LoginLimiterTest, LimitsPerAccountAndAddressAreEightAMinuteFifteenAnHourThenFourAnHour) {
  LoginLimiter first_minute;
  EXPECT_EQ(AttemptsWithin(first_minute, "alice", "10.0.0.1", 60), 8);
  LoginLimiter hour;
  EXPECT_EQ(AttemptsWithin(hour, "alice", "10.0.0.1", 3600), 15);
  LoginLimiter day;
  // 15 in the first hour, then one every 15 minutes: 107 a day. Against a password *and* a
  // 6-digit code that changes every 30 s, that is no search at all.
  EXPECT_EQ(AttemptsWithin(day, "alice", "10.0.0.1", 24 * 3600), 107);
}

TEST(LoginLimiterTest, MessageSaysWhenToRetryAndNothingAboutTheFactor) {
  LoginLimiter l;
  Fail(l, "alice", "10.0.0.1", 8, At(0));  // the 8th beyond 3 free: 2^4 * 2 s = 32 s
  auto st = l.Check("alice", "10.0.0.1", At(2));
  ASSERT_FALSE(st.has_value());
  const std::string& m = st.error().message();
  EXPECT_EQ(st.error().retry_after_seconds(), 30);
  EXPECT_NE(m.find(FormatRfc3339(At(32))), std::string::npos) << m;
  EXPECT_NE(m.find("30s"), std::string::npos) << m;
  for (const char* leak : {"password", "totp", "TOTP", "alice", "10.0.0.1", "account"}) {
    EXPECT_EQ(m.find(leak), std::string::npos) << leak << " in: " << m;
  }
}

TEST(LoginLimiterTest, SuccessForgetsOnlyThatPair) {
  LoginLimiter l;
  Fail(l, "alice", "10.0.0.1", 6, At(0));
  Fail(l, "alice", "198.51.100.7", 6, At(0));
  l.RecordSuccess("alice", "10.0.0.1", At(1));
  EXPECT_EQ(Wait(l, "alice", "10.0.0.1", At(1)), 0);
  EXPECT_GT(Wait(l, "alice", "198.51.100.7", At(1)), 0);
  // Three free failures again after the success.
  Fail(l, "alice", "10.0.0.1", 3, At(2));
  EXPECT_EQ(Wait(l, "alice", "10.0.0.1", At(2)), 0);
}

TEST(LoginLimiterTest, APairIsForgottenADayAfterItsLastFailure) {
  LoginLimiter l;
  Fail(l, "alice", "10.0.0.1", 20, At(0));
  EXPECT_EQ(Wait(l, "alice", "10.0.0.1", At(899)), 1);
  EXPECT_EQ(Wait(l, "alice", "10.0.0.1", At(900)), 0);
  l.RecordFailure("alice", "10.0.0.1", At(900));  // still remembered: waits 900 s again
  EXPECT_EQ(Wait(l, "alice", "10.0.0.1", At(901)), 899);
  // A day of quiet forgets it: three free failures again.
  Fail(l, "alice", "10.0.0.1", 3, At(900 + 86400));
  EXPECT_EQ(Wait(l, "alice", "10.0.0.1", At(900 + 86400)), 0);
}

TEST(LoginLimiterTest, AnUnlockForgetsTheFailuresBeforeIt) {
  LoginLimiter l;
  Fail(l, "alice", "10.0.0.1", 10, At(0));
  Fail(l, "alice", "10.0.0.2", 10, At(0));
  const Timestamp unlocked = At(5);
  EXPECT_GT(Wait(l, "alice", "10.0.0.1", At(6)), 0);
  EXPECT_TRUE(l.Check("alice", "10.0.0.1", At(6), unlocked).has_value());
  EXPECT_TRUE(l.Check("alice", "10.0.0.2", At(6), unlocked).has_value());
  // Failures after the unlock count from zero.
  for (int i = 0; i < 3; ++i) l.RecordFailure("alice", "10.0.0.1", At(6), unlocked);
  EXPECT_TRUE(l.Check("alice", "10.0.0.1", At(6), unlocked).has_value());
  l.RecordFailure("alice", "10.0.0.1", At(6), unlocked);
  EXPECT_FALSE(l.Check("alice", "10.0.0.1", At(6), unlocked).has_value());
}

// Times are whole seconds. Guesses in the same second as the unlock but after it (seen in CI:
// twelve wrong step-up codes within 300 ms of an unlock, none throttled) still count.
TEST(LoginLimiterTest, FailuresAfterAnUnlockCountEvenWithinItsSecond) {
  LoginLimiter l;
  Fail(l, "carol", "10.0.0.1", 5, At(0));
  const Timestamp unlocked = At(0);
  EXPECT_TRUE(l.Check("carol", "10.0.0.1", At(0), unlocked).has_value());
  for (int i = 0; i < 3; ++i) {
    l.RecordFailure("carol", "10.0.0.1", At(0), unlocked);
    EXPECT_TRUE(l.Check("carol", "10.0.0.1", At(0), unlocked).has_value()) << i;
  }
  l.RecordFailure("carol", "10.0.0.1", At(0), unlocked);
  EXPECT_GT(Wait(l, "carol", "10.0.0.1", At(0)), 0);
  EXPECT_FALSE(l.Check("carol", "10.0.0.1", At(0), unlocked).has_value());
  // A later unlock forgets these too.
  EXPECT_TRUE(l.Check("carol", "10.0.0.1", At(1), At(1)).has_value());
}

TEST(LoginLimiterTest, ASourceOverItsCapSlowsEveryAccountButNeverRefusesACleanOne) {
  LoginLimiter l;
  // Password spraying from one address: 20 accounts, one failure each, within 15 minutes.
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(Wait(l, "user" + std::to_string(i), "198.51.100.7", At(i * 10)), 0);
    l.RecordFailure("user" + std::to_string(i), "198.51.100.7", At(i * 10));
  }
  // Over the cap: every account tried from there waits from its first failure on...
  EXPECT_EQ(Wait(l, "user0", "198.51.100.7", At(200)), 0);  // its only failure was long ago
  l.RecordFailure("user20", "198.51.100.7", At(200));
  EXPECT_EQ(Wait(l, "user20", "198.51.100.7", At(200)), 2);
  l.RecordFailure("user0", "198.51.100.7", At(201));
  EXPECT_EQ(Wait(l, "user0", "198.51.100.7", At(201)), 4);
  // ...but a person behind the same NAT whose own account has no failures is checked at once.
  EXPECT_TRUE(l.Check("bob", "198.51.100.7", At(201)).has_value());
  // Elsewhere the free failures stay.
  Fail(l, "user20", "198.51.100.8", 3, At(201));
  EXPECT_EQ(Wait(l, "user20", "198.51.100.8", At(201)), 0);
  // Once the window has passed (the oldest counted failure ages out), free failures return.
  Fail(l, "carol", "198.51.100.7", 2, At(2000));
  EXPECT_EQ(Wait(l, "carol", "198.51.100.7", At(2000)), 0);
}

TEST(LoginLimiterTest, Ipv6CountsPerSlash64AndMappedIpv4AsIpv4) {
  LoginLimiter l;
  for (int i = 0; i < 4; ++i) {
    l.RecordFailure("alice", "2001:db8:1:2::" + std::to_string(i + 1), At(0));
  }
  EXPECT_GT(Wait(l, "alice", "2001:db8:1:2:ffff::1", At(0)), 0);
  EXPECT_EQ(Wait(l, "alice", "2001:db8:1:3::1", At(0)), 0);

  Fail(l, "bob", "192.0.2.1", 2, At(0));
  Fail(l, "bob", "::ffff:192.0.2.1", 2, At(0));
  EXPECT_GT(Wait(l, "bob", "192.0.2.1", At(0)), 0);
}

TEST(LoginLimiterTest, AnAccountGuessedFromManySourcesRaisesOneAlertAnHour) {
  LoginLimiter l;
  std::vector<int> alerts_at;
  for (int i = 0; i < 30; ++i) {
    auto f = l.RecordFailure("alice", "203.0.113." + std::to_string(i), At(i));
    if (f.alert) alerts_at.push_back(i);
    if (i == 9) {
      EXPECT_EQ(f.account_failures, 10);
    }
  }
  EXPECT_EQ(alerts_at, std::vector<int>{9});
  // Nine failures in a quarter hour are not an alert.
  for (int i = 0; i < 9; ++i) EXPECT_FALSE(l.RecordFailure("bob", "10.1.0.1", At(i * 90)).alert);
  // An hour after the last alert, a new burst alerts again.
  bool again = false;
  for (int i = 0; i < 10; ++i) again = l.RecordFailure("alice", "10.2.0.1", At(3609 + i)).alert;
  EXPECT_TRUE(again);
}

TEST(LoginLimiterTest, UnknownAccountsAreThrottledLikeKnownOnes) {
  LoginLimiter l;
  Fail(l, "no-such-user", "10.0.0.1", 4, At(0));
  EXPECT_EQ(Wait(l, "no-such-user", "10.0.0.1", At(0)), 2);
}

TEST(LoginLimiterTest, TableSizeIsCappedAndIdleEntriesAreDropped) {
  LoginLimiterConfig c;
  c.max_entries = 100;
  LoginLimiter l(c);
  for (int i = 0; i < 1000; ++i) {
    l.RecordFailure("acct" + std::to_string(i),
                    "10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256), At(i));
  }
  EXPECT_EQ(l.PairEntries(), 100u);
  EXPECT_EQ(l.SourceEntries(), 100u);
  EXPECT_EQ(l.AccountEntries(), 100u);
  // Once everything is idle, writes drop idle entries from the cold end.
  for (int i = 0; i < 60; ++i) l.RecordFailure("fresh", "10.9.9.9", At(200'000 + i));
  EXPECT_LT(l.PairEntries(), 100u);
  EXPECT_LT(l.SourceEntries(), 100u);
  EXPECT_LT(l.AccountEntries(), 100u);
}

TEST(LoginLimiterTest, EvictionPrefersPairsThatAreNotWaiting) {
  LoginLimiterConfig c;
  c.max_entries = 10;
  LoginLimiter l(c);
  Fail(l, "victim", "10.0.0.1", 10, At(0));  // waiting, and the coldest entry
  for (int i = 0; i < 30; ++i) l.RecordFailure("spray" + std::to_string(i), "10.0.0.2", At(1));
  EXPECT_EQ(l.PairEntries(), 10u);
  EXPECT_GT(Wait(l, "victim", "10.0.0.1", At(2)), 0);
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
        if (i % 13 == 0) l.RecordSuccess(account, source, At(i));
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_LE(l.PairEntries(), 500u);
  EXPECT_LE(l.SourceEntries(), 500u);
  EXPECT_LE(l.AccountEntries(), 500u);
}

}  // namespace
}  // namespace bg::auth
