// The REST layer in process: the real Api, its route table and a real service on SQLite, driven
// through Api::Handle with a recording ResponseWriter (no sockets). The table drives the
// tests: every route is checked against the OpenAPI document and called without a token,
// with a token lacking its role and with a recording credential.
#include "api/api.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "api/connector_routes.h"
#include "api/event_streams.h"
#include "api/json.h"
#include "api/page_routes.h"
#include "api/web_session.h"
#include "api/sealed_routes.h"
#include "api/attestation_routes.h"
#include "api/inventory_routes.h"
#include "api/drill_routes.h"
#include "connector/connector.h"
#include "service/drills.h"
#include "api/review_routes.h"
#include "api/session_routes.h"
#include "audit/checkpoint.h"
#include "audit/merkle.h"
#include "auth/totp.h"
#include "test/fakes/test_authenticator.h"
#include "util/encoding.h"
#include "test/fakes/capturing_writer.h"
#include "test/fakes/fake_clock.h"

namespace bg::api {
namespace {

using nlohmann::json;
using bg::testing::CapturingWriter;

constexpr char kPolicy[] = R"(
version = 1
[settings]
timezone = "UTC"
reason_min_length = 5
ticket_pattern = '^INC-[0-9]+$'
[groups]
sre = ["alice"]
dba = ["carol", "dave"]
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
[[rules]]
resource = "db"
privileges = ["dba"]
requesters = ["group:sre"]
tier = 2
pool = "dba-approvers"
approvals = 1
max_duration = "2h"
)";


struct Answer {
  int status = 0;
  json body;  // null when the body is not JSON
  http::HttpResponse raw;
  std::string code() const { return body.is_object() && body.contains("error") ? body["error"].value("code", "") : ""; }
  std::string field() const { return body.is_object() && body.contains("error") ? body["error"].value("field", "") : ""; }
  std::string header(const std::string& name) const {
    for (const auto& [k, v] : raw.headers) {
      if (k == name) return v;
    }
    return "";
  }
};

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("bg-api-test-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_ / "data");
    std::ofstream(dir_ / "policy.toml") << PolicyText();
    service::ServerConfig config;
    config.data_dir = (dir_ / "data").string();
    config.policy = (dir_ / "policy.toml").string();
    config.connectors["db-conn"] = {"db-conn", "none", "{}"};
    Configure(config);
    clock_.Set(*ParseRfc3339("2026-11-18T10:00:00Z"));
    auto s = service::Service::Open(config, clock_, nullptr, service::Service::Mode::kServer,
                                    nullptr, ConnectorKinds());
    ASSERT_TRUE(s.has_value()) << s.error().ToString();
    svc_ = std::move(*s);
    ASSERT_TRUE(svc_->Start().has_value());
    api_ = std::make_unique<Api>(*svc_);
    AddSessionRoutes(*api_, *svc_);
    AddReviewRoutes(*api_, *svc_);
    AddAttestationRoutes(*api_, *svc_);
    AddDrillRoutes(*api_, *svc_);
    AddInventoryRoutes(*api_, *svc_, nullptr);
    AddConnectorRoutes(*api_, *svc_, nullptr);
    AddPageRoutes(*api_, *svc_);
    AddSinkRoutes(*api_, nullptr);
  }
  // What a fixture built on this one changes: its policy, its configuration, the connector
  // kinds it registers.
  virtual std::string PolicyText() const { return kPolicy; }
  virtual void Configure(service::ServerConfig&) {}
  virtual std::function<void(connector::ConnectorRegistry&)> ConnectorKinds() { return nullptr; }

  void TearDown() override {
    api_.reset();
    if (svc_) svc_->Stop();
    svc_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Adds a person and logs them in; returns the bearer token.
  std::string Login(const std::string& name, std::vector<core::Role> roles) {
    auto nu = svc_->AddUser("test", name, roles, Secret(name + "-password-123"));
    EXPECT_TRUE(nu.has_value()) << nu.error().ToString();
    auto code = auth::TotpCode(nu->totp_secret, clock_.Now());
    auto lr = svc_->Login(name, Secret(name + "-password-123"), *code, "10.0.0.1");
    EXPECT_TRUE(lr.has_value()) << lr.error().ToString();
    return std::string(lr->token.Reveal());
  }

  Answer Do(const std::string& method, const std::string& target, const std::string& token = "",
            const std::string& body = "", std::shared_ptr<CapturingWriter> writer = nullptr) {
    std::map<std::string, std::string> headers;
    if (!token.empty()) headers["authorization"] = "Bearer " + token;
    return DoWith(method, target, headers, body, std::move(writer));
  }
  // As Do, with the request's headers (lower-case names) as given.
  Answer DoWith(const std::string& method, const std::string& target,
                std::map<std::string, std::string> headers, const std::string& body = "",
                std::shared_ptr<CapturingWriter> writer = nullptr) {
    http::HttpRequest req;
    req.method = method;
    size_t q = target.find('?');
    req.path = target.substr(0, q);
    if (q != std::string::npos) {
      std::string rest = target.substr(q + 1);
      while (!rest.empty()) {
        size_t amp = rest.find('&');
        std::string pair = rest.substr(0, amp);
        rest = amp == std::string::npos ? "" : rest.substr(amp + 1);
        size_t eq = pair.find('=');
        req.query[pair.substr(0, eq)] = eq == std::string::npos ? "" : pair.substr(eq + 1);
      }
    }
    req.headers = std::move(headers);
    req.body = body;
    req.remote_address = "10.0.0.1";
    if (!writer) writer = std::make_shared<CapturingWriter>();
    api_->Handle(std::move(req), writer);
    Answer a;
    a.raw = writer->Wait();
    a.status = a.raw.status;
    a.body = json::parse(a.raw.body, nullptr, false);
    if (a.body.is_discarded()) a.body = nullptr;
    return a;
  }

  // A route's pattern with every {name} filled in.
  static std::string Fill(const std::string& pattern, const std::string& value = "req-none") {
    std::string out;
    for (const auto& seg : PathSegments(pattern)) {
      out += "/" + (seg.front() == '{' ? value : seg);
    }
    return out;
  }

  std::filesystem::path dir_;
  testing::FakeClock clock_;
  std::unique_ptr<service::Service> svc_;
  std::unique_ptr<Api> api_;
};

// The (method, path) pairs of the OpenAPI document, and those whose security is [].
struct Documented {
  std::set<std::pair<std::string, std::string>> operations;
  std::set<std::pair<std::string, std::string>> anonymous;
};

Documented ReadOpenApi() {
  Documented d;
  json doc = json::parse(OpenApiDocument());
  for (const auto& [path, item] : doc["paths"].items()) {
    for (const auto& [method, op] : item.items()) {
      static const std::set<std::string> kMethods = {"get", "post", "put", "delete", "patch"};
      if (!kMethods.count(method)) continue;
      std::string m = method;
      for (char& c : m) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      d.operations.insert({m, path});
      if (op.contains("security") && op["security"].empty()) d.anonymous.insert({m, path});
    }
  }
  return d;
}

TEST_F(ApiTest, RouteTableAndOpenApiDocumentAgree) {
  std::set<std::pair<std::string, std::string>> table, anonymous;
  auto collect = [&](const Router& router) {
    for (const auto& r : router.routes()) {
      table.insert({r.method, r.pattern});
      if (r.access == Access::kAnonymous) anonymous.insert({r.method, r.pattern});
    }
  };
  collect(api_->router());
  collect(SealedRouter([](Call&) {}, [](Call&) {}));
  const Documented doc = ReadOpenApi();
  for (const auto& op : table) {
    EXPECT_TRUE(doc.operations.count(op))
        << op.first << " " << op.second << " is routed but missing from src/api/openapi.json";
  }
  for (const auto& op : doc.operations) {
    EXPECT_TRUE(table.count(op))
        << op.first << " " << op.second << " is in src/api/openapi.json but no route serves it";
  }
  // Who may call: exactly the anonymous routes are documented with `security: []`.
  EXPECT_EQ(anonymous, doc.anonymous);
}

TEST_F(ApiTest, MetricLabelsAreRoutePatterns) {
  const Router& r = api_->router();
  EXPECT_EQ(r.Label("/v1/requests/abc"), "/v1/requests/{id}");
  EXPECT_EQ(r.Label("/v1/requests/abc/approve"), "/v1/requests/{id}/approve");
  EXPECT_EQ(r.Label("/v1/requests/abc/recording-token"), "/v1/requests/{id}/recording-token");
  EXPECT_EQ(r.Label("/v1/sessions/s1/chunks"), "/v1/sessions/{id}/chunks");
  EXPECT_EQ(r.Label("/v1/requests/x/\xff"), "other");
  EXPECT_EQ(r.Label("/v1/requests/x/y/z"), "other");
  EXPECT_EQ(r.Label("/nope"), "other");
  EXPECT_EQ(Api::MethodLabel("GET"), "GET");
  EXPECT_EQ(Api::MethodLabel("BREW"), "other");
}

// Every response is counted in the series of its method, route and code, whichever way
// OnComplete finds it (its table of series, or the labels when the code is outside it).
TEST_F(ApiTest, ResponsesAreCountedByMethodRouteAndCode) {
  auto request = [](const std::string& method, const std::string& path) {
    http::HttpRequest req;
    req.method = method;
    req.path = path;
    return req;
  };
  for (int i = 0; i < 3; ++i) api_->OnComplete(request("GET", "/v1/requests/r1"), 200, 0.002);
  api_->OnComplete(request("GET", "/v1/requests/r2"), 404, 0.003);
  api_->OnComplete(request("BREW", "/nope"), 400, 0.5);
  api_->OnComplete(request("GET", "/v1/requests/r1"), 1234, 0.001);  // past the table's codes
  const std::string metrics = svc_->metrics().Render();
  for (const char* line :
       {"breakglass_http_responses_total{method=\"GET\",route=\"/v1/requests/{id}\",code=\"200\"} "
        "3\n",
        "breakglass_http_responses_total{method=\"GET\",route=\"/v1/requests/{id}\",code=\"404\"} "
        "1\n",
        "breakglass_http_responses_total{method=\"other\",route=\"other\",code=\"400\"} 1\n",
        "breakglass_http_responses_total{method=\"GET\",route=\"/v1/requests/{id}\",code=\"1234\"} "
        "1\n",
        "breakglass_http_request_duration_seconds_count{method=\"GET\",route=\"/v1/requests/"
        "{id}\"} 5\n",
        "breakglass_http_request_duration_seconds_bucket{method=\"other\",route=\"other\",le=\"0."
        "25\"} 0\n",
        "breakglass_http_request_duration_seconds_bucket{method=\"other\",route=\"other\",le=\"0."
        "5\"} 1\n"}) {
    EXPECT_NE(metrics.find(line), std::string::npos) << line << " in\n" << metrics;
  }
}

TEST_F(ApiTest, EveryRouteThatNeedsATokenRefusesNoneWith401) {
  for (const auto& r : api_->router().routes()) {
    if (r.access == Access::kAnonymous) continue;
    SCOPED_TRACE(r.method + " " + r.pattern);
    Answer a = Do(r.method, Fill(r.pattern));
    EXPECT_EQ(a.status, 401);
    EXPECT_EQ(a.code(), "unauthenticated");
    EXPECT_EQ(a.header("WWW-Authenticate"), "Bearer realm=\"breakglass\"");
    Answer bad = Do(r.method, Fill(r.pattern), "not-a-token");
    EXPECT_EQ(bad.status, 401);
    EXPECT_EQ(bad.code(), "unauthenticated");
  }
}

TEST_F(ApiTest, RoleRoutesRefuseOtherRolesWith403) {
  const std::string requester = Login("alice", {core::Role::kRequester});
  int checked = 0;
  for (const auto& r : api_->router().routes()) {
    if (r.access != Access::kRoles) continue;
    SCOPED_TRACE(r.method + " " + r.pattern);
    Answer a = Do(r.method, Fill(r.pattern), requester);
    EXPECT_EQ(a.status, 403);
    EXPECT_EQ(a.code(), "permission_denied");
    EXPECT_EQ(a.body["error"].value("message", ""), r.role_refusal);
    ++checked;
  }
  EXPECT_GE(checked, 11);  // audit routes, ssh revoke, connector probe, reviews, attestations
}

TEST_F(ApiTest, RecordingCredentialReachesOnlyItsScope) {
  const std::string alice = Login("alice", {core::Role::kRequester});
  Answer created = Do("POST", "/v1/requests", alice,
                      R"({"resource":"db","privilege":"read_only","duration":"30m",)"
                      R"("reason":"look at the slow query","ticket":"INC-1"})");
  ASSERT_EQ(created.status, 201) << created.raw.body;
  const std::string id = created.body["id"];
  // Auto-approved: wait (with a deadline) until the grant is active.
  for (int i = 0; i < 400; ++i) {
    if (Do("GET", "/v1/requests/" + id, alice).body.value("state", "") == "active") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  Answer token = Do("POST", "/v1/requests/" + id + "/recording-token", alice);
  ASSERT_EQ(token.status, 201) << token.raw.body;
  const std::string recorder = token.body["token"];

  for (const auto& r : api_->router().routes()) {
    // Logging out would end the credential; it is called last.
    if (r.access == Access::kAnonymous || r.pattern == "/v1/auth/logout") continue;
    SCOPED_TRACE(r.method + " " + r.pattern);
    Answer a = Do(r.method, Fill(r.pattern, "other-id"), recorder);
    if (r.recording == RecordingScope::kAllowed) {
      EXPECT_NE(a.code(), "permission_denied") << a.raw.body;
    } else {
      EXPECT_EQ(a.status, 403) << a.raw.body;
      EXPECT_EQ(a.code(), "permission_denied");
    }
  }
  EXPECT_EQ(Do("GET", "/v1/requests/" + id, recorder).status, 200);
  EXPECT_EQ(Do("GET", "/v1/nowhere", recorder).status, 403);
  EXPECT_EQ(Do("POST", "/v1/auth/logout", recorder).status, 200);
  EXPECT_EQ(Do("GET", "/v1/me", recorder).status, 401);
}

TEST_F(ApiTest, WrongMethodAndUnknownPaths) {
  const std::string alice = Login("alice", {core::Role::kRequester});
  // Hinted routes name the methods they take, after the authentication they need.
  Answer login = Do("GET", "/v1/auth/login");
  EXPECT_EQ(login.status, 400);
  EXPECT_EQ(login.field(), "method");
  EXPECT_EQ(login.body["error"].value("message", ""), "use POST");
  EXPECT_EQ(Do("DELETE", "/v1/sessions").status, 401);
  Answer sessions = Do("DELETE", "/v1/sessions", alice);
  EXPECT_EQ(sessions.status, 400);
  EXPECT_EQ(sessions.body["error"].value("message", ""), "use GET or POST");
  // Others, and unknown paths, are not found (after the token is checked under /v1).
  EXPECT_EQ(Do("GET", "/nope").status, 404);
  EXPECT_EQ(Do("GET", "/v1/nope").status, 401);
  EXPECT_EQ(Do("GET", "/v1/nope", alice).status, 404);
  EXPECT_EQ(Do("POST", "/v1/me", alice).status, 404);
}


// One bad input per route that takes one: the route's 400, the error body's code and the field
// it names. Every route with a request body or a checked query parameter has a case here; the
// test fails when a new such route has none.
struct BadInput {
  std::string method, pattern;
  std::string target;  // {req} and {ses} are replaced by a visible request and session
  std::string body;
  std::string who;     // "alice" (requester), "root" (admin)
  std::string field;
};

TEST_F(ApiTest, EveryRouteRefusesBadInputWith400NamingTheField) {
  const std::string alice = Login("alice", {core::Role::kRequester});
  const std::string root = Login("root", {core::Role::kAdmin, core::Role::kAuditor});
  Login("carol", {core::Role::kApprover});  // someone who can approve, so the request is pending
  Answer created = Do("POST", "/v1/requests", alice,
                      R"({"resource":"db","privilege":"dba","duration":"30m",)"
                      R"("reason":"fix the replication lag","ticket":"INC-2"})");
  ASSERT_EQ(created.status, 201) << created.raw.body;
  const std::string req = created.body["id"];

  const std::vector<BadInput> cases = {
      {"POST", "/v1/auth/login", "/v1/auth/login", "{", "", "body"},
      {"POST", "/v1/auth/login", "/v1/auth/login", R"({"username":"a","password":"b"})", "", "totp"},
      {"POST", "/v1/auth/login", "/v1/auth/login", R"({"username":"a","password":"b","totp":"1","x":1})", "", "x"},
      {"POST", "/v1/requests", "/v1/requests",
       R"({"resource":"db","privilege":"dba","duration":"soon","reason":"r","ticket":"INC-1"})", "alice", "duration"},
      {"POST", "/v1/requests", "/v1/requests",
       R"({"resource":7,"privilege":"dba","duration":"1h","reason":"r","ticket":"INC-1"})", "alice", "resource"},
      {"POST", "/v1/requests", "/v1/requests", "[]", "alice", "body"},
      {"GET", "/v1/requests", "/v1/requests?limit=0", "", "alice", "limit"},
      {"GET", "/v1/requests", "/v1/requests?state=bogus", "", "alice", "state"},
      {"GET", "/v1/requests", "/v1/requests?mine=maybe", "", "alice", "mine"},
      {"POST", "/v1/requests/{id}/approve", "/v1/requests/{req}/approve", R"({"totp":5})", "alice", "totp"},
      {"POST", "/v1/requests/{id}/deny", "/v1/requests/{req}/deny", "{}", "alice", "reason"},
      {"POST", "/v1/requests/{id}/cancel", "/v1/requests/{req}/cancel", R"({"why":"x"})", "alice", "why"},
      {"POST", "/v1/requests/{id}/revoke", "/v1/requests/{req}/revoke", "{}", "alice", "reason"},
      {"POST", "/v1/requests/{id}/extend", "/v1/requests/{req}/extend",
       R"({"duration":"later","reason":"more time"})", "alice", "duration"},
      {"POST", "/v1/requests/{id}/ssh-cert", "/v1/requests/{req}/ssh-cert", "{}", "alice", "public_key"},
      {"POST", "/v1/requests/{id}/recording-token", "/v1/requests/{req}/recording-token", "[1]", "alice", "body"},
      {"POST", "/v1/sessions", "/v1/sessions", R"({"header":"{}"})", "alice", "request_id"},
      {"POST", "/v1/sessions/{id}/chunks", "/v1/sessions/ses-1/chunks", R"({"seq":-1,"data":""})", "alice", "seq"},
      {"POST", "/v1/ssh/revoke", "/v1/ssh/revoke",
       R"({"serial":"0","valid_before":"2027-01-01T00:00:00Z","reason":"lost"})", "root", "serial"},
      {"POST", "/v1/ssh/revoke", "/v1/ssh/revoke",
       R"({"serial":"7","valid_before":"tomorrow","reason":"lost"})", "root", "valid_before"},
      {"GET", "/v1/audit/entries", "/v1/audit/entries?start=x", "", "root", "start"},
      {"GET", "/v1/audit/entries", "/v1/audit/entries?end=999999", "", "root", "end"},
      {"GET", "/v1/audit/proof/inclusion", "/v1/audit/proof/inclusion", "", "root", "index"},
      {"GET", "/v1/audit/proof/consistency", "/v1/audit/proof/consistency?first=-1", "", "root", "first"},
      {"GET", "/v1/audit/search", "/v1/audit/search?since=yesterday", "", "root", "since"},
      {"GET", "/v1/audit/search", "/v1/audit/search?before=-3", "", "root", "before"},
      {"GET", "/v1/audit/search", "/v1/audit/search?limit=0", "", "root", "limit"},
      {"POST", "/v1/auth/passkey/login", "/v1/auth/passkey/login", "{}", "", "credential"},
      {"POST", "/v1/auth/passkey/login", "/v1/auth/passkey/login",
       R"({"credential":{"id":"AA","client_data_json":"e30","authenticator_data":"!!","signature":"AA"}})", "",
       "credential.authenticator_data"},
      {"POST", "/v1/auth/passkey/login", "/v1/auth/passkey/login",
       R"({"credential":{"id":"AA","client_data_json":"e30","authenticator_data":"AA","signature":"AA","x":1}})", "",
       "credential.x"},
      {"POST", "/v1/passkeys", "/v1/passkeys", R"({"name":"k","client_data_json":"e30"})", "alice",
       "attestation_object"},
      {"POST", "/v1/requests/{id}/approve", "/v1/requests/{req}/approve", R"({"passkey":"yes"})", "alice",
       "passkey"},
      {"GET", "/v1/reviews", "/v1/reviews?state=closed", "", "root", "state"},
      {"GET", "/v1/reviews", "/v1/reviews?limit=0", "", "root", "limit"},
      {"POST", "/v1/reviews/{id}", "/v1/reviews/rev-1", R"({"verdict":"fine"})", "root", "verdict"},
      {"POST", "/v1/reviews/{id}", "/v1/reviews/rev-1", R"({"findings":"x"})", "root", "verdict"},
      {"POST", "/v1/reviews/{id}", "/v1/reviews/rev-1", R"({"verdict":"appropriate","x":1})", "root", "x"},
      {"POST", "/v1/attestations", "/v1/attestations", R"({"scope":"users"})", "root", "scope"},
      {"POST", "/v1/attestations", "/v1/attestations", R"({"scope":"pools","due":"soon"})", "root", "due"},
      {"POST", "/v1/attestations", "/v1/attestations", R"({"scope":"pools","due":"5m"})", "root", "due"},
      {"GET", "/v1/attestations", "/v1/attestations?state=done", "", "root", "state"},
      {"GET", "/v1/attestations/{id}", "/v1/attestations/att-1?format=pdf", "", "root", "format"},
      {"POST", "/v1/attestations/{id}/items/{item}", "/v1/attestations/att-1/items/i1", R"({"answer":"keep"})",
       "root", "answer"},
      {"GET", "/v1/inventory", "/v1/inventory?format=xml", "", "root", "format"},
      {"POST", "/v1/inventory/legacy", "/v1/inventory/legacy",
       R"({"description":"envelope","resource":"db","decommission_by":"2027-02-30"})", "root", "decommission_by"},
      {"POST", "/v1/inventory/legacy", "/v1/inventory/legacy",
       R"({"description":"envelope","resource":"nope","decommission_by":"2027-03-31"})", "root", "resource"},
      {"POST", "/v1/drills", "/v1/drills", R"({"resource":"db"})", "root", "privilege"},
      {"POST", "/v1/drills", "/v1/drills", R"({"resource":"nope","privilege":"x"})", "root", "resource"},
      {"GET", "/v1/drills", "/v1/drills?limit=0", "", "root", "limit"},
      {"GET", "/v1/drills/report", "/v1/drills/report?since=yesterday", "", "root", "since"},
  };
  std::set<std::pair<std::string, std::string>> covered;
  for (const auto& c : cases) {
    std::string target = c.target;
    if (auto at = target.find("{req}"); at != std::string::npos) target.replace(at, 5, req);
    SCOPED_TRACE(c.method + " " + target + " " + c.body);
    Answer a = Do(c.method, target, c.who == "alice" ? alice : c.who == "root" ? root : "", c.body);
    EXPECT_EQ(a.status, 400) << a.raw.body;
    EXPECT_EQ(a.code(), "invalid_argument");
    EXPECT_EQ(a.field(), c.field);
    EXPECT_FALSE(a.body["error"].value("message", "").empty());
    covered.insert({c.method, c.pattern});
  }
  // Every documented request body has a case above.
  json doc = json::parse(OpenApiDocument());
  for (const auto& r : api_->router().routes()) {
    std::string m = r.method;
    for (char& ch : m) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    const json& op = doc["paths"][r.pattern][m];
    bool takes_input = op.contains("requestBody");
    for (const auto& prm : op.value("parameters", json::array())) {
      takes_input = takes_input || (prm.value("in", "") == "query" && prm.contains("schema") &&
                                    (prm["schema"].contains("enum") || prm["schema"].contains("minimum") ||
                                     prm["schema"].value("type", "") == "integer" ||
                                     prm["schema"].value("type", "") == "boolean"));
    }
    if (r.pattern == "/v1/connectors/probe" || r.pattern == "/v1/auth/logout" ||
        r.pattern == "/v1/auth/renew") {
      continue;  // no body and no checked parameter
    }
    if (takes_input) {
      EXPECT_TRUE(covered.count({r.method, r.pattern}))
          << r.method << " " << r.pattern << " takes input but has no bad-input case";
    }
  }
}

// The statuses of routes' own refusals other than bad input: not found for what the caller may
// not see, conflicts of state, public routes without their connector.
TEST_F(ApiTest, RoutesAnswerNotFoundAndStateRefusalsWithTheErrorBody) {
  const std::string alice = Login("alice", {core::Role::kRequester});
  const std::string erin = Login("erin", {core::Role::kRequester});
  Login("carol", {core::Role::kApprover});
  Answer created = Do("POST", "/v1/requests", alice,
                      R"({"resource":"db","privilege":"dba","duration":"30m",)"
                      R"("reason":"fix the replication lag","ticket":"INC-3"})");
  ASSERT_EQ(created.status, 201) << created.raw.body;
  const std::string req = created.body["id"];
  for (std::string action : {"approve", "deny", "cancel", "revoke", "extend"}) {
    SCOPED_TRACE(action);
    // Missing and invisible are the same 404.
    Answer missing = Do("POST", "/v1/requests/req-missing/" + action, alice, "{}");
    EXPECT_EQ(missing.status, 404) << missing.raw.body;
    EXPECT_EQ(missing.code(), "not_found");
    Answer invisible = Do("POST", "/v1/requests/" + req + "/" + action, erin, "{}");
    EXPECT_EQ(invisible.status, 404) << invisible.raw.body;
    EXPECT_EQ(invisible.code(), "not_found");
  }
  EXPECT_EQ(Do("GET", "/v1/requests/" + req, erin).status, 404);
  EXPECT_EQ(Do("GET", "/v1/requests/" + req, alice).status, 200);
  Answer self = Do("POST", "/v1/requests/" + req + "/approve", alice, "{}");
  EXPECT_EQ(self.status / 100, 4) << self.raw.body;
  EXPECT_FALSE(self.code().empty());
  Answer pending_cert = Do("POST", "/v1/requests/" + req + "/ssh-cert", alice,
                           R"({"public_key":"ssh-ed25519 AAAA"})");
  EXPECT_EQ(pending_cert.status, 409) << pending_cert.raw.body;
  EXPECT_EQ(pending_cert.code(), "failed_precondition");
  Answer ca = Do("GET", "/v1/ssh/ca");
  EXPECT_EQ(ca.status, 404);
  EXPECT_EQ(ca.code(), "not_found");
  EXPECT_EQ(Do("GET", "/v1/sessions/ses-missing", alice).status, 404);
  Answer probe = Do("POST", "/v1/connectors/probe", Login("root", {core::Role::kAdmin}));
  EXPECT_EQ(probe.status, 503);
  EXPECT_EQ(probe.code(), "unavailable");
}


// 13.30: the responses that carry a token are not to be stored.
TEST_F(ApiTest, TokenResponsesAreNoStore) {
  auto nu = svc_->AddUser("test", "alice", {core::Role::kRequester}, Secret("alice-password-123"));
  ASSERT_TRUE(nu.has_value());
  Answer login = Do("POST", "/v1/auth/login", "",
                    R"({"username":"alice","password":"alice-password-123","totp":")" +
                        *auth::TotpCode(nu->totp_secret, clock_.Now()) + R"("})");
  ASSERT_EQ(login.status, 200) << login.raw.body;
  EXPECT_EQ(login.header("Cache-Control"), "no-store");
  Answer renew = Do("POST", "/v1/auth/renew", login.body["token"]);
  ASSERT_EQ(renew.status, 200) << renew.raw.body;
  EXPECT_EQ(renew.header("Cache-Control"), "no-store");
  const std::string alice = renew.body["token"];
  Answer created = Do("POST", "/v1/requests", alice,
                      R"({"resource":"db","privilege":"read_only","duration":"30m",)"
                      R"("reason":"look at the slow query","ticket":"INC-1"})");
  ASSERT_EQ(created.status, 201) << created.raw.body;
  const std::string id = created.body["id"];
  for (int i = 0; i < 400; ++i) {
    if (Do("GET", "/v1/requests/" + id, alice).body.value("state", "") == "active") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  Answer token = Do("POST", "/v1/requests/" + id + "/recording-token", alice);
  ASSERT_EQ(token.status, 201) << token.raw.body;
  EXPECT_EQ(token.header("Cache-Control"), "no-store");
}

// 13.33: a recording token for a request the caller may not see is 404, as for a missing one;
// duplicate JSON keys are refused naming the key; the OpenAPI error enum names every code.
TEST_F(ApiTest, RecordingTokenOfInvisibleRequestIsNotFoundAndDuplicateKeysAreRefused) {
  const std::string alice = Login("alice", {core::Role::kRequester});
  const std::string erin = Login("erin", {core::Role::kRequester});
  Answer created = Do("POST", "/v1/requests", alice,
                      R"({"resource":"db","privilege":"read_only","duration":"30m",)"
                      R"("reason":"look at the slow query","ticket":"INC-1"})");
  ASSERT_EQ(created.status, 201) << created.raw.body;
  const std::string id = created.body["id"];
  Answer invisible = Do("POST", "/v1/requests/" + id + "/recording-token", erin);
  EXPECT_EQ(invisible.status, 404) << invisible.raw.body;
  EXPECT_EQ(invisible.code(), "not_found");
  Answer missing = Do("POST", "/v1/requests/req-missing/recording-token", erin);
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.code(), invisible.code());

  Answer dup = Do("POST", "/v1/requests", alice,
                  R"({"resource":"db","privilege":"read_only","privilege":"dba","duration":"30m",)"
                  R"("reason":"look at the slow query","ticket":"INC-1"})");
  EXPECT_EQ(dup.status, 400);
  EXPECT_EQ(dup.field(), "privilege");
  Answer nested = Do("POST", "/v1/auth/login", "", R"({"username":{"a":1,"a":2},"password":"p","totp":"1"})");
  EXPECT_EQ(nested.status, 400);
  EXPECT_EQ(nested.field(), "a");

  json doc = json::parse(OpenApiDocument());
  std::set<std::string> codes;
  for (const auto& c : doc["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]["enum"]) {
    codes.insert(c.get<std::string>());
  }
  // The transport's own codes (src/http) and every code the API maps.
  for (const char* c : {"invalid_argument", "payload_too_large", "headers_too_large", "internal",
                        "not_found", "permission_denied", "unauthenticated", "failed_precondition",
                        "conflict", "resource_exhausted", "unavailable"}) {
    EXPECT_TRUE(codes.count(c)) << c << " is missing from the OpenAPI error enum";
  }
}

// 13.1: an open event stream ends once its token is logged out, its account disabled or it
// expires.
TEST_F(ApiTest, EventStreamEndsWhenItsTokenStopsBeingValid) {
  const auto deadline = std::chrono::seconds(10);
  {
    const std::string alice = Login("alice", {core::Role::kRequester});
    auto w = std::make_shared<CapturingWriter>();
    EXPECT_EQ(Do("GET", "/v1/events", alice, "", w).status, 200);
    EXPECT_FALSE(w->closed());
    EXPECT_EQ(Do("POST", "/v1/auth/logout", alice).status, 200);
    EXPECT_TRUE(w->WaitClosed(deadline)) << "the stream outlived logout";
  }
  {
    const std::string erin = Login("erin", {core::Role::kRequester});
    auto w = std::make_shared<CapturingWriter>();
    EXPECT_EQ(Do("GET", "/v1/events", erin, "", w).status, 200);
    ASSERT_TRUE(svc_->SetUserDisabled("test", "erin", true).has_value());
    EXPECT_TRUE(w->WaitClosed(deadline)) << "the stream outlived user disable";
  }
  {
    const std::string dave = Login("dave", {core::Role::kRequester});
    auto w = std::make_shared<CapturingWriter>();
    EXPECT_EQ(Do("GET", "/v1/events", dave, "", w).status, 200);
    std::this_thread::sleep_for(EventStreams::kCheckInterval * 3);
    EXPECT_FALSE(w->closed()) << "a valid token's stream ended";
    clock_.Advance(std::chrono::hours(1));  // past the token's lifetime
    EXPECT_TRUE(w->WaitClosed(deadline)) << "the stream outlived its token's expiry";
  }
}

// ---- the page and its cookie session (issue 14) ----

TEST_F(ApiTest, PageIsServedWithAStrictContentSecurityPolicy) {
  for (const char* path : {"/", "/requests/req-123", "/inbox", "/new", "/grants"}) {
    Answer a = Do("GET", path);
    EXPECT_EQ(a.status, 200) << path;
    EXPECT_EQ(a.raw.content_type, "text/html; charset=utf-8") << path;
    EXPECT_EQ(a.header("Content-Security-Policy"), std::string(kPageCsp)) << path;
    EXPECT_EQ(a.header("X-Frame-Options"), "DENY");
    EXPECT_NE(a.raw.body.find("<script src=\"/assets/app.js\""), std::string::npos);
    // No inline script: the only <script> elements load a file of this origin.
    EXPECT_EQ(a.raw.body.find("<script>"), std::string::npos);
  }
  EXPECT_EQ(std::string(kPageCsp).find("unsafe"), std::string::npos);
  EXPECT_NE(std::string(kPageCsp).find("script-src 'self'"), std::string::npos);
  Answer js = Do("GET", "/assets/app.js");
  EXPECT_EQ(js.status, 200);
  EXPECT_EQ(js.raw.content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(Do("GET", "/assets/app.css").raw.content_type, "text/css; charset=utf-8");
  EXPECT_EQ(Do("GET", "/assets/nope.js").status, 404);
  EXPECT_EQ(Do("GET", "/assets/index.html").status, 404);
  EXPECT_EQ(Do("GET", "/requests/a/b").status, 404);
}

TEST_F(ApiTest, CookieSessionNeedsTheCsrfTokenToChangeAnything) {
  auto nu = svc_->AddUser("test", "alice", {core::Role::kRequester}, Secret("alice-password-123"));
  ASSERT_TRUE(nu.has_value());
  const std::string code = *auth::TotpCode(nu->totp_secret, clock_.Now());
  const std::string login = json{{"username", "alice"}, {"password", "alice-password-123"},
                                 {"totp", code}, {"cookie", true}}.dump();
  // The page's login is JSON from this origin only.
  EXPECT_EQ(DoWith("POST", "/v1/auth/login", {}, login).field(), "content-type");
  Answer foreign = DoWith("POST", "/v1/auth/login",
                          {{"content-type", "application/json"}, {"host", "bg.example:8443"},
                           {"origin", "https://evil.example"}}, login);
  EXPECT_EQ(foreign.status, 403);
  EXPECT_EQ(foreign.field(), "csrf");
  Answer in = DoWith("POST", "/v1/auth/login",
                     {{"content-type", "application/json"}, {"host", "bg.example:8443"},
                      {"origin", "https://bg.example:8443"}, {"sec-fetch-site", "same-origin"}},
                     login);
  ASSERT_EQ(in.status, 200) << in.raw.body;
  EXPECT_FALSE(in.body.contains("token")) << "the page's script must never hold the token";
  const std::string cookie = in.header("Set-Cookie");
  EXPECT_NE(cookie.find("HttpOnly"), std::string::npos);
  EXPECT_NE(cookie.find("Secure"), std::string::npos);
  EXPECT_NE(cookie.find("SameSite=Strict"), std::string::npos);
  EXPECT_NE(cookie.find("Path=/"), std::string::npos);
  const std::string token = cookie.substr(cookie.find('=') + 1, cookie.find(';') - cookie.find('=') - 1);
  ASSERT_EQ(token.rfind("bgt_", 0), 0u);
  const std::string csrf = in.body.value("csrf", "");
  EXPECT_EQ(csrf, CsrfToken(token));
  EXPECT_EQ(csrf.find(token), std::string::npos);

  const std::map<std::string, std::string> jar = {{"cookie", "theme=x; bg_session=" + token}};
  Answer me = DoWith("GET", "/v1/me", jar);
  ASSERT_EQ(me.status, 200);
  EXPECT_EQ(me.body.value("csrf", ""), csrf);
  EXPECT_FALSE(Do("GET", "/v1/me", token).body.contains("csrf")) << "bearer callers need none";
  // A read another origin of the site makes the browser send (an <img>, a fetch) is refused.
  for (const char* site : {"same-site", "cross-site"}) {
    Answer r = DoWith("GET", "/v1/me", {{"cookie", "bg_session=" + token}, {"sec-fetch-site", site}});
    EXPECT_EQ(r.status, 403) << site;
    EXPECT_EQ(r.field(), "csrf") << site;
  }
  EXPECT_EQ(DoWith("GET", "/v1/me", {{"cookie", "bg_session=" + token}, {"sec-fetch-site", "same-origin"}}).status, 200);
  EXPECT_EQ(DoWith("GET", "/v1/me", {{"cookie", "bg_session=" + token}, {"sec-fetch-site", "none"}}).status, 200);

  const std::string create = json{{"resource", "db"}, {"privilege", "read_only"}, {"duration", "10m"},
                                  {"reason", "cookie test"}, {"ticket", "INC-1"}}.dump();
  auto with = [&](std::map<std::string, std::string> extra) {
    std::map<std::string, std::string> h = jar;
    h.insert(extra.begin(), extra.end());
    return h;
  };
  // A cross-site form post: no CSRF header, a foreign Origin, cross-site fetch metadata.
  Answer forged = DoWith("POST", "/v1/requests",
                         with({{"content-type", "application/x-www-form-urlencoded"},
                               {"host", "bg.example:8443"}, {"origin", "https://evil.example"},
                               {"sec-fetch-site", "cross-site"}}),
                         create);
  EXPECT_EQ(forged.status, 403);
  EXPECT_EQ(forged.field(), "csrf");
  EXPECT_EQ(DoWith("POST", "/v1/requests", jar, create).field(), "csrf");  // no header
  EXPECT_EQ(DoWith("POST", "/v1/requests", with({{"x-csrf-token", csrf + "x"}}), create).field(), "csrf");
  EXPECT_EQ(DoWith("POST", "/v1/requests",
                   with({{"x-csrf-token", csrf}, {"sec-fetch-site", "same-site"}}), create).field(),
            "csrf");
  EXPECT_EQ(DoWith("POST", "/v1/requests",
                   with({{"x-csrf-token", csrf}, {"host", "bg.example:8443"},
                         {"origin", "https://bg.example:9999"}}), create).field(),
            "csrf");
  {
    auto listed = Do("GET", "/v1/requests?mine=true", token);
    EXPECT_TRUE(listed.body["requests"].empty()) << "a refused call changed something";
  }
  Answer made = DoWith("POST", "/v1/requests",
                       with({{"x-csrf-token", csrf}, {"host", "bg.example:8443"},
                             {"origin", "https://bg.example:8443"}, {"sec-fetch-site", "same-origin"}}),
                       create);
  EXPECT_EQ(made.status, 201) << made.raw.body;
  // An Authorization header wins over the cookie: a bearer call is not asked for CSRF.
  Answer bearer = DoWith("POST", "/v1/auth/renew", with({{"authorization", "Bearer " + token}}));
  EXPECT_EQ(bearer.status, 200);
  EXPECT_TRUE(bearer.body.contains("token"));
  const std::string renewed = bearer.body.value("token", "");
  // Logout with the cookie clears it; the session is then gone.
  const std::map<std::string, std::string> jar2 = {{"cookie", "bg_session=" + renewed}};
  Answer out = DoWith("POST", "/v1/auth/logout",
                      {{"cookie", "bg_session=" + renewed}, {"x-csrf-token", CsrfToken(renewed)}});
  EXPECT_EQ(out.status, 200);
  EXPECT_NE(out.header("Set-Cookie").find("Max-Age=0"), std::string::npos);
  EXPECT_EQ(DoWith("GET", "/v1/me", jar2).status, 401);
}

TEST_F(ApiTest, RequestOptionsShowWhatPolicyLetsThisPersonAskFor) {
  const std::string alice = Login("alice", {core::Role::kRequester});
  Answer a = Do("GET", "/v1/request-options", alice);
  ASSERT_EQ(a.status, 200) << a.raw.body;
  ASSERT_EQ(a.body["options"].size(), 2u);
  const json& ro = a.body["options"][0];
  EXPECT_EQ(ro["privilege"], "read_only");
  EXPECT_EQ(ro["tier"], 1);
  EXPECT_EQ(ro["max_duration"], 3600);
  EXPECT_TRUE(ro["groups"].empty());
  const json& dba = a.body["options"][1];
  EXPECT_EQ(dba["privilege"], "dba");
  EXPECT_EQ(dba["tier"], 2);
  EXPECT_EQ(dba["max_duration"], 7200);
  EXPECT_EQ(dba["groups"], json::parse(R"([{"pool":"dba-approvers","count":1}])"));
  EXPECT_EQ(a.body["ticket_pattern"], "^INC-[0-9]+$");
  EXPECT_EQ(a.body["reason_min_length"], 5);
  EXPECT_TRUE(a.body["new_source_now"]) << "alice never asked from 10.0.0.1";
  ASSERT_EQ(Do("POST", "/v1/requests", alice,
               R"({"resource":"db","privilege":"read_only","duration":"10m","reason":"first ask","ticket":"INC-7"})").status, 201);
  EXPECT_FALSE(Do("GET", "/v1/request-options", alice).body["new_source_now"]) << "now she has";
  // carol is in no rule's requesters: nothing to ask for.
  const std::string carol = Login("carol", {core::Role::kApprover});
  EXPECT_TRUE(Do("GET", "/v1/request-options", carol).body["options"].empty());
  EXPECT_EQ(Do("GET", "/v1/request-options").status, 401);
}

// Passkeys end to end in process: registration after a TOTP login, a decision on a rule with
// approver_mfa = "passkey" (a code is refused there), passkey login, and every challenge used
// once and for what it was issued for.
TEST_F(ApiTest, PasskeysRegisterLogInAndDecideWhereTheRuleAsksForThem) {
  {
    std::string text = std::string(kPolicy);
    text.replace(text.find(R"(privileges = ["read_only", "dba"])"), 33, R"(privileges = ["read_only", "dba", "owner"])");
    std::ofstream(dir_ / "policy.toml") << text << R"(
[[rules]]
resource = "db"
privileges = ["owner"]
requesters = ["group:sre"]
tier = 2
pool = "dba-approvers"
approvals = 1
approver_mfa = "passkey"
)";
  }
  ASSERT_TRUE(svc_->ReloadPolicy().has_value());
  namespace wa = auth::webauthn;
  const std::string alice = Login("alice", {core::Role::kRequester});
  const std::string carol = Login("carol", {core::Role::kApprover});
  const std::string origin = "https://localhost:8443";
  auto challenge_of = [](const Answer& a) { return *Base64UrlDecode(a.body.value("challenge", "")); };

  // Registration.
  Answer opts = Do("POST", "/v1/passkeys/options", carol);
  ASSERT_EQ(opts.status, 200) << opts.raw.body;
  EXPECT_EQ(opts.body["rp_id"], "localhost");
  EXPECT_EQ(opts.body["algorithms"], json::parse("[-7,-8]"));
  wa::testing_fakes::TestAuthenticator key(wa::kEs256, "carol");
  wa::Expected reg_for{challenge_of(opts), origin, "localhost"};
  wa::Registration reg = key.Register(reg_for);
  const std::string reg_body = json{{"name", "laptop"},
                                    {"client_data_json", Base64UrlEncode(reg.client_data_json)},
                                    {"attestation_object", Base64UrlEncode(reg.attestation_object)}}.dump();
  Answer added = Do("POST", "/v1/passkeys", carol, reg_body);
  ASSERT_EQ(added.status, 201) << added.raw.body;
  EXPECT_EQ(added.body["algorithm"], "ES256");
  EXPECT_EQ(Do("POST", "/v1/passkeys", carol, reg_body).field(), "passkey") << "a challenge serves once";
  Answer mine = Do("GET", "/v1/passkeys", carol);
  ASSERT_EQ(mine.body["passkeys"].size(), 1u);
  EXPECT_EQ(mine.body["passkeys"][0]["name"], "laptop");
  // alice's registration cannot use carol's challenge.
  Answer carols = Do("POST", "/v1/passkeys/options", carol);
  wa::testing_fakes::TestAuthenticator alices(wa::kEdDsa, "alice");
  wa::Registration stolen = alices.Register({challenge_of(carols), origin, "localhost"});
  EXPECT_EQ(Do("POST", "/v1/passkeys", alice,
               json{{"name", "x"}, {"client_data_json", Base64UrlEncode(stolen.client_data_json)},
                    {"attestation_object", Base64UrlEncode(stolen.attestation_object)}}.dump()).field(),
            "passkey");

  // A decision on the passkey rule: a code is not enough, a passkey made for it is.
  Answer created = Do("POST", "/v1/requests", alice,
                      R"({"resource":"db","privilege":"owner","duration":"30m","reason":"rotate keys","ticket":"INC-9"})");
  ASSERT_EQ(created.status, 201) << created.raw.body;
  EXPECT_EQ(created.body["approver_mfa"], "passkey");
  const std::string id = created.body["id"];
  clock_.Advance(std::chrono::seconds(31));  // a TOTP step carol's login did not use
  Answer by_code = Do("POST", "/v1/requests/" + id + "/approve", carol, R"({"totp":"000000"})");
  EXPECT_NE(by_code.status, 200);
  Answer plain = Do("POST", "/v1/requests/" + id + "/approve", carol, "{}");
  EXPECT_EQ(plain.status, 409);
  EXPECT_EQ(plain.field(), "passkey");
  Answer decide = Do("POST", "/v1/requests/" + id + "/passkey-options", carol);
  ASSERT_EQ(decide.status, 200) << decide.raw.body;
  ASSERT_EQ(decide.body["allow"].size(), 1u);
  EXPECT_EQ(Do("POST", "/v1/requests/" + id + "/passkey-options", alice).field(), "passkey")
      << "alice has no passkey";
  auto assertion_json = [](const wa::Assertion& a) {
    return json{{"id", Base64UrlEncode(a.credential_id)},
                {"client_data_json", Base64UrlEncode(a.client_data_json)},
                {"authenticator_data", Base64UrlEncode(a.authenticator_data)},
                {"signature", Base64UrlEncode(a.signature)}};
  };
  wa::Assertion signed_decision = key.Sign({challenge_of(decide), origin, "localhost"}, 1);
  // A phishing origin's assertion for the same challenge does not count.
  Answer decide2 = Do("POST", "/v1/requests/" + id + "/passkey-options", carol);
  wa::Assertion phished = key.Sign({challenge_of(decide2), "https://evil.example", "localhost"}, 1);
  EXPECT_EQ(Do("POST", "/v1/requests/" + id + "/approve", carol,
               json{{"passkey", assertion_json(phished)}}.dump()).field(), "passkey");
  Answer ok = Do("POST", "/v1/requests/" + id + "/approve", carol,
                 json{{"passkey", assertion_json(signed_decision)}}.dump());
  ASSERT_EQ(ok.status, 200) << ok.raw.body;
  EXPECT_EQ(ok.body["approvals"].size(), 1u);

  // Passkey login (no user name), then a clone (counter not growing) is refused.
  Answer login_opts = Do("POST", "/v1/auth/passkey/options");
  ASSERT_EQ(login_opts.status, 200) << login_opts.raw.body;
  wa::Assertion login = key.Sign({challenge_of(login_opts), origin, "localhost"}, 2);
  Answer in = Do("POST", "/v1/auth/passkey/login", "", json{{"credential", assertion_json(login)}}.dump());
  ASSERT_EQ(in.status, 200) << in.raw.body;
  EXPECT_EQ(in.body["user"], "carol");
  const std::string passkey_token = in.body.value("token", "");
  EXPECT_EQ(Do("GET", "/v1/me", passkey_token).body["user"], "carol");
  Answer again_opts = Do("POST", "/v1/auth/passkey/options");
  wa::Assertion clone = key.Sign({challenge_of(again_opts), origin, "localhost"}, 2);
  EXPECT_EQ(Do("POST", "/v1/auth/passkey/login", "", json{{"credential", assertion_json(clone)}}.dump()).status, 401);
  // A login challenge does not serve a decision.
  Answer wrong = Do("POST", "/v1/auth/passkey/options");
  wa::Assertion misused = key.Sign({challenge_of(wrong), origin, "localhost"}, 3);
  Answer created2 = Do("POST", "/v1/requests", alice,
                       R"({"resource":"db","privilege":"owner","duration":"30m","reason":"rotate again","ticket":"INC-10"})");
  ASSERT_EQ(created2.status, 201);
  EXPECT_EQ(Do("POST", "/v1/requests/" + created2.body["id"].get<std::string>() + "/approve", carol,
               json{{"passkey", assertion_json(misused)}}.dump()).field(), "passkey");

  // Removal.
  const std::string kid = mine.body["passkeys"][0]["id"];
  EXPECT_EQ(Do("DELETE", "/v1/passkeys/" + kid, alice).status, 404) << "not alice's";
  EXPECT_EQ(Do("DELETE", "/v1/passkeys/" + kid, carol).status, 200);
  EXPECT_TRUE(Do("GET", "/v1/passkeys", carol).body["passkeys"].empty());

  // The log holds each step; no assertion or key material in it.
  auto leaves = svc_->store().AuditLeaves(0, *svc_->store().AuditSize());
  ASSERT_TRUE(leaves.has_value());
  std::string log;
  for (const auto& l : *leaves) log += l + "\n";
  for (const char* ev : {"auth.passkey_added", "auth.passkey_verified", "auth.passkey_failed",
                         "auth.passkey_removed", "\"method\":\"passkey\""}) {
    EXPECT_NE(log.find(ev), std::string::npos) << ev;
  }
  EXPECT_EQ(log.find(Base64UrlEncode(signed_decision.signature)), std::string::npos);
}

// GET /v1/requests/{id}/timeline: the request's leaves with proofs that check against the signed
// checkpoint it returns; hidden from who may not see the request.
TEST_F(ApiTest, TimelineEntriesProveInclusionInTheSignedCheckpoint) {
  const std::string alice = Login("alice", {core::Role::kRequester});
  const std::string bob = Login("bob", {core::Role::kRequester});
  Answer created = Do("POST", "/v1/requests", alice,
                      R"({"resource":"db","privilege":"read_only","duration":"10m","reason":"look at it","ticket":"INC-3"})");
  ASSERT_EQ(created.status, 201) << created.raw.body;
  const std::string id = created.body["id"];
  ASSERT_EQ(Do("POST", "/v1/requests/" + id + "/revoke", alice, R"({"reason":"done"})").status, 200);
  Answer t = Do("GET", "/v1/requests/" + id + "/timeline", alice);
  ASSERT_EQ(t.status, 200) << t.raw.body;
  auto cp = audit::ParseAndVerifyCheckpoint(t.body["checkpoint"].get<std::string>(), t.body["key"].get<std::string>());
  ASSERT_TRUE(cp.has_value()) << cp.error().ToString();
  EXPECT_EQ(cp->size, t.body["size"].get<int64_t>());
  std::set<std::string> types;
  for (const auto& e : t.body["entries"]) {
    const std::string leaf = *Base64Decode(e["leaf"].get<std::string>());
    std::vector<std::string> proof;
    for (const auto& p : e["proof"]) proof.push_back(*Base64Decode(p.get<std::string>()));
    EXPECT_TRUE(audit::VerifyInclusion(audit::HashLeaf(leaf), e["index"], cp->size, proof, cp->root).has_value());
    json ev = json::parse(leaf);
    EXPECT_EQ(ev["request"], id);
    types.insert(ev["type"].get<std::string>());
  }
  EXPECT_TRUE(types.count("request.created"));
  EXPECT_TRUE(types.count("request.revoked"));
  EXPECT_EQ(Do("GET", "/v1/requests/" + id + "/timeline", bob).status, 404) << "bob may not see it";
  EXPECT_EQ(Do("GET", "/v1/requests/req_nope/timeline", alice).status, 404);
}

// GET /v1/audit/search: filters by person, resource, type and time; newest first; paging.
TEST_F(ApiTest, AuditSearchFindsByPersonResourceTypeAndTime) {
  const std::string alice = Login("alice", {core::Role::kRequester});
  const std::string root = Login("root", {core::Role::kAuditor});
  const std::string t0 = FormatRfc3339(clock_.Now());
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    clock_.Advance(std::chrono::minutes(1));
    Answer a = Do("POST", "/v1/requests", alice,
                  R"({"resource":"db","privilege":"read_only","duration":"10m","reason":"look number )" +
                      std::to_string(i) + R"(","ticket":"INC-1"})");
    ASSERT_EQ(a.status, 201) << a.raw.body;
    ids.push_back(a.body["id"]);
  }
  Answer mine = Do("GET", "/v1/audit/search?actor=alice&type=request.created", root);
  ASSERT_EQ(mine.status, 200) << mine.raw.body;
  ASSERT_EQ(mine.body["entries"].size(), 3u);
  EXPECT_EQ(mine.body["entries"][0]["request"], ids[2]) << "newest first";
  for (const auto& e : mine.body["entries"]) EXPECT_EQ(e["actor"], "alice");
  EXPECT_EQ(Do("GET", "/v1/audit/search?resource=db&type=request.created", root).body["entries"].size(), 3u);
  EXPECT_TRUE(Do("GET", "/v1/audit/search?resource=other", root).body["entries"].empty());
  EXPECT_TRUE(Do("GET", "/v1/audit/search?actor=nobody", root).body["entries"].empty());
  // Time: only the last request was created after t0 + 2m30s.
  clock_.Advance(std::chrono::seconds(1));
  const std::string late = FormatRfc3339(*ParseRfc3339(t0) + std::chrono::seconds(150));
  Answer recent = Do("GET", "/v1/audit/search?type=request.created&since=" + late, root);
  ASSERT_EQ(recent.body["entries"].size(), 1u);
  EXPECT_EQ(recent.body["entries"][0]["request"], ids[2]);
  Answer early = Do("GET", "/v1/audit/search?type=request.created&until=" + late, root);
  EXPECT_EQ(early.body["entries"].size(), 2u);
  // Paging: one at a time, following next_before, finds all three in order.
  std::vector<std::string> seen;
  std::string before;
  for (int page = 0; page < 10; ++page) {
    Answer a = Do("GET", "/v1/audit/search?type=request.created&limit=1" + before, root);
    ASSERT_EQ(a.status, 200);
    for (const auto& e : a.body["entries"]) seen.push_back(e["request"]);
    if (a.body["next_before"].is_null()) break;
    before = "&before=" + std::to_string(a.body["next_before"].get<int64_t>());
  }
  EXPECT_EQ(seen, (std::vector<std::string>{ids[2], ids[1], ids[0]}));
  EXPECT_EQ(Do("GET", "/v1/audit/search", alice).status, 403);
}

// A pending request names who may still approve toward each group, as their accounts are now.
TEST_F(ApiTest, PendingRequestNamesWhoMayStillApprove) {
  const std::string alice = Login("alice", {core::Role::kRequester});
  const std::string carol = Login("carol", {core::Role::kApprover});
  ASSERT_TRUE(svc_->AddUser("test", "dave", {core::Role::kApprover}, Secret("dave-password-123")).has_value());
  Answer created = Do("POST", "/v1/requests", alice,
                      R"({"resource":"db","privilege":"dba","duration":"30m","reason":"fix the lag","ticket":"INC-4"})");
  ASSERT_EQ(created.status, 201) << created.raw.body;
  const std::string id = created.body["id"];
  auto may = [&] { return Do("GET", "/v1/requests/" + id, alice).body["approval_groups"][0]["may_approve"]; };
  EXPECT_EQ(may(), json::parse(R"(["carol","dave"])"));
  ASSERT_TRUE(svc_->SetUserDisabled("test", "dave", true).has_value());
  EXPECT_EQ(may(), json::parse(R"(["carol"])")) << "a disabled account cannot approve";
  ASSERT_EQ(Do("POST", "/v1/requests/" + id + "/approve", carol, "{}").status, 200);
  Answer done = Do("GET", "/v1/requests/" + id, alice);
  EXPECT_NE(done.body["state"], "pending");
  EXPECT_FALSE(done.body["approval_groups"][0].contains("may_approve")) << "only while decisions are awaited";
}

// A stream that reconnects with Last-Event-ID gets what it missed, then what is new; an id of
// another process (or too old) gets a reset.
TEST_F(ApiTest, EventStreamReplaysWhatAReconnectingClientMissed) {
  const std::string alice = Login("alice", {core::Role::kRequester});
  auto create = [&](const std::string& who, const std::string& reason) {
    Answer a = Do("POST", "/v1/requests", who,
                  R"({"resource":"db","privilege":"read_only","duration":"10m","reason":")" + reason + R"(","ticket":"INC-5"})");
    EXPECT_EQ(a.status, 201) << a.raw.body;
    return a.body.value("id", "");
  };
  auto first = std::make_shared<CapturingWriter>();
  ASSERT_EQ(Do("GET", "/v1/events", alice, "", first).status, 200);
  create(alice, "first one");
  auto seen = first->WaitEvents(1);
  ASSERT_FALSE(seen.empty());
  const std::string last_id = seen.back().second;
  ASSERT_FALSE(last_id.empty()) << "events carry ids";
  first->Close();  // the connection drops
  const std::string r2 = create(alice, "while away");
  auto again = std::make_shared<CapturingWriter>();
  ASSERT_EQ(DoWith("GET", "/v1/events", {{"authorization", "Bearer " + alice}, {"last-event-id", last_id}}, "", again).status, 200);
  auto replayed = again->WaitEvents(1);
  ASSERT_FALSE(replayed.empty());
  bool got_r2 = false;
  auto seq = [](const std::string& id) { return std::stoull(id.substr(id.rfind('-') + 1)); };
  for (const auto& [ev, id] : replayed) {
    EXPECT_GT(seq(id), seq(last_id)) << "only what came after the last id seen";
    got_r2 = got_r2 || ev.find(r2) != std::string::npos;
  }
  EXPECT_TRUE(got_r2) << "the event missed while away was replayed";
  const std::string r3 = create(alice, "after return");
  bool got_r3 = false;
  for (const auto& e : again->WaitEvents(replayed.size() + 1)) got_r3 = got_r3 || e.first.find(r3) != std::string::npos;
  EXPECT_TRUE(got_r3) << "new events follow the replay";
  auto stranger = std::make_shared<CapturingWriter>();
  ASSERT_EQ(DoWith("GET", "/v1/events", {{"authorization", "Bearer " + alice}, {"last-event-id", "otherprocess-3"}}, "", stranger).status, 200);
  auto reset = stranger->WaitEvents(1);
  ASSERT_FALSE(reset.empty());
  EXPECT_EQ(reset[0].first.rfind("reset:", 0), 0u) << reset[0].first;
}

// Passkey logins with credentials nobody registered are throttled per source like failed
// passwords (there is no account to count against) and audited.
TEST_F(ApiTest, UnknownPasskeyLoginsAreThrottledPerSource) {
  int throttled_at = 0;
  for (int attempt = 1; attempt <= 8 && throttled_at == 0; ++attempt) {
    Answer opts = Do("POST", "/v1/auth/passkey/options");
    ASSERT_EQ(opts.status, 200);
    const std::string cd = json{{"type", "webauthn.get"}, {"challenge", opts.body["challenge"]},
                                {"origin", "https://localhost:8443"}}.dump();
    const std::string body =
        json{{"credential", {{"id", Base64UrlEncode("nobody's key " + std::to_string(attempt))},
                             {"client_data_json", Base64UrlEncode(cd)},
                             {"authenticator_data", Base64UrlEncode(std::string(37, 'a'))},
                             {"signature", Base64UrlEncode("sig")}}}}.dump();
    Answer a = Do("POST", "/v1/auth/passkey/login", "", body);
    if (a.status == 429) throttled_at = attempt;
    else EXPECT_EQ(a.status, 401) << a.raw.body;
  }
  EXPECT_GT(throttled_at, 1) << "the first attempts are refused, not throttled";
  EXPECT_LE(throttled_at, 5) << "guessing credentials is slowed down like guessing passwords";
  auto leaves = svc_->store().AuditLeaves(0, *svc_->store().AuditSize());
  ASSERT_TRUE(leaves.has_value());
  int failed = 0;
  for (const auto& l : *leaves) failed += l.find("\"auth.login_failed\"") != std::string::npos && l.find("passkey:unknown") != std::string::npos;
  EXPECT_EQ(failed, throttled_at - 1);
}

}  // namespace
}  // namespace bg::api

namespace bg::api {
namespace {

// Issue 15's scriptable contract: GET /v1/reviews?state=open|done and POST /v1/reviews/{id}
// with its statuses (403 requester or approver, 400 unknown verdict or inappropriate without
// findings, 409 closed).
TEST_F(ApiTest, ReviewsAreListedAndDecidedAsTheContractSays) {
  const std::string alice = Login("alice", {core::Role::kRequester});
  const std::string carol = Login("carol", {core::Role::kApprover, core::Role::kAuditor});
  const std::string sam = Login("sam", {core::Role::kAuditor});
  const std::string root = Login("root", {core::Role::kAdmin});
  Answer created = Do("POST", "/v1/requests", alice,
                      R"({"resource":"db","privilege":"dba","duration":"30m",)"
                      R"("reason":"fix the replication lag","ticket":"INC-2"})");
  ASSERT_EQ(created.status, 201) << created.raw.body;
  const std::string id = created.body["id"];
  ASSERT_EQ(Do("POST", "/v1/requests/" + id + "/approve", carol, "{}").status, 200);
  EXPECT_EQ(Do("GET", "/v1/reviews?state=open", sam).body["reviews"].size(), 0u);
  Answer revoked = Do("POST", "/v1/requests/" + id + "/revoke", alice, R"({"reason":"fixed"})");
  ASSERT_EQ(revoked.status, 200) << revoked.raw.body;

  Answer open = Do("GET", "/v1/reviews?state=open", sam);
  ASSERT_EQ(open.status, 200) << open.raw.body;
  ASSERT_EQ(open.body["reviews"].size(), 1u);
  const json& rv = open.body["reviews"][0];
  for (const char* key : {"id", "request_id", "due_at", "state", "reviewers_needed", "verdicts"}) {
    EXPECT_TRUE(rv.contains(key)) << key;
  }
  EXPECT_EQ(rv["request_id"], id);
  EXPECT_EQ(rv["state"], "open");
  EXPECT_EQ(rv["reviewers_needed"], 1);
  EXPECT_TRUE(rv["verdicts"].empty());
  EXPECT_EQ(rv["may_review"], true);
  const std::string rid = rv["id"];
  EXPECT_EQ(Do("GET", "/v1/reviews?state=done", sam).body["reviews"].size(), 0u);
  EXPECT_EQ(Do("GET", "/v1/reviews?request_id=" + id, root).body["reviews"].size(), 1u);
  EXPECT_EQ(Do("GET", "/v1/reviews", alice).status, 403);

  Answer detail = Do("GET", "/v1/reviews/" + rid, sam);
  ASSERT_EQ(detail.status, 200) << detail.raw.body;
  EXPECT_EQ(detail.body["request"]["id"], id);
  EXPECT_EQ(detail.body["timeline"]["verified"], true);
  EXPECT_GE(detail.body["timeline"]["entries"].get<int>(), 4);
  EXPECT_EQ(Do("GET", "/v1/reviews/rev-nope", sam).status, 404);

  const std::string ok = R"({"verdict":"appropriate"})";
  EXPECT_EQ(Do("POST", "/v1/reviews/" + rid, alice, ok).status, 403);  // not an auditor
  Answer approver = Do("POST", "/v1/reviews/" + rid, carol, ok);
  EXPECT_EQ(approver.status, 403) << "carol approved it";
  EXPECT_EQ(Do("POST", "/v1/reviews/" + rid, root, ok).status, 403) << "admins are not reviewers";
  Answer no_findings = Do("POST", "/v1/reviews/" + rid, sam, R"({"verdict":"inappropriate"})");
  EXPECT_EQ(no_findings.status, 400);
  EXPECT_EQ(no_findings.field(), "findings");
  EXPECT_EQ(Do("POST", "/v1/reviews/rev-nope", sam, ok).status, 404);
  Answer done = Do("POST", "/v1/reviews/" + rid, sam,
                   R"({"verdict":"appropriate_with_findings","findings":"ticket was vague",)"
                   R"("follow_up_ticket":"CHG-7"})");
  ASSERT_EQ(done.status, 200) << done.raw.body;
  EXPECT_EQ(done.body["state"], "done");
  ASSERT_EQ(done.body["verdicts"].size(), 1u);
  EXPECT_EQ(done.body["verdicts"][0]["reviewer"], "sam");
  EXPECT_EQ(done.body["verdicts"][0]["follow_up_ticket"], "CHG-7");
  Answer closed = Do("POST", "/v1/reviews/" + rid, sam, ok);
  EXPECT_EQ(closed.status, 409);
  EXPECT_EQ(closed.code(), "conflict");
  EXPECT_EQ(Do("GET", "/v1/reviews?state=done", root).body["reviews"].size(), 1u);
  EXPECT_EQ(Do("GET", "/v1/reviews?state=open", root).body["reviews"].size(), 0u);
}

}  // namespace
}  // namespace bg::api

namespace bg::api {
namespace {

// Attestation: an auditor opens an eligibility campaign; the resource's owner (carol) answers;
// "remove" takes alice's eligibility out of the policy in force at once; the CSV export lists
// the items; another person sees nothing of the campaign.
TEST_F(ApiTest, AnAttestationRemovalTakesEffectAtOnce) {
  const std::string alice = Login("alice", {core::Role::kRequester});
  const std::string carol = Login("carol", {core::Role::kApprover});
  const std::string dave = Login("dave", {core::Role::kApprover});
  const std::string sam = Login("sam", {core::Role::kAuditor});
  EXPECT_EQ(Do("POST", "/v1/attestations", alice, R"({"scope":"eligibility"})").status, 403);
  Answer opened = Do("POST", "/v1/attestations", sam, R"({"scope":"eligibility","due":"72h"})");
  ASSERT_EQ(opened.status, 201) << opened.raw.body;
  const std::string id = opened.body["id"];
  ASSERT_EQ(opened.body["items"].size(), 2u);
  const json& first = opened.body["items"][0];
  EXPECT_EQ(first["subject"], "db read_only tier 1");
  EXPECT_EQ(first["principal"], "group:sre");
  EXPECT_EQ(first["owners"], json::array({"carol"}));

  EXPECT_EQ(Do("GET", "/v1/attestations/" + id, dave).status, 404) << "dave owns nothing in it";
  EXPECT_EQ(Do("GET", "/v1/attestations", dave).body["campaigns"].size(), 0u);
  EXPECT_EQ(Do("GET", "/v1/attestations?state=open", carol).body["campaigns"].size(), 1u);
  // Answering tells dave no more: 404 as for a missing campaign (not 403 naming the item's owner).
  EXPECT_EQ(Do("POST", "/v1/attestations/" + id + "/items/i1", dave, R"({"answer":"confirm"})").status, 404);
  EXPECT_EQ(Do("POST", "/v1/attestations/" + id + "/items/i1", sam, R"({"answer":"confirm"})").status, 403)
      << "sam reads it but does not own the item";
  EXPECT_EQ(Do("POST", "/v1/attestations/" + id + "/items/i9", carol, R"({"answer":"confirm"})").status, 404);
  Answer no_note = Do("POST", "/v1/attestations/" + id + "/items/i1", carol, R"({"answer":"remove"})");
  EXPECT_EQ(no_note.status, 400);
  EXPECT_EQ(no_note.field(), "note");

  const std::string ask = R"({"resource":"db","privilege":"read_only","duration":"30m",)"
                          R"("reason":"look at the slow queries","ticket":"INC-3"})";
  ASSERT_EQ(Do("POST", "/v1/requests", alice, ask).status, 201);
  Answer removed = Do("POST", "/v1/attestations/" + id + "/items/i1", carol,
                      R"({"answer":"remove","note":"the SRE team no longer runs db"})");
  ASSERT_EQ(removed.status, 200) << removed.raw.body;
  EXPECT_EQ(removed.body["items"][0]["removed"], true);
  Answer refused = Do("POST", "/v1/requests", alice, ask);
  EXPECT_EQ(refused.status, 403) << refused.raw.body;

  Answer csv = Do("GET", "/v1/attestations/" + id + "?format=csv", sam);
  ASSERT_EQ(csv.status, 200);
  EXPECT_EQ(csv.raw.content_type, "text/csv; charset=utf-8");
  EXPECT_NE(csv.raw.body.find("i1,eligibility,db read_only tier 1,group:sre,carol,remove,carol,"),
            std::string::npos) << csv.raw.body;
  // Confirming it again puts it back.
  ASSERT_EQ(Do("POST", "/v1/attestations/" + id + "/items/i1", carol, R"({"answer":"confirm"})").status, 200);
  EXPECT_EQ(Do("POST", "/v1/requests", alice, ask).status, 201);
}

}  // namespace
}  // namespace bg::api

namespace bg::api {
namespace {

// The inventory: the pool's reachable approvers against the M its rule needs, legacy paths
// tracked to their date, warnings; admins record legacy paths; CSV as well.
TEST_F(ApiTest, InventoryListsPathsReachableApproversAndLegacyPaths) {
  const std::string root = Login("root", {core::Role::kAdmin, core::Role::kAuditor});
  const std::string alice = Login("alice", {core::Role::kRequester});
  Login("carol", {core::Role::kApprover});  // dave has no account: 1 of 2 reachable, 1 needed
  EXPECT_EQ(Do("GET", "/v1/inventory", alice).status, 403);
  Answer added = Do("POST", "/v1/inventory/legacy", root,
                    R"({"description":"sealed envelope in safe B","resource":"db","decommission_by":"2026-10-01"})");
  ASSERT_EQ(added.status, 201) << added.raw.body;
  Answer inv = Do("GET", "/v1/inventory", root);
  ASSERT_EQ(inv.status, 200) << inv.raw.body;
  ASSERT_EQ(inv.body["resources"].size(), 1u);
  const json& db = inv.body["resources"][0];
  EXPECT_EQ(db["name"], "db");
  EXPECT_EQ(db["connector"], "db-conn");
  EXPECT_EQ(db["tiers"], json::array({1, 2}));
  ASSERT_EQ(db["pools"].size(), 1u);
  EXPECT_EQ(db["pools"][0]["pool"], "dba-approvers");
  EXPECT_EQ(db["pools"][0]["members"], 2);
  EXPECT_EQ(db["pools"][0]["reachable"], 1);
  EXPECT_EQ(db["pools"][0]["needed"], 1);
  EXPECT_TRUE(db["last_drill"].is_null());
  ASSERT_EQ(db["legacy_paths"].size(), 1u);
  EXPECT_EQ(db["legacy_paths"][0]["overdue"], true);  // the clock says 2026-11-18
  const std::string warnings = db["warnings"].dump();
  EXPECT_NE(warnings.find("was to be gone by 2026-10-01"), std::string::npos) << warnings;
  EXPECT_NE(warnings.find("no successful drill"), std::string::npos) << warnings;
  EXPECT_EQ(warnings.find("reachable approver"), std::string::npos) << "1 reachable, 1 needed";
  Answer csv = Do("GET", "/v1/inventory?format=csv", root);
  ASSERT_EQ(csv.status, 200);
  EXPECT_EQ(csv.raw.body.rfind("resource,connector,tiers,pools,", 0), 0u) << csv.raw.body;
  EXPECT_NE(csv.raw.body.find("db,db-conn,1 2,dba-approvers 1/1,"), std::string::npos) << csv.raw.body;
  const std::string id = added.body["id"];
  EXPECT_EQ(Do("DELETE", "/v1/inventory/legacy/" + id, alice).status, 403);
  EXPECT_EQ(Do("DELETE", "/v1/inventory/legacy/" + id, root).status, 200);
  EXPECT_EQ(Do("DELETE", "/v1/inventory/legacy/" + id, root).status, 404);
  EXPECT_EQ(Do("GET", "/v1/inventory", root).body["legacy_paths"].size(), 0u);
}

// ---- drills (service/drills.h) --------------------------------------------------------------

std::atomic<bool> g_drill_use_fails{false};

// A connector that can run drills: its use succeeds or fails as the test says, after taking its
// credential (so the drill audits a credential.taken).
class FakeDrillConnector final : public connector::Connector,
                                 public connector::CredentialSource,
                                 public connector::DrillUser {
 public:
  Status Grant(const core::Request&) override { return Ok(); }
  Status Revoke(const core::Request&) override { return Ok(); }
  Status Probe() override { return Ok(); }
  connector::CredentialSource* AsCredentialSource() override { return this; }
  connector::DrillUser* AsDrillUser() override { return this; }
  Result<Secret> TakeCredential(const core::Request&) override {
    return Secret(std::string(R"({"token":"x"})"));
  }
  Result<connector::DrillUse> UseDrillGrant(const core::Request& grant,
                                            const Issued& issued) override {
    if (grant.drill_id.empty()) return Error::FailedPrecondition("not a drill grant");
    connector::DrillCredential made;
    BG_TRY(issued(made));
    if (g_drill_use_fails) return Error::Unavailable("the canary login was refused");
    connector::DrillUse use;
    use.detail = "canary login for " + grant.drill_id;
    return use;
  }
};

class DrillApiTest : public ApiTest {
 protected:
  void SetUp() override {
    g_drill_use_fails = false;
    ApiTest::SetUp();
  }
  std::string PolicyText() const override {
    return std::string(kPolicy) + R"(
[[resources]]
name = "canary"
connector = "drill-conn"
owner = "dave"
privileges = ["ops", "admin"]
drill = { check = ["/bin/true"] }
[[rules]]
resource = "canary"
privileges = ["ops"]
requesters = ["group:sre"]
tier = 1
[[rules]]
resource = "canary"
privileges = ["admin"]
requesters = ["group:sre"]
tier = 2
pool = "dba-approvers"
approvals = 1
)";
  }
  void Configure(service::ServerConfig& config) override {
    config.connectors["drill-conn"] = {"drill-conn", "fake_drill", "{}"};
  }
  std::function<void(connector::ConnectorRegistry&)> ConnectorKinds() override {
    return [](connector::ConnectorRegistry& r) {
      r.RegisterKind("fake_drill", [](const connector::PluginConfig&,
                                      const connector::ConnectorContext&)
                                       -> Result<std::unique_ptr<connector::Connector>> {
        return std::unique_ptr<connector::Connector>(new FakeDrillConnector());
      });
    };
  }
  json Finished(const std::string& id, const std::string& token) {
    EXPECT_TRUE(svc_->drills()->WaitFinished(id, std::chrono::seconds(30))) << id;
    Answer a = Do("GET", "/v1/drills/" + id, token);
    EXPECT_EQ(a.status, 200) << a.raw.body;
    return a.body;
  }
  std::vector<std::string> StepNames(const json& d) {
    std::vector<std::string> out;
    for (const json& s : d["steps"]) out.push_back(s["name"].get<std::string>());
    return out;
  }
};

TEST_F(DrillApiTest, ATierOneDrillRunsThePathUsesTheGrantAndRevokesIt) {
  const std::string root = Login("root", {core::Role::kAdmin});
  Answer started = Do("POST", "/v1/drills", root, R"({"resource":"canary","privilege":"ops"})");
  ASSERT_EQ(started.status, 202) << started.raw.body;
  EXPECT_EQ(started.body["state"], "running");
  const std::string id = started.body["id"];
  json d = Finished(id, root);
  EXPECT_TRUE(d["ok"].get<bool>()) << d.dump();
  EXPECT_EQ(d["state"], "ok");
  EXPECT_EQ(StepNames(d), (std::vector<std::string>{"request", "self-approval", "credential",
                                                    "use", "revoke"}));
  ASSERT_TRUE(d["time_to_access_ms"].is_number_integer());
  int64_t last = 0;
  for (const json& s : d["steps"]) {  // each step ends after the one before
    EXPECT_TRUE(s["ok"].get<bool>()) << s.dump();
    EXPECT_GE(s["ms"].get<int64_t>(), last);
    last = s["ms"].get<int64_t>();
  }
  EXPECT_EQ(d["time_to_access_ms"], d["steps"][3]["ms"]);
  // The drill's request: marked, exempt from the ticket pattern, ended, and under review.
  const std::string req = d["request_id"];
  Answer r = Do("GET", "/v1/requests/" + req, root);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body["state"], "revoked");
  EXPECT_EQ(r.body["ticket"], "DRILL-" + std::to_string(d["number"].get<int>()));
  EXPECT_EQ(r.body["reason"], "drill " + id);
  EXPECT_EQ(r.body["duration"], 60) << r.body.dump();
  const std::string auditor = Login("audrey", {core::Role::kAuditor});
  Answer reviews = Do("GET", "/v1/reviews?request_id=" + req, auditor);
  ASSERT_EQ(reviews.status, 200);
  EXPECT_EQ(reviews.body["reviews"].size(), 1u);
  // Everything is in the log: the drill, the credential it took, its end.
  auto size = svc_->store().AuditSize();
  auto leaves = svc_->store().AuditLeaves(0, *size);
  std::string all;
  for (const auto& l : *leaves) all += l + "\n";
  for (const char* type : {"\"drill.started\"", "\"credential.taken\"", "\"drill.finished\"",
                           "\"request.revoked\""}) {
    EXPECT_NE(all.find(type), std::string::npos) << type;
  }
  // The inventory knows the resource's last successful drill.
  Answer inv = Do("GET", "/v1/inventory", root);
  for (const json& res : inv.body["resources"]) {
    if (res["name"] == "canary") {
      EXPECT_TRUE(res["last_drill"].is_string()) << res.dump();
    }
    if (res["name"] == "db") {
      EXPECT_TRUE(res["last_drill"].is_null());
    }
  }
}

TEST_F(DrillApiTest, ATierTwoDrillWaitsForARealApproval) {
  const std::string carol = Login("carol", {core::Role::kApprover});
  const std::string auditor = Login("audrey", {core::Role::kAuditor});
  Answer started =
      Do("POST", "/v1/drills", auditor, R"({"resource":"canary","privilege":"admin"})");
  ASSERT_EQ(started.status, 202) << started.raw.body;
  const std::string id = started.body["id"];
  // The drill's request waits in the pool's queue like any other.
  std::string req;
  for (int i = 0; i < 200 && req.empty(); ++i) {
    Answer d = Do("GET", "/v1/drills/" + id, auditor);
    if (d.body["request_id"].is_string()) req = d.body["request_id"];
    if (req.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_FALSE(req.empty());
  Answer pending = Do("GET", "/v1/requests/" + req, carol);
  ASSERT_EQ(pending.status, 200);
  EXPECT_EQ(pending.body["state"], "pending");
  Answer approved = Do("POST", "/v1/requests/" + req + "/approve", carol, "{}");
  ASSERT_EQ(approved.status, 200) << approved.raw.body;
  json d = Finished(id, auditor);
  EXPECT_TRUE(d["ok"].get<bool>()) << d.dump();
  EXPECT_EQ(StepNames(d), (std::vector<std::string>{"request", "approval 1 (carol)",
                                                    "credential", "use", "revoke"}));
  EXPECT_EQ(d["tier"], 2);
  // The report gives the approval its own figure.
  Answer report = Do("GET", "/v1/drills/report?resource=canary", auditor);
  ASSERT_EQ(report.status, 200) << report.raw.body;
  ASSERT_EQ(report.body["resources"].size(), 1u);
  const json& row = report.body["resources"][0];
  EXPECT_EQ(row["tier"], 2);
  EXPECT_EQ(row["drills"], 1);
  EXPECT_EQ(row["failed"], 0);
  EXPECT_EQ(row["approvals"][0]["count"], 1);
  EXPECT_EQ(row["time_to_access"]["count"], 1);
  EXPECT_TRUE(row["last_success"].is_string());
  // Drills are apart in statistics: carol's approval and the drill's request count with the
  // drills, not with the real requests and approvals.
  const std::string metrics = svc_->metrics().Render();
  for (const char* line :
       {"breakglass_approvals_total{decision=\"approve\"} 0\n",
        "breakglass_drill_approvals_total{decision=\"approve\"} 1\n",
        "breakglass_requests{state=\"revoked\"} 0\n",
        "breakglass_drill_requests{state=\"revoked\"} 1\n", "breakglass_grants_active 0\n"}) {
    EXPECT_NE(metrics.find(line), std::string::npos) << line << " in\n" << metrics;
  }
}

TEST_F(DrillApiTest, AFailedUseIsTheDrillsResultAndTheGrantStillEnds) {
  g_drill_use_fails = true;
  const std::string root = Login("root", {core::Role::kAdmin});
  Answer started = Do("POST", "/v1/drills", root, R"({"resource":"canary","privilege":"ops"})");
  ASSERT_EQ(started.status, 202);
  json d = Finished(started.body["id"], root);
  EXPECT_FALSE(d["ok"].get<bool>());
  EXPECT_EQ(d["state"], "failed");
  EXPECT_TRUE(d["time_to_access_ms"].is_null());
  EXPECT_NE(d["failure"].get<std::string>().find("use: the canary login was refused"),
            std::string::npos)
      << d.dump();
  EXPECT_EQ(StepNames(d).back(), "revoke");
  EXPECT_TRUE(d["steps"].back()["ok"].get<bool>());
  Answer r = Do("GET", "/v1/requests/" + d["request_id"].get<std::string>(), root);
  EXPECT_EQ(r.body["state"], "revoked");
}

TEST_F(DrillApiTest, DrillsAreRunByAdminsAuditorsAndTheOwnerOnly) {
  const std::string alice = Login("alice", {core::Role::kRequester});
  const std::string dave = Login("dave", {core::Role::kApprover});  // the owner of canary
  const std::string root = Login("root", {core::Role::kAdmin});
  const std::string body = R"({"resource":"canary","privilege":"ops"})";
  Answer refused = Do("POST", "/v1/drills", alice, body);
  EXPECT_EQ(refused.status, 403) << refused.raw.body;
  Answer owner = Do("POST", "/v1/drills", dave, body);
  ASSERT_EQ(owner.status, 202) << owner.raw.body;
  EXPECT_TRUE(Finished(owner.body["id"], dave)["ok"].get<bool>());
  // Others see no drill; the owner and admins do.
  EXPECT_EQ(Do("GET", "/v1/drills/" + owner.body["id"].get<std::string>(), alice).status, 404);
  EXPECT_EQ(Do("GET", "/v1/drills", alice).body["drills"].size(), 0u);
  EXPECT_EQ(Do("GET", "/v1/drills", dave).body["drills"].size(), 1u);
  EXPECT_EQ(Do("GET", "/v1/drills?resource=canary", root).body["drills"].size(), 1u);
  EXPECT_EQ(Do("GET", "/v1/drills?resource=canary", alice).status, 403);
  // Bad input names the field; a resource without a drill target is a conflict.
  struct Case {
    std::string body;
    int status;
    std::string field;
  };
  const Case cases[] = {
      {R"({"resource":"nope","privilege":"ops"})", 400, "resource"},
      {R"({"resource":"canary","privilege":"nope"})", 400, "privilege"},
      {R"({"resource":"canary"})", 400, "privilege"},
      {R"({"resource":"canary","privilege":"ops","x":1})", 400, "x"},
      {R"({"resource":"canary","privilege":7})", 400, "privilege"},
      {"[]", 400, ""},
      {R"({"resource":"db","privilege":"read_only"})", 409, "resource"},
  };
  for (const Case& c : cases) {
    Answer a = Do("POST", "/v1/drills", root, c.body);
    EXPECT_EQ(a.status, c.status) << c.body << " " << a.raw.body;
    if (!c.field.empty()) {
      EXPECT_EQ(a.field(), c.field) << c.body;
    }
  }
  EXPECT_EQ(Do("GET", "/v1/drills?limit=0", root).status, 400);
  EXPECT_EQ(Do("GET", "/v1/drills/report?since=yesterday", root).field(), "since");
}

TEST_F(DrillApiTest, APolicyGivingADrillTargetToAConnectorWithoutDrillsIsRefused) {
  std::string text = PolicyText();
  const std::string from = "privileges = [\"read_only\", \"dba\"]\n";
  text.replace(text.find(from), from.size(), from + "drill = { database = \"app\" }\n");
  std::ofstream(dir_ / "policy.toml") << text;
  Status reloaded = svc_->ReloadPolicy();
  ASSERT_FALSE(reloaded.has_value());
  EXPECT_NE(reloaded.error().message().find(
                "resource 'db' has a drill target, but its connector 'db-conn' (none) cannot run "
                "drills"),
            std::string::npos)
      << reloaded.error().message();
}

class ScheduledDrillApiTest : public DrillApiTest {
 protected:
  std::string PolicyText() const override {
    return DrillApiTest::PolicyText() + R"(
[[drills]]
resource = "canary"
privilege = "ops"
schedule = "*/5 * * * *"
)";
  }
};

TEST_F(ScheduledDrillApiTest, AScheduleStartsOneDrillInTheMinuteItNames) {
  const std::string root = Login("root", {core::Role::kAdmin});
  auto count = [&] { return svc_->store().ListDrills({}).value().size(); };
  clock_.Advance(std::chrono::minutes(4));  // 10:01 .. 10:04: no minute of */5
  svc_->drills()->CheckSchedules();
  EXPECT_EQ(count(), 0u);
  clock_.Advance(std::chrono::minutes(1));  // 10:05
  svc_->drills()->CheckSchedules();
  svc_->drills()->CheckSchedules();  // the same minute again: nothing more
  ASSERT_EQ(count(), 1u);
  json d = Do("GET", "/v1/drills", root).body["drills"][0];
  d = Finished(d["id"], root);
  EXPECT_TRUE(d["ok"].get<bool>()) << d.dump();
  EXPECT_TRUE(d["scheduled"].get<bool>());
  EXPECT_EQ(d["started_by"], "schedule");
  Answer r = Do("GET", "/v1/requests/" + d["request_id"].get<std::string>(), root);
  EXPECT_EQ(r.body["requester"], std::string(service::Drills::kScheduleActor));
  // After a long pause the schedule resumes: one drill, not one per missed minute.
  clock_.Advance(std::chrono::hours(2));
  svc_->drills()->CheckSchedules();
  EXPECT_EQ(count(), 2u);
  auto drills = svc_->store().ListDrills({});
  ASSERT_TRUE(drills.has_value());
  for (const store::DrillRecord& rec : *drills) {
    EXPECT_TRUE(svc_->drills()->WaitFinished(rec.id, std::chrono::seconds(30)));
  }
}

TEST_F(DrillApiTest, ADrillGrantsCredentialIsHandedToNobody) {
  const std::string root = Login("root", {core::Role::kAdmin, core::Role::kRequester});
  Answer started = Do("POST", "/v1/drills", root, R"({"resource":"canary","privilege":"ops"})");
  ASSERT_EQ(started.status, 202);
  json d = Finished(started.body["id"], root);
  const std::string req = d["request_id"];
  Answer cred = Do("GET", "/v1/requests/" + req + "/credentials", root);
  EXPECT_EQ(cred.status, 403) << cred.raw.body;
  EXPECT_NE(cred.raw.body.find("used by the drill only"), std::string::npos) << cred.raw.body;
}

}  // namespace
}  // namespace bg::api
