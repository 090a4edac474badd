#include "service/recording_check.h"

#include <gtest/gtest.h>

namespace bg::service {
namespace {

PluginConfig SshCa(std::string name, std::string options) {
  return PluginConfig{std::move(name), "ssh_ca", std::move(options)};
}

TEST(RecordingCheckTest, RunsRecorderNeedsBreakglassRecordAndTheGrant) {
  EXPECT_TRUE(RunsRecorder("breakglass record --grant %g --server https://s"));
  EXPECT_TRUE(RunsRecorder("/usr/local/bin/breakglass record --server https://s --grant=%g"));
  EXPECT_TRUE(RunsRecorder("env X=1 /opt/bg/breakglass record --grant %g"));
  EXPECT_FALSE(RunsRecorder(""));
  EXPECT_FALSE(RunsRecorder("/bin/bash -l"));
  EXPECT_FALSE(RunsRecorder("breakglass record --output /tmp/x.cast"));  // not the grant's
  EXPECT_FALSE(RunsRecorder("breakglass record --grant req_fixed"));
  EXPECT_FALSE(RunsRecorder("mybreakglass record --grant %g"));
  EXPECT_FALSE(RunsRecorder("echo breakglass-record --grant %g"));
}

TEST(RecordingCheckTest, EachSshCaWithoutAForcedRecorderIsWarnedAbout) {
  std::map<std::string, PluginConfig> c = {
      {"forced", SshCa("forced", R"({"force_command":"breakglass record --grant %g"})")},
      {"plain", SshCa("plain", "{}")},
      {"shell", SshCa("shell", R"({"force_command":"/bin/sh"})")},
      {"pg", PluginConfig{"pg", "postgres_role", "{}"}},
      {"demo", PluginConfig{"demo", "none", "{}"}},
  };
  EXPECT_EQ(SessionRecording(c["forced"]), "forced");
  EXPECT_EQ(SessionRecording(c["plain"]), "not_forced");
  EXPECT_EQ(SessionRecording(c["pg"]), "none");
  EXPECT_EQ(SessionRecording(c["demo"]), "recorded_shell");
  auto w = RecorderWarnings(c);
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(w[0].rfind("connectors.plain: ssh_ca without a forced recorder", 0), 0u) << w[0];
  EXPECT_EQ(w[1].rfind("connectors.shell: ", 0), 0u) << w[1];
  EXPECT_NE(w[0].find("does not end a session already open"), std::string::npos);
}

TEST(RecordingCheckTest, ARequiredRuleThroughAConnectorWithoutRecorderIsAProblem) {
  core::Policy p;
  for (const char* r : {"bastion", "legacy", "db", "good"}) {
    p.resources.push_back({r, std::string(r) + "-conn", "admin", {"root"}});
  }
  for (const char* r : {"bastion", "legacy", "db", "good"}) {
    core::Rule rule;
    rule.resource = r;
    rule.recording = core::Recording::kRequired;
    rule.line = 20;
    p.rules.push_back(rule);
  }
  core::Rule relaxed;
  relaxed.resource = "bastion";
  relaxed.line = 30;
  p.rules.push_back(relaxed);
  std::map<std::string, PluginConfig> c = {
      {"bastion-conn", SshCa("bastion-conn", "{}")},
      {"db-conn", PluginConfig{"db-conn", "postgres_role", "{}"}},
      {"good-conn", SshCa("good-conn", R"({"force_command":"breakglass record --grant %g"})")},
  };  // legacy-conn is missing: another check names it
  auto problems = RecordingProblems(p, c, "policy.toml");
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_EQ(problems[0].rfind("policy.toml:20: the rule for resource 'bastion' has recording = "
                              "\"required\", but its connector 'bastion-conn' (ssh_ca) does not "
                              "force the recorder",
                              0),
            0u)
      << problems[0];
  EXPECT_NE(problems[1].find("'db-conn' (postgres_role) opens sessions the recorder cannot see"),
            std::string::npos)
      << problems[1];
}

}  // namespace
}  // namespace bg::service
