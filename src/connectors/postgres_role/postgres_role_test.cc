#include "connectors/postgres_role/postgres_role.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "connectors/common/test_env.h"

namespace bg::connectors {
namespace {

using testing::Plugin;
using testing::TestEnv;

TEST(DerivePostgresRoleNameTest, FoldsNamesToSafeLowercase) {
  struct Case {
    std::string person, id, want;
  } cases[] = {
      {"alice", "req_abc234", "bg_alice_req_abc234"},
      {"Alice.Smith", "req_abc234", "bg_alice_smith_req_abc234"},
      {"o'brien\"; DROP ROLE x; --", "req_q", "bg_o_brien___drop_role_x_____req_q"},
      {"j\xc3\xb6rg", "req_u", "bg_j__rg_req_u"},
      {"", "req_e", "bg__req_e"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(DerivePostgresRoleName("bg_", c.person, RequestId(c.id)), c.want) << c.person;
  }
}

TEST(DerivePostgresRoleNameTest, FitsInSixtyThreeBytesAndKeepsTheIdWhole) {
  std::string id = "req_abcdefghijklmnopqrst";
  std::string name = DerivePostgresRoleName("bg_", std::string(200, 'x'), RequestId(id));
  EXPECT_EQ(name.size(), 63u);
  EXPECT_EQ(name.substr(name.size() - id.size()), id);
}

TEST(DerivePostgresRoleNameTest, IdsThatWouldFoldTogetherStayDistinct) {
  std::string a = DerivePostgresRoleName("bg_", "p", RequestId("req_AB"));
  std::string b = DerivePostgresRoleName("bg_", "p", RequestId("req_ab"));
  std::string c = DerivePostgresRoleName("bg_", "p", RequestId("req_a;b"));
  EXPECT_NE(a, b);
  EXPECT_NE(a, c);
  EXPECT_NE(b, c);
  for (const auto& n : {a, b, c}) {
    EXPECT_LE(n.size(), 63u);
    EXPECT_EQ(n.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_"), std::string::npos);
  }
  std::string long_id(100, 'z');
  EXPECT_LE(DerivePostgresRoleName("bg_", "p", RequestId(long_id)).size(), 63u);
}

TEST(PostgresRoleConnectorTest, OptionsAreChecked) {
  TestEnv env;
  std::string pw = env.dir() + "/pw";
  std::ofstream(pw) << "admin-pass\n";
  chmod(pw.c_str(), 0600);
  struct Case {
    std::string options, field;
  } cases[] = {
      {R"({})", "connectors.pg.dsn"},
      {R"({"dsn":"host=127.0.0.1 password=inline"})", "connectors.pg.dsn"},
      {R"({"dsn":"host='unterminated"})", "connectors.pg.dsn"},
      {R"({"dsn":"host=127.0.0.1","owned_objects":"drop"})", "connectors.pg.owned_objects"},
      {R"({"dsn":"host=127.0.0.1","role_prefix":"Bad\""})", "connectors.pg.role_prefix"},
      {R"({"dsn":"host=127.0.0.1","password_file":"missing"})", "connectors.pg.password_file"},
      {R"({"dsn":"host=127.0.0.1","sneaky":1})", "connectors.pg.sneaky"},
  };
  for (const auto& c : cases) {
    auto r = PostgresRoleConnector::Create(Plugin("pg", "postgres_role", c.options),
                                           env.context("pg"));
    ASSERT_FALSE(r) << c.options;
    EXPECT_EQ(r.error().field(), c.field) << c.options << ": " << r.error().ToString();
  }
  auto ok = PostgresRoleConnector::Create(
      Plugin("pg", "postgres_role",
             R"({"dsn":"host=127.0.0.1 port=1 dbname=app user=admin","password_file":"pw",
                 "owned_objects":"reassign","connect_timeout":"2s"})"),
      env.context("pg"));
  ASSERT_TRUE(ok) << ok.error().ToString();
  // Nothing listens on port 1: the probe and a grant fail as Unavailable, naming the instance.
  auto probe = (*ok)->Probe();
  ASSERT_FALSE(probe);
  EXPECT_EQ(probe.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(probe.error().message().find("postgres_role pg"), std::string::npos);
}

}  // namespace
}  // namespace bg::connectors
