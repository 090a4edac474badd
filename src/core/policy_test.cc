#include "core/policy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace bg::core {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::string ReadExample() {
  std::ifstream in(BG_EXAMPLE_POLICY);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Describe(const std::vector<PolicyProblem>& problems) {
  std::string out;
  for (const PolicyProblem& p : problems) out += p.ToString() + "\n";
  return out;
}

TEST(PolicyTest, ExamplePolicyIsAcceptedAsIs) {
  PolicyParseResult r = ParsePolicy(ReadExample(), "policy.toml");
  ASSERT_THAT(r.problems, IsEmpty()) << Describe(r.problems);
  ASSERT_TRUE(r.policy.has_value());
  const Policy& p = *r.policy;
  EXPECT_EQ(p.version, 1);
  EXPECT_EQ(p.settings.timezone, "Europe/Berlin");
  ASSERT_TRUE(p.settings.working_hours.has_value());
  EXPECT_THAT(p.settings.working_hours->days, ElementsAre(1, 2, 3, 4, 5));
  EXPECT_EQ(p.settings.working_hours->start_minute, 8 * 60);
  EXPECT_EQ(p.settings.working_hours->end_minute, 18 * 60);
  EXPECT_EQ(p.settings.reason_min_length, 10);
  EXPECT_EQ(p.settings.ticket_pattern, "^(INC|CHG)-[0-9]{3,}$");
  EXPECT_EQ(p.settings.warn_before_expiry, std::chrono::minutes(5));
  EXPECT_THAT(p.settings.security_contacts, ElementsAre("group:security"));
  EXPECT_EQ(p.risk.off_hours_extra_approvals, 1);
  EXPECT_EQ(p.risk.new_source_extra_approvals, 1);
  EXPECT_EQ(p.risk.burst_window, std::chrono::hours(1));
  EXPECT_EQ(p.risk.burst_threshold, 3);
  EXPECT_EQ(p.risk.burst_extra_approvals, 1);
  EXPECT_THAT(p.groups.at("dba"), ElementsAre("carol", "dave", "erin"));
  EXPECT_THAT(p.pools.at("dba-approvers"), ElementsAre("group:dba", "frank"));
  ASSERT_EQ(p.resources.size(), 2u);
  EXPECT_EQ(p.resources[1].name, "bastion");
  EXPECT_EQ(p.resources[1].connector, "bastion-ssh");
  EXPECT_EQ(p.resources[1].owner, "sam");
  EXPECT_THAT(p.resources[1].privileges, ElementsAre("ops", "root"));
  ASSERT_EQ(p.rules.size(), 3u);
  EXPECT_EQ(p.rules[0].line, 45);
  EXPECT_EQ(p.rules[0].tier, 1);
  EXPECT_EQ(p.rules[0].approvals, 0);
  EXPECT_EQ(p.rules[0].review_within, std::chrono::hours(72));
  EXPECT_EQ(p.rules[1].line, 53);
  EXPECT_EQ(p.rules[1].pool, "dba-approvers");
  EXPECT_EQ(p.rules[1].approvals, 2);
  EXPECT_EQ(p.rules[1].max_duration, std::chrono::hours(2));
  EXPECT_EQ(p.rules[1].approval_window, std::chrono::minutes(30));
  EXPECT_EQ(p.rules[1].mfa_max_age, std::chrono::minutes(10));
  EXPECT_TRUE(p.rules[1].deny_ends_request);
  EXPECT_EQ(p.rules[2].line, 66);
  EXPECT_EQ(p.rules[2].tier, 3);
  EXPECT_EQ(p.rules[2].mfa_max_age, Seconds(0));
  EXPECT_TRUE(p.rules[2].emergency_auto_approve);
  EXPECT_EQ(p.rules[2].reviewers, 2);
  EXPECT_EQ(p.rules[2].max_duration, std::chrono::minutes(30));
}

TEST(PolicyTest, QueriesFollowGroupsAndPools) {
  PolicyParseResult r = ParsePolicy(ReadExample(), "policy.toml");
  ASSERT_TRUE(r.policy.has_value()) << Describe(r.problems);
  const Policy& p = *r.policy;
  EXPECT_TRUE(p.Matches("alice", "alice"));
  EXPECT_TRUE(p.Matches("alice", "group:sre"));
  EXPECT_FALSE(p.Matches("carol", "group:sre"));
  EXPECT_FALSE(p.Matches("alice", "group:missing"));
  EXPECT_FALSE(p.Matches("", "group:sre"));
  EXPECT_FALSE(p.Matches("group:sre", "alice"));
  EXPECT_TRUE(p.InPool("frank", "dba-approvers"));
  EXPECT_TRUE(p.InPool("erin", "dba-approvers"));
  EXPECT_FALSE(p.InPool("alice", "dba-approvers"));
  EXPECT_FALSE(p.InPool("frank", "no-such-pool"));
  EXPECT_THAT(p.Expand({"group:dba", "frank", "carol"}),
              ElementsAre("carol", "dave", "erin", "frank"));
  EXPECT_THAT(p.Expand(p.settings.security_contacts), ElementsAre("grace", "heidi", "sam"));
  ASSERT_NE(p.FindResource("prod-db"), nullptr);
  EXPECT_EQ(p.FindResource("prod-db")->connector, "prod-pg");
  EXPECT_EQ(p.FindResource("nope"), nullptr);

  auto tiers = [&](std::string_view who, std::string_view res, std::string_view priv) {
    std::vector<int> out;
    for (const Rule* rule : p.MatchingRules(who, res, priv)) out.push_back(rule->tier);
    return out;
  };
  EXPECT_THAT(tiers("alice", "prod-db", "read_only"), ElementsAre(1));
  EXPECT_THAT(tiers("carol", "prod-db", "read_only"), ElementsAre(1));
  EXPECT_THAT(tiers("alice", "prod-db", "dba"), ElementsAre(2));
  EXPECT_THAT(tiers("carol", "prod-db", "dba"), IsEmpty());
  EXPECT_THAT(tiers("bob", "bastion", "root"), ElementsAre(3));
  EXPECT_THAT(tiers("bob", "bastion", "nope"), IsEmpty());
}

TEST(PolicyTest, MatchingRulesListsLowestTierFirst) {
  PolicyParseResult r = ParsePolicy(R"(version = 1
[groups]
ops = ["alice", "bob", "carol"]
[pools]
p = ["group:ops"]
[[resources]]
name = "db"
connector = "pg"
privileges = ["rw"]
[[rules]]
resource = "db"
privileges = ["rw"]
requesters = ["alice"]
tier = 3
pool = "p"
approvals = 2
[[rules]]
resource = "db"
privileges = ["rw"]
requesters = ["alice"]
tier = 1
[[rules]]
resource = "db"
privileges = ["rw"]
requesters = ["group:ops"]
tier = 2
pool = "p"
approvals = 1
)",
                                    "p.toml");
  ASSERT_TRUE(r.policy.has_value()) << Describe(r.problems);
  std::vector<int> tiers;
  for (const Rule* rule : r.policy->MatchingRules("alice", "db", "rw")) tiers.push_back(rule->tier);
  EXPECT_THAT(tiers, ElementsAre(1, 2, 3));
}

TEST(PolicyTest, DurationsMayBePlainSeconds) {
  PolicyParseResult r = ParsePolicy(R"(version = 1
[settings]
warn_before_expiry = 90
[[resources]]
name = "db"
connector = "pg"
privileges = ["rw"]
[[rules]]
resource = "db"
privileges = ["rw"]
requesters = ["alice"]
tier = 1
max_duration = 600
)",
                                    "p.toml");
  ASSERT_TRUE(r.policy.has_value()) << Describe(r.problems);
  EXPECT_EQ(r.policy->settings.warn_before_expiry, Seconds(90));
  EXPECT_EQ(r.policy->rules[0].max_duration, Seconds(600));
  EXPECT_FALSE(r.policy->settings.working_hours.has_value());
}

TEST(PolicyTest, RecordingIsBestEffortUnlessARuleRequiresIt) {
  constexpr std::string_view kText = R"(version = 1
[[resources]]
name = "db"
connector = "pg"
privileges = ["rw", "ro"]
[[rules]]
resource = "db"
privileges = ["rw"]
requesters = ["alice"]
tier = 1
recording = "required"
[[rules]]
resource = "db"
privileges = ["ro"]
requesters = ["alice"]
tier = 1
)";
  PolicyParseResult r = ParsePolicy(kText, "p.toml");
  ASSERT_TRUE(r.policy.has_value()) << Describe(r.problems);
  EXPECT_EQ(r.policy->rules[0].recording, Recording::kRequired);
  EXPECT_EQ(r.policy->rules[1].recording, Recording::kBestEffort);
  std::string bad(kText);
  bad.replace(bad.find("\"required\""), 10, "\"always\"");
  r = ParsePolicy(bad, "p.toml");
  ASSERT_FALSE(r.policy.has_value());
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_EQ(r.problems[0].line, 11);
  EXPECT_NE(r.problems[0].message.find("'recording'"), std::string::npos) << r.problems[0].message;
  for (Recording x : {Recording::kBestEffort, Recording::kRequired}) {
    EXPECT_EQ(ParseRecording(ToString(x)), x);
  }
  EXPECT_FALSE(ParseRecording("Required").has_value());
}

TEST(PolicyTest, ApproverMfaIsAnyUnlessARuleAsksForPasskeys) {
  constexpr std::string_view kText = R"(version = 1
[pools]
p = ["carol", "dave"]
[[resources]]
name = "db"
connector = "pg"
privileges = ["rw", "ro"]
[[rules]]
resource = "db"
privileges = ["rw"]
requesters = ["alice"]
tier = 2
pool = "p"
approvals = 1
approver_mfa = "passkey"
[[rules]]
resource = "db"
privileges = ["ro"]
requesters = ["alice"]
tier = 2
pool = "p"
approvals = 1
approver_mfa = "any"
)";
  PolicyParseResult r = ParsePolicy(kText, "p.toml");
  ASSERT_TRUE(r.policy.has_value()) << Describe(r.problems);
  EXPECT_TRUE(r.policy->rules[0].approver_passkey);
  EXPECT_FALSE(r.policy->rules[1].approver_passkey);
  std::string bad(kText);
  bad.replace(bad.find("\"passkey\""), 9, "\"sms\"");
  r = ParsePolicy(bad, "p.toml");
  ASSERT_FALSE(r.policy.has_value());
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_EQ(r.problems[0].line, 15);
  EXPECT_NE(r.problems[0].message.find("'approver_mfa'"), std::string::npos) << r.problems[0].message;
}

// Ten lines that every case below starts from, so a case's lines count from 11.
constexpr std::string_view kBase = R"(version = 1
[groups]
sre = ["alice", "bob"]
dba = ["carol", "dave"]
[pools]
dba-approvers = ["group:dba", "frank"]
[[resources]]
name = "db"
connector = "pg"
privileges = ["ro", "rw"]
)";
constexpr int kBaseLines = 10;

struct ProblemCase {
  std::string name;
  std::string text;  // appended to kBase unless whole
  int line;          // within `text`
  int column;
  std::string message_part;
  bool whole = false;
};

class PolicyProblemTest : public ::testing::TestWithParam<ProblemCase> {};

TEST_P(PolicyProblemTest, ReportsTheProblemWhereItIs) {
  const ProblemCase& c = GetParam();
  std::string text = c.whole ? c.text : std::string(kBase) + c.text;
  PolicyParseResult r = ParsePolicy(text, "p.toml");
  EXPECT_FALSE(r.policy.has_value());
  ASSERT_EQ(r.problems.size(), 1u) << Describe(r.problems);
  const PolicyProblem& p = r.problems[0];
  EXPECT_EQ(p.file, "p.toml");
  EXPECT_EQ(p.line, c.whole ? c.line : kBaseLines + c.line) << p.ToString();
  EXPECT_EQ(p.column, c.column) << p.ToString();
  EXPECT_THAT(p.message, HasSubstr(c.message_part));
}

const ProblemCase kProblemCases[] = {
    {"TomlSyntaxError", "version = 1\nbad = = 2\n", 2, 7, "not valid TOML", true},
    {"DuplicateTomlKey", "version = 1\nversion = 1\n", 2, 11, "not valid TOML", true},
    {"VersionMissing", "[groups]\nsre = [\"a\"]\n", 1, 1, "missing key 'version' in the top level",
     true},
    {"VersionTwo", "version = 2\n", 1, 11, "'version' must be 1", true},
    {"VersionNotInteger", "version = \"1\"\n", 1, 11,
     "'version' in the top level must be an "
     "integer",
     true},
    {"UnknownTopLevelKey", "version = 1\nfoo = 1\n", 2, 1, "unknown key 'foo' in the top level",
     true},
    {"UnknownSettingsKey", "[settings]\nreason_min_len = 3\n", 2, 1,
     "unknown key 'reason_min_len' in [settings]"},
    {"UnknownRiskKey", "[risk]\nburst = 3\n", 2, 1, "unknown key 'burst' in [risk]"},
    {"UnknownWorkingHoursKey",
     "[settings]\nworking_hours = { days = [\"mon\"], start = \"08:00\", end = \"18:00\", tz = "
     "\"x\" }\n",
     2, 67, "unknown key 'tz' in [settings.working_hours]"},
    {"UnknownResourceKey",
     "[[resources]]\nname = \"x\"\nconnector = \"c\"\nprivileges = "
     "[\"p\"]\nkind = \"y\"\n",
     5, 1, "unknown key 'kind' in [[resources]]"},
    {"UnknownRuleKey",
     "[[rules]]\nresource = \"db\"\nprivileges = [\"ro\"]\nrequesters = [\"alice\"]\ntier = "
     "1\naprovals = 2\n",
     6, 1, "unknown key 'aprovals' in [[rules]]"},
    {"SettingsNotATable", "version = 1\nsettings = 3\n", 2, 12,
     "'settings' in the top level must be a table", true},
    {"WrongTypeReasonMinLength", "[settings]\nreason_min_length = \"ten\"\n", 2, 21,
     "'reason_min_length' in [settings] must be an integer"},
    {"NegativeReasonMinLength", "[settings]\nreason_min_length = -1\n", 2, 21,
     "must be between 0 and 10000, not -1"},
    {"BadTicketPattern", "[settings]\nticket_pattern = '(INC'\n", 2, 18,
     "'ticket_pattern' in [settings] is not a valid regular expression"},
    // Numbers std::regex would overflow (undefined behaviour; fuzz/targets/policy_toml.cc).
    {"TicketPatternHugeRepetition",
     "[settings]\nticket_pattern = '^INC-[0-9]{66666666666666666666,}$'\n", 2, 18,
     "'ticket_pattern' in [settings] repeats more than 1000 times"},
    {"TicketPatternRepetitionOverLimit", "[settings]\nticket_pattern = 'a{2,1001}'\n", 2, 18,
     "repeats more than 1000 times"},
    {"TicketPatternHugeBackReference",
     "[settings]\nticket_pattern = '(a)\\99999999999999999999'\n", 2, 18,
     "has a back-reference above \\99"},
    {"TicketPatternTooLong", "[settings]\nticket_pattern = '" + std::string(257, 'a') + "'\n", 2,
     18, "'ticket_pattern' in [settings] is longer than 256 characters"},
    {"TimezoneWithSpace", "[settings]\ntimezone = \"Europe Berlin\"\n", 2, 12,
     "must be an IANA time zone name"},
    {"TimezoneEmpty", "[settings]\ntimezone = \"\"\n", 2, 12, "must be an IANA time zone name"},
    {"BadWarnDuration", "[settings]\nwarn_before_expiry = \"5x\"\n", 2, 22,
     "'warn_before_expiry' in [settings] has an unknown unit 'x'"},
    {"NegativeDurationNumber", "[settings]\nwarn_before_expiry = -5\n", 2, 22,
     "must be a duration"},
    {"WorkingHoursStartAfterEnd",
     "[settings]\nworking_hours = { days = [\"mon\"], start = \"18:00\", end = \"08:00\" }\n", 2,
     58, "'end' in [settings.working_hours] must be later than 'start'"},
    {"WorkingHoursBadDay",
     "[settings]\nworking_hours = { days = [\"monday\"], start = \"08:00\", end = \"18:00\" }\n", 2,
     27, "must name days as"},
    {"WorkingHoursBadTime",
     "[settings]\nworking_hours = { days = [\"mon\"], start = \"8am\", end = \"18:00\" }\n", 2, 43,
     "'start' in [settings.working_hours] must be a time of day"},
    {"WorkingHoursMissingEnd",
     "[settings]\nworking_hours = { days = [\"mon\"], start = \"08:00\" }\n", 2, 17,
     "missing key 'end' in [settings.working_hours]"},
    {"SecurityContactUnknownGroup", "[settings]\nsecurity_contacts = [\"group:sec\"]\n", 2, 22,
     "names group 'sec', which is not defined in [groups]"},
    {"GroupListsGroup",
     "version = 1\n[groups]\nsre = [\"alice\", \"group:dba\"]\ndba = [\"carol\"]\n", 3, 17,
     "groups list account names, not other groups", true},
    {"PoolEmpty", "version = 1\n[pools]\nempty = []\n", 3, 9,
     "'empty' in [pools] must not be empty", true},
    {"PoolUnknownGroup", "version = 1\n[pools]\nsecond = [\"group:ops\"]\n", 3, 11,
     "names group 'ops', which is not defined in [groups]", true},
    {"PoolWrongPrincipalKind", "version = 1\n[pools]\nsecond = [\"team:sre\"]\n", 3, 11,
     "must list account names such as \"alice\" or groups such as \"group:sre\"", true},
    {"ResourceDefinedTwice",
     "[[resources]]\nname = \"db\"\nconnector = \"pg\"\nprivileges = [\"ro\"]\n", 2, 8,
     "resource 'db' is defined twice; the first is on line 8"},
    {"ResourceWithoutConnector", "[[resources]]\nname = \"x\"\nprivileges = [\"p\"]\n", 1, 1,
     "missing key 'connector' in [[resources]]"},
    {"ResourceEmptyConnector",
     "[[resources]]\nname = \"x\"\nconnector = \"\"\nprivileges = [\"p\"]\n", 3, 13,
     "'connector' in [[resources]] must be a name"},
    {"ResourceNoPrivileges", "[[resources]]\nname = \"x\"\nconnector = \"c\"\nprivileges = []\n", 4,
     14, "'privileges' in [[resources]] must not be empty"},
    {"ResourceDuplicatePrivilege",
     "[[resources]]\nname = \"x\"\nconnector = \"c\"\nprivileges = [\"p\", \"p\"]\n", 4, 20,
     "'privileges' in [[resources]] lists 'p' twice"},
    {"RuleUnknownResource",
     "[[rules]]\nresource = \"nope\"\nprivileges = [\"ro\"]\nrequesters = [\"alice\"]\ntier = 1\n",
     2, 12, "the rule names resource 'nope', which is not defined in [[resources]]"},
    {"RulePrivilegeNotOnResource",
     "[[rules]]\nresource = \"db\"\nprivileges = [\"ro\", \"root\"]\nrequesters = "
     "[\"alice\"]\ntier = 1\n",
     3, 21, "resource 'db' has no privilege 'root'; it has: ro, rw"},
    {"RuleNoPrivileges",
     "[[rules]]\nresource = \"db\"\nprivileges = []\nrequesters = [\"alice\"]\ntier = 1\n", 3, 14,
     "'privileges' in [[rules]] must not be empty"},
    {"RuleNoRequesters",
     "[[rules]]\nresource = \"db\"\nprivileges = [\"ro\"]\nrequesters = []\ntier = 1\n", 4, 14,
     "'requesters' in [[rules]] must not be empty"},
    {"RuleRequesterUnknownGroup",
     "[[rules]]\nresource = \"db\"\nprivileges = [\"ro\"]\nrequesters = [\"group:x\"]\ntier = 1\n",
     4, 15, "names group 'x', which is not defined in [groups]"},
    {"RuleWithoutTier",
     "[[rules]]\nresource = \"db\"\nprivileges = [\"ro\"]\nrequesters = [\"alice\"]\n", 1, 1,
     "missing key 'tier' in [[rules]]"},
    {"RuleTierFour",
     "[[rules]]\nresource = \"db\"\nprivileges = [\"ro\"]\nrequesters = [\"alice\"]\ntier = 4\n", 5,
     8, "'tier' in [[rules]] must be between 1 and 3, not 4"},
    {"TierTwoWithoutPool",
     "[[rules]]\nresource = \"db\"\nprivileges = [\"rw\"]\nrequesters = [\"alice\"]\ntier = "
     "2\napprovals = 1\n",
     1, 1, "a tier-2 rule needs a 'pool' of approvers"},
    {"TierTwoUnknownPool",
     "[[rules]]\nresource = \"db\"\nprivileges = [\"rw\"]\nrequesters = [\"alice\"]\ntier = "
     "2\npool = \"nope\"\napprovals = 1\n",
     6, 8, "the rule names pool 'nope', which is not defined in [pools]"},
    {"TierTwoWithoutApprovals",
     "[[rules]]\nresource = \"db\"\nprivileges = [\"rw\"]\nrequesters = [\"alice\"]\ntier = "
     "2\npool = \"dba-approvers\"\n",
     1, 1, "a tier-2 rule needs 'approvals' (at least 1)"},
    {"TierTwoZeroApprovals",
     "[[rules]]\nresource = \"db\"\nprivileges = [\"rw\"]\nrequesters = [\"alice\"]\ntier = "
     "2\npool = \"dba-approvers\"\napprovals = 0\n",
     7, 13, "'approvals' in [[rules]] must be between 1 and 1000, not 0"},
    {"ApprovalsExceedPool",
     "[[rules]]\nresource = \"db\"\nprivileges = [\"rw\"]\nrequesters = [\"alice\"]\ntier = "
     "3\npool = \"dba-approvers\"\napprovals = 4\n",
     7, 13,
     "the rule needs 4 approvals but pool 'dba-approvers' has only 3 people, so no request could "
     "ever be approved"},
    {"RequesterInPoolLeavesTooFewApprovers",
     "[[rules]]\nresource = \"db\"\nprivileges = [\"rw\"]\nrequesters = [\"group:dba\"]\ntier = "
     "2\npool = \"dba-approvers\"\napprovals = 3\n",
     7, 13,
     "the rule needs 3 approvals but pool 'dba-approvers' has only 2 people besides requester "
     "'carol', who may not approve their own request, so no request of carol could ever be "
     "approved"},
    {"TierOneWithPool",
     "[[rules]]\nresource = \"db\"\nprivileges = [\"ro\"]\nrequesters = [\"alice\"]\ntier = "
     "1\npool = \"dba-approvers\"\n",
     6, 8, "a tier-1 rule is self-approved and must not set 'pool'"},
    {"TierOneWithApprovals",
     "[[rules]]\nresource = \"db\"\nprivileges = [\"ro\"]\nrequesters = [\"alice\"]\ntier = "
     "1\napprovals = 1\n",
     6, 13, "a tier-1 rule is self-approved and must not set 'approvals'"},
    {"ZeroMaxDuration",
     "[[rules]]\nresource = \"db\"\nprivileges = [\"ro\"]\nrequesters = [\"alice\"]\ntier = "
     "1\nmax_duration = \"0s\"\n",
     6, 16, "'max_duration' in [[rules]] must be longer than zero"},
    {"ZeroApprovalWindow",
     "[[rules]]\nresource = \"db\"\nprivileges = [\"rw\"]\nrequesters = [\"alice\"]\ntier = "
     "2\npool = \"dba-approvers\"\napprovals = 1\napproval_window = 0\n",
     8, 19, "'approval_window' in [[rules]] must be longer than zero"},
    {"ZeroReviewers",
     "[[rules]]\nresource = \"db\"\nprivileges = [\"ro\"]\nrequesters = [\"alice\"]\ntier = "
     "1\nreviewers = 0\n",
     6, 13, "'reviewers' in [[rules]] must be between 1 and 1000, not 0"},
    {"DenyEndsRequestNotBool",
     "[[rules]]\nresource = \"db\"\nprivileges = [\"rw\"]\nrequesters = [\"alice\"]\ntier = "
     "2\npool = \"dba-approvers\"\napprovals = 1\ndeny_ends_request = \"yes\"\n",
     8, 21, "'deny_ends_request' in [[rules]] must be true or false"},
    {"AmbiguousRulesThroughGroup",
     "[[rules]]\nresource = \"db\"\nprivileges = [\"ro\"]\nrequesters = [\"group:sre\"]\ntier = "
     "1\n[[rules]]\nresource = \"db\"\nprivileges = [\"rw\", \"ro\"]\nrequesters = "
     "[\"alice\"]\ntier = 1\n",
     6, 1,
     "this rule and the rule on line 11 both give 'ro' on 'db' at tier 1 to alice; a request "
     "could not tell them apart"},
    {"EmergencyWithoutContacts",
     "[[rules]]\nresource = \"db\"\nprivileges = [\"rw\"]\nrequesters = [\"alice\"]\ntier = "
     "2\npool = \"dba-approvers\"\napprovals = 1\nemergency_auto_approve = true\n",
     1, 1, "'security_contacts' in [settings] names nobody to alert"},
    {"DrillTargetMixesKinds",
     "[[resources]]\nname = \"x\"\nconnector = \"c\"\nprivileges = [\"r\"]\ndrill = { "
     "database = \"d\", check = [\"/bin/true\"] }\n",
     5, 9, "must name one target"},
    {"DrillSshTargetIncomplete",
     "[[resources]]\nname = \"x\"\nconnector = \"c\"\nprivileges = [\"r\"]\ndrill = { "
     "principal = \"canary\", host = \"h\" }\n",
     5, 9, "needs 'principal', 'user' and 'host'"},
    {"DrillUnknownKey",
     "[[resources]]\nname = \"x\"\nconnector = \"c\"\nprivileges = [\"r\"]\ndrill = { "
     "database = \"d\", dbname = \"e\" }\n",
     5, 27, "unknown key 'dbname' in the resource's drill"},
    {"DrillPortOutOfRange",
     "[[resources]]\nname = \"x\"\nconnector = \"c\"\nprivileges = [\"r\"]\ndrill = { "
     "principal = \"p\", user = \"u\", host = \"h\", port = 70000 }\n",
     5, 59, "'port' in the resource's drill must be between 1 and 65535"},
    {"DrillCheckNotAbsolute",
     "[[resources]]\nname = \"x\"\nconnector = \"c\"\nprivileges = [\"r\"]\ndrill = { "
     "check = [\"true\"] }\n",
     5, 19, "must start with an absolute program path"},
    {"DrillHostWithOption",
     "[[resources]]\nname = \"x\"\nconnector = \"c\"\nprivileges = [\"r\"]\ndrill = { "
     "principal = \"p\", user = \"u\", host = \"-oProxyCommand=x\" }\n",
     5, 47, "'host' in the resource's drill must be a host name or address"},
    {"DrillScheduleForResourceWithoutTarget",
     "[[drills]]\nresource = \"db\"\nprivilege = \"ro\"\nschedule = \"0 3 * * *\"\n", 2, 12,
     "resource 'db' has no drill target"},
    {"DrillScheduleUnknownResource",
     "[[drills]]\nresource = \"nope\"\nprivilege = \"ro\"\nschedule = \"0 3 * * *\"\n", 2, 12,
     "names 'nope', which is not a resource"},
    {"DrillScheduleBadCron",
     "[[resources]]\nname = \"x\"\nconnector = \"c\"\nprivileges = [\"r\"]\ndrill = { "
     "database = \"d\" }\n[[drills]]\nresource = \"x\"\nprivilege = \"r\"\nschedule = \"0 25 * * "
     "*\"\n",
     9, 12, "the hour field's '25' is outside 0-23"},
    {"DrillScheduleUnknownPrivilege",
     "[[resources]]\nname = \"x\"\nconnector = \"c\"\nprivileges = [\"r\"]\ndrill = { "
     "database = \"d\" }\n[[drills]]\nresource = \"x\"\nprivilege = \"w\"\nschedule = "
     "\"@daily\"\n",
     8, 13, "resource 'x' has no privilege 'w'"},
};

INSTANTIATE_TEST_SUITE_P(Cases, PolicyProblemTest, ::testing::ValuesIn(kProblemCases),
                         [](const auto& p) { return p.param.name; });

TEST(PolicyTest, ReviewWithinDefaultsByTier) {
  std::string text = std::string(kBase) + R"([[rules]]
resource = "db"
privileges = ["ro"]
requesters = ["alice"]
tier = 1
[[rules]]
resource = "db"
privileges = ["rw"]
requesters = ["alice"]
tier = 2
pool = "dba-approvers"
approvals = 1
[[rules]]
resource = "db"
privileges = ["rw"]
requesters = ["alice"]
tier = 3
pool = "dba-approvers"
approvals = 2
[[rules]]
resource = "db"
privileges = ["ro"]
requesters = ["bob"]
tier = 2
pool = "dba-approvers"
approvals = 1
review_within = "96h"
)";
  PolicyParseResult r = ParsePolicy(text, "p.toml");
  ASSERT_TRUE(r.policy.has_value()) << Describe(r.problems);
  ASSERT_EQ(r.policy->rules.size(), 4u);
  EXPECT_EQ(r.policy->rules[0].review_within, std::chrono::hours(72));
  EXPECT_EQ(r.policy->rules[1].review_within, std::chrono::hours(24));
  EXPECT_EQ(r.policy->rules[2].review_within, std::chrono::hours(12));
  EXPECT_EQ(r.policy->rules[3].review_within, std::chrono::hours(96));  // as written
}

TEST(PolicyTest, DrillTargetsAndSchedulesAreRead) {
  std::string text = std::string(kBase) + R"([[resources]]
name = "bastion"
connector = "ssh"
privileges = ["root"]
drill = { principal = "canary", user = "drill", host = "127.0.0.1", port = 2222, known_hosts = "kh" }
[[resources]]
name = "app"
connector = "hook"
privileges = ["deploy"]
drill = { check = ["/usr/local/bin/check", "--quick"] }
[[drills]]
resource = "bastion"
privilege = "root"
schedule = "30 3 * * mon-fri"
)";
  PolicyParseResult r = ParsePolicy(text, "p.toml");
  ASSERT_TRUE(r.policy.has_value()) << Describe(r.problems);
  const Resource* bastion = r.policy->FindResource("bastion");
  ASSERT_NE(bastion, nullptr);
  ASSERT_TRUE(bastion->drill.has_value());
  EXPECT_EQ(bastion->drill->principal, "canary");
  EXPECT_EQ(bastion->drill->user, "drill");
  EXPECT_EQ(bastion->drill->host, "127.0.0.1");
  EXPECT_EQ(bastion->drill->port, 2222);
  EXPECT_EQ(bastion->drill->known_hosts, "kh");
  const Resource* app = r.policy->FindResource("app");
  ASSERT_TRUE(app->drill.has_value());
  EXPECT_EQ(app->drill->check, (std::vector<std::string>{"/usr/local/bin/check", "--quick"}));
  EXPECT_FALSE(r.policy->FindResource("db")->drill.has_value());
  ASSERT_EQ(r.policy->drills.size(), 1u);
  EXPECT_EQ(r.policy->drills[0].resource, "bastion");
  EXPECT_EQ(r.policy->drills[0].schedule, "30 3 * * mon-fri");
  EXPECT_EQ(r.policy->drills[0].line, 21);
}

TEST(PolicyTest, DrillsMatchRulesWhateverTheirRequesters) {
  std::string text = std::string(kBase) + R"([[rules]]
resource = "db"
privileges = ["ro"]
requesters = ["group:dba"]
tier = 1
)";
  PolicyParseResult r = ParsePolicy(text, "p.toml");
  ASSERT_TRUE(r.policy.has_value()) << Describe(r.problems);
  EXPECT_TRUE(r.policy->MatchingRules("alice", "db", "ro").empty());
  EXPECT_EQ(r.policy->MatchingRules("alice", "db", "ro", true).size(), 1u);
  EXPECT_TRUE(r.policy->MatchingRules("alice", "db", "rw", true).empty());
}

TEST(PolicyTest, RulesForDifferentTiersOrPeopleAreNotAmbiguous) {
  std::string text = std::string(kBase) + R"([[rules]]
resource = "db"
privileges = ["ro"]
requesters = ["group:sre"]
tier = 1
[[rules]]
resource = "db"
privileges = ["ro"]
requesters = ["group:sre"]
tier = 2
pool = "dba-approvers"
approvals = 1
[[rules]]
resource = "db"
privileges = ["ro"]
requesters = ["group:dba"]
tier = 1
)";
  PolicyParseResult r = ParsePolicy(text, "p.toml");
  EXPECT_THAT(r.problems, IsEmpty()) << Describe(r.problems);
}

TEST(PolicyTest, ReportsEveryProblemInFileOrder) {
  std::string text = R"(version = 1
[settings]
timezone = "Europe Berlin"
reason_min_length = -3
colour = "red"
[groups]
sre = ["alice"]
[[resources]]
name = "db"
connector = "pg"
privileges = ["ro"]
[[rules]]
resource = "db"
privileges = ["rw"]
requesters = ["group:ops"]
tier = 2
approvals = 1
)";
  PolicyParseResult r = ParsePolicy(text, "policy.toml");
  EXPECT_FALSE(r.policy.has_value());
  std::vector<std::string> got;
  for (const PolicyProblem& p : r.problems) got.push_back(p.ToString());
  EXPECT_THAT(
      got,
      ElementsAre(
          HasSubstr("policy.toml:3:12: 'timezone' in [settings] must be an IANA time zone name"),
          HasSubstr("policy.toml:4:21: 'reason_min_length' in [settings] must be between 0 and "
                    "10000, not -3"),
          "policy.toml:5:1: unknown key 'colour' in [settings]",
          "policy.toml:12:1: a tier-2 rule needs a 'pool' of approvers",
          "policy.toml:14:15: resource 'db' has no privilege 'rw'; it has: ro",
          "policy.toml:15:15: 'requesters' in [[rules]] names group 'ops', which is not defined "
          "in [groups]"));
}

// A problem is one line: what its message quotes of the file is escaped.
TEST(PolicyTest, ProblemsStayOnOneLineWhenTheyQuoteTheFile) {
  for (const char* text : {"version = tru\n", "version = 1\n[settings]\ntimezone = \"a\\nb\"\n"}) {
    PolicyParseResult r = ParsePolicy(text, "p.toml");
    ASSERT_FALSE(r.problems.empty()) << text;
    for (const auto& p : r.problems) EXPECT_EQ(p.message.find('\n'), std::string::npos) << p.message;
  }
}

TEST(PolicyTest, ProblemWithoutLocationPrintsFileOnly) {
  PolicyProblem p{"a.toml", 0, 0, "something is wrong"};
  EXPECT_EQ(p.ToString(), "a.toml: something is wrong");
  PolicyProblem q{"a.toml", 3, 7, "x"};
  EXPECT_EQ(q.ToString(), "a.toml:3:7: x");
}

// Inputs a fuzzer would try first: truncations of the example must never crash and must either
// parse or say why.
TEST(PolicyTest, TruncatedExampleNeverCrashes) {
  std::string text = ReadExample();
  for (size_t n = 0; n < text.size(); n += 7) {
    PolicyParseResult r = ParsePolicy(std::string_view(text).substr(0, n), "p.toml");
    EXPECT_NE(r.policy.has_value(), !r.problems.empty()) << n;
  }
}

TEST(PolicyTest, ByteFlipsNeverCrash) {
  std::string text = ReadExample();
  uint32_t state = 12345;
  for (int i = 0; i < 400; ++i) {
    std::string mutated = text;
    state = state * 1103515245u + 12345u;
    size_t pos = (state >> 8) % mutated.size();
    state = state * 1103515245u + 12345u;
    mutated[pos] = static_cast<char>(state >> 16);
    PolicyParseResult r = ParsePolicy(mutated, "p.toml");
    EXPECT_NE(r.policy.has_value(), !r.problems.empty()) << pos;
  }
}

}  // namespace
}  // namespace bg::core
