#include "connectors/common/state.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "connectors/common/test_env.h"
#include "util/fs.h"

namespace bg::connectors {
namespace {

using testing::Plugin;
using testing::TestEnv;

TEST(OptionsTest, UnknownKeyIsRefusedWithItsField) {
  auto o = Options::Parse(Plugin("db", "exec", R"({"grant":["x"],"grnat":["y"]})"), {"grant"});
  ASSERT_FALSE(o);
  EXPECT_EQ(o.error().field(), "connectors.db.grnat");
}

TEST(OptionsTest, TypedReadersNameTheFieldOnWrongTypes) {
  auto o = Options::Parse(Plugin("x", "exec", R"({"a":1,"b":"s","t":"90s","n":7,"bad":"soon"})"),
                          {"a", "b", "t", "n", "bad"});
  ASSERT_TRUE(o);
  auto a = o->String("a", std::nullopt);
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error().field(), "connectors.x.a");
  EXPECT_FALSE(o->StringArray("b", {}));
  EXPECT_EQ(*o->String("b", std::nullopt), "s");
  EXPECT_EQ(*o->String("missing", "dflt"), "dflt");
  EXPECT_FALSE(o->String("missing", std::nullopt));
  EXPECT_EQ(*o->Duration("t", Seconds(1)), Seconds(90));
  EXPECT_EQ(*o->Duration("n", Seconds(1)), Seconds(7));
  EXPECT_EQ(*o->Duration("missing", Seconds(3)), Seconds(3));
  auto bad = o->Duration("bad", Seconds(1));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().field(), "connectors.x.bad");
}

TEST(OptionsTest, NonObjectOptionsAreRefused) {
  EXPECT_FALSE(Options::Parse(Plugin("x", "exec", "[1]"), {}));
  EXPECT_FALSE(Options::Parse(Plugin("x", "exec", "{"), {}));
}

TEST(ConnectorStateTest, SealedValuesAreBoundToTheirKeyAndInstance) {
  TestEnv env;
  ConnectorState a("a", env.context("a").state), b("b", env.context("b").state);
  ASSERT_TRUE(a.Put("k", a.Seal("k", Secret("hunter2"))));
  auto got = a.GetSealed("k");
  ASSERT_TRUE(got && *got);
  EXPECT_TRUE((*got)->Equals("hunter2"));
  auto raw = a.Get("k");
  ASSERT_TRUE(raw && *raw);
  EXPECT_EQ((*raw)->find("hunter2"), std::string::npos);
  // The same sealed text under another key or another instance does not open.
  ASSERT_TRUE(a.Put("other", **raw));
  EXPECT_FALSE(a.GetSealed("other"));
  ASSERT_TRUE(b.Put("k", **raw));
  EXPECT_FALSE(b.GetSealed("k"));
}

TEST(OneTimeCredentialsTest, ACredentialIsShownOnceThenGone) {
  TestEnv env;
  ConnectorState st("pg", env.context("pg").state);
  OneTimeCredentials creds(st);
  RequestId id("req_a");
  EXPECT_EQ(creds.Take(id).error().code(), ErrorCode::kNotFound);
  ASSERT_TRUE(creds.Store(id, Secret(R"({"password":"p"})")));
  EXPECT_TRUE(*creds.Pending(id));
  env.Reopen();  // survives a restart
  ConnectorState st2("pg", env.context("pg").state);
  OneTimeCredentials creds2(st2);
  auto first = creds2.Take(id);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->Reveal(), R"({"password":"p"})");
  EXPECT_FALSE(*creds2.Pending(id));
  EXPECT_EQ(creds2.Take(id).error().code(), ErrorCode::kNotFound);
  EXPECT_TRUE(creds2.Discard(id));
}

TEST(OneTimeCredentialsTest, DiscardRemovesAnUnfetchedCredential) {
  TestEnv env;
  ConnectorState st("pg", env.context("pg").state);
  OneTimeCredentials creds(st);
  ASSERT_TRUE(creds.Store(RequestId("r"), Secret("{}")));
  ASSERT_TRUE(creds.Discard(RequestId("r")));
  EXPECT_FALSE(creds.Take(RequestId("r")));
}

TEST(GrantWindowTest, BeforeActivationTheWindowStartsNow) {
  core::Request r;
  r.duration = Seconds(600);
  Timestamp now = FromUnixSeconds(1'800'000'000);
  Window w = GrantWindow(r, now);
  EXPECT_EQ(w.starts_at, now);
  EXPECT_EQ(w.ends_at, now + Seconds(600));
  r.starts_at = now - Seconds(100);
  r.ends_at = now + Seconds(900);  // extended
  w = GrantWindow(r, now);
  EXPECT_EQ(w.starts_at, now - Seconds(100));
  EXPECT_EQ(w.ends_at, now + Seconds(900));
}

TEST(GrantJsonTest, HasTheDocumentedFieldsAndEscapesNames) {
  core::Request r;
  r.id = RequestId("req_x");
  r.requester = "o'brien\"; \xc3\xa9";
  r.resource = "db";
  r.privilege = "ro";
  r.duration = Seconds(60);
  auto j = nlohmann::json::parse(GrantJson("grant", r, FromUnixSeconds(1'800'000'000)));
  EXPECT_EQ(j["action"], "grant");
  EXPECT_EQ(j["grant_id"], "req_x");
  EXPECT_EQ(j["request_id"], "req_x");
  EXPECT_EQ(j["user"], "o'brien\"; \xc3\xa9");
  EXPECT_EQ(j["resource"], "db");
  EXPECT_EQ(j["privilege"], "ro");
  EXPECT_EQ(j["starts_at"], "2027-01-15T08:00:00Z");
  EXPECT_EQ(j["ends_at"], "2027-01-15T08:01:00Z");
  EXPECT_EQ(j.size(), 8u);
}

TEST(ReadSecretFileTest, RefusesFilesOthersMayRead) {
  TestEnv env;
  std::string path = env.dir() + "/s";
  std::ofstream(path) << "s3cret\n";
  chmod(path.c_str(), 0644);
  auto r = fs::ReadSecretFile(path, "f");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("chmod 600"), std::string::npos);
  chmod(path.c_str(), 0600);
  auto ok = fs::ReadSecretFile(path, "f");
  ASSERT_TRUE(ok);
  EXPECT_TRUE(ok->Equals("s3cret"));
  EXPECT_FALSE(fs::ReadSecretFile(env.dir() + "/missing", "f"));
}

}  // namespace
}  // namespace bg::connectors
