// The authorization matrix (authz_matrix.h) held against the real route table: every route of
// the server's table has rows and every row a route; every cell is called, through
// Api::Handle, on real objects of a real service on SQLite (a fake clock; no sockets), and
// answers the status its row says; docs/authorization.md's table is what the rows render; the
// lists show each caller what the single reads do.
//
// BG_UPDATE_AUTHZ_DOC=1 rewrites the document's generated section from the rows.
#include "api/authz_matrix.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "api/api.h"
#include "api/attestation_routes.h"
#include "api/connector_routes.h"
#include "api/drill_routes.h"
#include "api/inventory_routes.h"
#include "api/json.h"
#include "api/page_routes.h"
#include "api/review_routes.h"
#include "api/session_routes.h"
#include "auth/totp.h"
#include "connectors/builtin.h"
#include "connectors/health.h"
#include "session/asciicast.h"
#include "test/fakes/capturing_writer.h"
#include "test/fakes/fake_clock.h"
#include "test/fakes/test_authenticator.h"
#include "util/encoding.h"

namespace bg::api::authz {
namespace {

using nlohmann::json;
using bg::testing::CapturingWriter;
namespace wa = auth::webauthn;

constexpr char kPolicy[] = R"(
version = 1
[settings]
timezone = "UTC"
reason_min_length = 5
ticket_pattern = '^INC-[0-9]+$'
[groups]
sre = ["alice", "bob", "dave"]
dba = ["carol", "dave"]
net = ["erin"]
[pools]
dba-approvers = ["group:dba"]
net-approvers = ["group:net"]
[[resources]]
name = "db"
connector = "db-conn"
owner = "carol"
privileges = ["read_only", "dba"]
[[resources]]
name = "bastion"
connector = "bastion-ssh"
privileges = ["ops"]
[[resources]]
name = "switch"
connector = "db-conn"
privileges = ["admin"]
[[rules]]
resource = "db"
privileges = ["read_only"]
requesters = ["group:sre"]
tier = 1
max_duration = "8h"
[[rules]]
resource = "db"
privileges = ["dba"]
requesters = ["group:sre"]
tier = 2
pool = "dba-approvers"
approvals = 1
max_duration = "8h"
[[rules]]
resource = "bastion"
privileges = ["ops"]
requesters = ["group:sre"]
tier = 1
max_duration = "8h"
[[rules]]
resource = "switch"
privileges = ["admin"]
requesters = ["group:sre"]
tier = 2
pool = "net-approvers"
approvals = 1
max_duration = "8h"
)";

// How long an answer or an activation may take before the test calls it hung: a guard against
// a hang, far beyond any load, never a rule's time (rules run on the fake clock).
constexpr auto kHangGuard = std::chrono::minutes(2);


struct Answer {
  int status = 0;
  json body;  // null when not JSON
  std::string raw;
};

std::string Fill(const std::string& pattern, const std::map<std::string, std::string>& params) {
  std::string out;
  for (const std::string& seg : PathSegments(pattern)) {
    if (seg.size() > 2 && seg.front() == '{') {
      auto it = params.find(seg.substr(1, seg.size() - 2));
      out += "/" + (it == params.end() ? std::string("unfilled") : it->second);
    } else {
      out += "/" + seg;
    }
  }
  return out.empty() ? "/" : out;
}

void ReplaceAll(std::string& s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
}

std::string RowName(const Row& r) {
  return std::string(r.method) + " " + r.pattern + (*r.query ? std::string("?") + r.query : "");
}

// ---- the document ----

const char* SubjectText(Subject s) {
  switch (s) {
    case Subject::kNone:
      return "";
    case Subject::kPending:
      return "pending request";
    case Subject::kGrant:
      return "active grant";
    case Subject::kSshGrant:
      return "active ssh grant";
    case Subject::kSession:
      return "session";
    case Subject::kReview:
      return "open review";
    case Subject::kCampaignItem:
      return "campaign item of carol";
    case Subject::kDrill:
      return "drill of db";
    case Subject::kAsset:
      return "app.js";
    case Subject::kFreshPending:
      return "pending request (new per call)";
    case Subject::kFreshGrant:
      return "active grant (new per call)";
    case Subject::kFreshSession:
      return "new session";
    case Subject::kFreshReview:
      return "open review (new per call)";
    case Subject::kFreshPasskey:
      return "passkey (new per call)";
    case Subject::kFreshLegacy:
      return "legacy path (new per call)";
  }
  return "";
}

constexpr char kBegin[] = "<!-- BEGIN GENERATED: authz_matrix_test (BG_UPDATE_AUTHZ_DOC=1) -->\n";
constexpr char kEnd[] = "<!-- END GENERATED -->\n";

std::string RenderTable() {
  std::ostringstream out;
  out << kBegin;
  out << "\n| route | on |";
  for (const CallerInfo& c : kCallerInfo) out << " " << c.column << " |";
  out << " why |\n| --- | --- |";
  for (size_t i = 0; i < kCallerInfo.size(); ++i) out << " ---: |";
  out << " --- |\n";
  for (const Row& r : kMatrix) {
    std::string route = RowName(r);
    ReplaceAll(route, "|", "\\|");
    out << "| `" << route << "` | " << SubjectText(r.subject) << " |";
    for (int s : r.expect) out << " " << s << " |";
    out << " " << r.note << " |\n";
  }
  out << "\nColumns:\n\n";
  for (const CallerInfo& c : kCallerInfo) out << "- **" << c.column << "**: " << c.who << "\n";
  out << "\n" << kEnd;
  return out.str();
}

std::string SourcePath(const std::string& rel) { return std::string(BG_SOURCE_DIR) + "/" + rel; }

TEST(AuthzMatrixDoc, DocumentShowsTheTable) {
  const std::string path = SourcePath("docs/authorization.md");
  std::ifstream in(path);
  ASSERT_TRUE(in) << path;
  std::stringstream buf;
  buf << in.rdbuf();
  std::string doc = buf.str();
  const size_t begin = doc.find(kBegin);
  const size_t end = doc.find(kEnd);
  ASSERT_NE(begin, std::string::npos) << path << " lacks the line " << kBegin;
  ASSERT_NE(end, std::string::npos) << path << " lacks the line " << kEnd;
  ASSERT_LT(begin, end);
  const std::string current = doc.substr(begin, end + std::strlen(kEnd) - begin);
  const std::string wanted = RenderTable();
  if (current == wanted) return;
  const char* update = std::getenv("BG_UPDATE_AUTHZ_DOC");
  if (update != nullptr && std::string(update) == "1") {
    doc.replace(begin, current.size(), wanted);
    std::ofstream(path, std::ios::trunc) << doc;
    GTEST_SKIP() << "rewrote the table in " << path;
  }
  ADD_FAILURE() << path << "'s table is not what src/api/authz_matrix.h says; regenerate it with "
                << "BG_UPDATE_AUTHZ_DOC=1 build/src/api/authz_matrix_test "
                   "--gtest_filter=AuthzMatrixDoc.*";
}

// ---- the server ----

struct Person {
  std::string name;
  std::string token;
  std::unique_ptr<wa::testing_fakes::TestAuthenticator> key;  // its registered passkey
  uint32_t counter = 1;
};

// What the fixture made for one owner (alice, or dave for the self-approver).
struct Owned {
  std::string pending, grant, ssh_grant, session, review;
};

class AuthzMatrixTest : public ::testing::Test {
 protected:
  static constexpr char kSource[] = "10.0.0.1";
  static constexpr char kOrigin[] = "https://localhost:8443";

  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("bg-authz-test-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_ / "data");
    std::ofstream(dir_ / "policy.toml") << kPolicy;
    service::ServerConfig config;
    config.data_dir = (dir_ / "data").string();
    config.policy = (dir_ / "policy.toml").string();
    config.connectors["db-conn"] = {"db-conn", "none", "{}"};
    config.connectors["bastion-ssh"] = {"bastion-ssh", "ssh_ca", "{}"};
    clock_.Set(*ParseRfc3339("2026-11-18T10:00:00Z"));  // a Wednesday, 10:00 UTC
    auto s = service::Service::Open(config, clock_, nullptr, service::Service::Mode::kServer,
                                    nullptr, connectors::RegisterBuiltinConnectors);
    ASSERT_TRUE(s.has_value()) << s.error().ToString();
    svc_ = std::move(*s);
    ASSERT_TRUE(svc_->Start().has_value());
    health_ =
        std::make_unique<connectors::ConnectorHealth>(*svc_, std::chrono::minutes(15), clock_);
    // The routes as `breakglass serve` adds them (serve_cmd.cc).
    api_ = std::make_unique<Api>(*svc_);
    AddSessionRoutes(*api_, *svc_);
    AddReviewRoutes(*api_, *svc_);
    AddAttestationRoutes(*api_, *svc_);
    AddDrillRoutes(*api_, *svc_);
    AddConnectorRoutes(*api_, *svc_, health_.get());
    AddInventoryRoutes(*api_, *svc_, health_.get());
    AddPageRoutes(*api_, *svc_);
    AddSinkRoutes(*api_, nullptr);
  }
  void TearDown() override {
    api_.reset();
    health_.reset();
    if (svc_) svc_->Stop();
    svc_.reset();
    std::filesystem::remove_all(dir_);
  }

  const std::vector<core::Role> kEveryRole = {core::Role::kRequester, core::Role::kApprover,
                                              core::Role::kAuditor, core::Role::kAdmin};

  // Adds a person and logs them in (password and TOTP); returns the token.
  std::string Login(const std::string& name, std::vector<core::Role> roles) {
    auto nu = svc_->AddUser("test", name, std::move(roles), Secret(name + "-password-123"));
    EXPECT_TRUE(nu.has_value()) << nu.error().ToString();
    if (!nu) return "";
    auto lr = svc_->Login(name, Secret(name + "-password-123"),
                          *auth::TotpCode(nu->totp_secret, clock_.Now()), kSource);
    EXPECT_TRUE(lr.has_value()) << lr.error().ToString();
    return lr ? std::string(lr->token.Reveal()) : "";
  }

  Answer Do(const std::string& method, const std::string& target, const std::string& token,
            const std::string& body = "") {
    http::HttpRequest req;
    req.method = method;
    const size_t q = target.find('?');
    req.path = target.substr(0, q);
    if (q != std::string::npos) {
      std::string rest = target.substr(q + 1);
      while (!rest.empty()) {
        const size_t amp = rest.find('&');
        const std::string pair = rest.substr(0, amp);
        rest = amp == std::string::npos ? "" : rest.substr(amp + 1);
        const size_t eq = pair.find('=');
        req.query[pair.substr(0, eq)] = eq == std::string::npos ? "" : pair.substr(eq + 1);
      }
    }
    if (!token.empty()) req.headers["authorization"] = "Bearer " + token;
    req.body = body;
    req.remote_address = kSource;
    auto writer = std::make_shared<CapturingWriter>();
    api_->Handle(std::move(req), writer);
    Answer a;
    http::HttpResponse r = writer->Wait(kHangGuard);
    writer->Close();  // ends an event stream
    a.status = r.status;
    a.raw = r.body;
    a.body = json::parse(r.body, nullptr, false);
    if (a.body.is_discarded()) a.body = nullptr;
    return a;
  }

  // Answers `status` or fails the fixture; returns the answer's body.
  json Expect(int status, const std::string& method, const std::string& target,
              const std::string& token, const std::string& body = "") {
    Answer a = Do(method, target, token, body);
    EXPECT_EQ(a.status, status) << method << " " << target << ": " << a.raw;
    return a.body;
  }

  core::Actor ActorOf(const std::string& token) {
    auto a = svc_->Authenticate(token, kSource);
    EXPECT_TRUE(a.has_value());
    return a ? *a : core::Actor{};
  }

  std::string NewRequest(const Person& p, const std::string& resource,
                         const std::string& privilege) {
    json b = {{"resource", resource},
              {"privilege", privilege},
              {"duration", "4h"},
              {"reason", "the authorization matrix"},
              {"ticket", "INC-" + std::to_string(++n_)}};
    return Expect(201, "POST", "/v1/requests", p.token, b.dump()).value("id", "");
  }

  // Polls the service (with the hang guard) until the grant runner made `id` active.
  void WaitActive(const Person& p, const std::string& id) {
    const core::Actor a = ActorOf(p.token);
    const auto guard = std::chrono::steady_clock::now() + kHangGuard;
    while (std::chrono::steady_clock::now() < guard) {
      auto r = svc_->Get(a, RequestId(id));
      ASSERT_TRUE(r.has_value());
      if (r->state == core::RequestState::kActive) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    FAIL() << id << " never became active";
  }

  std::string NewGrant(const Person& p, const std::string& resource = "db",
                       const std::string& privilege = "read_only") {
    const std::string id = NewRequest(p, resource, privilege);
    WaitActive(p, id);
    return id;
  }

  std::string HeaderOf(const std::string& session, const std::string& grant,
                       const std::string& user) {
    session::Header h;
    h.timestamp = ToUnixSeconds(clock_.Now());
    h.session_id = session;
    h.request_id = grant;
    h.user = user;
    h.host = "db-1";
    return session::HeaderLine(h);
  }

  std::string NewSession(const Person& p, const std::string& grant) {
    const std::string id = "ses-authz-" + std::to_string(++n_);
    json b = {{"id", id}, {"request_id", grant}, {"header", HeaderOf(id, grant, p.name)}};
    return Expect(201, "POST", "/v1/sessions", p.token, b.dump()).value("id", "");
  }

  std::string NewReview(const Person& p) {
    const std::string id = NewRequest(p, "db", "read_only");
    Expect(200, "POST", "/v1/requests/" + id + "/revoke", p.token, R"({"reason":"ended"})");
    store::ReviewFilter f;
    f.subject = id;
    auto reviews = svc_->store().ListReviews(f);
    EXPECT_TRUE(reviews.has_value() && reviews->size() == 1u) << "no review of " << id;
    return reviews && !reviews->empty() ? reviews->front().id : "";
  }

  static std::string ChallengeOf(const json& options) {
    return *Base64UrlDecode(options.value("challenge", ""));
  }

  // A registration body made with the caller's token (for a caller whose options are refused,
  // one made for a challenge the server never issued).
  std::string RegistrationBody(const std::string& token, wa::testing_fakes::TestAuthenticator& k) {
    Answer opts = Do("POST", "/v1/passkeys/options", token);
    const std::string challenge = opts.status == 200 ? ChallengeOf(opts.body) : "unissued";
    wa::Registration reg = k.Register({challenge, kOrigin, "localhost"});
    return json{{"name", "key-" + std::to_string(++n_)},
                {"client_data_json", Base64UrlEncode(reg.client_data_json)},
                {"attestation_object", Base64UrlEncode(reg.attestation_object)}}
        .dump();
  }

  // Registers a new passkey of `p`; returns its id (base64url).
  std::string NewPasskey(Person& p, std::unique_ptr<wa::testing_fakes::TestAuthenticator> k) {
    const std::string id =
        Expect(201, "POST", "/v1/passkeys", p.token, RegistrationBody(p.token, *k)).value("id", "");
    if (!p.key) p.key = std::move(k);
    return id;
  }

  std::string PasskeyLoginBody(Person& p) {
    json opts = Expect(200, "POST", "/v1/auth/passkey/options", "");
    wa::Assertion a = p.key->Sign({ChallengeOf(opts), kOrigin, "localhost"}, ++p.counter);
    return json{{"credential",
                 {{"id", Base64UrlEncode(a.credential_id)},
                  {"client_data_json", Base64UrlEncode(a.client_data_json)},
                  {"authenticator_data", Base64UrlEncode(a.authenticator_data)},
                  {"signature", Base64UrlEncode(a.signature)}}}}
        .dump();
  }

  // A new account's login body (each login needs a TOTP step nobody used).
  std::string LoginBody() {
    const std::string name = "login" + std::to_string(++n_);
    auto nu = svc_->AddUser("test", name, {core::Role::kRequester}, Secret(name + "-pass-123"));
    EXPECT_TRUE(nu.has_value());
    return json{{"username", name},
                {"password", name + "-pass-123"},
                {"totp", *auth::TotpCode(nu->totp_secret, clock_.Now())}}
        .dump();
  }

  // The people, their tokens and their objects the cells call on.
  void BuildWorld() {
    // The expired token: a login whose token_ttl (15 minutes) has passed.
    const std::string expired = Login("exp", kEveryRole);
    clock_.Advance(std::chrono::minutes(16));

    auto add = [&](const std::string& name, std::vector<core::Role> roles) -> Person& {
      Person& p = people_[name];
      p.name = name;
      p.token = Login(name, std::move(roles));
      return p;
    };
    Person& alice = add("alice", {core::Role::kRequester});
    Person& bob = add("bob", {core::Role::kRequester});
    Person& erin = add("erin", {core::Role::kApprover});
    Person& carol = add("carol", {core::Role::kApprover});
    Person& dave = add("dave", {core::Role::kRequester, core::Role::kApprover});
    Person& sam = add("sam", {core::Role::kAuditor});
    Person& root = add("root", {core::Role::kAdmin});
    const std::string disabled = Login("dis", kEveryRole);
    ASSERT_TRUE(svc_->DisableUser("test", "dis").has_value());
    const std::string logged_out = Login("out", kEveryRole);
    ASSERT_TRUE(svc_->Logout(logged_out).has_value());
    for (Person* p : {&alice, &bob, &erin, &carol, &dave, &sam, &root}) {
      NewPasskey(*p, std::make_unique<wa::testing_fakes::TestAuthenticator>(wa::kEs256, p->name));
    }

    for (Person* p : {&alice, &dave}) {
      Owned& o = owned_[p->name];
      o.pending = NewRequest(*p, "db", "dba");
      o.grant = NewGrant(*p);
      o.ssh_grant = NewGrant(*p, "bastion", "ops");
      o.session = NewSession(*p, o.grant);
      o.review = NewReview(*p);
    }
    auto recording =
        svc_->IssueRecordingToken(ActorOf(alice.token), RequestId(owned_["alice"].grant));
    ASSERT_TRUE(recording.has_value()) << recording.error().ToString();
    campaign_ = Expect(201, "POST", "/v1/attestations", root.token, R"({"scope":"eligibility"})");
    for (const json& i : campaign_["items"]) {
      for (const json& o : i["owners"]) {
        if (o == "carol" && item_.empty()) item_ = i["id"];
      }
    }
    ASSERT_FALSE(item_.empty()) << campaign_.dump();
    {  // A finished drill of db, as the drill runner stores it.
      store::DrillRecord d;
      d.id = "dr_1";
      d.number = 1;
      d.resource = "db";
      d.privilege = "read_only";
      d.tier = 1;
      d.state = "failed";
      d.started_by = "root";
      d.started_at = clock_.Now();
      d.finished_at = clock_.Now();
      store::WriteBatch b;
      b.drills.push_back({d, 0});
      ASSERT_TRUE(svc_->store().Commit(b).has_value());
    }
    ssh_key_ =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINdamAGCsQq31Uv+08lkBzoO4XLz2qYjJa8CGmj3B1Ea alice";

    tokens_ = {"",          alice.token, bob.token,  erin.token,
               carol.token, dave.token,  sam.token,  root.token,
               disabled,    expired,     logged_out, std::string(recording->token.Reveal())};
    EXPECT_EQ(Do("GET", "/v1/me", tokens_[kRecording]).status, 200);
  }

  std::filesystem::path dir_;
  bg::testing::FakeClock clock_;
  std::unique_ptr<service::Service> svc_;
  std::unique_ptr<connectors::ConnectorHealth> health_;
  std::unique_ptr<Api> api_;
  int n_ = 0;
  std::map<std::string, Person> people_;
  std::map<std::string, Owned> owned_;  // alice's and dave's
  json campaign_;
  std::string item_;  // campaign_'s item carol answers
  std::string ssh_key_;
  std::array<std::string, kCallers> tokens_;
};

std::string Key(const std::string& method, const std::string& pattern) {
  return method + " " + pattern;
}

// A new route cannot ship without its rows; a row cannot outlive its route.
TEST_F(AuthzMatrixTest, EveryRouteHasRowsAndEveryRowARoute) {
  std::set<std::string> routes, rows;
  for (const Route& r : api_->router().routes()) routes.insert(Key(r.method, r.pattern));
  for (const Row& r : kMatrix) rows.insert(Key(r.method, r.pattern));
  for (const std::string& r : routes) {
    EXPECT_TRUE(rows.count(r)) << r << " is routed but has no row in src/api/authz_matrix.h: add "
                               << "one with the status each kind of caller gets";
  }
  for (const std::string& r : rows) {
    EXPECT_TRUE(routes.count(r)) << r << " has a row in src/api/authz_matrix.h but no route";
  }
  EXPECT_GE(routes.size(), 68u);
}

TEST_F(AuthzMatrixTest, EveryCellAnswersAsTheTableSays) {
  BuildWorld();
  ASSERT_FALSE(HasFatalFailure());
  Person& alice = people_["alice"];
  Person& dave = people_["dave"];
  Person& root = people_["root"];
  std::array<std::string, kCallers> tokens = tokens_;

  // The rows in the order they can run: a row that replaces or ends the caller's token last.
  std::vector<const Row*> order;
  for (TokenUse use : {TokenUse::kKeeps, TokenUse::kReplaces, TokenUse::kEnds}) {
    for (const Row& r : kMatrix) {
      if (r.token == use) order.push_back(&r);
    }
  }
  std::ostringstream actual_rows;  // what the routes answered, as rows, when they differ
  int cells = 0;
  for (const Row* row : order) {
    std::array<int, kCallers> got{};
    for (int c = 0; c < kCallers; ++c) {
      Person& owner = c == kSelfApprover ? dave : alice;
      const Owned& o = owned_[owner.name];
      std::map<std::string, std::string> params;
      switch (row->subject) {
        case Subject::kNone:
          break;
        case Subject::kPending:
          params["id"] = o.pending;
          break;
        case Subject::kGrant:
          params["id"] = o.grant;
          break;
        case Subject::kSshGrant:
          params["id"] = o.ssh_grant;
          break;
        case Subject::kSession:
          params["id"] = o.session;
          break;
        case Subject::kReview:
          params["id"] = o.review;
          break;
        case Subject::kCampaignItem:
          params["id"] = campaign_.value("id", "");
          params["item"] = item_;
          break;
        case Subject::kDrill:
          params["id"] = "dr_1";
          break;
        case Subject::kAsset:
          params["name"] = "app.js";
          break;
        case Subject::kFreshPending:
          params["id"] = NewRequest(owner, "db", "dba");
          break;
        case Subject::kFreshGrant:
          params["id"] = NewGrant(owner);
          break;
        case Subject::kFreshSession:
          params["id"] = NewSession(owner, o.grant);
          break;
        case Subject::kFreshReview:
          params["id"] = NewReview(owner);
          break;
        case Subject::kFreshPasskey:
          params["id"] = NewPasskey(owner, std::make_unique<wa::testing_fakes::TestAuthenticator>(
                                               wa::kEdDsa, "fresh" + std::to_string(++n_)));
          break;
        case Subject::kFreshLegacy:
          params["id"] = Expect(201, "POST", "/v1/inventory/legacy", root.token,
                                R"({"description":"a note in the safe","resource":"db",)"
                                R"("decommission_by":"2027-03-31"})")
                             .value("id", "");
          break;
      }
      std::string body = row->body;
      if (body == "${login}") body = LoginBody();
      if (body == "${passkey_login}") body = PasskeyLoginBody(alice);
      if (body == "${passkey_registration}") {
        wa::testing_fakes::TestAuthenticator k(wa::kEs256, "cell" + std::to_string(++n_));
        body = RegistrationBody(tokens[c], k);
      }
      const std::string session = "ses-cell-" + std::to_string(++n_);
      ReplaceAll(body, "${header}", json(HeaderOf(session, o.grant, owner.name)).dump());
      ReplaceAll(body, "${new}", session);
      ReplaceAll(body, "${grant}", o.grant);
      ReplaceAll(body, "${ssh_key}", ssh_key_);
      std::string target = Fill(row->pattern, params);
      if (*row->query) target += std::string("?") + row->query;

      Answer a = Do(row->method, target, tokens[c], body);
      got[c] = a.status;
      ++cells;
      EXPECT_EQ(a.status, row->expect[c])
          << RowName(*row) << " (" << target << ") by " << kCallerInfo[c].who << ": " << a.raw;
      if (row->token == TokenUse::kReplaces && a.status == 200) tokens[c] = a.body["token"];
      // An account holds at most 10 passkeys: the cell's own goes again.
      if (row->subject == Subject::kFreshPasskey && a.status != 200) {
        Expect(200, "DELETE", target, owner.token);
      }
    }
    if (got != row->expect) {
      actual_rows << RowName(*row) << " on " << SubjectText(row->subject) << ": {";
      for (int c = 0; c < kCallers; ++c) actual_rows << (c ? ", " : "") << got[c];
      actual_rows << "}\n";
    }
  }
  EXPECT_EQ(actual_rows.str(), "") << "rows as the routes answered them";
  EXPECT_EQ(cells, static_cast<int>(std::size(kMatrix)) * kCallers);
}

// Who sees what in the lists: the same rule as the single reads (docs/authorization.md).
TEST_F(AuthzMatrixTest, ListsShowOnlyWhatTheCallerMaySee) {
  BuildWorld();
  ASSERT_FALSE(HasFatalFailure());
  const Owned& a = owned_["alice"];
  const Owned& d = owned_["dave"];
  struct Seen {
    Caller caller;
    std::set<std::string> requests;  // of the fixture's requests
    std::set<std::string> sessions;
    bool failing_jobs;  // GET /v1/connectors shows the outbox's failing jobs
    size_t campaigns;
  };
  const std::set<std::string> all_requests = {a.pending, a.grant, a.ssh_grant,
                                              d.pending, d.grant, d.ssh_grant};
  const std::vector<Seen> table = {
      {kRequester, {a.pending, a.grant, a.ssh_grant}, {a.session}, false, 0},
      {kOtherRequester, {}, {}, false, 0},
      {kApproverOutsidePool, {}, {}, true, 0},
      {kApproverInPool, {a.pending, d.pending}, {}, true, 1},
      // dave's own, and alice's pending request his pool may approve.
      {kSelfApprover, {d.pending, d.grant, d.ssh_grant, a.pending}, {d.session}, true, 0},
      {kAuditor, all_requests, {a.session, d.session}, true, 1},
      {kAdmin, all_requests, {a.session, d.session}, true, 1},
  };
  for (const Seen& want : table) {
    SCOPED_TRACE(kCallerInfo[want.caller].who);
    const std::string& token = tokens_[want.caller];
    std::set<std::string> requests, sessions;
    const json listed = Expect(200, "GET", "/v1/requests?limit=1000", token);
    for (const json& r : listed["requests"]) {
      if (all_requests.count(r.value("id", ""))) requests.insert(r.value("id", ""));
    }
    const json recorded = Expect(200, "GET", "/v1/sessions", token);
    for (const json& x : recorded["sessions"]) {
      sessions.insert(x.value("id", ""));
    }
    EXPECT_EQ(requests, want.requests);
    EXPECT_EQ(sessions, want.sessions);
    EXPECT_EQ(Expect(200, "GET", "/v1/connectors", token).contains("failing_jobs"),
              want.failing_jobs);
    EXPECT_EQ(Expect(200, "GET", "/v1/attestations", token)["campaigns"].size(), want.campaigns);
  }
}

}  // namespace
}  // namespace bg::api::authz
