#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "service/config.h"
#include "service/sinks.h"
#include "store/store.h"

namespace bg::service {
namespace {

std::string ReadExample(const std::string& name) {
  std::ifstream in(std::string(BG_SOURCE_DIR) + "/examples/" + name);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(ConfigTest, AcceptsTheExampleAsItIs) {
  auto c = ParseServerConfig(ReadExample("breakglass.toml"), "breakglass.toml");
  ASSERT_TRUE(c.has_value()) << c.error().message();
  EXPECT_EQ(c->data_dir, "/var/lib/breakglass");
  EXPECT_EQ(c->listen, "127.0.0.1:8443");
  EXPECT_EQ(c->checkpoint_interval, Seconds(10));
  ASSERT_EQ(c->connectors.size(), 3u);
  EXPECT_EQ(c->connectors.at("prod-pg").kind, "postgres_role");
  EXPECT_NE(c->connectors.at("prod-pg").options_json.find("\"dsn\""), std::string::npos);
  EXPECT_EQ(c->connectors.at("bastion-ssh").kind, "ssh_ca");
  EXPECT_EQ(c->notify.at("mail").kind, "smtp");
  // bastion-ssh: no forced recorder (every notification kind is built).
  ASSERT_EQ(c->warnings.size(), 1u);
  EXPECT_EQ(c->warnings[0].rfind("connectors.bastion-ssh: ssh_ca without a forced recorder", 0), 0u);
  EXPECT_EQ(c->Resolve("tls.crt"), "/var/lib/breakglass/tls.crt");
  EXPECT_EQ(c->Resolve("/etc/x"), "/etc/x");
}

TEST(ConfigTest, StorageNamesABackendOfThisVersion) {
  auto pg = ParseServerConfig("storage = \"postgres://breakglass@db.internal/breakglass\"\n",
                              "b.toml");
  ASSERT_TRUE(pg.has_value()) << pg.error().message();
  EXPECT_EQ(pg->storage, "postgres://breakglass@db.internal/breakglass");
  EXPECT_TRUE(
      ParseServerConfig("storage = \"postgresql://bg@h/db?password_file=pg.pw\"\n", "b.toml")
          .has_value());
  auto bare = ParseServerConfig("\n\nstorage = \"postgresql:s3cret@h\"\n", "b.toml");
  ASSERT_FALSE(bare.has_value());
  EXPECT_EQ(bare.error().message(),
            "b.toml:3:11: storage: a postgresql storage is a URI: "
            "postgresql://USER@HOST:PORT/DATABASE");
  EXPECT_EQ(bare.error().message().find("s3cret"), std::string::npos);
  auto mysql = ParseServerConfig("storage = \"mysql://u:pw@x\"\n", "b.toml");
  ASSERT_FALSE(mysql.has_value());
  EXPECT_EQ(mysql.error().message(),
            "b.toml:1:11: storage: backend 'mysql' is unknown; this version has \"sqlite\", "
            "\"sqlite:PATH\" and \"postgresql://USER@HOST:PORT/DATABASE\"");
  EXPECT_TRUE(ParseServerConfig("storage = \"sqlite:other.db\"\n", "b.toml").has_value());
}

TEST(ConfigTest, NotificationKindsAreCheckedKeyByKey) {
  for (const char* good :
       {"[notify.oncall]\nkind = \"slack\"\nurl = \"https://x\"\n",
        "[notify.m]\nkind = \"smtp\"\nurl = \"smtp://h:25\"\nfrom = \"bg@x.example\"\n",
        "[notify.m]\nkind = \"smtp\"\nurl = \"smtp://h:25\"\nfrom = \"bg@x\"\nto = []\n",
        "[notify.m]\nkind = \"smtp\"\nurl = \"smtp://h\"\nfrom = \"a@x\"\nto = [\"o@x\"]\n",
        "[notify.w]\nkind = \"webhook\"\nurl = \"https://x\"\nsecret_file = \"k\"\n"
        "events = [\"request.created\"]\naudience = [\"pool:dba\"]\n",
        "[notify.p]\nkind = \"pagerduty\"\nrouting_key_file = \"k\"\n"}) {
    auto ok = ParseServerConfig(good, "b.toml");
    ASSERT_TRUE(ok.has_value()) << good << ok.error().message();
    EXPECT_TRUE(ok->warnings.empty()) << good;  // every kind is built: nothing is ignored
  }
  for (const char* bad : {"[notify.x]\nkind = \"pagerduty\"\n",                // no key file
                          "[notify.x]\nkind = \"slack\"\n",                     // no url
                          "[notify.x]\nkind = \"smtp\"\nurl = \"smtp://h\"\n",  // no from
                          "[notify.x]\nkind = \"slack\"\nurl = \"u\"\nchannel = \"#ops\"\n",
                          "[notify.x]\nkind = \"slack\"\nurl = 5\n",
                          "[notify.x]\nkind = \"webhook\"\nurl = \"https://x\"\n",  // no secret
                          "[notify.x]\nkind = \"smtp\"\nurl = \"smtp://h\"\nfrom = \"a@x\"\n"
                          "to = \"o@x\"\n",  // `to` is always an array
                          "[notify.x]\nkind = \"slack\"\nurl = \"https://x\"\nevents = [1]\n"}) {
    EXPECT_FALSE(ParseServerConfig(bad, "b.toml").has_value()) << bad;
  }
  auto unknown = ParseServerConfig("[notify.x]\nkind = \"carrier_pigeon\"\n", "b.toml");
  ASSERT_FALSE(unknown.has_value());
  EXPECT_NE(unknown.error().message().find(
                "kind 'carrier_pigeon' is unknown; this version has syslog, webhook, slack, "
                "smtp, pagerduty"),
            std::string::npos)
      << unknown.error().message();
}

TEST(ConfigTest, SyslogSinkTablesAreBuiltAndCheckedWhenTheServerStarts) {
  auto ok = ParseServerConfig(
      "[notify.siem]\nkind = \"syslog\"\nurl = \"tcp://127.0.0.1:6514\"\n", "b.toml");
  ASSERT_TRUE(ok.has_value()) << ok.error().message();
  EXPECT_TRUE(ok->warnings.empty());  // built: it sends
  for (const char* bad : {"[notify.x]\nkind = \"syslog\"\n",  // no url
                          "[notify.x]\nkind = \"syslog\"\nurl = \"u\"\nport = \"1\"\n"}) {
    EXPECT_FALSE(ParseServerConfig(bad, "b.toml").has_value()) << bad;
  }
  // A url that is not syslog's is refused when the sinks are made, naming the key.
  auto bad_url = ParseServerConfig(
      "[notify.siem]\nkind = \"syslog\"\nurl = \"https://siem.example\"\n", "b.toml");
  ASSERT_TRUE(bad_url.has_value());
  auto store = store::OpenStore("sqlite::memory:", "");
  ASSERT_TRUE(store.has_value()) << store.error().message();
  auto sinks = Sinks::Create(*bad_url, **store, nullptr);
  ASSERT_FALSE(sinks.has_value());
  EXPECT_EQ(sinks.error().field(), "notify.siem.url");
  ServerConfig both = *ok;
  both.syslog = "udp://127.0.0.1:514";
  both.notify["syslog"] = both.notify.at("siem");
  EXPECT_EQ(Sinks::Create(both, **store, nullptr).error().field(), "syslog");
  both.notify.erase("syslog");
  auto two = Sinks::Create(both, **store, nullptr);
  ASSERT_TRUE(two.has_value()) << two.error().message();
  ASSERT_EQ((*two)->Stats().size(), 2u);
  EXPECT_EQ((*two)->Stats()[0].target, "udp://127.0.0.1:514");
  EXPECT_EQ((*two)->Stats()[1].target, "tcp://127.0.0.1:6514");
  // RFC 5425: tls:// with a CA file; a CA file for a transport without TLS is refused at start.
  auto tls = ParseServerConfig(
      "[notify.siem]\nkind = \"syslog\"\nurl = \"tls://siem.example\"\ncacert = \"/etc/siem-ca.pem\"\n",
      "b.toml");
  ASSERT_TRUE(tls.has_value()) << tls.error().message();
  auto tls_sinks = Sinks::Create(*tls, **store, nullptr);
  ASSERT_TRUE(tls_sinks.has_value()) << tls_sinks.error().message();
  EXPECT_EQ((*tls_sinks)->Stats()[0].target, "tls://siem.example:6514");
  auto plain_ca = ParseServerConfig(
      "[notify.siem]\nkind = \"syslog\"\nurl = \"tcp://siem.example\"\ncacert = \"/etc/siem-ca.pem\"\n",
      "b.toml");
  ASSERT_TRUE(plain_ca.has_value());
  auto refused = Sinks::Create(*plain_ca, **store, nullptr);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().field(), "notify.siem.url");
}

TEST(ConfigTest, ReportsEveryProblemWithItsLocation) {
  auto c = ParseServerConfig("listen = 5\nbogus = true\n[audit]\ncheckpoint_interval = \"7x\"\n",
                             "b.toml");
  ASSERT_FALSE(c.has_value());
  const std::string& m = c.error().message();
  EXPECT_NE(m.find("b.toml:1:"), std::string::npos) << m;
  EXPECT_NE(m.find("'listen' must be a string"), std::string::npos) << m;
  EXPECT_NE(m.find("b.toml:2:"), std::string::npos) << m;
  EXPECT_NE(m.find("unknown key 'bogus'"), std::string::npos) << m;
  EXPECT_NE(m.find("b.toml:4:"), std::string::npos) << m;
}

TEST(ConfigTest, RefusesSyntaxErrorsWithLocation) {
  auto c = ParseServerConfig("listen = \"a\nx", "c.toml");
  ASSERT_FALSE(c.has_value());
  EXPECT_EQ(c.error().message().rfind("c.toml:1:", 0), 0u) << c.error().message();
}

// The error is one "file:line:column: sentence" line per problem: what a message quotes of the
// file (toml++ quotes the bytes it stopped at, the config its values) is escaped, so a newline
// there does not start a line of its own (found by fuzz/targets/config_toml.cc).
TEST(ConfigTest, ProblemsStayOneLineEachWhenTheyQuoteTheFile) {
  for (const char* text : {"plain_http = tru\nx = 1\n", "storage = \"mysql://a\\nb\"\n"}) {
    auto c = ParseServerConfig(text, "c.toml");
    ASSERT_FALSE(c.has_value()) << text;
    const std::string& m = c.error().message();
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
    EXPECT_EQ(m.rfind("c.toml:1:", 0), 0u) << m;
  }
}

// A duration written as a number of seconds has the limits of one written "1h30m" (ten years:
// ParseDuration), so no setting can overflow a time it is added to.
TEST(ConfigTest, DurationsInSecondsHaveTheSameLimitAsText) {
  for (const char* text : {"token_ttl = 999999999999\n", "token_ttl = \"999999999999\"\n",
                           "[audit]\ncheckpoint_interval = 9223372036854775807\n"}) {
    auto c = ParseServerConfig(text, "c.toml");
    ASSERT_FALSE(c.has_value()) << text;
    EXPECT_NE(c.error().message().find("is too long"), std::string::npos) << c.error().message();
  }
  auto ok = ParseServerConfig("token_ttl = 900\n", "c.toml");
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->token_ttl, Seconds(900));
}

TEST(ConfigTest, ProbeIntervalIsConfigurable) {
  auto c = ParseServerConfig("probe_interval = \"5m\"\n", "c.toml");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->probe_interval, Seconds(300));
  EXPECT_EQ(ParseServerConfig("", "c.toml")->probe_interval, Seconds(900));
  EXPECT_FALSE(ParseServerConfig("probe_interval = \"1s\"\n", "c.toml").has_value());
}

TEST(ConfigTest, TokenMaxLifetimeIsConfigurable) {
  EXPECT_EQ(ParseServerConfig("", "c.toml")->token_max_lifetime, std::chrono::hours(12));
  auto c = ParseServerConfig("token_max_lifetime = \"8h\"\n", "c.toml");
  ASSERT_TRUE(c.has_value()) << c.error().message();
  EXPECT_EQ(c->token_max_lifetime, std::chrono::hours(8));
  EXPECT_FALSE(ParseServerConfig("token_max_lifetime = \"10s\"\n", "c.toml").has_value());
}

TEST(ConfigTest, HttpLimitsHaveDefaultsAndAreConfigurable) {
  auto d = ParseServerConfig("", "c.toml");
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->http_max_connections, 1024);
  EXPECT_EQ(d->http_max_connections_per_source, 64);
  EXPECT_EQ(d->http_header_timeout, Seconds(10));
  EXPECT_EQ(d->http_body_timeout, Seconds(30));
  EXPECT_EQ(d->http_idle_timeout, Seconds(30));
  EXPECT_EQ(d->http_write_timeout, Seconds(30));
  auto c = ParseServerConfig(
      "http_max_connections = 200\nhttp_max_connections_per_source = 20\n"
      "http_header_timeout = \"5s\"\nhttp_body_timeout = 60\nhttp_idle_timeout = \"2m\"\n"
      "http_write_timeout = \"10m\"\n",
      "c.toml");
  ASSERT_TRUE(c.has_value()) << c.error().message();
  EXPECT_EQ(c->http_max_connections, 200);
  EXPECT_EQ(c->http_max_connections_per_source, 20);
  EXPECT_EQ(c->http_header_timeout, Seconds(5));
  EXPECT_EQ(c->http_body_timeout, Seconds(60));
  EXPECT_EQ(c->http_idle_timeout, Seconds(120));
  EXPECT_EQ(c->http_write_timeout, Seconds(600));
  // A smaller total carries the unset per-source limit down with it.
  auto small = ParseServerConfig("http_max_connections = 10\n", "c.toml");
  ASSERT_TRUE(small.has_value()) << small.error().message();
  EXPECT_EQ(small->http_max_connections_per_source, 10);
}

// Each value out of range is refused at start with one located line naming the setting and
// its range.
TEST(ConfigTest, HttpLimitsOutOfRangeAreRefusedWithOneLineEach) {
  struct Case {
    const char* text;
    const char* message;
  };
  const Case kCases[] = {
      {"http_max_connections = 0\n", "'http_max_connections' must be an integer from 1 to 65536"},
      {"http_max_connections = 70000\n",
       "'http_max_connections' must be an integer from 1 to 65536"},
      {"http_max_connections = \"many\"\n", "'http_max_connections' must be an integer"},
      {"http_max_connections_per_source = -1\n",
       "'http_max_connections_per_source' must be an integer from 1 to 65536"},
      {"http_max_connections = 10\nhttp_max_connections_per_source = 11\n",
       "'http_max_connections_per_source' (11) must not exceed 'http_max_connections' (10)"},
      {"http_header_timeout = \"0s\"\n", "'http_header_timeout' must be from 1s to 10m"},
      {"http_body_timeout = \"11m\"\n", "'http_body_timeout' must be from 1s to 10m"},
      {"http_idle_timeout = 0\n", "'http_idle_timeout' must be from 1s to 10m"},
      {"http_write_timeout = \"1h\"\n", "'http_write_timeout' must be from 1s to 10m"},
      {"http_write_timeout = \"soon\"\n", "'http_write_timeout'"},
  };
  for (const Case& c : kCases) {
    auto r = ParseServerConfig(c.text, "c.toml");
    ASSERT_FALSE(r.has_value()) << c.text;
    const std::string& m = r.error().message();
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
    EXPECT_EQ(m.rfind("c.toml:", 0), 0u) << m;
    EXPECT_NE(m.find(c.message), std::string::npos) << c.text << " -> " << m;
  }
}

TEST(ConfigTest, ConnectorNeedsKind) {
  auto c = ParseServerConfig("[connectors.x]\ndsn = \"y\"\n", "c.toml");
  ASSERT_FALSE(c.has_value());
  EXPECT_NE(c.error().message().find("needs a 'kind'"), std::string::npos);
}

TEST(ListenTest, ParsesHostAndPort) {
  EXPECT_EQ(ParseListen("127.0.0.1:8443")->second, 8443);
  EXPECT_EQ(ParseListen("[::1]:9000")->first, "::1");
  for (const char* bad : {"", "8443", ":80", "host:", "h:99999", "h:8x", "[::1:80"}) {
    EXPECT_FALSE(ParseListen(bad).has_value()) << bad;
  }
}

TEST(DemoPolicyTest, IsTheExamplePolicy) {
  EXPECT_EQ(std::string(DemoPolicyText()), ReadExample("policy.toml"));
}

}  // namespace
}  // namespace bg::service
