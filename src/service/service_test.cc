// The shell end to end with the real SQLite store: workflow through the writer, durable timers,
// the outbox, login, and fail-closed behaviour when the store refuses to commit.
#include "service/service.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include "audit/event.h"
#include "auth/totp.h"
#include "service/attestations.h"
#include "service/audit_log.h"
#include "service/background.h"
#include "service/reviews.h"
#include "test/fakes/fake_clock.h"

namespace bg::service {
namespace {

using core::RequestState;
using core::Role;

constexpr char kPolicy[] = R"(
version = 1
[settings]
timezone = "UTC"
reason_min_length = 5
ticket_pattern = '^INC-[0-9]+$'
warn_before_expiry = "5m"
security_contacts = ["sam"]
block_on_overdue_inappropriate = true
[groups]
sre = ["alice"]
dba = ["carol", "dave", "erin"]
[pools]
dba-approvers = ["group:dba"]
[[resources]]
name = "db"
connector = "db-conn"
owner = "carol"
privileges = ["read_only", "dba"]
[[rules]]
resource = "db"
privileges = ["read_only"]
requesters = ["group:sre"]
tier = 1
max_duration = "1h"
review_within = "72h"
reviewers = 2
[[rules]]
resource = "db"
privileges = ["dba"]
requesters = ["group:sre"]
tier = 2
pool = "dba-approvers"
approvals = 2
max_duration = "2h"
approval_window = "30m"
mfa_max_age = "10m"
review_within = "24h"
)";

// Wraps a real store; Commit fails while `fail` is set (a full disk, a broken audit table).
class FailingStore final : public store::Store {
 public:
  explicit FailingStore(std::unique_ptr<store::Store> inner) : inner_(std::move(inner)) {}
  std::atomic<bool> fail{false};
  std::atomic<int> refused_timer_firings{0};  // refused commits that would have removed a timer
  Status Commit(const store::WriteBatch& b) override {
    if (fail) {
      if (!b.timers_deleted.empty()) ++refused_timer_firings;
      return Error::Unavailable("disk full");
    }
    return inner_->Commit(b);
  }
  Result<std::optional<core::Request>> GetRequest(const RequestId& id) override { return inner_->GetRequest(id); }
  Result<std::vector<core::Request>> ListRequests(const store::RequestFilter& f) override { return inner_->ListRequests(f); }
  Result<std::vector<core::Request>> ListOpenRequests() override { return inner_->ListOpenRequests(); }
  Result<int64_t> CountRequestsSince(const std::string& r, Timestamp s, int64_t n) override { return inner_->CountRequestsSince(r, s, n); }
  Result<std::vector<std::pair<std::string, int64_t>>> CountRequestsByState(bool drills) override { return inner_->CountRequestsByState(drills); }
  Result<std::optional<store::UserRecord>> GetUser(const std::string& n) override { return inner_->GetUser(n); }
  Result<std::vector<store::UserRecord>> ListUsers() override { return inner_->ListUsers(); }
  Result<std::optional<store::TokenRecord>> GetToken(const std::string& h) override { return inner_->GetToken(h); }
  Result<std::vector<store::TimerRecord>> ListTimers() override { return inner_->ListTimers(); }
  Result<std::vector<store::OutboxJob>> ListOutbox() override { return inner_->ListOutbox(); }
  Result<bool> HasUsedSource(const std::string& u, const std::string& a) override { return inner_->HasUsedSource(u, a); }
  Result<std::optional<std::string>> GetMeta(const std::string& k) override { return inner_->GetMeta(k); }
  Result<int64_t> AuditSize() override { return inner_->AuditSize(); }
  Result<std::vector<std::string>> AuditLeaves(int64_t s, int64_t e) override { return inner_->AuditLeaves(s, e); }
  Result<std::string> AuditNodeHash(int l, int64_t i) override { return inner_->AuditNodeHash(l, i); }
  Result<std::vector<int64_t>> AuditIndexesOf(const RequestId& id, int limit) override {
    return inner_->AuditIndexesOf(id, limit);
  }
  Result<std::optional<core::Review>> GetReview(const std::string& id) override { return inner_->GetReview(id); }
  Result<std::vector<core::Review>> ListReviews(const store::ReviewFilter& f) override { return inner_->ListReviews(f); }
  Result<int64_t> CountReviews(const store::ReviewFilter& f) override { return inner_->CountReviews(f); }
  Result<std::optional<core::Campaign>> GetCampaign(const std::string& id) override { return inner_->GetCampaign(id); }
  Result<std::vector<core::Campaign>> ListCampaigns(std::optional<core::CampaignState> s, int n) override {
    return inner_->ListCampaigns(s, n);
  }
  Result<std::optional<store::DrillRecord>> GetDrill(const std::string& id) override { return inner_->GetDrill(id); }
  Result<std::vector<store::DrillRecord>> ListDrills(const store::DrillFilter& f) override { return inner_->ListDrills(f); }
  Result<std::map<std::string, Timestamp>> LastSuccessfulDrills() override { return inner_->LastSuccessfulDrills(); }
  Result<std::optional<store::SessionRecord>> GetSession(const SessionId& id) override { return inner_->GetSession(id); }
  Result<std::vector<store::SessionRecord>> ListSessions(const store::SessionFilter& f) override { return inner_->ListSessions(f); }
  Result<std::vector<store::SessionChunk>> GetSessionChunks(const SessionId& id, int64_t from, int64_t n) override {
    return inner_->GetSessionChunks(id, from, n);
  }

 private:
  std::unique_ptr<store::Store> inner_;
};

// A connector whose Grant waits until the test opens the gate, so a test can act on a request
// while its grant is in flight.
class GateConnector final : public connector::Connector {
 public:
  struct Gate {
    std::mutex mu;
    std::condition_variable cv;
    bool open = false;
    int entered = 0;
    std::vector<std::string> granted;
  };
  explicit GateConnector(std::shared_ptr<Gate> gate) : gate_(std::move(gate)) {}
  Status Grant(const core::Request& r) override {
    std::unique_lock lock(gate_->mu);
    ++gate_->entered;
    gate_->cv.notify_all();
    gate_->cv.wait(lock, [this] { return gate_->open; });
    gate_->granted.push_back(r.id.value());
    return Ok();
  }
  Status Revoke(const core::Request&) override { return Ok(); }
  Status Probe() override { return Ok(); }

 private:
  std::shared_ptr<Gate> gate_;
};

class ServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("bg-service-test-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    std::ofstream(dir_ / "policy.toml") << kPolicy;
    config_.data_dir = (dir_ / "data").string();
    config_.policy = (dir_ / "policy.toml").string();
    config_.connectors["db-conn"] = {"db-conn", "none", "{}"};
    // Wednesday 2026-11-18 10:00:00 UTC.
    clock_.Set(*ParseRfc3339("2026-11-18T10:00:00Z"));
    Open();
  }
  void TearDown() override {
    if (svc_) svc_->Stop();
    svc_.reset();
    std::filesystem::remove_all(dir_);
  }

  void Open() {
    auto inner = store::OpenStore("sqlite", config_.data_dir);
    if (!inner) {
      std::filesystem::create_directories(config_.data_dir);
      inner = store::OpenStore("sqlite", config_.data_dir);
    }
    ASSERT_TRUE(inner.has_value()) << inner.error().ToString();
    auto failing = std::make_unique<FailingStore>(std::move(*inner));
    failing_ = failing.get();
    auto s = Service::Open(config_, clock_, nullptr, Service::Mode::kServer, std::move(failing),
                           register_kinds_);
    ASSERT_TRUE(s.has_value()) << s.error().ToString();
    svc_ = std::move(*s);
    ASSERT_TRUE(svc_->Start().has_value());
  }

  void Restart() {
    svc_->Stop();
    svc_.reset();
    Open();
  }

  core::Actor AddAndLogin(const std::string& name, std::vector<Role> roles) {
    auto nu = svc_->AddUser("test", name, roles, Secret(name + "-password-123"));
    EXPECT_TRUE(nu.has_value()) << nu.error().ToString();
    seeds_[name] = nu->totp_secret;
    auto code = auth::TotpCode(nu->totp_secret, clock_.Now());
    auto lr = svc_->Login(name, Secret(name + "-password-123"), *code, "10.0.0.1");
    EXPECT_TRUE(lr.has_value()) << lr.error().ToString();
    tokens_[name] = std::string(lr->token.Reveal());
    auto actor = svc_->Authenticate(tokens_[name], "10.0.0.1");
    EXPECT_TRUE(actor.has_value());
    return *actor;
  }

  template <typename Fn>
  Result<core::Request> Call(Fn fn) {
    std::promise<Result<core::Request>> p;
    auto f = p.get_future();
    fn([&p](Result<core::Request> r) { p.set_value(std::move(r)); });
    return f.get();
  }

  // Polls (with a deadline, never a fixed sleep) until the request reaches `state`.
  core::Request WaitFor(const core::Actor& a, const RequestId& id, RequestState state) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    core::Request last;
    while (std::chrono::steady_clock::now() < deadline) {
      auto r = svc_->Get(a, id);
      if (r && r->state == state) return *r;
      if (r) last = *r;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ADD_FAILURE() << "request " << id.value() << " never reached " << core::ToString(state)
                  << ", last state " << core::ToString(last.state);
    return last;
  }

  core::CreateCommand DbaCommand() {
    core::CreateCommand c;
    c.resource = "db";
    c.privilege = "dba";
    c.duration = std::chrono::minutes(30);
    c.reason = "disk full on primary";
    c.ticket = "INC-1234";
    return c;
  }

  Result<core::Review> Verdict(const core::Actor& who, const std::string& review,
                               core::ReviewVerdict v, std::string findings = "") {
    std::promise<Result<core::Review>> p;
    auto f = p.get_future();
    svc_->reviews()->Submit(who, review, core::SubmitVerdict{v, std::move(findings), ""},
                            [&p](Result<core::Review> r) { p.set_value(std::move(r)); });
    return f.get();
  }

  std::vector<core::Review> ReviewsOf(const RequestId& id) {
    store::ReviewFilter f;
    f.subject = id.value();
    auto rs = svc_->store().ListReviews(f);
    EXPECT_TRUE(rs.has_value());
    return rs ? *rs : std::vector<core::Review>{};
  }

  int CountEvents(const std::string& type) {
    int n = 0;
    for (const auto& e : AuditEvents()) n += e.type == type ? 1 : 0;
    return n;
  }

  std::vector<audit::LeafEvent> AuditEvents() {
    auto& store = svc_->store();
    auto leaves = store.AuditLeaves(0, *store.AuditSize());
    std::vector<audit::LeafEvent> out;
    for (const auto& l : *leaves) out.push_back(*audit::ParseLeaf(l));
    return out;
  }

  std::filesystem::path dir_;
  ServerConfig config_;
  std::function<void(connector::ConnectorRegistry&)> register_kinds_;
  testing::FakeClock clock_;
  FailingStore* failing_ = nullptr;
  std::unique_ptr<Service> svc_;
  std::map<std::string, Secret> seeds_;
  std::map<std::string, std::string> tokens_;  // the last login's token of each person
};

// The collaborators exist from Start() on: before it, every method that needs them answers
// Unavailable instead of dereferencing nothing.
TEST_F(ServiceTest, BeforeStartTheMethodsAnswerUnavailable) {
  svc_->Stop();
  svc_.reset();
  auto opened = Service::Open(config_, clock_, nullptr);
  ASSERT_TRUE(opened.has_value()) << opened.error().ToString();
  Service& s = **opened;
  core::Actor alice{"alice", {Role::kRequester}, std::nullopt, false, "", std::nullopt, ""};
  auto unavailable = [](const auto& r) {
    return !r.has_value() && r.error().code() == ErrorCode::kUnavailable;
  };
  EXPECT_TRUE(unavailable(s.Login("alice", Secret("alice-password-123"), "000000", "10.0.0.1")));
  EXPECT_TRUE(unavailable(s.Authenticate(std::string(64, 'a'), "10.0.0.1")));
  EXPECT_TRUE(unavailable(s.AddUser("test", "bob", {Role::kRequester}, Secret("bob-password-123"))));
  EXPECT_TRUE(unavailable(s.Get(alice, RequestId("req_x"))));
  EXPECT_TRUE(unavailable(s.List(alice, {}, true)));
  EXPECT_TRUE(unavailable(s.AppendAudit({"test.event", "test", {}, {}})));
  EXPECT_TRUE(unavailable(Call([&](auto cb) { s.Create(alice, DbaCommand(), cb); })));
  EXPECT_TRUE(unavailable(Call([&](auto cb) { s.Cancel(alice, RequestId("req_x"), cb); })));
  std::optional<Status> written;
  s.SubmitWrite([](Tx&) { return Ok(); }, [&](Status st) { written = st; });
  ASSERT_TRUE(written.has_value());
  EXPECT_TRUE(unavailable(*written));
}

TEST_F(ServiceTest, TwoApprovalsActivateAndExpiryEndsTheGrant) {
  auto alice = AddAndLogin("alice", {Role::kRequester});
  auto carol = AddAndLogin("carol", {Role::kApprover});
  auto dave = AddAndLogin("dave", {Role::kApprover});
  auto created = Call([&](auto cb) { svc_->Create(alice, DbaCommand(), cb); });
  ASSERT_TRUE(created.has_value()) << created.error().ToString();
  EXPECT_EQ(created->state, RequestState::kPending);
  EXPECT_EQ(created->required_approvals, 2);
  RequestId id = created->id;

  auto self = Call([&](auto cb) { svc_->Approve(alice, id, "", cb); });
  ASSERT_FALSE(self.has_value());
  EXPECT_EQ(self.error().code(), ErrorCode::kPermissionDenied);

  ASSERT_TRUE(Call([&](auto cb) { svc_->Approve(carol, id, "ok", cb); }).has_value());
  auto again = Call([&](auto cb) { svc_->Approve(carol, id, "again", cb); });
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->approvals.size(), 1u);  // idempotent, not counted
  auto second = Call([&](auto cb) { svc_->Approve(dave, id, "", cb); });
  ASSERT_TRUE(second.has_value()) << second.error().ToString();

  core::Request active = WaitFor(alice, id, RequestState::kActive);
  ASSERT_TRUE(active.ends_at.has_value());
  EXPECT_EQ(*active.ends_at - *active.starts_at, std::chrono::minutes(30));

  clock_.Advance(std::chrono::minutes(31));
  core::Request expired = WaitFor(alice, id, RequestState::kExpired);
  EXPECT_TRUE(expired.review_due.has_value());

  std::vector<std::string> types;
  for (const auto& e : AuditEvents()) {
    if (e.request && *e.request == id) types.push_back(e.type);
  }
  for (const char* want : {"request.created", "approval.recorded", "request.approved",
                           "request.activated", "request.expired"}) {
    EXPECT_NE(std::find(types.begin(), types.end(), want), types.end()) << want;
  }
}

// Replicas on one database: a second server serves (tokens, requests, approvals) without the
// background work; the first, which does it, grants and expires what the second stored, and its
// event subscribers see the second's changes (from the log).
TEST_F(ServiceTest, ASecondServerServesWhileTheFirstDoesTheBackgroundWorkForBoth) {
  auto alice = AddAndLogin("alice", {Role::kRequester});
  AddAndLogin("carol", {Role::kApprover});
  AddAndLogin("dave", {Role::kApprover});
  auto store2 = store::OpenStore("sqlite", config_.data_dir);
  ASSERT_TRUE(store2.has_value());
  auto opened = Service::Open(config_, clock_, nullptr, Service::Mode::kServer, std::move(*store2),
                              register_kinds_);
  ASSERT_TRUE(opened.has_value()) << opened.error().ToString();
  std::unique_ptr<Service> second = std::move(*opened);
  ASSERT_TRUE(second->Start(/*background=*/false).has_value());
  EXPECT_TRUE(svc_->RunsBackground());
  EXPECT_FALSE(second->RunsBackground());

  std::mutex mu;
  std::set<std::string> seen;  // ids of the first server's request events
  const uint64_t sub = svc_->Subscribe([&](const StateEvent& e) {
    if (e.type != "request") return;
    std::lock_guard lock(mu);
    seen.insert(e.request.id.value());
  });
  auto on_second = [&](const std::string& who) {
    auto a = second->Authenticate(tokens_[who], "10.0.0.1");  // a token of the first server
    EXPECT_TRUE(a.has_value()) << who;
    return *a;
  };
  auto created = Call([&](auto cb) { second->Create(on_second("alice"), DbaCommand(), cb); });
  ASSERT_TRUE(created.has_value()) << created.error().ToString();
  const RequestId id = created->id;
  for (const char* who : {"carol", "dave"}) {
    auto a = Call([&](auto cb) { second->Approve(on_second(who), id, "ok", cb); });
    ASSERT_TRUE(a.has_value()) << a.error().ToString();
  }
  // The first server's outbox ran the grant the second stored.
  WaitFor(alice, id, RequestState::kActive);
  // Its timer queue found the second's expiry timer in the store.
  clock_.Advance(std::chrono::minutes(31));
  WaitFor(alice, id, RequestState::kExpired);
  // Its subscribers saw the second's changes (read from the log, with the request as stored).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  bool saw = false;
  while (!saw && std::chrono::steady_clock::now() < deadline) {
    {
      std::lock_guard lock(mu);
      saw = seen.count(id.value()) > 0;
    }
    if (!saw) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(saw) << "the first server's subscribers never saw the second's request";
  svc_->Unsubscribe(sub);
  second->Stop();
  EXPECT_EQ(CountEvents("request.activated"), 1);
  EXPECT_EQ(CountEvents("request.expired"), 1);
}

TEST_F(ServiceTest, RequestThatTooFewCanApproveIsRefusedAtOnceAndAudited) {
  // dba-approvers is carol, dave, erin; two approvals needed. erin has no account, dave is
  // disabled, frank approves but is not in the pool: only carol could approve.
  auto alice = AddAndLogin("alice", {Role::kRequester});
  AddAndLogin("carol", {Role::kApprover});
  AddAndLogin("dave", {Role::kApprover});
  AddAndLogin("frank", {Role::kApprover});
  ASSERT_TRUE(svc_->SetUserDisabled("test", "dave", true).has_value());
  auto refused = Call([&](auto cb) { svc_->Create(alice, DbaCommand(), cb); });
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code(), ErrorCode::kFailedPrecondition);
  const std::string& why = refused.error().message();
  EXPECT_EQ(why.rfind("this request cannot be approved: it needs 2 approvals", 0), 0u) << why;
  EXPECT_NE(why.find("from pool 'dba-approvers', and only 1 (carol) of its members"),
            std::string::npos)
      << why;
  auto mine = svc_->List(alice, {}, /*mine=*/true);
  ASSERT_TRUE(mine.has_value());
  EXPECT_TRUE(mine->empty()) << "a refused request was stored";
  std::vector<audit::LeafEvent> refusals;
  for (const auto& e : AuditEvents()) {
    if (e.type == "request.refused") refusals.push_back(e);
  }
  ASSERT_EQ(refusals.size(), 1u);
  EXPECT_EQ(refusals[0].actor, "alice");
  EXPECT_FALSE(refusals[0].request.has_value() && !refusals[0].request->empty());
  EXPECT_EQ(refusals[0].details["reason"], "unapprovable");
  EXPECT_EQ(refusals[0].details["required_approvals"], "2");

  // Enabling dave makes the same request approvable.
  ASSERT_TRUE(svc_->SetUserDisabled("test", "dave", false).has_value());
  auto created = Call([&](auto cb) { svc_->Create(alice, DbaCommand(), cb); });
  ASSERT_TRUE(created.has_value()) << created.error().ToString();
  EXPECT_EQ(created->state, RequestState::kPending);
}

TEST_F(ServiceTest, NothingIsGrantedWhenTheAuditRecordCannotBeWritten) {
  auto alice = AddAndLogin("alice", {Role::kRequester});
  auto carol = AddAndLogin("carol", {Role::kApprover});
  auto dave = AddAndLogin("dave", {Role::kApprover});
  auto created = Call([&](auto cb) { svc_->Create(alice, DbaCommand(), cb); });
  ASSERT_TRUE(created.has_value());
  ASSERT_TRUE(Call([&](auto cb) { svc_->Approve(carol, created->id, "", cb); }).has_value());
  const int64_t size_before = svc_->audit().Size();
  failing_->fail = true;
  auto refused = Call([&](auto cb) { svc_->Approve(dave, created->id, "", cb); });
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code(), ErrorCode::kUnavailable);
  failing_->fail = false;
  auto now = svc_->Get(alice, created->id);
  ASSERT_TRUE(now.has_value());
  EXPECT_EQ(now->state, RequestState::kPending);
  EXPECT_EQ(now->approvals.size(), 1u);
  EXPECT_EQ(svc_->audit().Size(), size_before);
  EXPECT_EQ(*svc_->store().AuditSize(), size_before);
  // The writer recovers: the same approval now goes through.
  ASSERT_TRUE(Call([&](auto cb) { svc_->Approve(dave, created->id, "", cb); }).has_value());
  WaitFor(alice, created->id, RequestState::kActive);
}

// A grant whose end comes while the store cannot be written (a full disk) cannot expire then;
// once the store recovers it expires (and its revocation is queued) without a restart. The timer
// fired once and failed: it must be tried again, not forgotten until the next start.
TEST_F(ServiceTest, AnExpiryThatCouldNotBeStoredIsRetriedOnceTheStoreRecovers) {
  auto alice = AddAndLogin("alice", {Role::kRequester});
  core::CreateCommand ro = DbaCommand();
  ro.privilege = "read_only";
  auto created = Call([&](auto cb) { svc_->Create(alice, ro, cb); });
  ASSERT_TRUE(created.has_value()) << created.error().ToString();
  WaitFor(alice, created->id, RequestState::kActive);
  failing_->fail = true;
  clock_.Advance(std::chrono::minutes(31));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (failing_->refused_timer_firings == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_GT(failing_->refused_timer_firings, 0) << "the expiry never fired";
  EXPECT_EQ(svc_->Get(alice, created->id)->state, RequestState::kActive);
  failing_->fail = false;
  clock_.Advance(Scheduler::RetryDelay(1));  // the retry waits on the service's clock
  core::Request expired = WaitFor(alice, created->id, RequestState::kExpired);
  EXPECT_EQ(expired.state, RequestState::kExpired);
  EXPECT_EQ(CountEvents("request.expired"), 1);
}

TEST_F(ServiceTest, ASystemAlertIsLoggedAndPushedToTheSecurityContacts) {
  std::mutex mu;
  std::vector<StateEvent> seen;
  const uint64_t sub = svc_->Subscribe([&](const StateEvent& e) {
    std::lock_guard lock(mu);
    seen.push_back(e);
  });
  const int64_t size_before = svc_->audit().Size();
  ASSERT_TRUE(svc_->RaiseAlert("probe_failed", "connection refused", {{"connector", "db-conn"}})
                  .has_value());
  svc_->Unsubscribe(sub);
  {
    std::lock_guard lock(mu);
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].type, "alert");
    EXPECT_EQ(seen[0].alert_kind, "probe_failed");
    EXPECT_EQ(seen[0].message, "connection refused");
    EXPECT_EQ(seen[0].recipients, std::vector<std::string>{"sam"});
    EXPECT_TRUE(seen[0].request.id.value().empty());
  }
  ASSERT_EQ(svc_->audit().Size(), size_before + 1);
  auto leaves = svc_->store().AuditLeaves(size_before, size_before + 1);
  ASSERT_TRUE(leaves.has_value());
  const std::string& leaf = leaves->at(0);
  for (const char* want : {R"("type":"alert.raised")", R"("kind":"probe_failed")",
                           R"("connector":"db-conn")", R"("message":"connection refused")"}) {
    EXPECT_NE(leaf.find(want), std::string::npos) << want << " in " << leaf;
  }

  // Nothing is published when the alert cannot be logged.
  failing_->fail = true;
  size_t before = seen.size();
  const uint64_t sub2 = svc_->Subscribe([&](const StateEvent& e) {
    std::lock_guard lock(mu);
    seen.push_back(e);
  });
  EXPECT_FALSE(svc_->RaiseAlert("probe_failed", "again", {}).has_value());
  svc_->Unsubscribe(sub2);
  failing_->fail = false;
  std::lock_guard lock(mu);
  EXPECT_EQ(seen.size(), before);
}

TEST_F(ServiceTest, ARecordingCredentialRecordsItsGrantAndDoesNothingElse) {
  auto alice = AddAndLogin("alice", {Role::kRequester});
  auto bob = AddAndLogin("bob", {Role::kRequester});
  AddAndLogin("carol", {Role::kApprover});  // the pending dba request needs two who can approve
  AddAndLogin("dave", {Role::kApprover});
  core::CreateCommand ro = DbaCommand();
  ro.privilege = "read_only";
  auto grant = Call([&](auto cb) { svc_->Create(alice, ro, cb); });
  ASSERT_TRUE(grant.has_value()) << grant.error().ToString();
  const core::Request active = WaitFor(alice, grant->id, RequestState::kActive);
  auto pending = Call([&](auto cb) { svc_->Create(alice, DbaCommand(), cb); });
  ASSERT_TRUE(pending.has_value());

  // Only the requester, only for an active grant.
  EXPECT_EQ(svc_->IssueRecordingToken(bob, grant->id).error().code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(svc_->IssueRecordingToken(alice, pending->id).error().code(),
            ErrorCode::kFailedPrecondition);
  auto issued = svc_->IssueRecordingToken(alice, grant->id);
  ASSERT_TRUE(issued.has_value()) << issued.error().ToString();
  EXPECT_EQ(issued->expires_at, *active.ends_at + Service::kRecordingUploadGrace);
  const std::string token(issued->token.Reveal());

  auto rec = svc_->Authenticate(token, "192.0.2.7");
  ASSERT_TRUE(rec.has_value()) << rec.error().ToString();
  EXPECT_EQ(rec->name, "alice");
  EXPECT_TRUE(rec->roles.empty());
  ASSERT_TRUE(rec->recording_grant.has_value());
  EXPECT_EQ(*rec->recording_grant, grant->id);

  // It reads its grant and nothing else.
  EXPECT_TRUE(svc_->Get(*rec, grant->id).has_value());
  EXPECT_EQ(svc_->Get(*rec, pending->id).error().code(), ErrorCode::kNotFound);
  auto listed = svc_->List(*rec, {}, /*mine=*/true);
  ASSERT_TRUE(listed.has_value());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(listed->at(0).id, grant->id);

  // It changes nothing and makes no other credential.
  const auto denied = ErrorCode::kPermissionDenied;
  EXPECT_EQ(Call([&](auto cb) { svc_->Create(*rec, ro, cb); }).error().code(), denied);
  EXPECT_EQ(Call([&](auto cb) { svc_->Cancel(*rec, pending->id, cb); }).error().code(), denied);
  EXPECT_EQ(Call([&](auto cb) { svc_->Extend(*rec, grant->id, std::chrono::minutes(10), "more", cb); })
                .error()
                .code(),
            denied);
  EXPECT_EQ(Call([&](auto cb) { svc_->Revoke(*rec, grant->id, "done", cb); }).error().code(), denied);
  EXPECT_EQ(svc_->Renew(*rec, token, "192.0.2.7").error().code(), denied);
  EXPECT_EQ(svc_->IssueRecordingToken(*rec, grant->id).error().code(), denied);

  // Logged with an HMAC of the token, never the token.
  bool logged = false;
  for (const auto& e : AuditEvents()) {
    if (e.type != "session.recording_credential") continue;
    logged = true;
    EXPECT_EQ(e.request, grant->id);
    EXPECT_NE(e.details.at("token"), token);
    EXPECT_FALSE(e.details.at("token").empty());
  }
  EXPECT_TRUE(logged);
  for (const auto& e : AuditEvents()) {
    for (const auto& [k, v] : e.details) EXPECT_EQ(v.find(token), std::string::npos) << k;
  }

  // Good until an hour after the grant's end, for a spool sent late.
  clock_.Set(*active.ends_at + Service::kRecordingUploadGrace - Seconds(1));
  EXPECT_TRUE(svc_->Authenticate(token, "192.0.2.7").has_value());
  clock_.Set(*active.ends_at + Service::kRecordingUploadGrace + Seconds(1));
  EXPECT_EQ(svc_->Authenticate(token, "192.0.2.7").error().code(), ErrorCode::kUnauthenticated);
}

TEST_F(ServiceTest, ExpiryHappensAfterARestartWhenTheEndPassedWhileDown) {
  auto alice = AddAndLogin("alice", {Role::kRequester});
  core::CreateCommand c = DbaCommand();
  c.privilege = "read_only";  // tier 1: self-approved
  auto created = Call([&](auto cb) { svc_->Create(alice, c, cb); });
  ASSERT_TRUE(created.has_value()) << created.error().ToString();
  EXPECT_TRUE(created->self_approved);
  WaitFor(alice, created->id, RequestState::kActive);
  svc_->Stop();
  svc_.reset();
  clock_.Advance(std::chrono::hours(2));
  Open();
  WaitFor(alice, created->id, RequestState::kExpired);
}

TEST_F(ServiceTest, ATotpCodeIsAcceptedOnceAndFailuresSayNothingSpecific) {
  auto nu = svc_->AddUser("test", "bob", {Role::kRequester}, Secret("bob-password-123"));
  ASSERT_TRUE(nu.has_value());
  auto code = *auth::TotpCode(nu->totp_secret, clock_.Now());
  ASSERT_TRUE(svc_->Login("bob", Secret("bob-password-123"), code, "10.0.0.2").has_value());
  auto wrong_pw = svc_->Login("bob", Secret("nope-nope-nope"), code, "10.0.0.2");
  auto unknown = svc_->Login("nobody", Secret("bob-password-123"), code, "10.0.0.2");
  auto wrong_code = svc_->Login("bob", Secret("bob-password-123"), "000000", "10.0.0.2");
  ASSERT_FALSE(wrong_pw.has_value());
  ASSERT_FALSE(unknown.has_value());
  ASSERT_FALSE(wrong_code.has_value());
  EXPECT_EQ(unknown.error().message(), wrong_pw.error().message());
  EXPECT_EQ(wrong_code.error().message(), wrong_pw.error().message());
  EXPECT_EQ(unknown.error().code(), ErrorCode::kUnauthenticated);
  // The log names the failures but holds no password or code.
  bool saw_failure = false;
  for (const auto& e : AuditEvents()) {
    saw_failure = saw_failure || e.type == "auth.login_failed";
    for (const auto& [k, v] : e.details) {
      EXPECT_EQ(v.find("bob-password-123"), std::string::npos);
      EXPECT_NE(v, code);
    }
  }
  EXPECT_TRUE(saw_failure);
}

// Issue 13.17: the right password with a code already used gets its own answer, and only then:
// a stranger's name (or a wrong password) with that very code gets the one answer for all.
TEST_F(ServiceTest, AReplayedCodeIsNamedOnlyToWhoeverKnowsThePassword) {
  auto nu = svc_->AddUser("test", "bob", {Role::kRequester}, Secret("bob-password-123"));
  ASSERT_TRUE(nu.has_value());
  auto code = *auth::TotpCode(nu->totp_secret, clock_.Now());
  ASSERT_TRUE(svc_->Login("bob", Secret("bob-password-123"), code, "10.0.0.2").has_value());
  auto replay = svc_->Login("bob", Secret("bob-password-123"), code, "10.0.0.2");
  ASSERT_FALSE(replay.has_value());
  EXPECT_EQ(replay.error().code(), ErrorCode::kUnauthenticated);
  EXPECT_EQ(replay.error().message(), "this code was already used; wait for the next one");
  const std::string generic = "login failed: wrong username, password or code";
  for (const char* name : {"nobody", "bob"}) {
    auto r = svc_->Login(name, Secret(std::string(name) == "bob" ? "not-bobs-password" :
                                                                  "bob-password-123"),
                         code, "10.0.0.3");
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().message(), generic) << name;
  }
  // A disabled account is a stranger too.
  ASSERT_TRUE(svc_->SetUserDisabled("test", "bob", true).has_value());
  auto disabled = svc_->Login("bob", Secret("bob-password-123"), code, "10.0.0.4");
  ASSERT_FALSE(disabled.has_value());
  EXPECT_EQ(disabled.error().message(), generic);
  // The next step's code logs in.
  ASSERT_TRUE(svc_->SetUserDisabled("test", "bob", false).has_value());
  clock_.Advance(Seconds(30));
  auto next = *auth::TotpCode(nu->totp_secret, clock_.Now());
  EXPECT_TRUE(svc_->Login("bob", Secret("bob-password-123"), next, "10.0.0.2").has_value());
}

// Issue 13.11: a guesser slows itself down, is reported to the security contacts, and cannot
// keep the owner out. Limits: rate_limit_test.cc and docs/authentication.md.
TEST_F(ServiceTest, GuessingAnAccountNeverLocksItsOwnerOutAndAlertsTheSecurityContacts) {
  auto nu = svc_->AddUser("test", "erin", {Role::kApprover}, Secret("erin-password-123"));
  ASSERT_TRUE(nu.has_value());
  std::mutex mu;
  std::vector<StateEvent> alerts;
  const uint64_t sub = svc_->Subscribe([&](const StateEvent& e) {
    std::lock_guard lock(mu);
    if (e.type == "alert") alerts.push_back(e);
  });
  // One guesser, 30 attempts, each as soon as it is allowed (it follows Retry-After).
  int refused_401 = 0, throttled_429 = 0;
  for (int i = 0; i < 30; ++i) {
    auto r = svc_->Login("erin", Secret("wrong-password!"), "000000", "198.51.100.7");
    ASSERT_FALSE(r.has_value());
    if (r.error().code() == ErrorCode::kResourceExhausted) {
      ++throttled_429;
      ASSERT_GT(r.error().retry_after_seconds(), 0);
      EXPECT_NE(r.error().message().find("try again after"), std::string::npos);
      clock_.Advance(Seconds(r.error().retry_after_seconds()));
    } else {
      ++refused_401;
      EXPECT_EQ(r.error().code(), ErrorCode::kUnauthenticated);
    }
  }
  EXPECT_GT(throttled_429, 0);
  EXPECT_EQ(refused_401 + throttled_429, 30);
  // The owner, from her own address, with her password and code: in at once.
  auto code = *auth::TotpCode(nu->totp_secret, clock_.Now());
  auto owner = svc_->Login("erin", Secret("erin-password-123"), code, "10.0.0.4");
  ASSERT_TRUE(owner.has_value()) << owner.error().ToString();
  // The guesser is still waiting (its success would need a wait too).
  auto still = svc_->Login("erin", Secret("wrong-password!"), "000000", "198.51.100.7");
  ASSERT_FALSE(still.has_value());
  EXPECT_EQ(still.error().code(), ErrorCode::kResourceExhausted);
  svc_->Unsubscribe(sub);
  {
    std::lock_guard lock(mu);
    ASSERT_EQ(alerts.size(), 1u);  // ten failures within 15 minutes; once an hour at most
    EXPECT_EQ(alerts[0].alert_kind, "account_guessed");
    EXPECT_EQ(alerts[0].recipients, std::vector<std::string>{"sam"});
    EXPECT_NE(alerts[0].message.find("erin"), std::string::npos) << alerts[0].message;
  }
  int raised = 0;
  for (const auto& e : AuditEvents()) {
    if (e.type == "alert.raised" && e.details.at("kind") == "account_guessed") {
      ++raised;
      EXPECT_EQ(e.details.at("user"), "erin");
      EXPECT_EQ(e.details.at("recipients"), "sam");
    }
  }
  EXPECT_EQ(raised, 1);

  // `user unlock` forgets the failures: the same address is checked again at once.
  ASSERT_TRUE(svc_->UnlockUser("cli:root", "erin").has_value());
  auto after = svc_->Login("erin", Secret("wrong-password!"), "000000", "198.51.100.7");
  ASSERT_FALSE(after.has_value());
  EXPECT_EQ(after.error().code(), ErrorCode::kUnauthenticated);
  bool unlocked = false;
  for (const auto& e : AuditEvents()) {
    unlocked = unlocked || (e.type == "user.unlocked" && e.actor == "cli:root" &&
                            e.details.at("user") == "erin");
  }
  EXPECT_TRUE(unlocked);
  EXPECT_EQ(svc_->UnlockUser("cli:root", "nobody").error().code(), ErrorCode::kNotFound);
}

// Issue 13.11: 20 failures from a shared address (a NAT, a proxy) do not lock out the others
// behind it.
TEST_F(ServiceTest, ASprayFromASharedAddressDoesNotKeepOthersThereOut) {
  auto nu = svc_->AddUser("test", "frank", {Role::kApprover}, Secret("frank-password-123"));
  ASSERT_TRUE(nu.has_value());
  for (int i = 0; i < 40; ++i) {
    (void)svc_->Login("user" + std::to_string(i), Secret("Winter2026!"), "123456", "192.0.2.1");
  }
  auto code = *auth::TotpCode(nu->totp_secret, clock_.Now());
  auto lr = svc_->Login("frank", Secret("frank-password-123"), code, "192.0.2.1");
  EXPECT_TRUE(lr.has_value()) << lr.error().ToString();
}

// Issue 13.29: a name that is no account may be a password typed into the wrong field; the log
// keeps only its keyed hash, which still tells repeated attempts with one name apart.
TEST_F(ServiceTest, ANameThatIsNoAccountIsLoggedOnlyAsAKeyedHash) {
  AddAndLogin("alice", {Role::kRequester});
  const std::string typed = "Correct-Horse-Battery-9";
  (void)svc_->Login(typed, Secret("whatever-else"), "123456", "10.0.0.9");
  (void)svc_->Login(typed, Secret("whatever-else"), "123456", "10.0.0.9");
  (void)svc_->Login("alice", Secret("wrong-password"), "123456", "10.0.0.9");
  auto leaves = svc_->store().AuditLeaves(0, *svc_->store().AuditSize());
  ASSERT_TRUE(leaves.has_value());
  for (const auto& leaf : *leaves) EXPECT_EQ(leaf.find(typed), std::string::npos) << leaf;
  std::vector<std::string> actors;
  for (const auto& e : AuditEvents()) {
    if (e.type == "auth.login_failed") actors.push_back(e.actor);
  }
  ASSERT_EQ(actors.size(), 3u);
  EXPECT_EQ(actors[0], svc_->audit().Hmac(typed));
  EXPECT_EQ(actors[0].rfind("hmac-sha256:", 0), 0u) << actors[0];
  EXPECT_EQ(actors[1], actors[0]);
  EXPECT_EQ(actors[2], "alice");  // an account's name is kept
}

// Issue 13.23: step-up codes count with the logins: throttled with Retry-After, and after a
// few wrong ones the token can no longer step up, not even with the right code.
TEST_F(ServiceTest, WrongStepUpCodesAreThrottledAndThenRefusedForThatToken) {
  auto carol = AddAndLogin("carol", {Role::kApprover});
  clock_.Advance(Seconds(30));
  int wrong = 0, throttled = 0;
  for (int i = 0; i < 40 && wrong < Service::kMaxStepUpFailures; ++i) {
    auto r = svc_->VerifyActionCode(carol, "000000");
    ASSERT_FALSE(r.has_value());
    if (r.error().code() == ErrorCode::kResourceExhausted) {
      ++throttled;
      ASSERT_GT(r.error().retry_after_seconds(), 0);
      clock_.Advance(Seconds(r.error().retry_after_seconds()));
    } else {
      ASSERT_EQ(r.error().code(), ErrorCode::kPermissionDenied) << r.error().ToString();
      ++wrong;
    }
  }
  EXPECT_EQ(wrong, Service::kMaxStepUpFailures);
  EXPECT_GT(throttled, 0);
  clock_.Advance(std::chrono::minutes(1));  // well past the last wait, within the token's life
  auto right = *auth::TotpCode(seeds_["carol"], clock_.Now());
  auto refused = svc_->VerifyActionCode(carol, right);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(refused.error().field(), "totp");
  EXPECT_NE(refused.error().message().find("log in again"), std::string::npos);
  // The same code still logs in (the refusal did not use it): a new login starts afresh.
  auto lr = svc_->Login("carol", Secret("carol-password-123"), right, "10.0.0.8");
  ASSERT_TRUE(lr.has_value()) << lr.error().ToString();
  int audited = 0;
  for (const auto& e : AuditEvents()) audited += e.type == "auth.mfa_failed";
  EXPECT_EQ(audited, Service::kMaxStepUpFailures);
}

TEST_F(ServiceTest, RenewingATokenKeepsItsStepUpFailures) {
  auto nu = svc_->AddUser("test", "carol", {Role::kApprover}, Secret("carol-password-123"));
  auto code = *auth::TotpCode(nu->totp_secret, clock_.Now());
  auto lr = svc_->Login("carol", Secret("carol-password-123"), code, "10.0.0.1");
  ASSERT_TRUE(lr.has_value());
  std::string token(lr->token.Reveal());
  for (int i = 0; i < Service::kMaxStepUpFailures; ++i) {
    auto a = svc_->Authenticate(token, "10.0.0.1");
    ASSERT_TRUE(a.has_value());
    auto r = svc_->VerifyActionCode(*a, "000000");
    ASSERT_FALSE(r.has_value());
    if (r.error().code() == ErrorCode::kResourceExhausted) {
      clock_.Advance(Seconds(r.error().retry_after_seconds()));
      --i;
      continue;
    }
    auto renewed = svc_->Renew(*a, token, "10.0.0.1");
    ASSERT_TRUE(renewed.has_value()) << renewed.error().ToString();
    token = std::string(renewed->token.Reveal());
  }
  clock_.Advance(std::chrono::minutes(2));
  auto a = svc_->Authenticate(token, "10.0.0.1");
  ASSERT_TRUE(a.has_value());
  auto r = svc_->VerifyActionCode(*a, *auth::TotpCode(nu->totp_secret, clock_.Now()));
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("log in again"), std::string::npos) << r.error().ToString();
}

// Issue 13.24: freshness is the token's. A token refused for stale MFA stays refused when the
// same person logs in (or steps up) with another token.
TEST_F(ServiceTest, MfaFreshnessBelongsToTheTokenNotTheAccount) {
  auto alice = AddAndLogin("alice", {Role::kRequester});
  auto carol_old = AddAndLogin("carol", {Role::kApprover});
  AddAndLogin("dave", {Role::kApprover});
  AddAndLogin("erin", {Role::kApprover});
  clock_.Advance(std::chrono::minutes(11));  // past the rule's mfa_max_age of 10m
  auto created = Call([&](auto cb) { svc_->Create(alice, DbaCommand(), cb); });
  ASSERT_TRUE(created.has_value()) << created.error().ToString();
  const RequestId id = created->id;
  auto stale = Call([&](auto cb) { svc_->Approve(carol_old, id, "ok", cb); });
  ASSERT_FALSE(stale.has_value());
  EXPECT_EQ(stale.error().field(), "totp");
  // carol logs in elsewhere: a new, fresh token.
  auto code = *auth::TotpCode(seeds_["carol"], clock_.Now());
  auto lr = svc_->Login("carol", Secret("carol-password-123"), code, "10.0.0.7");
  ASSERT_TRUE(lr.has_value()) << lr.error().ToString();
  // The old token, authenticated again (as the API does on every call), is still stale.
  auto carol_old_again = svc_->Authenticate(tokens_["carol"], "10.0.0.1");
  ASSERT_TRUE(carol_old_again.has_value());
  auto still = Call([&](auto cb) { svc_->Approve(*carol_old_again, id, "ok", cb); });
  ASSERT_FALSE(still.has_value());
  EXPECT_EQ(still.error().field(), "totp");
  // The new token approves without a code.
  auto carol_new = svc_->Authenticate(std::string(lr->token.Reveal()), "10.0.0.7");
  ASSERT_TRUE(carol_new.has_value());
  auto ok = Call([&](auto cb) { svc_->Approve(*carol_new, id, "ok", cb); });
  EXPECT_TRUE(ok.has_value()) << ok.error().ToString();
}

// Issue 12.3: an approval with a code is one writer transaction: the code, the request's
// visibility and the decision commit together, a wrong code is still counted, and the call
// never waits for the writer.
TEST_F(ServiceTest, ApproveWithACodeIsOneTransactionThatCountsAWrongCode) {
  auto alice = AddAndLogin("alice", {Role::kRequester});
  auto carol = AddAndLogin("carol", {Role::kApprover});
  AddAndLogin("dave", {Role::kApprover});
  clock_.Advance(std::chrono::minutes(11));  // carol's login is too old for the rule
  auto created = Call([&](auto cb) { svc_->Create(alice, DbaCommand(), cb); });
  ASSERT_TRUE(created.has_value()) << created.error().ToString();
  const RequestId id = created->id;
  auto mfa_failures = [&] {
    int n = 0;
    for (const auto& e : AuditEvents()) n += e.type == "auth.mfa_failed";
    return n;
  };

  auto wrong = Call([&](auto cb) { svc_->Approve(carol, id, "ok", cb, "000000"); });
  ASSERT_FALSE(wrong.has_value());
  EXPECT_EQ(wrong.error().code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(wrong.error().field(), "totp");
  EXPECT_EQ(mfa_failures(), 1);  // committed, although nothing was approved
  auto tok = svc_->store().GetToken(carol.token_hash);
  ASSERT_TRUE(tok.has_value() && tok->has_value());
  EXPECT_EQ((*tok)->step_up_failures, 1);
  EXPECT_EQ(svc_->Get(alice, id)->approvals.size(), 0u);

  // A request that does not exist costs no code: the same code then approves.
  const std::string code = *auth::TotpCode(seeds_["carol"], clock_.Now());
  auto none = Call([&](auto cb) { svc_->Approve(carol, RequestId("req_none"), "ok", cb, code); });
  ASSERT_FALSE(none.has_value());
  EXPECT_EQ(none.error().code(), ErrorCode::kNotFound);

  // The writer is busy: the call returns at once (it used to wait in RunSync for the code),
  // and the approval lands when the writer gets to it.
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> busy;
  svc_->SubmitWrite(
      [&busy, released](Tx&) {
        busy.set_value();
        released.wait();
        return Ok();
      },
      [](Status) {});
  busy.get_future().wait();
  std::promise<Result<core::Request>> approved;
  svc_->Approve(carol, id, "ok",
                [&approved](Result<core::Request> r) { approved.set_value(std::move(r)); }, code);
  release.set_value();  // reached only because Approve did not wait for the writer
  auto r = approved.get_future().get();
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  ASSERT_EQ(r->approvals.size(), 1u);
  EXPECT_EQ(r->approvals[0].approver, "carol");

  // The code was spent in that same commit: presenting it again is refused.
  auto again = Call([&](auto cb) { svc_->Deny(carol, id, "changed my mind", cb, code); });
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().field(), "totp");
  EXPECT_EQ(mfa_failures(), 2);
}

// A recording credential or a token-less actor may not present a code, as before.
TEST_F(ServiceTest, OnlyAPersonsOwnTokenMayPresentACode) {
  auto alice = AddAndLogin("alice", {Role::kRequester});
  auto carol = AddAndLogin("carol", {Role::kApprover});
  AddAndLogin("dave", {Role::kApprover});
  auto created = Call([&](auto cb) { svc_->Create(alice, DbaCommand(), cb); });
  ASSERT_TRUE(created.has_value()) << created.error().ToString();
  core::Actor no_token = carol;
  no_token.token_hash.clear();
  auto refused = Call([&](auto cb) { svc_->Approve(no_token, created->id, "", cb, "123456"); });
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code(), ErrorCode::kPermissionDenied);
  EXPECT_NE(refused.error().message().find("cannot present a TOTP code"), std::string::npos);
}

// Issue 13.25: renewing keeps a login alive at most token_max_lifetime.
TEST_F(ServiceTest, ATokenFamilyEndsAtItsMaximumLifetimeRenewedOrNot) {
  svc_->Stop();
  svc_.reset();
  config_.token_ttl = std::chrono::minutes(15);
  config_.token_max_lifetime = std::chrono::hours(1);
  Open();
  auto nu = svc_->AddUser("test", "dave", {Role::kApprover}, Secret("dave-password-123"));
  const Timestamp login_at = clock_.Now();
  auto lr = svc_->Login("dave", Secret("dave-password-123"),
                        *auth::TotpCode(nu->totp_secret, clock_.Now()), "10.0.0.1");
  ASSERT_TRUE(lr.has_value());
  std::string token(lr->token.Reveal());
  int renewals = 0;
  for (;;) {
    clock_.Advance(std::chrono::minutes(5));
    auto a = svc_->Authenticate(token, "10.0.0.1");
    if (!a) break;  // the last token expired at the family's end
    auto r = svc_->Renew(*a, token, "10.0.0.1");
    if (!r) {
      EXPECT_EQ(r.error().code(), ErrorCode::kUnauthenticated);
      EXPECT_NE(r.error().message().find("log in again"), std::string::npos);
      break;
    }
    EXPECT_LE(r->expires_at, login_at + std::chrono::hours(1));
    token = std::string(r->token.Reveal());
    ++renewals;
    ASSERT_LT(renewals, 100);
  }
  EXPECT_EQ(renewals, 11);  // at 5, 10, ..., 55 minutes
  EXPECT_GE(clock_.Now(), login_at + std::chrono::hours(1));
  EXPECT_FALSE(svc_->Authenticate(token, "10.0.0.1").has_value());

  // A token still valid when its family is over (the maximum was lowered meanwhile) is not
  // renewed.
  clock_.Advance(Seconds(30));
  auto again = svc_->Login("dave", Secret("dave-password-123"),
                           *auth::TotpCode(nu->totp_secret, clock_.Now()), "10.0.0.1");
  ASSERT_TRUE(again.has_value()) << again.error().ToString();
  clock_.Advance(std::chrono::minutes(2));
  config_.token_max_lifetime = std::chrono::minutes(1);
  Restart();
  std::string t2(again->token.Reveal());
  auto a = svc_->Authenticate(t2, "10.0.0.1");
  ASSERT_TRUE(a.has_value());
  auto refused = svc_->Renew(*a, t2, "10.0.0.1");
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code(), ErrorCode::kUnauthenticated);
  EXPECT_NE(refused.error().message().find("log in again"), std::string::npos)
      << refused.error().message();
}

TEST_F(ServiceTest, ABadPolicyReloadKeepsTheLastGoodOne) {
  auto before = svc_->policy();
  std::ofstream(dir_ / "policy.toml") << "version = 2\n[[rules]]\nresource = 'nope'\n";
  auto s = svc_->ReloadPolicy();
  ASSERT_FALSE(s.has_value());
  EXPECT_NE(s.error().message().find("policy.toml:"), std::string::npos) << s.error().message();
  EXPECT_EQ(svc_->policy(), before);
}

TEST_F(ServiceTest, TokensStopWorkingWhenTheAccountIsDisabled) {
  auto nu = svc_->AddUser("test", "frank", {Role::kApprover}, Secret("frank-password-123"));
  auto code = *auth::TotpCode(nu->totp_secret, clock_.Now());
  auto lr = svc_->Login("frank", Secret("frank-password-123"), code, "10.0.0.5");
  ASSERT_TRUE(lr.has_value());
  std::string token(lr->token.Reveal());
  ASSERT_TRUE(svc_->Authenticate(token, "10.0.0.5").has_value());
  ASSERT_TRUE(svc_->SetUserDisabled("test", "frank", true).has_value());
  EXPECT_FALSE(svc_->Authenticate(token, "10.0.0.5").has_value());
  clock_.Advance(std::chrono::minutes(16));
  ASSERT_TRUE(svc_->SetUserDisabled("test", "frank", false).has_value());
  EXPECT_FALSE(svc_->Authenticate(token, "10.0.0.5").has_value());  // expired by now
}

// A grant job whose request ended before the connector was asked is skipped, and the log says
// so: it is never recorded as outcome=ok (the core's OnJobOutcome decides, not the shell).
TEST_F(ServiceTest, AGrantWhoseRequestEndedIsLoggedAsSkippedNotOk) {
  auto gate = std::make_shared<GateConnector::Gate>();
  svc_->Stop();
  svc_.reset();
  config_.connectors["db-conn"] = {"db-conn", "gate", "{}"};
  register_kinds_ = [gate](connector::ConnectorRegistry& reg) {
    reg.RegisterKind("gate", [gate](const PluginConfig&, const connector::ConnectorContext&)
                                 -> Result<std::unique_ptr<connector::Connector>> {
      return std::unique_ptr<connector::Connector>(std::make_unique<GateConnector>(gate));
    });
  };
  Open();
  auto alice = AddAndLogin("alice", {Role::kRequester});
  core::CreateCommand read = DbaCommand();
  read.privilege = "read_only";  // tier 1: approved at once, its grant queued
  auto first = Call([&](auto cb) { svc_->Create(alice, read, cb); });
  ASSERT_TRUE(first.has_value()) << first.error().ToString();
  {
    std::unique_lock lock(gate->mu);
    ASSERT_TRUE(gate->cv.wait_for(lock, std::chrono::seconds(20), [&] { return gate->entered > 0; }));
  }
  // The first grant is in flight; the second waits behind it and is revoked meanwhile.
  auto second = Call([&](auto cb) { svc_->Create(alice, read, cb); });
  ASSERT_TRUE(second.has_value()) << second.error().ToString();
  ASSERT_EQ(second->state, RequestState::kApproved);
  auto revoked = Call([&](auto cb) { svc_->Revoke(alice, second->id, "not needed after all", cb); });
  ASSERT_TRUE(revoked.has_value()) << revoked.error().ToString();
  {
    std::lock_guard lock(gate->mu);
    gate->open = true;
  }
  gate->cv.notify_all();
  WaitFor(alice, first->id, RequestState::kActive);

  std::optional<audit::LeafEvent> grant_event;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!grant_event && std::chrono::steady_clock::now() < deadline) {
    for (const auto& e : AuditEvents()) {
      if (e.type == "connector.grant" && e.request == second->id) grant_event = e;
    }
    if (!grant_event) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(grant_event.has_value());
  EXPECT_EQ(grant_event->details.at("outcome"), "skipped");
  EXPECT_EQ(grant_event->actor, core::kSystemActor);
  std::lock_guard lock(gate->mu);
  EXPECT_EQ(gate->granted, std::vector<std::string>{first->id.value()});
}

// A connector that remembers what it was asked to revoke.
class RevokeCounter final : public connector::Connector {
 public:
  struct Log {
    std::mutex mu;
    std::vector<std::string> revoked;
  };
  explicit RevokeCounter(std::shared_ptr<Log> log) : log_(std::move(log)) {}
  Status Grant(const core::Request&) override { return Ok(); }
  Status Revoke(const core::Request& r) override {
    std::lock_guard lock(log_->mu);
    log_->revoked.push_back(r.id.value());
    return Ok();
  }
  Status Probe() override { return Ok(); }

 private:
  std::shared_ptr<Log> log_;
};

// Disabling the requester ends everything they hold, in one step: the active grant is revoked
// through the connector (audited as request.revoked with the reason, by the operator), the
// pending request cancelled; their token stops, their recording credential still reads the
// grant (so the recorder sees the revocation and ends the session).
TEST_F(ServiceTest, DisablingARequesterRevokesTheirGrantsAndCancelsTheirRequests) {
  auto log = std::make_shared<RevokeCounter::Log>();
  svc_->Stop();
  svc_.reset();
  config_.connectors["db-conn"] = {"db-conn", "count", "{}"};
  register_kinds_ = [log](connector::ConnectorRegistry& reg) {
    reg.RegisterKind("count", [log](const PluginConfig&, const connector::ConnectorContext&)
                                  -> Result<std::unique_ptr<connector::Connector>> {
      return std::unique_ptr<connector::Connector>(std::make_unique<RevokeCounter>(log));
    });
  };
  Open();
  auto alice = AddAndLogin("alice", {Role::kRequester});
  AddAndLogin("carol", {Role::kApprover});
  AddAndLogin("dave", {Role::kApprover});
  AddAndLogin("root", {Role::kAdmin});
  core::CreateCommand ro = DbaCommand();
  ro.privilege = "read_only";
  auto grant = Call([&](auto cb) { svc_->Create(alice, ro, cb); });
  ASSERT_TRUE(grant.has_value()) << grant.error().ToString();
  WaitFor(alice, grant->id, RequestState::kActive);
  auto pending = Call([&](auto cb) { svc_->Create(alice, DbaCommand(), cb); });
  ASSERT_TRUE(pending.has_value()) << pending.error().ToString();
  auto recording = svc_->IssueRecordingToken(alice, grant->id);
  ASSERT_TRUE(recording.has_value());
  const std::string recording_token(recording->token.Reveal());

  auto report = svc_->DisableUser("root", "alice");
  ASSERT_TRUE(report.has_value()) << report.error().ToString();
  EXPECT_FALSE(report->was_disabled);
  EXPECT_EQ(report->revoked, std::vector<RequestId>{grant->id});
  EXPECT_EQ(report->cancelled, std::vector<RequestId>{pending->id});
  EXPECT_TRUE(report->approvals_withdrawn.empty());

  EXPECT_FALSE(svc_->Authenticate(tokens_["alice"], "10.0.0.1").has_value());
  auto rec = svc_->Authenticate(recording_token, "10.0.0.1");
  ASSERT_TRUE(rec.has_value()) << "a disabled person's recording credential stopped working";
  EXPECT_EQ(rec->name, "alice");
  core::Request revoked = WaitFor(*rec, grant->id, RequestState::kRevoked);
  EXPECT_EQ(revoked.end_reason, "account alice disabled");
  EXPECT_EQ(revoked.ended_by, "root");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  for (;;) {
    {
      std::lock_guard lock(log->mu);
      if (std::find(log->revoked.begin(), log->revoked.end(), grant->id.value()) !=
          log->revoked.end()) {
        break;
      }
    }
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the connector never revoked";
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::map<std::string, audit::LeafEvent> by_type;
  for (const auto& e : AuditEvents()) {
    if (e.request == grant->id || e.request == pending->id || e.type == "user.disabled") {
      by_type[e.type] = e;
    }
  }
  ASSERT_TRUE(by_type.count("request.revoked"));
  EXPECT_EQ(by_type["request.revoked"].actor, "root");
  EXPECT_EQ(by_type["request.revoked"].details["reason"], "account alice disabled");
  ASSERT_TRUE(by_type.count("request.cancelled"));
  EXPECT_EQ(by_type["request.cancelled"].details["cause"], "user_disabled");
  ASSERT_TRUE(by_type.count("user.disabled"));
  EXPECT_EQ(by_type["user.disabled"].actor, "root");

  // Again: nothing left to end.
  auto again = svc_->DisableUser("root", "alice");
  ASSERT_TRUE(again.has_value());
  EXPECT_TRUE(again->was_disabled);
  EXPECT_TRUE(again->revoked.empty() && again->cancelled.empty());
  EXPECT_EQ(svc_->DisableUser("root", "nobody").error().code(), ErrorCode::kNotFound);
}

// Disabling an approver withdraws their approval of a request still waiting for approvals:
// it no longer counts toward the quorum.
TEST_F(ServiceTest, DisablingAnApproverWithdrawsTheirPendingApprovals) {
  auto alice = AddAndLogin("alice", {Role::kRequester});
  auto carol = AddAndLogin("carol", {Role::kApprover});
  auto dave = AddAndLogin("dave", {Role::kApprover});
  auto erin = AddAndLogin("erin", {Role::kApprover});
  auto created = Call([&](auto cb) { svc_->Create(alice, DbaCommand(), cb); });
  ASSERT_TRUE(created.has_value()) << created.error().ToString();
  ASSERT_TRUE(Call([&](auto cb) { svc_->Approve(carol, created->id, "ok", cb); }).has_value());

  auto report = svc_->DisableUser("root", "carol");
  ASSERT_TRUE(report.has_value()) << report.error().ToString();
  EXPECT_EQ(report->approvals_withdrawn, std::vector<RequestId>{created->id});
  EXPECT_TRUE(report->revoked.empty() && report->cancelled.empty());

  auto after_dave = Call([&](auto cb) { svc_->Approve(dave, created->id, "", cb); });
  ASSERT_TRUE(after_dave.has_value()) << after_dave.error().ToString();
  EXPECT_EQ(after_dave->state, RequestState::kPending);  // carol's approval no longer counts
  ASSERT_EQ(after_dave->approvals.size(), 1u);
  EXPECT_EQ(after_dave->approvals[0].approver, "dave");
  auto after_erin = Call([&](auto cb) { svc_->Approve(erin, created->id, "", cb); });
  ASSERT_TRUE(after_erin.has_value());
  EXPECT_NE(after_erin->state, RequestState::kPending);
  bool withdrawn = false;
  for (const auto& e : AuditEvents()) {
    if (e.type == "request.approval_withdrawn" && e.request == created->id) {
      withdrawn = true;
      EXPECT_EQ(e.details.at("approver"), "carol");
      EXPECT_EQ(e.actor, "root");
    }
  }
  EXPECT_TRUE(withdrawn);
}

// The audit actor of a local account change: --operator must name an enabled admin; without
// it, the OS user when they have an admin account, else cli:<OS user>.
TEST_F(ServiceTest, TheLocalOperatorIsAnEnabledAdminAccount) {
  AddAndLogin("root", {Role::kAdmin});
  AddAndLogin("alice", {Role::kRequester});
  AddAndLogin("olga", {Role::kAdmin});
  ASSERT_TRUE(svc_->SetUserDisabled("test", "olga", true).has_value());
  EXPECT_EQ(*svc_->LocalOperator("root", "whoever"), "root");
  EXPECT_EQ(svc_->LocalOperator("alice", "whoever").error().code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(svc_->LocalOperator("olga", "whoever").error().code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(svc_->LocalOperator("nobody", "whoever").error().field(), "operator");
  EXPECT_EQ(*svc_->LocalOperator("", "root"), "root");
  EXPECT_EQ(*svc_->LocalOperator("", "alice"), "cli:alice");
  EXPECT_EQ(*svc_->LocalOperator("", "olga"), "cli:olga");
}

}  // namespace
}  // namespace bg::service

namespace bg::service {
namespace {

// Issue 15: every grant that ends opens one review; only an auditor who neither asked nor
// approved may give a verdict; an inappropriate one needs findings and alerts; a closed review
// takes no more verdicts.
TEST_F(ServiceTest, AnEndedGrantOpensOneReviewThatOnlyAnIndependentAuditorCloses) {
  auto alice = AddAndLogin("alice", {Role::kRequester});
  auto carol = AddAndLogin("carol", {Role::kApprover});
  auto dave = AddAndLogin("dave", {Role::kApprover, Role::kAuditor});
  auto sam = AddAndLogin("sam", {Role::kAuditor});
  auto root = AddAndLogin("root", {Role::kAdmin});
  auto created = Call([&](auto cb) { svc_->Create(alice, DbaCommand(), cb); });
  ASSERT_TRUE(created.has_value()) << created.error().ToString();
  const RequestId id = created->id;
  ASSERT_TRUE(Call([&](auto cb) { svc_->Approve(carol, id, "", cb); }).has_value());
  ASSERT_TRUE(Call([&](auto cb) { svc_->Approve(dave, id, "", cb); }).has_value());
  WaitFor(alice, id, RequestState::kActive);
  EXPECT_TRUE(ReviewsOf(id).empty()) << "no review while the grant runs";
  clock_.Advance(std::chrono::minutes(31));
  WaitFor(alice, id, RequestState::kExpired);

  std::vector<core::Review> reviews = ReviewsOf(id);
  ASSERT_EQ(reviews.size(), 1u);
  const core::Review rv = reviews[0];
  EXPECT_EQ(rv.trigger, "expired");
  EXPECT_EQ(rv.requester, "alice");
  EXPECT_EQ(rv.state, core::ReviewState::kOpen);
  EXPECT_EQ(rv.reviewers_needed, 1);
  EXPECT_EQ(rv.due_at, rv.opened_at + std::chrono::hours(24));  // the tier-2 rule's review_within

  // Reading the queue: auditors and admins only.
  EXPECT_EQ(svc_->reviews()->List(alice, {}).error().code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(svc_->reviews()->List(root, {})->size(), 1u);
  auto detail = svc_->reviews()->Detail(sam, rv.id);
  ASSERT_TRUE(detail.has_value()) << detail.error().ToString();
  EXPECT_EQ((*detail)["request"]["id"], id.value());
  EXPECT_EQ((*detail)["timeline"]["verified"], true);
  EXPECT_TRUE((*detail)["may_review"].get<bool>());
  EXPECT_FALSE(svc_->reviews()->Detail(dave, rv.id)->at("may_review").get<bool>());
  bool has_grant_action = false;
  for (const auto& a : (*detail)["connector_actions"]) {
    has_grant_action = has_grant_action || a["type"] == "connector.grant";
  }
  EXPECT_TRUE(has_grant_action);

  struct Case {
    core::Actor who;
    core::ReviewVerdict verdict;
    std::string findings;
    ErrorCode code;
  };
  const Case refused[] = {
      {alice, core::ReviewVerdict::kAppropriate, "", ErrorCode::kPermissionDenied},
      {dave, core::ReviewVerdict::kAppropriate, "", ErrorCode::kPermissionDenied},  // approved
      {root, core::ReviewVerdict::kAppropriate, "", ErrorCode::kPermissionDenied},  // no auditor
      {sam, core::ReviewVerdict::kInappropriate, "  ", ErrorCode::kInvalidArgument},
  };
  for (const Case& c : refused) {
    SCOPED_TRACE(c.who.name);
    auto r = Verdict(c.who, rv.id, c.verdict, c.findings);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code(), c.code);
  }
  EXPECT_EQ(Verdict(sam, "rev_nope", core::ReviewVerdict::kAppropriate).error().code(),
            ErrorCode::kNotFound);
  auto done = Verdict(sam, rv.id, core::ReviewVerdict::kInappropriate, "no incident at that time");
  ASSERT_TRUE(done.has_value()) << done.error().ToString();
  EXPECT_EQ(done->state, core::ReviewState::kDone);
  EXPECT_EQ(Verdict(sam, rv.id, core::ReviewVerdict::kAppropriate).error().code(),
            ErrorCode::kConflict);
  EXPECT_EQ(ReviewsOf(id)[0].verdicts.size(), 1u);
  EXPECT_EQ(CountEvents("review.opened"), 1);
  EXPECT_EQ(CountEvents("review.verdict"), 1);
  EXPECT_EQ(CountEvents("review.closed"), 1);
  bool alerted = false;
  for (const auto& e : AuditEvents()) {
    if (e.type == "alert.raised" && e.details.at("kind") == "review_inappropriate") {
      alerted = e.details.at("recipients") == "sam";
    }
  }
  EXPECT_TRUE(alerted);
}

// A self-approved grant revoked early opens one review too; past its deadline it escalates
// once; with block_on_overdue_inappropriate an inappropriate verdict on it blocks the person's
// new requests until the review closes.
TEST_F(ServiceTest, AnOverdueReviewEscalatesOnceAndAnInappropriateOneBlocksNewRequests) {
  auto alice = AddAndLogin("alice", {Role::kRequester});
  auto sam = AddAndLogin("sam", {Role::kAuditor});
  auto grace = AddAndLogin("grace", {Role::kAuditor});
  core::CreateCommand read = DbaCommand();
  read.privilege = "read_only";
  auto first = Call([&](auto cb) { svc_->Create(alice, read, cb); });
  ASSERT_TRUE(first.has_value()) << first.error().ToString();
  ASSERT_TRUE(first->self_approved);
  WaitFor(alice, first->id, RequestState::kActive);
  ASSERT_TRUE(Call([&](auto cb) { svc_->Revoke(alice, first->id, "done early", cb); }).has_value());
  std::vector<core::Review> reviews = ReviewsOf(first->id);
  ASSERT_EQ(reviews.size(), 1u) << "one review, not one for the self-approval and one for the end";
  const std::string rid = reviews[0].id;
  EXPECT_EQ(reviews[0].trigger, "revoked");
  EXPECT_EQ(reviews[0].reviewers_needed, 2);
  ASSERT_TRUE(Verdict(sam, rid, core::ReviewVerdict::kInappropriate, "no ticket").has_value());

  // Not yet due: nothing escalates, and alice may still ask.
  ASSERT_TRUE(svc_->reviews()->EscalateOverdue().has_value());
  EXPECT_EQ(CountEvents("review.overdue"), 0);
  EXPECT_EQ(*svc_->reviews()->OverdueCount(), 0);
  auto second = Call([&](auto cb) { svc_->Create(alice, read, cb); });
  ASSERT_TRUE(second.has_value()) << second.error().ToString();

  clock_.Advance(std::chrono::hours(73));
  ASSERT_TRUE(svc_->reviews()->EscalateOverdue().has_value());
  ASSERT_TRUE(svc_->reviews()->EscalateOverdue().has_value());  // the second finds nothing new
  EXPECT_EQ(CountEvents("review.overdue"), 1);
  EXPECT_TRUE(ReviewsOf(first->id)[0].overdue_alerted);
  EXPECT_EQ(*svc_->reviews()->OverdueCount(), 1);

  auto blocked = Call([&](auto cb) { svc_->Create(alice, read, cb); });
  ASSERT_FALSE(blocked.has_value());
  EXPECT_EQ(blocked.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(blocked.error().message().find(rid), std::string::npos) << blocked.error().message();
  int refused = 0;
  for (const auto& e : AuditEvents()) {
    refused += e.type == "request.refused" && e.details.at("reason") == "failed_precondition";
  }
  EXPECT_EQ(refused, 1);

  ASSERT_TRUE(Verdict(grace, rid, core::ReviewVerdict::kAppropriateWithFindings, "ticket late")
                  .has_value());
  EXPECT_EQ(*svc_->reviews()->OverdueCount(), 0);
  auto after = Call([&](auto cb) { svc_->Create(alice, read, cb); });
  EXPECT_TRUE(after.has_value()) << after.error().ToString();
}

}  // namespace
}  // namespace bg::service

namespace bg::service {
namespace {

// Issue 15, attestation: a campaign closes at its deadline (audited, the unanswered alerted and,
// with attestation_remove_unanswered, removed from the policy in force); [[attestations]] opens
// the next one by itself.
TEST_F(ServiceTest, AttestationCampaignsCloseAtTheDeadlineAndScheduledOnesOpen) {
  std::string text = kPolicy;
  text.replace(text.find("block_on_overdue_inappropriate = true"),
               std::string("block_on_overdue_inappropriate = true").size(),
               "block_on_overdue_inappropriate = true\nattestation_remove_unanswered = true");
  text += "\n[[attestations]]\nscope = \"pools\"\nevery = \"2160h\"\ndue = \"48h\"\n";
  std::ofstream(dir_ / "policy.toml") << text;
  ASSERT_TRUE(svc_->ReloadPolicy().has_value());
  auto sam = AddAndLogin("sam", {Role::kAuditor});
  Attestations& att = *svc_->attestations();

  // The schedule has no campaign yet: the first tick opens one (pools: carol, dave, erin of
  // dba-approvers, answered by the security contact sam, as the pool has no owner).
  ASSERT_TRUE(att.Tick().has_value());
  auto open = att.List(sam, core::CampaignState::kOpen);
  ASSERT_TRUE(open.has_value());
  ASSERT_EQ(open->size(), 1u);
  const core::Campaign scheduled = (*open)[0];
  EXPECT_EQ(scheduled.opened_by, "system");
  ASSERT_EQ(scheduled.items.size(), 1u);  // the pool is written as one principal: group:dba
  EXPECT_EQ(scheduled.items[0].principal, "group:dba");
  EXPECT_EQ(scheduled.due_at, clock_.Now() + std::chrono::hours(48));
  ASSERT_TRUE(att.Tick().has_value());
  EXPECT_EQ(att.List(sam, std::nullopt)->size(), 1u) << "not due again for 90 days";
  EXPECT_TRUE(svc_->policy()->InPool("carol", "dba-approvers"));

  // Nobody answers: at the deadline it closes and, by policy, the pool loses the group.
  clock_.Advance(std::chrono::hours(49));
  ASSERT_TRUE(att.Tick().has_value());
  auto closed = att.Get(sam, scheduled.id);
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->state, core::CampaignState::kClosed);
  EXPECT_TRUE(closed->items[0].removed);
  EXPECT_FALSE(svc_->policy()->InPool("carol", "dba-approvers"));
  EXPECT_EQ(CountEvents("attestation.opened"), 1);
  EXPECT_EQ(CountEvents("attestation.closed"), 1);
  bool alerted = false;
  for (const auto& e : AuditEvents()) {
    alerted = alerted || (e.type == "alert.raised" && e.details.at("kind") == "attestation_unanswered");
  }
  EXPECT_TRUE(alerted);
  // The removal holds across a restart (it is read back from the store).
  Restart();
  EXPECT_FALSE(svc_->policy()->InPool("carol", "dba-approvers"));
}

}  // namespace
}  // namespace bg::service
