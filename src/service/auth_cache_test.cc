#include "service/auth_cache.h"

#include <gtest/gtest.h>

namespace bg::service {
namespace {

store::UserRecord User(std::string name, bool disabled) {
  store::UserRecord u;
  u.name = std::move(name);
  u.disabled = disabled;
  return u;
}

TEST(AuthCacheTest, EntriesExpireAfterTheTtl) {
  AuthCache c(/*ttl_micros=*/1000);
  c.PutUser(User("alice", false), 5000);
  EXPECT_NE(c.User("alice", 5500), nullptr);
  EXPECT_NE(c.User("alice", 6000), nullptr);
  EXPECT_EQ(c.User("alice", 6001), nullptr);
  EXPECT_EQ(c.User("alice", 5500), nullptr);  // gone once expired
}

TEST(AuthCacheTest, AClockStepBackwardsDropsTheEntry) {
  AuthCache c(1000);
  c.PutUser(User("alice", false), 5000);
  EXPECT_EQ(c.User("alice", 4000), nullptr);
}

TEST(AuthCacheTest, ForgetOnExitForgetsAfterTheScope) {
  AuthCache c(1'000'000);
  store::TokenRecord t;
  t.token_hash = "h";
  t.user = "alice";
  c.PutToken(t, 1);
  c.PutUser(User("alice", false), 1);
  {
    ForgetOnExit f(c, ForgetOnExit::Kind::kUser, "alice");
    EXPECT_NE(c.User("alice", 2), nullptr);
  }
  EXPECT_EQ(c.User("alice", 2), nullptr);
  EXPECT_NE(c.Token("h", 2), nullptr);
  { ForgetOnExit f(c, ForgetOnExit::Kind::kToken, "h"); }
  EXPECT_EQ(c.Token("h", 2), nullptr);
}

TEST(AuthCacheTest, MemoryIsBounded) {
  AuthCache c(1'000'000, /*max_entries=*/3);
  for (int i = 0; i < 10; ++i) c.PutUser(User("u" + std::to_string(i), false), 1);
  int present = 0;
  for (int i = 0; i < 10; ++i) present += (c.User("u" + std::to_string(i), 2) != nullptr);
  EXPECT_LE(present, 3);
  EXPECT_NE(c.User("u9", 2), nullptr);
}

}  // namespace
}  // namespace bg::service

#include "service/request_cache.h"

namespace bg::service {
namespace {

core::Request Req(const char* id, int64_t version, core::RequestState s) {
  core::Request r;
  r.id = RequestId(id);
  r.version = version;
  r.state = s;
  return r;
}

TEST(RequestCacheTest, AnOlderVersionNeverReplacesANewerOne) {
  RequestCache c;
  c.Put(Req("a", 2, core::RequestState::kActive), 0);
  c.Put(Req("a", 1, core::RequestState::kPending), 0);  // a read that raced the commit
  EXPECT_EQ(c.Get(RequestId("a"), 0)->state, core::RequestState::kActive);
  c.Put(Req("a", 3, core::RequestState::kExpired), 0);
  EXPECT_EQ(c.Get(RequestId("a"), 0)->state, core::RequestState::kExpired);
  EXPECT_EQ(c.Get(RequestId("b"), 0), nullptr);
}

TEST(RequestCacheTest, MemoryIsBounded) {
  RequestCache c(/*max_entries=*/2);
  for (const char* id : {"a", "b", "c"}) c.Put(Req(id, 1, core::RequestState::kPending), 0);
  int present = 0;
  for (const char* id : {"a", "b", "c"}) present += c.Get(RequestId(id), 0) != nullptr;
  EXPECT_LE(present, 2);
  EXPECT_NE(c.Get(RequestId("c"), 0), nullptr);
}

// Another process (`user disable` beside the server) may change a request in the store: an
// entry is served only for the ttl, then the store is read again.
TEST(RequestCacheTest, EntriesAreServedOnlyForTheTtl) {
  RequestCache c(/*max_entries=*/10, /*ttl_micros=*/1'000'000);
  c.Put(Req("a", 1, core::RequestState::kActive), 5'000'000);
  EXPECT_NE(c.Get(RequestId("a"), 5'999'999), nullptr);
  EXPECT_EQ(c.Get(RequestId("a"), 6'000'000), nullptr);
  c.Put(Req("a", 1, core::RequestState::kActive), 6'000'000);  // re-read: the same version
  EXPECT_NE(c.Get(RequestId("a"), 6'500'000), nullptr);
}

}  // namespace
}  // namespace bg::service
