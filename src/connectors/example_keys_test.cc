// Every key of the shipped examples (examples/breakglass.toml, examples/policy.toml) takes effect,
// is checked and refused when wrong, or is listed here as accepted without effect in this version
// (the examples are a contract: the product accepts them as they are). The test walks the
// example files and fails on a key the table does not list, so no key can be added to an example
// without saying what it does.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>
#include <toml++/toml.h>

#include "connectors/builtin.h"
#include "connectors/common/test_env.h"
#include "core/policy.h"
#include "service/config.h"

namespace bg::connectors {
namespace {

enum class Disposition {
  kEffect,   // `value` is valid and changes what is parsed (the parsed config or policy)
  kChecked,  // `value` is refused at start, with `message` (for connector options: naming the key)
  kWarned,   // accepted with a start-up warning containing `message`: not available yet
  kUnused,   // accepted, stored, without effect in this version (see `message`)
};

struct KeyCase {
  std::string key;  // dotted; [connectors.X]/[notify.X] as their kind, [groups]/[pools] names as *
  Disposition disposition;
  std::string value;  // TOML value text put in place of the example's
  std::string message;
};

const std::vector<KeyCase>& ConfigKeys() {
  using D = Disposition;
  static const std::vector<KeyCase> kKeys = {
      {"data_dir", D::kEffect, R"("/srv/bg")", ""},
      {"listen", D::kEffect, R"("127.0.0.1:9443")", ""},
      {"policy", D::kEffect, R"("/srv/policy.toml")", ""},
      {"storage", D::kEffect, R"("sqlite:other.db")", ""},
      {"public_url", D::kEffect, R"("https://bg.example")", ""},
      {"tls_cert", D::kEffect, R"("other.crt")", ""},
      {"tls_key", D::kEffect, R"("other.key")", ""},
      {"http_max_connections", D::kEffect, "200", ""},
      {"http_max_connections_per_source", D::kEffect, "20", ""},
      {"http_header_timeout", D::kEffect, R"("5s")", ""},
      {"http_body_timeout", D::kEffect, R"("1m")", ""},
      {"http_idle_timeout", D::kEffect, R"("2m")", ""},
      {"http_write_timeout", D::kEffect, R"("1m")", ""},
      {"audit.checkpoint_interval", D::kEffect, R"("20s")", ""},
      {"audit.witnesses", D::kEffect, R"(["https://w.example/add"])", ""},
      {"audit.syslog", D::kEffect, R"("udp://127.0.0.1:5514")", ""},
      {"connectors.ssh_ca.kind", D::kChecked, R"("ssh_cx")", "unknown connector kind 'ssh_cx'"},
      {"connectors.ssh_ca.extensions", D::kChecked, R"(["permit-everything"])", "extensions"},
      {"connectors.ssh_ca.force_command", D::kChecked, "7", "force_command"},
      {"connectors.ssh_ca.source_address", D::kChecked, R"("10.0.0.1/8")", "source_address"},
      {"connectors.postgres_role.kind", D::kChecked, R"("postgres")", "unknown connector kind"},
      {"connectors.postgres_role.dsn", D::kChecked, "7", "dsn"},
      {"connectors.postgres_role.password_file", D::kChecked, "7", "password_file"},
      {"connectors.exec.kind", D::kChecked, R"("exe")", "unknown connector kind 'exe'"},
      {"connectors.exec.grant", D::kChecked, "7", "grant"},
      {"connectors.exec.revoke", D::kChecked, "7", "revoke"},
      {"connectors.exec.probe", D::kChecked, "7", "probe"},
      {"connectors.exec.timeout", D::kChecked, R"("0s")", "timeout"},
      // The example names them, so they are accepted; nothing is sent to them yet.
      {"notify.slack.kind", D::kChecked, R"("smtp")", "needs 'from'"},
      {"notify.slack.url", D::kEffect, R"("https://chat.example/hooks/other")", ""},
      {"notify.smtp.kind", D::kChecked, R"("slack")", "unknown key 'from'"},
      {"notify.smtp.url", D::kEffect, R"("smtps://mail.example:465")", ""},
      {"notify.smtp.from", D::kEffect, R"("other@example.internal")", ""},
  };
  return kKeys;
}

const std::vector<KeyCase>& PolicyKeys() {
  using D = Disposition;
  static const std::vector<KeyCase> kKeys = {
      {"version", D::kChecked, "2", "version"},
      {"settings.timezone", D::kEffect, R"("UTC")", ""},
      {"settings.working_hours.days", D::kEffect, R"(["mon"])", ""},
      {"settings.working_hours.start", D::kEffect, R"("07:00")", ""},
      {"settings.working_hours.end", D::kEffect, R"("19:00")", ""},
      {"settings.reason_min_length", D::kEffect, "20", ""},
      {"settings.ticket_pattern", D::kEffect, R"('^INC-[0-9]+$')", ""},
      {"settings.warn_before_expiry", D::kEffect, R"("2m")", ""},
      {"settings.security_contacts", D::kEffect, R"(["sam"])", ""},
      {"risk.off_hours_extra_approvals", D::kEffect, "0", ""},
      {"risk.new_source_extra_approvals", D::kEffect, "0", ""},
      {"risk.burst_window", D::kEffect, R"("2h")", ""},
      {"risk.burst_threshold", D::kEffect, "5", ""},
      {"risk.burst_extra_approvals", D::kEffect, "2", ""},
      {"groups.*", D::kEffect, R"(["carol", "dave", "erin", "olga"])", ""},
      {"pools.*", D::kEffect, R"(["carol", "dave", "erin", "frank", "sam"])", ""},
      {"resources.name", D::kChecked, R"("prod-db2")", "which is not defined in [[resources]]"},
      {"resources.connector", D::kEffect, R"("other-pg")", ""},
      {"resources.owner", D::kUnused, "", "shown nowhere and enforced nowhere yet"},
      {"resources.privileges", D::kEffect, R"(["read_only", "dba", "extra"])", ""},
      {"rules.resource", D::kChecked, R"("nope")", "which is not defined in [[resources]]"},
      {"rules.privileges", D::kEffect, R"(["dba"])", ""},
      {"rules.requesters", D::kEffect, R"(["group:sre"])", ""},
      {"rules.tier", D::kChecked, "7", "tier"},
      {"rules.pool", D::kEffect, R"("security-leads")", ""},
      {"rules.approvals", D::kEffect, "3", ""},
      {"rules.max_duration", D::kEffect, R"("45m")", ""},
      {"rules.review_within", D::kEffect, R"("48h")", ""},
      {"rules.approval_window", D::kEffect, R"("20m")", ""},
      {"rules.mfa_max_age", D::kEffect, R"("5m")", ""},
      {"rules.deny_ends_request", D::kEffect, "false", ""},
      {"rules.emergency_auto_approve", D::kEffect, "false", ""},
      {"rules.reviewers", D::kEffect, "3", ""},
  };
  return kKeys;
}

std::string ReadExample(const std::string& name) {
  std::ifstream in(std::string(BG_SOURCE_DIR) + "/examples/" + name);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Every key under `t`, as KeyCase::key names it, mapped to where it first occurs.
void CollectKeys(const toml::table& t, const std::string& prefix,
                 std::map<std::string, std::vector<std::string>>* out,
                 const std::vector<std::string>& path) {
  for (const auto& [k, v] : t) {
    std::string name(k.str());
    std::vector<std::string> at = path;
    at.push_back(name);
    std::string key = prefix.empty() ? name : prefix + "." + name;
    if ((prefix == "connectors" || prefix == "notify") && v.is_table()) {
      const toml::node* kind = v.as_table()->get("kind");
      key = prefix + "." + (kind && kind->is_string() ? *kind->value<std::string>() : "?");
      CollectKeys(*v.as_table(), key, out, at);
      continue;
    }
    if (prefix == "groups" || prefix == "pools") key = prefix + ".*";
    if (const toml::table* sub = v.as_table()) {
      CollectKeys(*sub, key, out, at);
    } else if (const toml::array* arr = v.as_array(); arr && arr->is_array_of_tables()) {
      for (size_t i = 0; i < arr->size(); ++i) {
        std::vector<std::string> item = at;
        item.push_back("#" + std::to_string(i));
        CollectKeys(*arr->get(i)->as_table(), key, out, item);
      }
    } else if (!out->count(key)) {
      (*out)[key] = at;
    }
  }
}

std::map<std::string, std::vector<std::string>> KeysOf(const std::string& text) {
  std::map<std::string, std::vector<std::string>> keys;
  CollectKeys(toml::parse(text), "", &keys, {});
  return keys;
}

// The example with the key at `path` set to `value` (TOML value text).
std::string WithValue(const std::string& text, const std::vector<std::string>& path,
                      const std::string& value) {
  toml::table root = toml::parse(text);
  toml::table replacement = toml::parse("v = " + value);
  toml::node* node = &root;
  for (size_t i = 0; i + 1 < path.size(); ++i) {
    if (path[i][0] == '#') {
      node = node->as_array()->get(std::stoul(path[i].substr(1)));
    } else {
      node = node->as_table()->get(path[i]);
    }
  }
  node->as_table()->insert_or_assign(path.back(), *replacement.get("v"));
  std::ostringstream out;
  out << root;
  return out.str();
}

// The text as WithValue writes it, unchanged: what a changed text is compared with.
std::string Rewritten(const std::string& text) {
  std::ostringstream out;
  out << toml::parse(text);
  return out.str();
}

std::string Dump(const service::ServerConfig& c) {
  std::string s = fmt::format("{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|", c.data_dir, c.listen, c.policy,
                              c.storage, c.tls_cert, c.tls_key, c.checkpoint_interval.count(),
                              fmt::join(c.witnesses, ","), c.syslog, c.public_url);
  s += fmt::format("{}|{}|{}|{}|{}|{}|", c.http_max_connections, c.http_max_connections_per_source,
                   c.http_header_timeout.count(), c.http_body_timeout.count(),
                   c.http_idle_timeout.count(), c.http_write_timeout.count());
  for (const auto& [n, p] : c.connectors) s += fmt::format("{}={}:{};", n, p.kind, p.options_json);
  for (const auto& [n, p] : c.notify) s += fmt::format("{}={}:{};", n, p.kind, p.options_json);
  return s;
}

std::string Dump(const core::Policy& p) {
  const auto& st = p.settings;
  std::string s = fmt::format("{}|{}|{}|{}|{}|{}|", p.version, st.timezone, st.reason_min_length,
                              st.ticket_pattern, st.warn_before_expiry.count(),
                              fmt::join(st.security_contacts, ","));
  if (st.working_hours) {
    s += fmt::format("{}/{}/{}|", fmt::join(st.working_hours->days, ","),
                     st.working_hours->start_minute, st.working_hours->end_minute);
  }
  const auto& r = p.risk;
  s += fmt::format("{}|{}|{}|{}|{}|", r.off_hours_extra_approvals, r.new_source_extra_approvals,
                   r.burst_window.count(), r.burst_threshold, r.burst_extra_approvals);
  for (const auto& [n, m] : p.groups) s += fmt::format("g:{}={};", n, fmt::join(m, ","));
  for (const auto& [n, m] : p.pools) s += fmt::format("p:{}={};", n, fmt::join(m, ","));
  for (const auto& res : p.resources) {
    s += fmt::format("res:{},{},{},{};", res.name, res.connector, res.owner,
                     fmt::join(res.privileges, ","));
  }
  for (const auto& u : p.rules) {
    s += fmt::format("rule:{},{},{},{},{},{},{},{},{},{},{},{},{},{};", u.resource,
                     fmt::join(u.privileges, ","), fmt::join(u.requesters, ","), u.tier, u.pool,
                     u.approvals, u.max_duration.count(), u.approval_window.count(),
                     u.mfa_max_age.count(), u.deny_ends_request, u.emergency_auto_approve,
                     u.review_within.count(), u.reviewers, u.line > 0);
  }
  return s;
}

template <typename Table>
const KeyCase* Find(const Table& table, const std::string& key) {
  for (const KeyCase& c : table) {
    if (c.key == key) return &c;
  }
  return nullptr;
}

TEST(ExampleKeysTest, EveryKeyOfTheExamplesIsInTheTable) {
  for (const auto& [file, table] :
       {std::pair{"breakglass.toml", &ConfigKeys()}, std::pair{"policy.toml", &PolicyKeys()}}) {
    for (const auto& [key, path] : KeysOf(ReadExample(file))) {
      EXPECT_NE(Find(*table, key), nullptr)
          << "examples/" << file << " has key '" << key << "', which example_keys_test.cc does "
          << "not list: say what it does (an effect, checked, warned or unused)";
    }
  }
}

// One warning, for the example's ssh_ca connector, which has no forced recorder (13.3): every
// notification kind it names is built (issue 14).
TEST(ExampleKeysTest, TheExamplesAreAcceptedWithOneWarningForUnrecordedSsh) {
  auto c = service::ParseServerConfig(ReadExample("breakglass.toml"), "breakglass.toml");
  ASSERT_TRUE(c.has_value()) << c.error().message();
  const std::string all = fmt::format("{}", fmt::join(c->warnings, "\n"));
  EXPECT_EQ(c->warnings.size(), 1u) << all;
  EXPECT_NE(all.find("connectors.bastion-ssh: ssh_ca without a forced recorder"), std::string::npos)
      << all;
  EXPECT_TRUE(core::ParsePolicy(ReadExample("policy.toml"), "policy.toml").policy.has_value());
}

TEST(ExampleKeysTest, EveryConfigKeyHasAnEffectOrIsCheckedOrWarned) {
  const std::string text = ReadExample("breakglass.toml");
  auto base = service::ParseServerConfig(Rewritten(text), "breakglass.toml");
  ASSERT_TRUE(base.has_value()) << base.error().message();
  for (const auto& [key, path] : KeysOf(text)) {
    const KeyCase* c = Find(ConfigKeys(), key);
    if (c == nullptr) continue;  // the test above fails
    SCOPED_TRACE(key);
    switch (c->disposition) {
      case Disposition::kEffect: {
        auto changed = service::ParseServerConfig(WithValue(text, path, c->value), "b.toml");
        ASSERT_TRUE(changed.has_value()) << changed.error().message();
        EXPECT_NE(Dump(*changed), Dump(*base)) << "changing it changed nothing";
        break;
      }
      case Disposition::kChecked: {
        if (path[0] == "notify") {  // refused by the configuration's own check
          auto refused = service::ParseServerConfig(WithValue(text, path, c->value), "b.toml");
          ASSERT_FALSE(refused.has_value()) << c->value << " was accepted";
          EXPECT_NE(refused.error().message().find(c->message), std::string::npos)
              << refused.error().message();
          break;
        }
        auto changed = service::ParseServerConfig(WithValue(text, path, c->value), "b.toml");
        ASSERT_TRUE(changed.has_value()) << changed.error().message();
        // The connector instance alone, through the kind's own factory, as serve builds it.
        const std::string& instance = path[1];
        testing::TestEnv env;
        connector::ConnectorRegistry registry;
        RegisterBuiltinConnectors(registry);
        std::map<std::string, connector::PluginConfig> one = {
            {instance, changed->connectors.at(instance)}};
        Status s = registry.Configure(one, env.host());
        ASSERT_FALSE(s.has_value()) << c->value << " was accepted";
        std::string what = s.error().field() + ": " + s.error().message();
        EXPECT_NE(what.find(c->message), std::string::npos) << what;
        EXPECT_EQ(what.find("unknown key"), std::string::npos) << what;
        break;
      }
      case Disposition::kWarned: {
        bool warned = false;
        for (const auto& w : base->warnings) warned = warned || w.find(c->message) != w.npos;
        EXPECT_TRUE(warned) << fmt::format("{}", fmt::join(base->warnings, "\n"));
        break;
      }
      case Disposition::kUnused:
        EXPECT_FALSE(c->message.empty());
        break;
    }
  }
}

TEST(ExampleKeysTest, EveryPolicyKeyHasAnEffectOrIsChecked) {
  const std::string text = ReadExample("policy.toml");
  auto base = core::ParsePolicy(Rewritten(text), "policy.toml");
  ASSERT_TRUE(base.policy.has_value());
  for (const auto& [key, path] : KeysOf(text)) {
    const KeyCase* c = Find(PolicyKeys(), key);
    if (c == nullptr || c->disposition == Disposition::kUnused) continue;
    SCOPED_TRACE(key);
    auto changed = core::ParsePolicy(WithValue(text, path, c->value), "p.toml");
    std::string problems;
    for (const auto& p : changed.problems) problems += p.ToString() + "\n";
    if (c->disposition == Disposition::kEffect) {
      ASSERT_TRUE(changed.policy.has_value()) << problems;
      EXPECT_NE(Dump(*changed.policy), Dump(*base.policy)) << "changing it changed nothing";
    } else {
      ASSERT_FALSE(changed.policy.has_value()) << c->value << " was accepted";
      EXPECT_NE(problems.find(c->message), std::string::npos) << problems;
    }
  }
}

TEST(ExampleKeysTest, NamingWhatThisVersionLacksIsRefusedAtStart) {
  // The example's alternative storage is built (docs/deploy-ha.md); a backend that is not is
  // refused, naming what this version has.
  for (const char* text : {"storage = \"postgres://breakglass@db.internal/breakglass\"\n",
                           "storage = \"postgresql://db/bg\"\n"}) {
    auto c = service::ParseServerConfig(text, "b.toml");
    ASSERT_TRUE(c.has_value()) << text << c.error().message();
  }
  for (const char* text : {"storage = \"mysql://db/bg\"\n", "storage = \"etcd\"\n"}) {
    auto c = service::ParseServerConfig(text, "b.toml");
    ASSERT_FALSE(c.has_value()) << text;
    EXPECT_NE(c.error().message().find("is unknown; this version has"), std::string::npos)
        << c.error().message();
    EXPECT_EQ(c.error().message().rfind("b.toml:", 0), 0u) << c.error().message();
  }
}

}  // namespace
}  // namespace bg::connectors
