// The route table's matching rules: which route a path and method reach, the metric label of a
// path, and what happens to paths no route fits.
#include "api/router.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "test/fakes/capturing_writer.h"

namespace bg::api {
namespace {

// A router whose handlers answer with their route's name (the body) and the `{name}` values
// (a header per value), so a test sees which route a request reached.
class RouterTest : public ::testing::Test {
 protected:
  void Add(const std::string& method, const std::string& pattern, bool method_hint = false) {
    const std::string name = method + " " + pattern;
    ASSERT_TRUE(router_
                    .Add(MakeRoute(method, pattern, Access::kAnonymous, RecordingScope::kAllowed,
                                   method_hint,
                                   [name](api::Call& c) {
                                     http::HttpResponse r;
                                     r.body = name;
                                     for (const auto& [k, v] : c.params) {
                                       r.headers.emplace_back("x-" + k, v);
                                     }
                                     c.w->Send(std::move(r));
                                   }))
                    .has_value());
  }

  // What answered: the route's name, or "<status>" for an answer no handler gave.
  http::HttpResponse Send(const std::string& method, const std::string& path) {
    http::HttpRequest req;
    req.method = method;
    req.path = path;
    auto writer = std::make_shared<testing::CapturingWriter>();
    std::shared_ptr<http::ResponseWriter> w = writer;
    router_.Handle(req, w);
    return writer->Wait();
  }
  std::string Reached(const std::string& method, const std::string& path) {
    http::HttpResponse r = Send(method, path);
    return r.status == 200 ? r.body : std::to_string(r.status);
  }

  Router router_;
};

TEST_F(RouterTest, ALiteralSegmentBeatsAParameterAtTheFirstDifference) {
  Add("GET", "/v1/requests/{id}");
  Add("GET", "/v1/requests/mine");
  Add("GET", "/v1/{kind}/mine");
  Add("GET", "/v1/{kind}/{id}");
  EXPECT_EQ(Reached("GET", "/v1/requests/mine"), "GET /v1/requests/mine");
  EXPECT_EQ(Reached("GET", "/v1/requests/req_1"), "GET /v1/requests/{id}");
  EXPECT_EQ(Reached("GET", "/v1/sessions/mine"), "GET /v1/{kind}/mine");
  EXPECT_EQ(Reached("GET", "/v1/sessions/s1"), "GET /v1/{kind}/{id}");
  EXPECT_EQ(router_.Label("/v1/requests/req_1"), "/v1/requests/{id}");
  EXPECT_EQ(router_.Label("/v1/sessions/s1"), "/v1/{kind}/{id}");
}

// Routes added after a literal second segment was first seen still compete for its paths.
TEST_F(RouterTest, AParameterRouteAddedLaterStillFitsPathsOfAKnownLiteral) {
  Add("GET", "/v1/requests/mine");
  Add("GET", "/v1/{kind}/{id}");
  Add("POST", "/v1/{kind}/{id}");
  EXPECT_EQ(Reached("GET", "/v1/requests/req_1"), "GET /v1/{kind}/{id}");
  EXPECT_EQ(Reached("POST", "/v1/requests/mine"), "POST /v1/{kind}/{id}");
  EXPECT_EQ(Reached("GET", "/v1/requests/mine"), "GET /v1/requests/mine");
}

TEST_F(RouterTest, ParametersAreTheSegmentsTheyStandFor) {
  Add("POST", "/v1/requests/{id}/approve");
  http::HttpResponse r = Send("POST", "/v1/requests/req_9/approve");
  ASSERT_EQ(r.status, 200);
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].first, "x-id");
  EXPECT_EQ(r.headers[0].second, "req_9");
}

TEST_F(RouterTest, EmptySegmentsAreIgnoredAsPathSegmentsIgnoresThem) {
  Add("GET", "/v1/requests/{id}");
  EXPECT_EQ(Reached("GET", "//v1///requests/req_1/"), "GET /v1/requests/{id}");
  EXPECT_EQ(router_.Label("/v1//requests/req_1"), "/v1/requests/{id}");
}

TEST_F(RouterTest, AnotherMethodIsAHintWhereTheRouteAsksForOneAndAMissOtherwise) {
  Add("GET", "/v1/requests", /*method_hint=*/true);
  Add("POST", "/v1/requests", /*method_hint=*/true);
  Add("GET", "/v1/me");
  http::HttpResponse r = Send("DELETE", "/v1/requests");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("use GET or POST"), std::string::npos) << r.body;
  EXPECT_EQ(Reached("POST", "/v1/me"), "404");
  // The label names the path's route whatever the method.
  EXPECT_EQ(router_.Label("/v1/me"), "/v1/me");
}

TEST_F(RouterTest, UnknownAndOverlongPathsReachNoRouteAndAreLabelledOther) {
  Add("GET", "/v1/{a}/{b}/{c}");
  std::string deep;
  for (int i = 0; i < 40; ++i) deep += "/x";
  EXPECT_EQ(Reached("GET", deep), "404");
  EXPECT_EQ(router_.Label(deep), "other");
  EXPECT_EQ(router_.Label("/v2/nothing"), "other");
  EXPECT_EQ(router_.Label(""), "other");
  EXPECT_EQ(Reached("GET", "/v1/a/b/c"), "GET /v1/{a}/{b}/{c}");
}

TEST_F(RouterTest, APatternLongerThanTheTableTakesIsRefused) {
  std::string pattern;
  for (size_t i = 0; i <= kMaxRouteSegments; ++i) pattern += "/s";
  auto added = router_.Add(MakeRoute("GET", pattern, Access::kAnonymous, RecordingScope::kAllowed,
                                     false, [](api::Call&) {}));
  ASSERT_FALSE(added.has_value());
  EXPECT_EQ(added.error().field(), "pattern");
}

}  // namespace
}  // namespace bg::api
