// The Store conformance suite: every backend must pass every test here. A backend joins by adding
// an INSTANTIATE_TEST_SUITE_P line with a StoreBackend that opens it on a directory (a backend
// that needs a server says why it cannot run in `unavailable`, and the tests skip).
// PostgreSQL (store/pg_test_util.h): each test gets its own database, dropped afterwards.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <thread>

#include "store/pg_test_util.h"
#include "store/store.h"

namespace bg::store {
namespace {

using core::Request;
using core::RequestState;

struct StoreBackend {
  std::string name;
  // Opens the backend's store kept in `dir`; opening the same dir again must show the same data.
  std::function<Result<std::unique_ptr<Store>>(const std::string& dir)> open;
  // Non-empty: why this backend cannot be tested here (the tests skip).
  std::function<std::string()> unavailable = [] { return std::string(); };
  // Removes what `open` made outside `dir`.
  std::function<void(const std::string& dir)> drop = [](const std::string&) {};
};

void PrintTo(const StoreBackend& b, std::ostream* os) { *os << b.name; }

Timestamp T(int64_t s) { return FromUnixSeconds(1'800'000'000 + s); }

// A request with every field set to a value other than its default.
Request FullRequest(const std::string& id) {
  Request r;
  r.id = RequestId(id);
  r.requester = "alice";
  r.resource = "db-prod";
  r.privilege = "read_write";
  r.connector = "postgres_role";
  r.tier = 3;
  r.emergency = true;
  r.reason = "incident: \"replica\" lag \xc3\xa9 \\ \n tab\t";
  r.ticket = "INC-4711";
  r.source_address = "2001:db8::7";
  r.duration = Seconds(5400);
  r.pool = "dba";
  r.required_approvals = 4;
  r.groups = {core::ApprovalGroup{"dba", 3, "", Seconds(0), false},
              core::ApprovalGroup{"managers", 1, "oncall", Seconds(600), true}};
  r.risk_signals = {"off_hours", "new_source", "burst"};
  r.max_duration = Seconds(7200);
  r.approval_window = Seconds(1800);
  r.mfa_max_age = Seconds(0);
  r.deny_ends_request = false;
  r.review_within = Seconds(259200);
  r.reviewers = 2;
  r.state = RequestState::kActive;
  r.created_at = T(10);
  r.updated_at = T(20);
  r.approval_deadline = T(1810);
  r.starts_at = T(30);
  r.ends_at = T(5430);
  r.approvals = {{"bob", T(15), "ok"}, {"carol", T(16), ""}};
  r.denials = {{"dave", T(17), "not during freeze"}};
  core::Extension e;
  e.duration = Seconds(900);
  e.reason = "need more time";
  e.requested_at = T(40);
  e.deadline = T(640);
  e.required_approvals = 2;
  e.approvals = {{"erin", T(41), "fine"}};
  r.extension = e;
  r.self_approved = true;
  r.auto_approved = true;
  r.needs_review = true;
  r.review_due = T(300000);
  r.warned = true;
  r.ended_by = "frank";
  r.end_reason = "done";
  r.last_error = "connector: timeout";
  r.version = 42;  // the store ignores it and assigns its own
  return r;
}

// A pending request with only the searchable fields set; optionals stay empty.
Request MinimalRequest(const std::string& id, const std::string& requester, int64_t created,
                       RequestState state = RequestState::kPending) {
  Request r;
  r.id = RequestId(id);
  r.requester = requester;
  r.state = state;
  r.created_at = T(created);
  r.updated_at = T(created);
  return r;
}

void ExpectApprovalsEq(const std::vector<core::Approval>& a, const std::vector<core::Approval>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].approver, b[i].approver);
    EXPECT_EQ(a[i].at, b[i].at);
    EXPECT_EQ(a[i].comment, b[i].comment);
  }
}

// Compares every field of core::Request except version.
void ExpectSameRequest(const Request& a, const Request& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.requester, b.requester);
  EXPECT_EQ(a.resource, b.resource);
  EXPECT_EQ(a.privilege, b.privilege);
  EXPECT_EQ(a.connector, b.connector);
  EXPECT_EQ(a.tier, b.tier);
  EXPECT_EQ(a.emergency, b.emergency);
  EXPECT_EQ(a.reason, b.reason);
  EXPECT_EQ(a.ticket, b.ticket);
  EXPECT_EQ(a.source_address, b.source_address);
  EXPECT_EQ(a.duration, b.duration);
  EXPECT_EQ(a.pool, b.pool);
  EXPECT_EQ(a.required_approvals, b.required_approvals);
  ASSERT_EQ(a.groups.size(), b.groups.size());
  for (size_t i = 0; i < a.groups.size(); ++i) {
    EXPECT_EQ(a.groups[i].pool, b.groups[i].pool);
    EXPECT_EQ(a.groups[i].count, b.groups[i].count);
    EXPECT_EQ(a.groups[i].escalate_to, b.groups[i].escalate_to);
    EXPECT_EQ(a.groups[i].escalate_after, b.groups[i].escalate_after);
    EXPECT_EQ(a.groups[i].escalated, b.groups[i].escalated);
  }
  EXPECT_EQ(a.risk_signals, b.risk_signals);
  EXPECT_EQ(a.max_duration, b.max_duration);
  EXPECT_EQ(a.approval_window, b.approval_window);
  EXPECT_EQ(a.mfa_max_age, b.mfa_max_age);
  EXPECT_EQ(a.deny_ends_request, b.deny_ends_request);
  EXPECT_EQ(a.review_within, b.review_within);
  EXPECT_EQ(a.reviewers, b.reviewers);
  EXPECT_EQ(a.state, b.state);
  EXPECT_EQ(a.created_at, b.created_at);
  EXPECT_EQ(a.updated_at, b.updated_at);
  EXPECT_EQ(a.approval_deadline, b.approval_deadline);
  EXPECT_EQ(a.starts_at, b.starts_at);
  EXPECT_EQ(a.ends_at, b.ends_at);
  ExpectApprovalsEq(a.approvals, b.approvals);
  ASSERT_EQ(a.denials.size(), b.denials.size());
  for (size_t i = 0; i < a.denials.size(); ++i) {
    EXPECT_EQ(a.denials[i].approver, b.denials[i].approver);
    EXPECT_EQ(a.denials[i].at, b.denials[i].at);
    EXPECT_EQ(a.denials[i].reason, b.denials[i].reason);
  }
  ASSERT_EQ(a.extension.has_value(), b.extension.has_value());
  if (a.extension) {
    EXPECT_EQ(a.extension->duration, b.extension->duration);
    EXPECT_EQ(a.extension->reason, b.extension->reason);
    EXPECT_EQ(a.extension->requested_at, b.extension->requested_at);
    EXPECT_EQ(a.extension->deadline, b.extension->deadline);
    EXPECT_EQ(a.extension->required_approvals, b.extension->required_approvals);
    ExpectApprovalsEq(a.extension->approvals, b.extension->approvals);
  }
  EXPECT_EQ(a.self_approved, b.self_approved);
  EXPECT_EQ(a.auto_approved, b.auto_approved);
  EXPECT_EQ(a.needs_review, b.needs_review);
  EXPECT_EQ(a.review_due, b.review_due);
  EXPECT_EQ(a.warned, b.warned);
  EXPECT_EQ(a.ended_by, b.ended_by);
  EXPECT_EQ(a.end_reason, b.end_reason);
  EXPECT_EQ(a.last_error, b.last_error);
}

UserRecord FullUser(const std::string& name) {
  UserRecord u;
  u.name = name;
  u.roles = {core::Role::kApprover, core::Role::kAdmin};
  u.password_hash = "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA";
  u.totp_secret_enc = "enc:AAECAw==";
  u.totp_last_step = 59'000'123;
  u.disabled = true;
  u.created_at = T(1);
  u.mfa_verified_at = T(2);
  u.failed_logins = 3;
  u.locked_until = T(900);
  u.unlocked_at = T(950);
  u.email = name + "@example.org";
  PasskeyRecord es;
  es.id = std::string("\x00\xff cred", 7);  // raw bytes, NUL included
  es.alg = -7;
  es.public_key = "\x04" + std::string(64, '\x7f');
  es.sign_count = 4'000'000'000u;
  es.name = "laptop";
  es.created_at = T(3);
  es.last_used_at = T(4);
  PasskeyRecord ed;
  ed.id = "ed";
  ed.alg = -8;
  ed.public_key = std::string(32, '\x01');
  ed.name = "key \"two\"";
  ed.created_at = T(5);
  u.passkeys = {es, ed};
  return u;
}

void ExpectSameUser(const UserRecord& a, const UserRecord& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.roles, b.roles);
  EXPECT_EQ(a.password_hash, b.password_hash);
  EXPECT_EQ(a.totp_secret_enc, b.totp_secret_enc);
  EXPECT_EQ(a.totp_last_step, b.totp_last_step);
  EXPECT_EQ(a.disabled, b.disabled);
  EXPECT_EQ(a.created_at, b.created_at);
  EXPECT_EQ(a.mfa_verified_at, b.mfa_verified_at);
  EXPECT_EQ(a.failed_logins, b.failed_logins);
  EXPECT_EQ(a.locked_until, b.locked_until);
  EXPECT_EQ(a.unlocked_at, b.unlocked_at);
  EXPECT_EQ(a.email, b.email);
  ASSERT_EQ(a.passkeys.size(), b.passkeys.size());
  for (size_t i = 0; i < a.passkeys.size(); ++i) {
    EXPECT_EQ(a.passkeys[i].id, b.passkeys[i].id);
    EXPECT_EQ(a.passkeys[i].alg, b.passkeys[i].alg);
    EXPECT_EQ(a.passkeys[i].public_key, b.passkeys[i].public_key);
    EXPECT_EQ(a.passkeys[i].sign_count, b.passkeys[i].sign_count);
    EXPECT_EQ(a.passkeys[i].name, b.passkeys[i].name);
    EXPECT_EQ(a.passkeys[i].created_at, b.passkeys[i].created_at);
    EXPECT_EQ(a.passkeys[i].last_used_at, b.passkeys[i].last_used_at);
  }
}

AuditAppend Leaf(int64_t index) {
  AuditAppend a;
  a.index = index;
  a.leaf = std::string("leaf\0", 5) + std::to_string(index);
  a.nodes.push_back({0, index, std::string(32, static_cast<char>('a' + index % 26))});
  if (index % 2 == 1) a.nodes.push_back({1, index / 2, std::string(32, '\x01')});
  return a;
}

WriteBatch InsertBatch(const Request& r) {
  WriteBatch b;
  b.requests.push_back({r, 0});
  return b;
}

std::vector<std::string> Ids(const std::vector<Request>& rs) {
  std::vector<std::string> out;
  for (const auto& r : rs) out.push_back(r.id.value());
  return out;
}

class StoreConformanceTest : public ::testing::TestWithParam<StoreBackend> {
 protected:
  void SetUp() override {
    if (std::string why = GetParam().unavailable(); !why.empty()) GTEST_SKIP() << why;
    std::string tmpl = (std::filesystem::temp_directory_path() / "bg_store_XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    Reopen();
  }
  void TearDown() override {
    store_.reset();
    if (dir_.empty()) return;
    GetParam().drop(dir_);
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  void Reopen() {
    store_.reset();
    auto s = GetParam().open(dir_);
    ASSERT_TRUE(s.has_value()) << s.error().ToString();
    store_ = std::move(*s);
  }
  void MustCommit(const WriteBatch& b) {
    Status s = store_->Commit(b);
    ASSERT_TRUE(s.has_value()) << s.error().ToString();
  }
  Request MustGet(const std::string& id) {
    auto r = store_->GetRequest(RequestId(id));
    EXPECT_TRUE(r.has_value()) << r.error().ToString();
    if (!r.has_value() || !r->has_value()) {
      ADD_FAILURE() << "request " << id << " not found";
      return {};
    }
    return **r;
  }
  bool Exists(const std::string& id) {
    auto r = store_->GetRequest(RequestId(id));
    EXPECT_TRUE(r.has_value()) << r.error().ToString();
    return r.has_value() && r->has_value();
  }
  std::vector<std::string> List(const RequestFilter& f) {
    auto rs = store_->ListRequests(f);
    EXPECT_TRUE(rs.has_value()) << rs.error().ToString();
    return rs.has_value() ? Ids(*rs) : std::vector<std::string>{};
  }

  std::string dir_;
  std::unique_ptr<Store> store_;
};

TEST_P(StoreConformanceTest, InsertedRequestRoundTripsEveryField) {
  const Request full = FullRequest("req-full");
  const Request minimal = MinimalRequest("req-min", "bob", 5);
  WriteBatch b;
  b.requests.push_back({full, 0});
  b.requests.push_back({minimal, 0});
  MustCommit(b);

  Request got = MustGet("req-full");
  ExpectSameRequest(full, got);
  EXPECT_EQ(got.version, 1);
  Request got_min = MustGet("req-min");
  ExpectSameRequest(minimal, got_min);
  EXPECT_FALSE(got_min.starts_at.has_value());
  EXPECT_FALSE(got_min.ends_at.has_value());
  EXPECT_FALSE(got_min.extension.has_value());
  EXPECT_FALSE(got_min.review_due.has_value());

  auto missing = store_->GetRequest(RequestId("nope"));
  ASSERT_TRUE(missing.has_value());
  EXPECT_FALSE(missing->has_value());
}

TEST_P(StoreConformanceTest, UpdateReplacesRequestAndBumpsVersion) {
  MustCommit(InsertBatch(FullRequest("r1")));
  Request r = MustGet("r1");
  r.state = RequestState::kRevoked;
  r.extension.reset();
  r.starts_at.reset();
  r.ends_at.reset();
  r.approvals.push_back({"grace", T(99), "late"});
  WriteBatch b;
  b.requests.push_back({r, 1});
  MustCommit(b);
  Request got = MustGet("r1");
  ExpectSameRequest(r, got);
  EXPECT_EQ(got.version, 2);
}

TEST_P(StoreConformanceTest, StaleOrMissingVersionIsConflictAndChangesNothing) {
  MustCommit(InsertBatch(FullRequest("r1")));
  Request changed = MustGet("r1");
  changed.reason = "changed";
  struct Case {
    std::string name;
    std::string id;
    int64_t expected_version;
  };
  for (const Case& c : std::vector<Case>{{"stale version", "r1", 2},
                                         {"negative version", "r1", -1},
                                         {"missing request", "r-missing", 1}}) {
    SCOPED_TRACE(c.name);
    WriteBatch b;
    Request r = changed;
    r.id = RequestId(c.id);
    b.requests.push_back({r, c.expected_version});
    Status s = store_->Commit(b);
    ASSERT_FALSE(s.has_value());
    EXPECT_EQ(s.error().code(), ErrorCode::kConflict) << s.error().ToString();
  }
  Request got = MustGet("r1");
  EXPECT_EQ(got.version, 1);
  EXPECT_EQ(got.reason, FullRequest("r1").reason);
  EXPECT_FALSE(Exists("r-missing"));
}

TEST_P(StoreConformanceTest, DuplicateInsertIsConflict) {
  MustCommit(InsertBatch(MinimalRequest("r1", "alice", 1)));
  Status s = store_->Commit(InsertBatch(MinimalRequest("r1", "mallory", 2)));
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code(), ErrorCode::kConflict);
  EXPECT_EQ(MustGet("r1").requester, "alice");

  // A duplicate within one batch is refused the same way, and nothing of that batch lands.
  WriteBatch b;
  b.requests.push_back({MinimalRequest("r2", "alice", 3), 0});
  b.requests.push_back({MinimalRequest("r2", "alice", 3), 0});
  s = store_->Commit(b);
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code(), ErrorCode::kConflict);
  EXPECT_FALSE(Exists("r2"));
}

TEST_P(StoreConformanceTest, EmptyBatchCommits) {
  MustCommit(WriteBatch{});
  EXPECT_EQ(*store_->AuditSize(), 0);
}

// A batch touching every table, made to fail at one point; nothing of it may remain.
TEST_P(StoreConformanceTest, FailedBatchLeavesNothingBehind) {
  MustCommit(InsertBatch(MinimalRequest("seed", "alice", 1)));
  TokenRecord seed_token{"hash-seed", "alice", T(0), T(3600), "10.0.0.1"};
  WriteBatch seed;
  seed.tokens.push_back(seed_token);
  MustCommit(seed);

  struct Case {
    std::string name;
    std::function<void(WriteBatch&)> spoil;
    ErrorCode code;
  };
  const std::vector<Case> cases = {
      {"version conflict between two good request writes",
       [](WriteBatch& b) {
         b.requests.insert(b.requests.begin() + 1, {MinimalRequest("seed", "alice", 1), 7});
       },
       ErrorCode::kConflict},
      {"duplicate token", [&](WriteBatch& b) { b.tokens.push_back(seed_token); },
       ErrorCode::kConflict},
      {"audit gap after a good append", [](WriteBatch& b) { b.audit.push_back(Leaf(5)); },
       ErrorCode::kFailedPrecondition},
      {"update of an outbox job that does not exist",
       [](WriteBatch& b) {
         OutboxJob j;
         j.id = 999;
         b.outbox.push_back(j);
       },
       ErrorCode::kNotFound},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    WriteBatch b;
    b.requests.push_back({MinimalRequest("new-1", "bob", 2), 0});
    b.requests.push_back({MinimalRequest("new-2", "bob", 3), 0});
    b.users.push_back(FullUser("zed"));
    b.tokens.push_back({"hash-new", "bob", T(0), T(60), ""});
    b.tokens_deleted.push_back("hash-seed");
    b.timers.push_back({0, core::TimerKind::kExpiry, RequestId("new-1"), T(100)});
    b.outbox.push_back({0, "grant", RequestId("new-1"), "{}", 0, T(0), ""});
    b.audit.push_back(Leaf(0));
    b.meta.emplace_back("k", "v");
    b.sources.push_back({"bob", "10.9.9.9", T(2)});
    c.spoil(b);

    Status s = store_->Commit(b);
    ASSERT_FALSE(s.has_value());
    EXPECT_EQ(s.error().code(), c.code) << s.error().ToString();

    EXPECT_FALSE(Exists("new-1"));
    EXPECT_FALSE(Exists("new-2"));
    EXPECT_EQ(MustGet("seed").version, 1);
    EXPECT_FALSE(store_->GetUser("zed")->has_value());
    EXPECT_FALSE(store_->GetToken("hash-new")->has_value());
    EXPECT_TRUE(store_->GetToken("hash-seed")->has_value());
    EXPECT_TRUE(store_->ListTimers()->empty());
    EXPECT_TRUE(store_->ListOutbox()->empty());
    EXPECT_EQ(*store_->AuditSize(), 0);
    EXPECT_TRUE(store_->AuditLeaves(0, 10)->empty());
    EXPECT_EQ(store_->AuditNodeHash(0, 0).error().code(), ErrorCode::kNotFound);
    EXPECT_FALSE(store_->GetMeta("k")->has_value());
    EXPECT_FALSE(*store_->HasUsedSource("bob", "10.9.9.9"));
  }
  // The store is still usable, and the audit log still starts at 0.
  WriteBatch ok;
  ok.audit.push_back(Leaf(0));
  MustCommit(ok);
  EXPECT_EQ(*store_->AuditSize(), 1);
}

TEST_P(StoreConformanceTest, AuditLeavesAreIndexedByRequest) {
  WriteBatch b;
  for (int64_t i = 0; i < 5; ++i) {
    AuditAppend a = Leaf(i);
    a.request = i % 2 == 0 ? "req_even" : (i == 3 ? "req_three" : "");
    b.audit.push_back(a);
  }
  MustCommit(b);
  EXPECT_EQ(store_->AuditIndexesOf(RequestId("req_even"), 1000).value(),
            (std::vector<int64_t>{0, 2, 4}));
  EXPECT_EQ(store_->AuditIndexesOf(RequestId("req_even"), 2).value(), (std::vector<int64_t>{0, 2}));
  EXPECT_EQ(store_->AuditIndexesOf(RequestId("req_three"), 1000).value(),
            (std::vector<int64_t>{3}));
  EXPECT_TRUE(store_->AuditIndexesOf(RequestId(""), 1000).value().empty());
  // A refused batch indexes nothing.
  WriteBatch bad;
  AuditAppend gap = Leaf(9);
  gap.request = "req_gap";
  bad.audit.push_back(gap);
  EXPECT_FALSE(store_->Commit(bad).has_value());
  EXPECT_TRUE(store_->AuditIndexesOf(RequestId("req_gap"), 1000).value().empty());
}

TEST_P(StoreConformanceTest, AuditAppendsMustBeGapFree) {
  auto append = [&](std::vector<int64_t> indexes) {
    WriteBatch b;
    for (int64_t i : indexes) b.audit.push_back(Leaf(i));
    return store_->Commit(b);
  };
  struct Case {
    std::vector<int64_t> indexes;
    bool ok;
    int64_t size_after;
  };
  const std::vector<Case> cases = {
      {{1}, false, 0},                        // gap on an empty log
      {{0}, true, 1},       {{0}, false, 1},  // rewriting leaf 0
      {{1, 3}, false, 1},                     // gap inside a batch
      {{1, 2, 3}, true, 4},                   // several in order in one batch
      {{-1}, false, 4},     {{4}, true, 5},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(::testing::PrintToString(c.indexes));
    Status s = append(c.indexes);
    EXPECT_EQ(s.has_value(), c.ok);
    if (!c.ok) {
      ASSERT_FALSE(s.has_value());
      EXPECT_EQ(s.error().code(), ErrorCode::kFailedPrecondition);
    }
    EXPECT_EQ(*store_->AuditSize(), c.size_after);
  }
  auto leaves = store_->AuditLeaves(0, 5);
  ASSERT_TRUE(leaves.has_value());
  ASSERT_EQ(leaves->size(), 5u);
  for (int64_t i = 0; i < 5; ++i) EXPECT_EQ((*leaves)[i], Leaf(i).leaf);
  EXPECT_EQ(store_->AuditLeaves(3, 100)->size(), 2u);  // fewer when the log is shorter
  EXPECT_EQ(*store_->AuditLeaves(2, 3), std::vector<std::string>{Leaf(2).leaf});
  EXPECT_TRUE(store_->AuditLeaves(5, 5)->empty());
  EXPECT_EQ(store_->AuditLeaves(3, 2).error().code(), ErrorCode::kInvalidArgument);

  EXPECT_EQ(*store_->AuditNodeHash(0, 3), Leaf(3).nodes[0].hash);
  EXPECT_EQ(*store_->AuditNodeHash(1, 1), std::string(32, '\x01'));
  EXPECT_EQ(store_->AuditNodeHash(1, 2).error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(store_->AuditNodeHash(2, 0).error().code(), ErrorCode::kNotFound);
}

TEST_P(StoreConformanceTest, ListRequestsIsNewestFirstWithFiltersAndPaging) {
  // r00..r11, created one second apart; alice owns the even ones; every third is denied.
  WriteBatch b;
  for (int i = 0; i < 12; ++i) {
    std::string id = fmt::format("r{:02}", i);
    b.requests.push_back(
        {MinimalRequest(id, i % 2 == 0 ? "alice" : "bob", i,
                        i % 3 == 0 ? RequestState::kDenied : RequestState::kPending),
         0});
  }
  MustCommit(b);

  auto filter = [](auto mutate) {
    RequestFilter f;
    mutate(f);
    return f;
  };
  struct Case {
    std::string name;
    RequestFilter filter;
    std::vector<std::string> want;
  };
  const std::vector<Case> cases = {
      {"limit", filter([](RequestFilter& f) { f.limit = 3; }), {"r11", "r10", "r09"}},
      {"before_id",
       filter([](RequestFilter& f) {
         f.limit = 3;
         f.before_id = "r09";
       }),
       {"r08", "r07", "r06"}},
      {"last page", filter([](RequestFilter& f) { f.before_id = "r02"; }), {"r01", "r00"}},
      {"state",
       filter([](RequestFilter& f) { f.state = RequestState::kDenied; }),
       {"r09", "r06", "r03", "r00"}},
      {"requester",
       filter([](RequestFilter& f) {
         f.requester = "bob";
         f.limit = 4;
       }),
       {"r11", "r09", "r07", "r05"}},
      {"created_since is inclusive",
       filter([](RequestFilter& f) { f.created_since = T(9); }),
       {"r11", "r10", "r09"}},
      {"all filters",
       filter([](RequestFilter& f) {
         f.requester = "bob";
         f.state = RequestState::kDenied;
         f.created_since = T(2);
         f.before_id = "r11";
       }),
       {"r09", "r03"}},
      {"no match", filter([](RequestFilter& f) { f.requester = "nobody"; }), {}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(List(c.filter), c.want);
  }

  // Paging through everything with before_id visits each request once.
  std::vector<std::string> seen;
  RequestFilter page;
  page.limit = 5;
  for (;;) {
    auto ids = List(page);
    if (ids.empty()) break;
    seen.insert(seen.end(), ids.begin(), ids.end());
    page.before_id = ids.back();
  }
  EXPECT_EQ(seen.size(), 12u);
  EXPECT_EQ(seen.front(), "r11");
  EXPECT_EQ(seen.back(), "r00");

  RequestFilter unknown;
  unknown.before_id = "r-unknown";
  auto bad = store_->ListRequests(unknown);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(bad.error().field(), "before_id");
  RequestFilter zero;
  zero.limit = 0;
  ASSERT_FALSE(store_->ListRequests(zero).has_value());
  EXPECT_EQ(store_->ListRequests(zero).error().field(), "limit");
}

// Newest means latest created_at; requests created in the same second keep insertion order.
TEST_P(StoreConformanceTest, ListOrdersByCreationTimeAndPagesThroughTies) {
  WriteBatch b;
  b.requests.push_back({MinimalRequest("a", "alice", 5), 0});
  b.requests.push_back({MinimalRequest("b", "alice", 3), 0});
  MustCommit(b);
  WriteBatch later;
  later.requests.push_back({MinimalRequest("c", "alice", 5), 0});
  later.requests.push_back({MinimalRequest("d", "alice", 4), 0});
  MustCommit(later);
  EXPECT_EQ(List(RequestFilter{}), (std::vector<std::string>{"c", "a", "d", "b"}));

  for (bool by_requester : {false, true}) {
    SCOPED_TRACE(by_requester ? "requester filter" : "no filter");
    RequestFilter page;
    page.limit = 1;
    if (by_requester) page.requester = "alice";
    std::vector<std::string> seen;
    for (int i = 0; i < 10; ++i) {
      auto ids = List(page);
      if (ids.empty()) break;
      seen.push_back(ids[0]);
      page.before_id = ids[0];
    }
    EXPECT_EQ(seen, (std::vector<std::string>{"c", "a", "d", "b"}));
  }
}

TEST_P(StoreConformanceTest, ListLimitIsCappedAtOneThousand) {
  WriteBatch b;
  for (int i = 0; i < 1005; ++i) {
    b.requests.push_back({MinimalRequest(fmt::format("r{}", i), "alice", i), 0});
  }
  MustCommit(b);
  RequestFilter f;
  f.limit = 5000;
  EXPECT_EQ(List(f).size(), 1000u);
}

TEST_P(StoreConformanceTest, OpenRequestsAreTheNonTerminalOnes) {
  const std::vector<RequestState> states = {RequestState::kPending,   RequestState::kApproved,
                                            RequestState::kActive,    RequestState::kExpired,
                                            RequestState::kRevoked,   RequestState::kDenied,
                                            RequestState::kCancelled, RequestState::kTimedOut};
  WriteBatch b;
  for (size_t i = 0; i < states.size(); ++i) {
    b.requests.push_back({MinimalRequest(fmt::format("r{}", i), "alice", i, states[i]), 0});
  }
  MustCommit(b);
  auto open = store_->ListOpenRequests();
  ASSERT_TRUE(open.has_value()) << open.error().ToString();
  EXPECT_EQ(Ids(*open), (std::vector<std::string>{"r0", "r1", "r2"}));

  // Ending one removes it.
  Request r1 = MustGet("r1");
  r1.state = RequestState::kCancelled;
  WriteBatch end;
  end.requests.push_back({r1, r1.version});
  MustCommit(end);
  EXPECT_EQ(Ids(*store_->ListOpenRequests()), (std::vector<std::string>{"r0", "r2"}));
}

TEST_P(StoreConformanceTest, CountsRequestsBySinceAndByState) {
  WriteBatch b;
  b.requests.push_back({MinimalRequest("a1", "alice", 10), 0});
  b.requests.push_back({MinimalRequest("a2", "alice", 20, RequestState::kActive), 0});
  b.requests.push_back({MinimalRequest("a3", "alice", 30, RequestState::kActive), 0});
  b.requests.push_back({MinimalRequest("b1", "bob", 30, RequestState::kTimedOut), 0});
  MustCommit(b);
  EXPECT_EQ(*store_->CountRequestsSince("alice", T(0), 100), 3);
  EXPECT_EQ(*store_->CountRequestsSince("alice", T(20), 100), 2);  // inclusive
  EXPECT_EQ(*store_->CountRequestsSince("alice", T(31), 100), 0);
  EXPECT_EQ(*store_->CountRequestsSince("bob", T(0), 100), 1);
  EXPECT_EQ(*store_->CountRequestsSince("carol", T(0), 100), 0);
  EXPECT_EQ(*store_->CountRequestsSince("alice", T(0), 2), 2);  // capped

  auto counts = store_->CountRequestsByState(false);
  ASSERT_TRUE(counts.has_value()) << counts.error().ToString();
  std::map<std::string, int64_t> m(counts->begin(), counts->end());
  EXPECT_EQ(m.size(), 8u);  // every state, zero or not
  EXPECT_EQ(m["pending"], 1);
  EXPECT_EQ(m["active"], 2);
  EXPECT_EQ(m["timed_out"], 1);
  EXPECT_EQ(m["denied"], 0);
}

// Drills are apart in statistics (issue 15): a drill's request counts with the drills only, and
// stays there when it changes.
TEST_P(StoreConformanceTest, DrillRequestsAreCountedApart) {
  WriteBatch b;
  b.requests.push_back({MinimalRequest("r1", "alice", 10, RequestState::kActive), 0});
  core::Request drill = MinimalRequest("d1", "alice", 11, RequestState::kPending);
  drill.drill_id = "drill-1";
  b.requests.push_back({drill, 0});
  MustCommit(b);
  auto counted = [&](bool drills) {
    auto c = store_->CountRequestsByState(drills);
    EXPECT_TRUE(c.has_value()) << c.error().ToString();
    return c ? std::map<std::string, int64_t>(c->begin(), c->end())
             : std::map<std::string, int64_t>{};
  };
  auto real = counted(false), drills = counted(true);
  EXPECT_EQ(drills.size(), 8u);
  EXPECT_EQ(real["active"], 1);
  EXPECT_EQ(real["pending"], 0);
  EXPECT_EQ(drills["pending"], 1);
  EXPECT_EQ(drills["active"], 0);

  WriteBatch u;
  drill.state = RequestState::kActive;
  u.requests.push_back({drill, 1});
  MustCommit(u);
  real = counted(false);
  drills = counted(true);
  EXPECT_EQ(real["active"], 1);
  EXPECT_EQ(drills["active"], 1);
  EXPECT_EQ(drills["pending"], 0);
}

TEST_P(StoreConformanceTest, TimersGetIdsAndAreDeleted) {
  WriteBatch b;
  b.timers.push_back({0, core::TimerKind::kExpiry, RequestId("r1"), T(300)});
  b.timers.push_back({77, core::TimerKind::kApprovalTimeout, RequestId("r2"), T(100)});
  b.timers.push_back({0, core::TimerKind::kExpiryWarning, RequestId("r1"), T(200)});
  b.timers.push_back({0, core::TimerKind::kExtensionTimeout, RequestId("r3"), T(400)});
  MustCommit(b);
  auto timers = store_->ListTimers();
  ASSERT_TRUE(timers.has_value()) << timers.error().ToString();
  ASSERT_EQ(timers->size(), 4u);
  // Ordered by due time.
  EXPECT_EQ((*timers)[0].kind, core::TimerKind::kApprovalTimeout);
  EXPECT_EQ((*timers)[0].request, RequestId("r2"));
  EXPECT_EQ((*timers)[0].at, T(100));
  EXPECT_EQ((*timers)[1].kind, core::TimerKind::kExpiryWarning);
  EXPECT_EQ((*timers)[2].kind, core::TimerKind::kExpiry);
  EXPECT_EQ((*timers)[3].kind, core::TimerKind::kExtensionTimeout);
  std::set<int64_t> ids;
  for (const auto& t : *timers) ids.insert(t.id);
  EXPECT_EQ(ids.size(), 4u);
  EXPECT_EQ(ids.count(0), 0u);

  WriteBatch del;
  del.timers_deleted = {(*timers)[0].id, (*timers)[2].id};
  MustCommit(del);
  auto left = store_->ListTimers();
  ASSERT_EQ(left->size(), 2u);
  EXPECT_EQ((*left)[0].id, (*timers)[1].id);
  EXPECT_EQ((*left)[1].id, (*timers)[3].id);

  // Ids are not reused after deletion.
  WriteBatch more;
  more.timers.push_back({0, core::TimerKind::kExpiry, RequestId("r4"), T(50)});
  MustCommit(more);
  EXPECT_GT(store_->ListTimers()->front().id, *ids.rbegin());
}

TEST_P(StoreConformanceTest, OutboxJobsAreInsertedUpdatedAndDeleted) {
  WriteBatch b;
  b.outbox.push_back({0, "grant", RequestId("r1"), R"({"a":1})", 0, T(0), ""});
  b.outbox.push_back({0, "alert", RequestId("r2"), R"({"b":2})", 0, T(1), ""});
  MustCommit(b);
  auto jobs = store_->ListOutbox();
  ASSERT_TRUE(jobs.has_value()) << jobs.error().ToString();
  ASSERT_EQ(jobs->size(), 2u);
  OutboxJob first = (*jobs)[0];
  EXPECT_GT(first.id, 0);
  EXPECT_EQ(first.kind, "grant");
  EXPECT_EQ(first.request, RequestId("r1"));
  EXPECT_EQ(first.payload, R"({"a":1})");
  EXPECT_LT(first.id, (*jobs)[1].id);

  // An update changes only attempts, next_attempt and last_error.
  OutboxJob retry = first;
  retry.attempts = 3;
  retry.next_attempt = T(60);
  retry.last_error = "connection refused";
  retry.kind = "revoke";
  retry.payload = "ignored";
  WriteBatch upd;
  upd.outbox.push_back(retry);
  MustCommit(upd);
  OutboxJob got = store_->ListOutbox()->front();
  EXPECT_EQ(got.id, first.id);
  EXPECT_EQ(got.attempts, 3);
  EXPECT_EQ(got.next_attempt, T(60));
  EXPECT_EQ(got.last_error, "connection refused");
  EXPECT_EQ(got.kind, "grant");
  EXPECT_EQ(got.payload, R"({"a":1})");

  WriteBatch done;
  done.outbox_deleted.push_back(first.id);
  MustCommit(done);
  ASSERT_EQ(store_->ListOutbox()->size(), 1u);
  EXPECT_EQ(store_->ListOutbox()->front().kind, "alert");
}

TEST_P(StoreConformanceTest, TokensAreFoundByHashAndDeleted) {
  TokenRecord t{"ab12", "alice", T(0), T(3600), "192.0.2.1"};
  WriteBatch b;
  b.tokens.push_back(t);
  MustCommit(b);
  auto got = store_->GetToken("ab12");
  ASSERT_TRUE(got.has_value() && got->has_value());
  EXPECT_EQ((*got)->token_hash, "ab12");
  EXPECT_EQ((*got)->user, "alice");
  EXPECT_EQ((*got)->issued_at, T(0));
  EXPECT_EQ((*got)->expires_at, T(3600));
  EXPECT_EQ((*got)->source_address, "192.0.2.1");
  EXPECT_EQ((*got)->scope, "");
  EXPECT_FALSE(store_->GetToken("AB12")->has_value());
  // A scoped token keeps its scope.
  WriteBatch scoped;
  scoped.tokens.push_back({"cd34", "alice", T(0), T(60), "", "recording:req_1"});
  MustCommit(scoped);
  EXPECT_EQ((*store_->GetToken("cd34"))->scope, "recording:req_1");

  Status dup = store_->Commit(b);
  ASSERT_FALSE(dup.has_value());
  EXPECT_EQ(dup.error().code(), ErrorCode::kConflict);

  // An update replaces the token's family, MFA time and step-up failures; one for a token that
  // is gone changes nothing.
  TokenRecord updated = t;
  updated.family_started_at = T(-60);
  updated.mfa_verified_at = T(30);
  updated.step_up_failures = 4;
  TokenRecord gone{"ef56", "alice", T(0), T(60), ""};
  WriteBatch upd;
  upd.tokens_updated = {updated, gone};
  MustCommit(upd);
  auto after = store_->GetToken("ab12");
  ASSERT_TRUE(after.has_value() && after->has_value());
  EXPECT_EQ((*after)->family_started_at, T(-60));
  EXPECT_EQ((*after)->mfa_verified_at, T(30));
  EXPECT_EQ((*after)->step_up_failures, 4);
  EXPECT_FALSE(store_->GetToken("ef56")->has_value());
  EXPECT_FALSE((*store_->GetToken("cd34"))->mfa_verified_at.has_value());

  WriteBatch del;
  del.tokens_deleted.push_back("ab12");
  del.tokens_deleted.push_back("never-existed");
  MustCommit(del);
  EXPECT_FALSE(store_->GetToken("ab12")->has_value());
}

TEST_P(StoreConformanceTest, UsersAreUpsertedByName) {
  UserRecord full = FullUser("carol");
  UserRecord plain;
  plain.name = "alice";
  plain.created_at = T(5);
  WriteBatch b;
  b.users = {full, plain};
  MustCommit(b);
  auto got = store_->GetUser("carol");
  ASSERT_TRUE(got.has_value() && got->has_value()) << (got ? "" : got.error().ToString());
  ExpectSameUser(full, **got);
  auto got_plain = store_->GetUser("alice");
  ASSERT_TRUE(got_plain.has_value() && got_plain->has_value());
  ExpectSameUser(plain, **got_plain);
  EXPECT_TRUE((*got_plain)->roles.empty());
  EXPECT_FALSE(store_->GetUser("nobody")->has_value());

  UserRecord changed = full;
  changed.roles = {core::Role::kRequester, core::Role::kAuditor};
  changed.mfa_verified_at.reset();
  changed.locked_until.reset();
  changed.failed_logins = 0;
  changed.disabled = false;
  WriteBatch upd;
  upd.users.push_back(changed);
  MustCommit(upd);
  ExpectSameUser(changed, **store_->GetUser("carol"));

  auto all = store_->ListUsers();
  ASSERT_TRUE(all.has_value()) << all.error().ToString();
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].name, "alice");
  EXPECT_EQ((*all)[1].name, "carol");
}

TEST_P(StoreConformanceTest, SourceAddressUsesAreRemembered) {
  EXPECT_FALSE(*store_->HasUsedSource("alice", "10.0.0.1"));
  WriteBatch b;
  b.sources.push_back({"alice", "10.0.0.1", T(1)});
  MustCommit(b);
  b.sources[0].at = T(2);  // seen again
  MustCommit(b);
  EXPECT_TRUE(*store_->HasUsedSource("alice", "10.0.0.1"));
  EXPECT_FALSE(*store_->HasUsedSource("alice", "10.0.0.2"));
  EXPECT_FALSE(*store_->HasUsedSource("bob", "10.0.0.1"));
}

TEST_P(StoreConformanceTest, MetaIsUpserted) {
  EXPECT_FALSE(store_->GetMeta("checkpoint")->has_value());
  WriteBatch b;
  b.meta = {{"checkpoint", "v1"}, {"other", ""}};
  MustCommit(b);
  EXPECT_EQ(**store_->GetMeta("checkpoint"), "v1");
  EXPECT_EQ(**store_->GetMeta("other"), "");
  WriteBatch upd;
  upd.meta = {{"checkpoint", "v2"}};
  MustCommit(upd);
  EXPECT_EQ(**store_->GetMeta("checkpoint"), "v2");
}

TEST_P(StoreConformanceTest, EverythingSurvivesReopening) {
  WriteBatch b;
  b.requests.push_back({FullRequest("r1"), 0});
  b.users.push_back(FullUser("carol"));
  b.tokens.push_back({"tok", "carol", T(0), T(10), "::1"});
  b.timers.push_back({0, core::TimerKind::kExpiry, RequestId("r1"), T(5)});
  b.outbox.push_back({0, "grant", RequestId("r1"), "{}", 1, T(3), "boom"});
  b.audit = {Leaf(0), Leaf(1)};
  b.meta = {{"k", "v"}};
  b.sources.push_back({"carol", "::1", T(0)});
  MustCommit(b);
  Reopen();
  Reopen();  // twice: opening an up-to-date store must not redo its setup

  ExpectSameRequest(FullRequest("r1"), MustGet("r1"));
  EXPECT_EQ(MustGet("r1").version, 1);
  ExpectSameUser(FullUser("carol"), **store_->GetUser("carol"));
  EXPECT_TRUE(store_->GetToken("tok")->has_value());
  ASSERT_EQ(store_->ListTimers()->size(), 1u);
  ASSERT_EQ(store_->ListOutbox()->size(), 1u);
  EXPECT_EQ(store_->ListOutbox()->front().last_error, "boom");
  EXPECT_EQ(**store_->GetMeta("k"), "v");
  EXPECT_TRUE(*store_->HasUsedSource("carol", "::1"));
  EXPECT_EQ(*store_->AuditSize(), 2);
  EXPECT_EQ(*store_->AuditNodeHash(1, 0), std::string(32, '\x01'));

  // The audit size is known again after reopening: a gap is refused, the next index accepted.
  WriteBatch gap;
  gap.audit.push_back(Leaf(3));
  EXPECT_EQ(store_->Commit(gap).error().code(), ErrorCode::kFailedPrecondition);
  WriteBatch next;
  next.audit.push_back(Leaf(2));
  Request r1 = MustGet("r1");
  r1.warned = false;
  next.requests.push_back({r1, 1});
  MustCommit(next);
  EXPECT_EQ(*store_->AuditSize(), 3);
  EXPECT_EQ(MustGet("r1").version, 2);
}

TEST_P(StoreConformanceTest, ReadersRunWhileTheWriterCommits) {
  constexpr int kBatches = 100;
  std::atomic<bool> done{false};
  std::atomic<int> read_errors{0};
  std::atomic<int> reads{0};
  std::string first_error;

  std::thread writer([&] {
    for (int i = 0; i < kBatches; ++i) {
      WriteBatch b;
      b.requests.push_back({MinimalRequest(fmt::format("r{:04}", i), "alice", i), 0});
      b.audit.push_back(Leaf(i));
      Status s = store_->Commit(b);
      if (!s.has_value()) {
        ADD_FAILURE() << "commit " << i << ": " << s.error().ToString();
        break;
      }
    }
    done = true;
  });
  auto reader = [&] {
    int64_t last_size = 0;
    // At least one full pass even if the writer finishes first.
    do {
      auto size = store_->AuditSize();
      RequestFilter f;
      f.limit = 5;
      auto list = store_->ListRequests(f);
      if (!size.has_value() || !list.has_value()) {
        ++read_errors;
        continue;
      }
      // The size never goes back, and every leaf it promises can be read.
      if (*size < last_size) ++read_errors;
      last_size = *size;
      if (*size > 0) {
        auto leaves = store_->AuditLeaves(*size - 1, *size);
        if (!leaves.has_value() || leaves->size() != 1) ++read_errors;
      }
      for (const Request& r : *list) {
        auto got = store_->GetRequest(r.id);
        if (!got.has_value() || !got->has_value()) ++read_errors;
      }
      ++reads;
    } while (!done);
  };
  std::thread reader1(reader);
  std::thread reader2(reader);
  writer.join();
  reader1.join();
  reader2.join();
  EXPECT_EQ(read_errors.load(), 0);
  EXPECT_GE(reads.load(), 2);
  EXPECT_EQ(*store_->AuditSize(), kBatches);
  RequestFilter all;
  all.limit = 1000;
  EXPECT_EQ(List(all).size(), static_cast<size_t>(kBatches));
}

// Two writers on the same data (two processes, or two replicas on one database): each appends to
// the audit log at the size it last read, retrying when the other got there first. The log ends
// gap-free with every leaf of both exactly once, and no append overwrote another.
TEST_P(StoreConformanceTest, TwoWritersAppendOneLinearLog) {
  auto second = GetParam().open(dir_);
  ASSERT_TRUE(second.has_value()) << second.error().ToString();
  constexpr int kEach = 40;
  std::atomic<int> unexpected{0};
  auto append = [&](Store& store, const std::string& who) {
    for (int i = 0; i < kEach; ++i) {
      for (int attempt = 0;; ++attempt) {
        auto size = store.AuditSize();
        if (!size.has_value()) {
          ++unexpected;
          return;
        }
        WriteBatch b;
        AuditAppend a = Leaf(*size);
        a.leaf = fmt::format("{}-{}", who, i);
        b.audit.push_back(a);
        Status st = store.Commit(b);
        if (st.has_value()) break;
        const ErrorCode code = st.error().code();
        // The other writer appended first (seen inside the transaction, or by the unique index),
        // or the database was busy: read the size again.
        if (code != ErrorCode::kFailedPrecondition && code != ErrorCode::kConflict &&
            code != ErrorCode::kUnavailable) {
          ADD_FAILURE() << st.error().ToString();
          ++unexpected;
          return;
        }
        if (attempt > 10000) {
          ++unexpected;
          return;
        }
      }
    }
  };
  std::thread a([&] { append(*store_, "a"); });
  std::thread b([&] { append(**second, "b"); });
  a.join();
  b.join();
  EXPECT_EQ(unexpected.load(), 0);
  ASSERT_EQ(*store_->AuditSize(), 2 * kEach);
  EXPECT_EQ(*(*second)->AuditSize(), 2 * kEach);
  auto leaves = store_->AuditLeaves(0, 2 * kEach);
  ASSERT_TRUE(leaves.has_value());
  std::set<std::string> distinct(leaves->begin(), leaves->end());
  EXPECT_EQ(distinct.size(), static_cast<size_t>(2 * kEach));
  for (int i = 0; i < kEach; ++i) {
    EXPECT_TRUE(distinct.count(fmt::format("a-{}", i))) << i;
    EXPECT_TRUE(distinct.count(fmt::format("b-{}", i))) << i;
  }
  // Each writer's own leaves are in its order.
  int last_a = -1;
  for (const std::string& leaf : *leaves) {
    if (leaf[0] != 'a') continue;
    const int n = std::stoi(leaf.substr(2));
    EXPECT_GT(n, last_a);
    last_a = n;
  }
}

// Two writers updating the same request from the same version: exactly one wins each round, the
// other gets Conflict and nothing of its write is kept.
TEST_P(StoreConformanceTest, TwoWritersOnOneVersionOneWins) {
  auto second = GetParam().open(dir_);
  ASSERT_TRUE(second.has_value()) << second.error().ToString();
  MustCommit(InsertBatch(MinimalRequest("r1", "alice", 1)));
  constexpr int kRounds = 30;
  int wins_a = 0;
  int wins_b = 0;
  for (int round = 0; round < kRounds; ++round) {
    Request base = MustGet("r1");
    std::atomic<int> conflicts{0};
    auto update = [&](Store& store, const std::string& reason, int* wins) {
      Request r = base;
      r.reason = reason;
      WriteBatch b;
      b.requests.push_back({r, base.version});
      b.audit.push_back(Leaf(round));
      Status st = store.Commit(b);
      if (st.has_value()) {
        ++*wins;
      } else if (st.error().code() == ErrorCode::kConflict ||
                 st.error().code() == ErrorCode::kFailedPrecondition ||
                 st.error().code() == ErrorCode::kUnavailable) {
        ++conflicts;
      } else {
        ADD_FAILURE() << st.error().ToString();
      }
    };
    const int before = wins_a + wins_b;
    std::thread a([&] { update(*store_, fmt::format("a{}", round), &wins_a); });
    std::thread b([&] { update(**second, fmt::format("b{}", round), &wins_b); });
    a.join();
    b.join();
    ASSERT_EQ(wins_a + wins_b, before + 1) << "round " << round;
    EXPECT_EQ(conflicts.load(), 1);
    const Request now = MustGet("r1");
    EXPECT_EQ(now.version, base.version + 1);
    EXPECT_EQ(*store_->AuditSize(), round + 1);  // the loser's leaf went with its batch
  }
  EXPECT_EQ(wins_a + wins_b, kRounds);
}

// ---- sessions ----------------------------------------------------------------------------------

SessionRecord Session(const std::string& id, const std::string& request, const std::string& user,
                      int64_t started) {
  SessionRecord s;
  s.id = SessionId(id);
  s.request = RequestId(request);
  s.user = user;
  s.started_at = T(started);
  s.header = R"({"version":2,"width":80,"height":24,"timestamp":1800000000})";
  return s;
}

SessionChunk Chunk(const std::string& session, int64_t seq) {
  SessionChunk c;
  c.session = SessionId(session);
  c.seq = seq;
  c.data = fmt::format("[{}.5, \"o\", \"chunk {} \\u001b[0m\\r\\n\"]\n", seq, seq) +
           std::string("\xe2\x82\xac\0binary-safe", 15);
  c.sha256 = fmt::format("{:064x}", seq);
  c.received_at = T(100 + seq);
  return c;
}

TEST_P(StoreConformanceTest, SessionsAndChunksRoundTripEveryField) {
  WriteBatch create;
  create.sessions.push_back({Session("s1", "r1", "alice", 10), -1});
  create.chunks.push_back(Chunk("s1", 0));
  MustCommit(create);

  SessionRecord done = Session("s1", "r1", "alice", 10);
  done.ended_at = T(70);
  done.complete = true;
  done.chunks = 2;
  done.bytes = 123456789012;
  done.last_event_us = 59'000'001;
  done.end_reason = "expired";
  WriteBatch finish;
  finish.sessions.push_back({done, 0});
  finish.chunks.push_back(Chunk("s1", 1));
  MustCommit(finish);

  for (int pass = 0; pass < 2; ++pass) {
    SCOPED_TRACE(pass == 0 ? "as written" : "after reopening");
    auto got = store_->GetSession(SessionId("s1"));
    ASSERT_TRUE(got.has_value()) << got.error().ToString();
    ASSERT_TRUE(got->has_value());
    const SessionRecord& g = **got;
    EXPECT_EQ(g.id.value(), "s1");
    EXPECT_EQ(g.request.value(), "r1");
    EXPECT_EQ(g.user, "alice");
    EXPECT_EQ(g.started_at, T(10));
    EXPECT_EQ(g.ended_at, T(70));
    EXPECT_TRUE(g.complete);
    EXPECT_EQ(g.header, done.header);
    EXPECT_EQ(g.chunks, 2);
    EXPECT_EQ(g.bytes, 123456789012);
    EXPECT_EQ(g.last_event_us, 59'000'001);
    EXPECT_EQ(g.end_reason, "expired");

    auto chunks = store_->GetSessionChunks(SessionId("s1"), 0, 10);
    ASSERT_TRUE(chunks.has_value()) << chunks.error().ToString();
    ASSERT_EQ(chunks->size(), 2u);
    for (int64_t i = 0; i < 2; ++i) {
      const SessionChunk want = Chunk("s1", i);
      const SessionChunk& c = (*chunks)[static_cast<size_t>(i)];
      EXPECT_EQ(c.session.value(), "s1");
      EXPECT_EQ(c.seq, i);
      EXPECT_EQ(c.data, want.data);
      EXPECT_EQ(c.sha256, want.sha256);
      EXPECT_EQ(c.received_at, want.received_at);
    }
    Reopen();
  }
  EXPECT_FALSE(store_->GetSession(SessionId("nope"))->has_value());
  EXPECT_TRUE(store_->GetSessionChunks(SessionId("nope"), 0, 10)->empty());
}

TEST_P(StoreConformanceTest, SessionChunksAreReadInRanges) {
  WriteBatch b;
  SessionRecord s = Session("s1", "r1", "alice", 10);
  s.chunks = 5;
  b.sessions.push_back({s, -1});
  for (int64_t i = 0; i < 5; ++i) b.chunks.push_back(Chunk("s1", i));
  MustCommit(b);
  auto seqs = [&](int64_t from, int64_t limit) {
    std::vector<int64_t> out;
    auto r = store_->GetSessionChunks(SessionId("s1"), from, limit);
    EXPECT_TRUE(r.has_value()) << r.error().ToString();
    if (r.has_value()) {
      for (const auto& c : *r) out.push_back(c.seq);
    }
    return out;
  };
  EXPECT_EQ(seqs(0, 2), (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(seqs(3, 10), (std::vector<int64_t>{3, 4}));
  EXPECT_TRUE(seqs(5, 10).empty());
  EXPECT_TRUE(seqs(0, 0).empty());
  EXPECT_EQ(store_->GetSessionChunks(SessionId("s1"), -1, 1).error().code(),
            ErrorCode::kInvalidArgument);
}

TEST_P(StoreConformanceTest, SessionsAreListedOldestFirstByRequestAndUser) {
  WriteBatch b;
  b.sessions.push_back({Session("s-late", "r1", "alice", 30), -1});
  b.sessions.push_back({Session("s-early", "r1", "alice", 10), -1});
  b.sessions.push_back({Session("s-tie", "r1", "alice", 10), -1});
  b.sessions.push_back({Session("s-bob", "r2", "bob", 20), -1});
  MustCommit(b);
  auto list = [&](std::optional<std::string> request, std::optional<std::string> user, int limit) {
    SessionFilter f;
    if (request) f.request = RequestId(*request);
    f.user = std::move(user);
    f.limit = limit;
    std::vector<std::string> out;
    auto r = store_->ListSessions(f);
    EXPECT_TRUE(r.has_value()) << r.error().ToString();
    if (r.has_value()) {
      for (const auto& s : *r) out.push_back(s.id.value());
    }
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(list("r1", std::nullopt, 100), (V{"s-early", "s-tie", "s-late"}));
  EXPECT_EQ(list("r2", std::nullopt, 100), (V{"s-bob"}));
  EXPECT_EQ(list(std::nullopt, "bob", 100), (V{"s-bob"}));
  EXPECT_EQ(list("r1", "bob", 100), V{});
  EXPECT_EQ(list(std::nullopt, std::nullopt, 100), (V{"s-early", "s-tie", "s-bob", "s-late"}));
  EXPECT_EQ(list(std::nullopt, std::nullopt, 2), (V{"s-early", "s-tie"}));
  SessionFilter bad;
  bad.limit = 0;
  EXPECT_EQ(store_->ListSessions(bad).error().code(), ErrorCode::kInvalidArgument);
}

// A chunk and its audit leaf commit together or not at all, whatever part of the batch fails.
TEST_P(StoreConformanceTest, RefusedSessionWritesLeaveNothingBehind) {
  WriteBatch seed;
  SessionRecord s = Session("s1", "r1", "alice", 10);
  s.chunks = 1;
  seed.sessions.push_back({s, -1});
  seed.chunks.push_back(Chunk("s1", 0));
  MustCommit(seed);

  struct Case {
    std::string name;
    std::function<void(WriteBatch&)> spoil;
  };
  const std::vector<Case> cases = {
      {"the session id exists",
       [](WriteBatch& b) {
         b.sessions.push_back({Session("s1", "r9", "eve", 1), -1});
       }},
      {"a stale chunk count", [&](WriteBatch& b) { b.sessions[0].expected_chunks = 0; }},
      {"an update of a session that does not exist",
       [](WriteBatch& b) {
         b.sessions.push_back({Session("ghost", "r1", "alice", 1), 3});
       }},
      {"a chunk stored before", [](WriteBatch& b) { b.chunks.push_back(Chunk("s1", 0)); }},
      {"the same chunk twice in one batch",
       [](WriteBatch& b) { b.chunks.push_back(Chunk("s1", 1)); }},
      {"a chunk of a session that does not exist",
       [](WriteBatch& b) { b.chunks.push_back(Chunk("ghost", 0)); }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    WriteBatch b;
    SessionRecord next = s;
    next.chunks = 2;
    next.bytes = 99;
    b.sessions.push_back({next, 1});
    b.chunks.push_back(Chunk("s1", 1));
    b.audit.push_back(Leaf(0));
    c.spoil(b);
    Status st = store_->Commit(b);
    ASSERT_FALSE(st.has_value());
    EXPECT_EQ(st.error().code(), ErrorCode::kConflict) << st.error().ToString();

    auto got = store_->GetSession(SessionId("s1"));
    ASSERT_TRUE(got.has_value() && got->has_value());
    EXPECT_EQ((*got)->chunks, 1);
    EXPECT_EQ((*got)->bytes, 0);
    EXPECT_EQ((*got)->user, "alice");
    EXPECT_EQ(store_->GetSessionChunks(SessionId("s1"), 0, 10)->size(), 1u);
    EXPECT_FALSE(store_->GetSession(SessionId("ghost"))->has_value());
    EXPECT_EQ(*store_->AuditSize(), 0);
  }
}

core::Review FullReview(const std::string& id, const std::string& request) {
  core::Review r;
  r.id = id;
  r.request = RequestId(request);
  r.requester = "alice";
  r.trigger = "revoked";
  r.opened_at = T(100);
  r.due_at = T(100 + 86400);
  r.reviewers_needed = 2;
  r.verdicts = {{"sam", core::ReviewVerdict::kAppropriateWithFindings,
                 "ticket \"vague\" \xc3\xa9\n", "CHG-1", T(200)},
                {"grace", core::ReviewVerdict::kInappropriate, "no incident", "", T(300)}};
  r.state = core::ReviewState::kDone;
  r.overdue_alerted = true;
  return r;
}

TEST_P(StoreConformanceTest, ReviewsRoundTripAndUpdateByVersion) {
  core::Review full = FullReview("rev-1", "req-1");
  core::Review kit;
  kit.id = "rev-2";
  kit.requester = "bob";
  kit.trigger = "offline_use";
  kit.kit_record = "rec-9";
  kit.opened_at = T(50);
  kit.due_at = T(60);
  WriteBatch b;
  b.reviews.push_back({full, 0});
  b.reviews.push_back({kit, 0});
  MustCommit(b);
  for (const core::Review& want : {full, kit}) {
    auto got = store_->GetReview(want.id);
    ASSERT_TRUE(got.has_value() && got->has_value()) << want.id;
    const core::Review& g = **got;
    EXPECT_EQ(g.request, want.request);
    EXPECT_EQ(g.requester, want.requester);
    EXPECT_EQ(g.trigger, want.trigger);
    EXPECT_EQ(g.kit_record, want.kit_record);
    EXPECT_EQ(g.opened_at, want.opened_at);
    EXPECT_EQ(g.due_at, want.due_at);
    EXPECT_EQ(g.reviewers_needed, want.reviewers_needed);
    EXPECT_EQ(g.state, want.state);
    EXPECT_EQ(g.overdue_alerted, want.overdue_alerted);
    EXPECT_EQ(g.version, 1);
    ASSERT_EQ(g.verdicts.size(), want.verdicts.size());
    for (size_t i = 0; i < g.verdicts.size(); ++i) {
      EXPECT_EQ(g.verdicts[i].reviewer, want.verdicts[i].reviewer);
      EXPECT_EQ(g.verdicts[i].verdict, want.verdicts[i].verdict);
      EXPECT_EQ(g.verdicts[i].findings, want.verdicts[i].findings);
      EXPECT_EQ(g.verdicts[i].follow_up_ticket, want.verdicts[i].follow_up_ticket);
      EXPECT_EQ(g.verdicts[i].at, want.verdicts[i].at);
    }
  }
  EXPECT_FALSE(store_->GetReview("rev-none")->has_value());

  // One review per subject, and ids are unique: both refused, and the batch leaves nothing.
  WriteBatch dup;
  core::Review again = FullReview("rev-3", "req-1");
  dup.reviews.push_back({again, 0});
  EXPECT_EQ(store_->Commit(dup).error().code(), ErrorCode::kConflict);
  WriteBatch dup_id;
  dup_id.requests.push_back({MinimalRequest("req-x", "bob", 1), 0});
  dup_id.reviews.push_back({FullReview("rev-1", "req-other"), 0});
  EXPECT_EQ(store_->Commit(dup_id).error().code(), ErrorCode::kConflict);
  EXPECT_FALSE(Exists("req-x"));

  // Updates need the version read; a stale one changes nothing.
  core::Review upd = **store_->GetReview("rev-2");
  upd.state = core::ReviewState::kDone;
  upd.verdicts.push_back({"sam", core::ReviewVerdict::kAppropriate, "", "", T(70)});
  WriteBatch u;
  u.reviews.push_back({upd, 1});
  MustCommit(u);
  WriteBatch stale;
  stale.reviews.push_back({upd, 1});
  EXPECT_EQ(store_->Commit(stale).error().code(), ErrorCode::kConflict);
  auto after = **store_->GetReview("rev-2");
  EXPECT_EQ(after.version, 2);
  EXPECT_EQ(after.state, core::ReviewState::kDone);
  EXPECT_EQ(after.verdicts.size(), 1u);
  Reopen();
  EXPECT_EQ((**store_->GetReview("rev-2")).verdicts.size(), 1u);
}

TEST_P(StoreConformanceTest, CampaignsRoundTripUpdateByVersionAndList) {
  core::Campaign c;
  c.id = "att-1";
  c.scope = core::AttestScope::kEligibility;
  c.opened_by = "sam";
  c.opened_at = T(10);
  c.due_at = T(10 + 86400);
  core::AttestItem i;
  i.id = "i1";
  i.kind = "eligibility";
  i.subject = "db read tier 1";
  i.principal = "group:sre";
  i.owners = {"carol", "heidi"};
  i.answer = core::AttestAnswer::kRemove;
  i.answered_by = "carol";
  i.answered_at = T(20);
  i.note = "gone \xc3\xa9";
  i.removed = true;
  core::AttestItem open_item;
  open_item.id = "i2";
  open_item.kind = "eligibility";
  open_item.subject = "db read tier 1";
  open_item.principal = "erin";
  open_item.owners = {"carol"};
  c.items = {i, open_item};
  core::Campaign other;
  other.id = "att-0";
  other.opened_at = T(5);
  other.due_at = T(6);
  other.state = core::CampaignState::kClosed;
  other.closed_at = T(7);
  WriteBatch b;
  b.campaigns.push_back({c, 0});
  b.campaigns.push_back({other, 0});
  MustCommit(b);
  auto got = store_->GetCampaign("att-1");
  ASSERT_TRUE(got.has_value() && got->has_value());
  const core::Campaign& g = **got;
  EXPECT_EQ(g.scope, c.scope);
  EXPECT_EQ(g.opened_by, "sam");
  EXPECT_EQ(g.due_at, c.due_at);
  EXPECT_EQ(g.version, 1);
  EXPECT_FALSE(g.closed_at.has_value());
  ASSERT_EQ(g.items.size(), 2u);
  EXPECT_EQ(g.items[0].owners, (std::vector<std::string>{"carol", "heidi"}));
  EXPECT_EQ(g.items[0].answer, core::AttestAnswer::kRemove);
  EXPECT_EQ(g.items[0].answered_at, T(20));
  EXPECT_EQ(g.items[0].note, i.note);
  EXPECT_TRUE(g.items[0].removed);
  EXPECT_EQ(g.items[1].answer, core::AttestAnswer::kNone);
  EXPECT_EQ((**store_->GetCampaign("att-0")).closed_at, T(7));
  EXPECT_FALSE(store_->GetCampaign("att-x")->has_value());

  WriteBatch dup;
  dup.campaigns.push_back({c, 0});
  EXPECT_EQ(store_->Commit(dup).error().code(), ErrorCode::kConflict);
  core::Campaign closed = g;
  closed.state = core::CampaignState::kClosed;
  WriteBatch u;
  u.campaigns.push_back({closed, 1});
  MustCommit(u);
  WriteBatch stale;
  stale.campaigns.push_back({closed, 1});
  EXPECT_EQ(store_->Commit(stale).error().code(), ErrorCode::kConflict);

  auto ids = [&](std::optional<core::CampaignState> st, int limit) {
    std::vector<std::string> out;
    auto listed = store_->ListCampaigns(st, limit);
    EXPECT_TRUE(listed.has_value());
    if (!listed) return out;
    for (const auto& x : *listed) out.push_back(x.id);
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(ids(std::nullopt, 10), (V{"att-0", "att-1"}));
  EXPECT_EQ(ids(core::CampaignState::kClosed, 10), (V{"att-0", "att-1"}));
  EXPECT_EQ(ids(core::CampaignState::kOpen, 10), V{});
  EXPECT_EQ(ids(std::nullopt, 1), (V{"att-0"}));
  Reopen();
  EXPECT_EQ((**store_->GetCampaign("att-1")).version, 2);
}

TEST_P(StoreConformanceTest, ReviewsAreListedByDeadlineWithFiltersAndCounted) {
  WriteBatch b;
  for (int i = 0; i < 6; ++i) {
    core::Review r;
    r.id = fmt::format("rev-{}", i);
    r.request = RequestId(fmt::format("req-{}", i));
    r.requester = i % 2 == 0 ? "alice" : "bob";
    r.trigger = "expired";
    r.opened_at = T(0);
    r.due_at = T(1000 - 100 * i);  // rev-5 is due first
    r.state = i < 4 ? core::ReviewState::kOpen : core::ReviewState::kDone;
    r.overdue_alerted = i == 3;
    b.reviews.push_back({r, 0});
  }
  MustCommit(b);
  auto ids = [&](const ReviewFilter& f) {
    std::vector<std::string> out;
    auto rs = store_->ListReviews(f);
    EXPECT_TRUE(rs.has_value()) << rs.error().ToString();
    if (rs) {
      for (const auto& r : *rs) out.push_back(r.id);
    }
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(ids({}), (V{"rev-5", "rev-4", "rev-3", "rev-2", "rev-1", "rev-0"}));
  ReviewFilter open;
  open.state = core::ReviewState::kOpen;
  EXPECT_EQ(ids(open), (V{"rev-3", "rev-2", "rev-1", "rev-0"}));
  ReviewFilter alice = open;
  alice.requester = "alice";
  EXPECT_EQ(ids(alice), (V{"rev-2", "rev-0"}));
  ReviewFilter due = open;
  due.due_before = T(850);
  due.overdue_alerted = false;
  EXPECT_EQ(ids(due), (V{"rev-2"}));  // rev-3 is due too but already alerted
  EXPECT_EQ(*store_->CountReviews(due), 1);
  due.overdue_alerted.reset();
  EXPECT_EQ(*store_->CountReviews(due), 2);
  ReviewFilter subject;
  subject.subject = "req-4";
  EXPECT_EQ(ids(subject), (V{"rev-4"}));
  ReviewFilter page;
  page.limit = 2;
  EXPECT_EQ(ids(page), (V{"rev-5", "rev-4"}));
  page.after_id = "rev-4";
  EXPECT_EQ(ids(page), (V{"rev-3", "rev-2"}));
  page.after_id = "rev-nope";
  EXPECT_EQ(store_->ListReviews(page).error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(*store_->CountReviews({}), 6);
}

TEST_P(StoreConformanceTest, DrillsRoundTripUpdateByVersionAndList) {
  auto drill = [](std::string id, std::string resource, int64_t started, std::string state) {
    DrillRecord d;
    d.id = std::move(id);
    d.number = 3;
    d.resource = std::move(resource);
    d.privilege = "ops";
    d.tier = 2;
    d.request = RequestId("req-9");
    d.started_by = "audrey";
    d.started_at = T(started);
    d.state = std::move(state);
    if (d.state != "running") d.finished_at = T(started + 5);
    return d;
  };
  DrillRecord a = drill("dr_1", "bastion", 10, "running");
  a.steps = {{"request", true, 12, ""}, {"approval 1 (carol)", true, 4500, "carol"}};
  a.host_key = "SHA256:abc";
  WriteBatch b;
  b.drills.push_back({a, 0});
  b.drills.push_back({drill("dr_2", "bastion", 20, "ok"), 0});
  b.drills.push_back({drill("dr_3", "db", 30, "ok"), 0});
  b.drills.push_back({drill("dr_4", "bastion", 40, "failed"), 0});
  MustCommit(b);
  auto got = store_->GetDrill("dr_1");
  ASSERT_TRUE(got.has_value() && got->has_value());
  const DrillRecord& g = **got;
  EXPECT_EQ(g.resource, "bastion");
  EXPECT_EQ(g.number, 3);
  EXPECT_EQ(g.tier, 2);
  EXPECT_EQ(g.request, RequestId("req-9"));
  EXPECT_EQ(g.state, "running");
  EXPECT_FALSE(g.finished_at.has_value());
  EXPECT_FALSE(g.time_to_access_ms.has_value());
  ASSERT_EQ(g.steps.size(), 2u);
  EXPECT_EQ(g.steps[1].name, "approval 1 (carol)");
  EXPECT_EQ(g.steps[1].ms, 4500);
  EXPECT_EQ(g.host_key, "SHA256:abc");
  EXPECT_EQ(g.version, 1);
  EXPECT_FALSE(store_->GetDrill("dr_x")->has_value());

  WriteBatch dup;
  dup.drills.push_back({a, 0});
  EXPECT_EQ(store_->Commit(dup).error().code(), ErrorCode::kConflict);
  DrillRecord done = g;
  done.state = "ok";
  done.finished_at = T(99);
  done.time_to_access_ms = 250;
  WriteBatch upd;
  upd.drills.push_back({done, 1});
  MustCommit(upd);
  WriteBatch stale;
  stale.drills.push_back({done, 1});
  EXPECT_EQ(store_->Commit(stale).error().code(), ErrorCode::kConflict);
  auto after = **store_->GetDrill("dr_1");
  EXPECT_EQ(after.version, 2);
  EXPECT_EQ(after.time_to_access_ms, 250);
  EXPECT_EQ(after.finished_at, T(99));

  using V = std::vector<std::string>;
  auto ids = [&](const DrillFilter& f) {
    V out;
    auto listed = store_->ListDrills(f);
    EXPECT_TRUE(listed.has_value());
    if (listed) {
      for (const DrillRecord& d : *listed) out.push_back(d.id);
    }
    return out;
  };
  EXPECT_EQ(ids({}), (V{"dr_4", "dr_3", "dr_2", "dr_1"}));
  DrillFilter bastion;
  bastion.resource = "bastion";
  bastion.since = T(20);
  EXPECT_EQ(ids(bastion), (V{"dr_4", "dr_2"}));
  DrillFilter two;
  two.limit = 2;
  EXPECT_EQ(ids(two), (V{"dr_4", "dr_3"}));
  two.limit = 0;
  EXPECT_EQ(store_->ListDrills(two).error().code(), ErrorCode::kInvalidArgument);

  auto last = store_->LastSuccessfulDrills();
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(*last, (std::map<std::string, Timestamp>{{"bastion", T(99)}, {"db", T(35)}}));
}

std::string BackendName(const ::testing::TestParamInfo<StoreBackend>& info) {
  return info.param.name;
}

INSTANTIATE_TEST_SUITE_P(
    Sqlite, StoreConformanceTest,
    ::testing::Values(StoreBackend{"sqlite_in_data_dir",
                                   [](const std::string& dir) { return OpenStore("sqlite", dir); }},
                      StoreBackend{"sqlite_explicit_path",
                                   [](const std::string& dir) {
                                     return OpenStore("sqlite:" + dir + "/other.db",
                                                      "/nonexistent");
                                   }}),
    BackendName);

// ---- PostgreSQL (store/pg_test_util.h) ---------------------------------------------------------

std::string PostgresDatabase(const std::string& dir) {
  return "bg_" + std::filesystem::path(dir).filename().string();
}

INSTANTIATE_TEST_SUITE_P(
    Postgres, StoreConformanceTest,
    ::testing::Values(StoreBackend{
        "postgres",
        [](const std::string& dir) -> Result<std::unique_ptr<Store>> {
          const std::string db = PostgresDatabase(dir);
          // Once per test directory: a reopening finds the database made by the first open.
          if (!std::filesystem::exists(dir + "/pg-created")) {
            BG_TRY(pg_test::CreateDatabase(db));
            FILE* f = std::fopen((dir + "/pg-created").c_str(), "w");
            if (f != nullptr) std::fclose(f);
          }
          return OpenStore(pg_test::Spec(db), "/nonexistent");
        },
        pg_test::Unavailable,
        [](const std::string& dir) { pg_test::DropDatabase(PostgresDatabase(dir)); }}),
    BackendName);

}  // namespace
}  // namespace bg::store
