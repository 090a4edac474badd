// Who hears what (issue 14): the routing of audit events to messages and audiences, a sink's
// `events` and `audience` filters, and the addresses a routed sink mails.
#include "service/notices.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "audit/event.h"
#include "store/store.h"
#include "test/fakes/temp_dir.h"

namespace bg::service {
namespace {

constexpr char kPolicy[] = R"(
version = 1
[settings]
timezone = "UTC"
security_contacts = ["sam"]
[groups]
sre = ["alice"]
dba = ["carol", "dave", "alice"]
managers = ["mona"]
[pools]
dba-approvers = ["group:dba"]
managers = ["group:managers"]
[[resources]]
name = "db"
connector = "c"
owner = "carol"
privileges = ["dba"]
[[rules]]
resource = "db"
privileges = ["dba"]
requesters = ["group:sre"]
tier = 2
pool = "dba-approvers"
approvals = 1
max_duration = "2h"
)";

class CapturingSink final : public notify::MessageSink {
 public:
  std::string Describe() const override { return "capture"; }
  Status Send(const notify::Message& m) override {
    sent.push_back(m);
    return Ok();
  }
  std::vector<notify::Message> sent;
};

class NoticesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto parsed = core::ParsePolicy(kPolicy, "p.toml");
    ASSERT_TRUE(parsed.policy.has_value());
    policy_ = std::make_shared<const core::Policy>(*parsed.policy);
    auto s = store::OpenStore("sqlite", tmp_.path());
    ASSERT_TRUE(s.has_value()) << s.error().message();
    store_ = std::move(*s);
    request_.id = RequestId("req_n1");
    request_.requester = "alice";
    request_.resource = "db";
    request_.privilege = "dba";
    request_.tier = 2;
    request_.pool = "dba-approvers";
    request_.required_approvals = 1;
    request_.reason = "replica lag";
    request_.ticket = "INC-9";
    request_.duration = std::chrono::minutes(30);
    store::WriteBatch b;
    b.requests.push_back({request_, 0});
    for (const auto& [name, email, disabled] :
         std::vector<std::tuple<std::string, std::string, bool>>{
             {"alice", "alice@x.example", false},
             {"carol", "carol@x.example", false},
             {"dave", "dave@x.example", true},  // disabled: never mailed
             {"sam", "sam@x.example", false}}) {
      store::UserRecord u;
      u.name = name;
      u.email = email;
      u.disabled = disabled;
      b.users.push_back(u);
    }
    ASSERT_TRUE(store_->Commit(b).has_value());
    router_ = std::make_shared<NoticeRouter>(
        *store_, [this] { return policy_; }, "https://bg.example/", "breakglass/test");
  }
  std::string Leaf(const std::string& type, const std::string& actor, bool about_request,
                   std::map<std::string, std::string> details = {}) {
    core::AuditEvent e{type, actor, about_request ? request_.id : RequestId(), std::move(details)};
    return audit::EncodeLeaf(e, FromUnixSeconds(1800000000));
  }
  std::optional<Notice> Route(const std::string& leaf, int64_t index = 5) {
    auto n = router_->Route(index, leaf);
    EXPECT_TRUE(n.has_value()) << n.error().message();
    return n.has_value() ? *n : std::nullopt;
  }

  testing::TempDir tmp_;
  std::shared_ptr<const core::Policy> policy_;
  std::unique_ptr<store::Store> store_;
  core::Request request_;
  std::shared_ptr<NoticeRouter> router_;
};

TEST_F(NoticesTest, ANewRequestGoesToItsPoolWithoutTheRequesterAndLinksToThePage) {
  auto n = Route(Leaf("request.created", "alice", true, {{"reason", "replica lag"}}), 17);
  ASSERT_TRUE(n);
  EXPECT_EQ(n->message.event, "request.created");
  EXPECT_EQ(n->message.id, "breakglass/test/17");
  EXPECT_EQ(n->message.at, "2027-01-15T08:00:00Z");
  EXPECT_EQ(n->message.url, "https://bg.example/requests/req_n1");
  EXPECT_EQ(n->audience, (std::set<std::string>{"pool:dba-approvers"}));
  // alice is in group dba too, but never asked to approve her own request.
  EXPECT_EQ(n->people, (std::vector<std::string>{"carol", "dave"}));
  const auto request = nlohmann::json::parse(n->message.request_json);
  EXPECT_EQ(request["id"], "req_n1");
  EXPECT_EQ(request["ticket"], "INC-9");
  EXPECT_NE(n->message.text.find("Reason: replica lag"), std::string::npos) << n->message.text;
  EXPECT_NE(n->message.title.find("alice asks for dba on db"), std::string::npos);
}

TEST_F(NoticesTest, EachEventHasItsAudience) {
  struct Case {
    std::string type;
    std::map<std::string, std::string> details;
    std::string event;  // "" : not for people
    std::set<std::string> audience;
  };
  const std::vector<Case> cases = {
      {"request.approved", {}, "request.approved", {"requester"}},
      {"request.self_approved", {}, "request.approved", {"requester"}},
      {"request.denied", {{"reason", "no"}}, "request.denied", {"requester"}},
      {"request.activated", {}, "request.active", {"requester"}},
      {"request.expiry_warning", {}, "grant.expiring", {"requester"}},
      {"request.expired", {}, "grant.expired", {"requester"}},
      {"request.revoked", {}, "grant.revoked", {"requester"}},
      {"request.cancelled", {}, "request.cancelled", {"pool:dba-approvers"}},
      {"request.escalated", {{"pool", "dba-approvers"}, {"escalate_to", "managers"}},
       "request.escalated", {"requester", "pool:managers"}},
      {"grant.failed", {{"error", "x"}}, "grant.failed", {"requester", "security_contacts"}},
      {"alert.raised", {{"kind", "revocation_failing"}, {"message", "m"}, {"recipients", "sam"}},
       "alert.raised", {"security_contacts"}},
      // An alert that repeats an event with its own message is not sent twice.
      {"alert.raised", {{"kind", "expiry_warning"}, {"message", "m"}}, "", {}},
      {"approval.recorded", {}, "", {}},
      {"auth.login", {}, "", {}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.type);
    auto n = Route(Leaf(c.type, "bob", true, c.details));
    if (c.event.empty()) {
      EXPECT_FALSE(n);
      continue;
    }
    ASSERT_TRUE(n);
    EXPECT_EQ(n->message.event, c.event);
    EXPECT_EQ(n->audience, c.audience);
  }
  // Emergency and tier-3 activations also go to the security contacts.
  request_.tier = 3;
  store::WriteBatch b;
  b.requests.push_back({request_, 1});
  ASSERT_TRUE(store_->Commit(b).has_value());
  auto n = Route(Leaf("request.activated", "system", true));
  ASSERT_TRUE(n);
  EXPECT_TRUE(n->message.emergency);
  EXPECT_EQ(n->audience, (std::set<std::string>{"requester", "security_contacts"}));
  EXPECT_EQ(n->people, (std::vector<std::string>{"alice", "sam"}));
}

TEST_F(NoticesTest, FiltersNarrowByEventAndAudience) {
  auto created = *Route(Leaf("request.created", "alice", true));
  auto approved = *Route(Leaf("request.approved", "carol", true));
  const core::Policy* p = policy_.get();
  EXPECT_TRUE(NoticeFilter{}.Passes(created, p));
  EXPECT_TRUE((NoticeFilter{{"request.created"}, {}}.Passes(created, p)));
  EXPECT_FALSE((NoticeFilter{{"request.created"}, {}}.Passes(approved, p)));
  EXPECT_TRUE((NoticeFilter{{"request.*"}, {}}.Passes(approved, p)));
  EXPECT_TRUE((NoticeFilter{{}, {"pool:dba-approvers"}}.Passes(created, p)));
  EXPECT_FALSE((NoticeFilter{{}, {"pool:managers"}}.Passes(created, p)));
  EXPECT_FALSE((NoticeFilter{{}, {"requester"}}.Passes(created, p)));
  EXPECT_TRUE((NoticeFilter{{}, {"requester"}}.Passes(approved, p)));
  EXPECT_TRUE((NoticeFilter{{}, {"group:dba"}}.Passes(created, p)));      // carol, dave
  EXPECT_FALSE((NoticeFilter{{}, {"group:managers"}}.Passes(created, p)));
  EXPECT_EQ((NoticeFilter{{}, {"group:sre"}}.People(approved, p)),
            (std::vector<std::string>{"alice"}));
  EXPECT_TRUE(CheckAudience("a", "pool:x").has_value());
  EXPECT_FALSE(CheckAudience("a", "everyone").has_value());
  EXPECT_FALSE(CheckAudience("a", "pool:").has_value());
  EXPECT_TRUE(CheckEvent("e", "grant.expiring").has_value());
  EXPECT_TRUE(CheckEvent("e", "grant.*").has_value());
  EXPECT_FALSE(CheckEvent("e", "grant.exploded").has_value());
  EXPECT_FALSE(CheckEvent("e", "nothing.*").has_value());
}

TEST_F(NoticesTest, ARoutedSinkMailsTheEnabledPeopleItsAudienceNamesAndSkipsTheRest) {
  auto capture = std::make_unique<CapturingSink>();
  CapturingSink* sent = capture.get();
  RoutedSink sink(router_, NoticeFilter{{}, {"pool:dba-approvers"}}, std::move(capture));
  ASSERT_TRUE(sink.Deliver(1, Leaf("request.created", "alice", true)).has_value());
  ASSERT_TRUE(sink.Deliver(2, Leaf("request.approved", "carol", true)).has_value());  // filtered
  ASSERT_TRUE(sink.Deliver(3, Leaf("auth.login", "carol", false)).has_value());       // not for people
  ASSERT_TRUE(sink.Deliver(4, "not a leaf").has_value());
  ASSERT_EQ(sent->sent.size(), 1u);
  EXPECT_EQ(sent->sent[0].emails, (std::vector<std::string>{"carol@x.example"}));  // dave: disabled
  for (const auto& m : sent->sent) {
    EXPECT_EQ(m.request_json.find("token"), std::string::npos);
  }
}

}  // namespace
}  // namespace bg::service
