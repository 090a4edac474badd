// Evidence reports: records built from a sequence of events, the checks and their exceptions,
// the in-memory tree's proofs, and the offline verification of a report, including every way
// of changing one that it must catch.
#include "audit/evidence.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "audit/checkpoint.h"
#include "audit/event.h"
#include "audit/evidence_report.h"
#include "audit/evidence_summary.h"
#include "audit/merkle.h"
#include "test/fakes/fake_random.h"
#include "util/encoding.h"

namespace bg::audit {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using Details = std::map<std::string, std::string>;

const Timestamp kT0 = *ParseRfc3339("2026-11-02T09:00:00Z");
Timestamp At(int minutes) { return kT0 + std::chrono::minutes(minutes); }
std::string Rfc(int minutes) { return FormatRfc3339(At(minutes)); }

// A log being written: leaves in order, with their events.
struct Log {
  std::vector<std::string> leaves;
  int64_t Add(std::string type, std::string actor, std::string request, Details details,
              int minutes) {
    LeafEvent e;
    e.time = At(minutes);
    e.type = std::move(type);
    e.actor = std::move(actor);
    if (!request.empty()) e.request = RequestId(std::move(request));
    e.details = std::move(details);
    leaves.push_back(EncodeLeaf(e));
    return static_cast<int64_t>(leaves.size()) - 1;
  }
  EvidenceBuilder::Output Build(EvidenceWindow w = {}) const {
    EvidenceBuilder b(w);
    for (size_t i = 0; i < leaves.size(); ++i) {
      b.Add(static_cast<int64_t>(i), *ParseLeaf(leaves[i]), leaves[i]);
    }
    return std::move(b).Finish();
  }
};

// What one tier-2 lifecycle wrote, by event type.
struct Lifecycle {
  std::map<std::string, int64_t> at;
};

// created -> 2 approvals -> approved -> activated -> cert -> session (2 chunks, end) ->
// expired -> review opened, verdict, closed. Starts at minute `m`; 30 minutes long.
Lifecycle Tier2(Log& log, const std::string& id, int m, bool review = true) {
  Lifecycle l;
  l.at["request.created"] = log.Add("request.created", "alice", id,
                                    {{"resource", "db"},
                                     {"privilege", "dba"},
                                     {"tier", "2"},
                                     {"duration", "1800"},
                                     {"reason", "replication stuck"},
                                     {"ticket", "INC-7"},
                                     {"source_address", "192.0.2.7"},
                                     {"emergency", "false"},
                                     {"pool", "dba"},
                                     {"required_approvals", "2"},
                                     {"risk_signals", "off_hours"},
                                     {"mfa_verified_at", Rfc(m - 5)}},
                                    m);
  for (const char* who : {"carol", "dave"}) {
    l.at[std::string("approval.recorded/") + who] =
        log.Add("approval.recorded", who, id,
                {{"for", "request"},
                 {"comment", "ok"},
                 {"approvals", who[0] == 'c' ? "1" : "2"},
                 {"required_approvals", "2"},
                 {"mfa", "session"},
                 {"mfa_verified_at", Rfc(m - 3)},
                 {"mfa_max_age", "600"}},
                m + 1);
  }
  l.at["request.approved"] = log.Add("request.approved", "dave", id, {{"approvals", "2"}}, m + 1);
  l.at["connector.grant"] =
      log.Add("connector.grant", "system", id,
              {{"connector", "db"}, {"attempt", "1"}, {"outcome", "ok"}}, m + 1);
  l.at["request.activated"] = log.Add("request.activated", "system", id,
                                      {{"starts_at", Rfc(m + 1)}, {"ends_at", Rfc(m + 31)}}, m + 1);
  l.at["ssh.cert_issued"] = log.Add("ssh.cert_issued", "alice", id,
                                    {{"connector", "ssh"},
                                     {"serial", "42"},
                                     {"key_fingerprint", "SHA256:abc"},
                                     {"principals", "dba"},
                                     {"valid_after", Rfc(m + 1)},
                                     {"valid_before", Rfc(m + 31)},
                                     {"source_address", "192.0.2.7"}},
                                    m + 2);
  l.at["session.started"] =
      log.Add("session.started", "alice", id,
              {{"session", "ses_" + id}, {"header_sha256", "h"}, {"command", "psql"}}, m + 3);
  for (int seq = 0; seq < 2; ++seq) {
    l.at["session.chunk/" + std::to_string(seq)] = log.Add("session.chunk", "alice", id,
                                                           {{"session", "ses_" + id},
                                                            {"seq", std::to_string(seq)},
                                                            {"sha256", "d" + std::to_string(seq)},
                                                            {"bytes", "100"}},
                                                           m + 4);
  }
  l.at["session.ended"] = log.Add("session.ended", "alice", id,
                                  {{"session", "ses_" + id},
                                   {"chunks", "2"},
                                   {"bytes", "200"},
                                   {"end_reason", "exit"},
                                   {"ended_at", Rfc(m + 5)}},
                                  m + 5);
  l.at["request.expired"] =
      log.Add("request.expired", "system", id, {{"review_due", Rfc(m + 31 + 1440)}}, m + 31);
  l.at["connector.revoke"] =
      log.Add("connector.revoke", "system", id,
              {{"connector", "db"}, {"attempt", "1"}, {"outcome", "ok"}}, m + 31);
  if (review) {
    l.at["review.opened"] = log.Add("review.opened", "system", id,
                                    {{"review", "rev_" + id},
                                     {"trigger", "expired"},
                                     {"granted_by", "approved"},
                                     {"due_at", Rfc(m + 31 + 1440)},
                                     {"reviewers_needed", "1"}},
                                    m + 31);
    l.at["review.verdict"] = log.Add("review.verdict", "sam", id,
                                     {{"review", "rev_" + id},
                                      {"verdict", "appropriate"},
                                      {"findings", ""},
                                      {"verdicts", "1"},
                                      {"reviewers_needed", "1"}},
                                     m + 60);
    l.at["review.closed"] = log.Add(
        "review.closed", "sam", id,
        {{"review", "rev_" + id}, {"verdicts", "1"}, {"inappropriate", "false"}, {"late", "false"}},
        m + 60);
  }
  return l;
}

// ---- records ----

TEST(EvidenceBuilderTest, OneRecordPerGrantWithEveryFactAndItsIndex) {
  Log log;
  log.Add("auth.login", "alice", "", {{"method", "password"}}, 0);
  Lifecycle l = Tier2(log, "req_a", 1);
  auto out = log.Build();
  ASSERT_EQ(out.grants.size(), 1u);
  const GrantRecord& g = out.grants[0];
  EXPECT_EQ(g.request, "req_a");
  EXPECT_EQ(g.asked.fact.audit_index, l.at["request.created"]);
  EXPECT_EQ(g.asked.fact.actor, "alice");
  EXPECT_EQ(g.asked.reason, "replication stuck");
  EXPECT_EQ(g.asked.ticket, "INC-7");
  ASSERT_EQ(g.approvals.size(), 2u);
  EXPECT_EQ(g.approvals[1].fact.actor, "dave");
  EXPECT_EQ(g.approvals[1].fact.audit_index, l.at["approval.recorded/dave"]);
  EXPECT_EQ(g.approvals[1].mfa, "session");
  EXPECT_EQ(g.approvals[1].MfaAge(), 240);
  EXPECT_EQ(g.approvals[1].mfa_max_age, 600);
  ASSERT_TRUE(g.approved.has_value());
  EXPECT_EQ(g.approved->how, "approved");
  EXPECT_EQ(g.granted.fact.audit_index, l.at["request.activated"]);
  EXPECT_EQ(g.EndsAt(), At(32));
  ASSERT_EQ(g.credentials.size(), 1u);
  EXPECT_EQ(g.credentials[0].serial, "42");
  EXPECT_EQ(g.credentials[0].valid_before, At(32));
  ASSERT_EQ(g.sessions.size(), 1u);
  EXPECT_EQ(g.sessions[0].chunks.size(), 2u);
  EXPECT_EQ(g.sessions[0].chunks[1].sha256, "d1");
  ASSERT_TRUE(g.sessions[0].ended.has_value());
  ASSERT_TRUE(g.ended.has_value());
  EXPECT_EQ(g.ended->how, "expired");
  ASSERT_TRUE(g.review.has_value());
  ASSERT_EQ(g.review->verdicts.size(), 1u);
  EXPECT_EQ(g.review->verdicts[0].verdict, "appropriate");
  EXPECT_TRUE(g.review->closed.has_value());

  // Every leaf of the lifecycle is cited, the login is not; the cited leaves are the bytes.
  std::vector<int64_t> want;
  for (const auto& [type, index] : l.at) want.push_back(index);
  std::sort(want.begin(), want.end());
  EXPECT_EQ(g.CitedIndices(), want);
  ASSERT_EQ(out.leaves.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(out.leaves[i].first, want[i]);
    EXPECT_EQ(out.leaves[i].second, log.leaves[static_cast<size_t>(want[i])]);
  }
}

TEST(EvidenceBuilderTest, RequestsThatEndedWithoutAGrantAreNotReportedNorCited) {
  Log log;
  log.Add("request.created", "alice", "req_denied", {{"tier", "2"}}, 0);
  log.Add("request.denied", "carol", "req_denied", {{"reason", "no"}}, 1);
  log.Add("request.created", "alice", "req_cancelled", {{"tier", "2"}}, 2);
  log.Add("request.cancelled", "alice", "req_cancelled", {}, 3);
  log.Add("request.created", "alice", "req_revoked_early", {{"tier", "1"}}, 4);
  log.Add("request.self_approved", "alice", "req_revoked_early", {}, 4);
  log.Add("request.revoked", "alice", "req_revoked_early", {{"reason", "oops"}}, 5);
  log.Add("request.activated", "system", "req_revoked_early", {}, 6);  // after its end: ignored
  log.Add("request.created", "alice", "req_pending", {{"tier", "2"}}, 7);
  log.Add("approval.recorded", "carol", "req_pending", {{"for", "request"}}, 8);
  log.Add("request.activated", "system", "req_never_created", {}, 9);
  auto out = log.Build();
  EXPECT_THAT(out.grants, IsEmpty());
  EXPECT_THAT(out.leaves, IsEmpty());
}

TEST(EvidenceBuilderTest, EventsThatDoNotFitARecordAreIgnoredAndNotCited) {
  Log log;
  Lifecycle l = Tier2(log, "req_a", 0, /*review=*/false);
  const int64_t stray_chunk =
      log.Add("session.chunk", "alice", "req_a", {{"session", "ses_unknown"}, {"seq", "0"}}, 40);
  const int64_t second_activation = log.Add("request.activated", "system", "req_a", {}, 41);
  const int64_t second_end = log.Add("request.revoked", "alice", "req_a", {}, 42);
  const int64_t foreign_verdict = log.Add(
      "review.verdict", "sam", "req_a", {{"review", "rev_other"}, {"verdict", "appropriate"}}, 43);
  auto out = log.Build();
  ASSERT_EQ(out.grants.size(), 1u);
  const auto cited = out.grants[0].CitedIndices();
  for (int64_t i : {stray_chunk, second_activation, second_end, foreign_verdict}) {
    EXPECT_EQ(std::count(cited.begin(), cited.end(), i), 0) << i;
  }
  EXPECT_EQ(out.grants[0].ended->how, "expired");
  EXPECT_FALSE(out.grants[0].review.has_value());
}

struct WindowCase {
  const char* name;
  std::optional<int> since, until;  // minutes
  bool reported;
};

class EvidenceWindowTest : public ::testing::TestWithParam<WindowCase> {};

// The grant is in use from minute 11 to minute 41.
TEST_P(EvidenceWindowTest, KeepsGrantsInUseDuringTheWindow) {
  const WindowCase& c = GetParam();
  Log log;
  Tier2(log, "req_a", 10);
  EvidenceWindow w;
  if (c.since) w.since = At(*c.since);
  if (c.until) w.until = At(*c.until);
  EXPECT_EQ(log.Build(w).grants.size(), c.reported ? 1u : 0u);
}

INSTANTIATE_TEST_SUITE_P(Cases, EvidenceWindowTest,
                         ::testing::Values(WindowCase{"Unbounded", std::nullopt, std::nullopt,
                                                      true},
                                           WindowCase{"EndedBeforeSince", 42, std::nullopt, false},
                                           WindowCase{"EndedAtSince", 41, std::nullopt, true},
                                           WindowCase{"GrantedAtUntil", std::nullopt, 11, false},
                                           WindowCase{"GrantedBeforeUntil", std::nullopt, 12, true},
                                           WindowCase{"WindowInsideTheGrant", 20, 30, true},
                                           WindowCase{"WindowBeforeTheGrant", 0, 5, false}),
                         [](const auto& p) { return p.param.name; });

TEST(EvidenceBuilderTest, AGrantStillActiveIsInEveryWindowAfterItsStart) {
  Log log;
  log.Add("request.created", "alice", "req_a", {{"tier", "1"}}, 0);
  log.Add("request.self_approved", "alice", "req_a", {}, 0);
  log.Add("request.activated", "system", "req_a", {{"ends_at", Rfc(60)}}, 0);
  EvidenceWindow w;
  w.since = At(10000);
  auto out = log.Build(w);
  ASSERT_EQ(out.grants.size(), 1u);
  EXPECT_FALSE(out.grants[0].ended.has_value());
}

TEST(EvidenceBuilderTest, JsonLineHasEveryFactWithItsIndexAndAReviewOfNull) {
  Log log;
  Lifecycle l = Tier2(log, "req_a", 0, /*review=*/false);
  auto out = log.Build();
  auto j = nlohmann::json::parse(GrantJsonLine(out.grants[0]));
  EXPECT_EQ(j.dump(), GrantJsonLine(out.grants[0]));  // canonical: sorted keys, no spaces
  EXPECT_EQ(j["requested"]["audit_index"], l.at["request.created"]);
  EXPECT_EQ(j["requested"]["reason"], "replication stuck");
  EXPECT_EQ(j["requested"]["tier"], 2);
  EXPECT_EQ(j["requested"]["risk_signals"], nlohmann::json::array({"off_hours"}));
  EXPECT_EQ(j["approvals"][0]["mfa_age_seconds"], 240);
  EXPECT_EQ(j["approval"]["how"], "approved");
  EXPECT_EQ(j["credentials"][0]["valid_before"], Rfc(31));
  EXPECT_EQ(j["sessions"][0]["chunks"][1]["audit_index"], l.at["session.chunk/1"]);
  EXPECT_EQ(j["ended"]["how"], "expired");
  EXPECT_TRUE(j["review"].is_null());
}

TEST(EvidenceBuilderTest, CsvCellsAreQuotedAndNeverFormulas) {
  Log log;
  log.Add("request.created", "alice", "req_a",
          {{"tier", "1"}, {"reason", "=HYPERLINK(\"x\"), really"}, {"ticket", "INC-1"}}, 0);
  log.Add("request.self_approved", "alice", "req_a", {}, 0);
  log.Add("request.activated", "system", "req_a", {}, 0);
  auto out = log.Build();
  const std::string row = GrantCsvRow(out.grants[0]);
  EXPECT_THAT(row, HasSubstr(R"(,"'=HYPERLINK(""x""), really",INC-1,)"));
  EXPECT_THAT(row, HasSubstr(",still active,"));
  EXPECT_THAT(row, HasSubstr(",none recorded,"));
}

// ---- checks ----

struct CheckCase {
  const char* name;
  std::function<void(Log&)> write;  // a grant of request req_x
  const char* check;
  const char* why;
};

// The variations: one tier-2 lifecycle with one thing different.
void Mutated(Log& log, const std::function<void(std::string&, Details&)>& change) {
  Log plain;
  Tier2(plain, "req_x", 0);
  for (const std::string& leaf : plain.leaves) {
    LeafEvent e = *ParseLeaf(leaf);
    change(e.type, e.details);
    if (e.type.empty()) continue;
    log.leaves.push_back(EncodeLeaf(e));
  }
}

class EvidenceCheckTest : public ::testing::TestWithParam<CheckCase> {};

TEST_P(EvidenceCheckTest, NamesTheException) {
  const CheckCase& c = GetParam();
  Log log;
  c.write(log);
  auto out = log.Build();
  ASSERT_EQ(out.grants.size(), 1u);
  bool found = false;
  for (const CheckResult& r : RunEvidenceChecks(out.grants)) {
    if (r.name != c.check) {
      EXPECT_THAT(r.exceptions, IsEmpty()) << r.name << ": " << r.exceptions[0].why;
      continue;
    }
    found = true;
    ASSERT_EQ(r.exceptions.size(), 1u) << c.check;
    EXPECT_THAT(r.exceptions[0].why, HasSubstr(c.why));
    EXPECT_EQ(r.exceptions[0].request, "req_x");
    EXPECT_EQ(r.passed, 0);
  }
  EXPECT_TRUE(found);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, EvidenceCheckTest,
    ::testing::Values(
        CheckCase{"NoTicket",
                  [](Log& l) {
                    Mutated(l, [](std::string& type, Details& d) {
                      if (type == "request.created") d["ticket"] = "";
                    });
                  },
                  "justified", "names no ticket"},
        CheckCase{"SelfApprovedAtTier2",
                  [](Log& l) {
                    Mutated(l, [](std::string& type, Details& d) {
                      if (type == "approval.recorded") type = "";
                      if (type == "request.approved") type = "request.self_approved";
                      if (type == "request.created") d["mfa_verified_at"] = Rfc(-1);
                    });
                  },
                  "approved", "self-approved at tier 2"},
        CheckCase{"TooFewApprovals",
                  [](Log& l) {
                    Mutated(l, [](std::string& type, Details& d) {
                      if (type == "request.created") d["required_approvals"] = "3";
                    });
                  },
                  "approved", "2 counted approvals of 3 required"},
        CheckCase{"ApprovalWithoutMfaDetails",
                  [](Log& l) {
                    Mutated(l, [](std::string& type, Details& d) {
                      if (type == "approval.recorded" && d["approvals"] == "1") d.erase("mfa");
                    });
                  },
                  "identity_confirmed", "does not say how MFA was confirmed"},
        CheckCase{"StaleSessionMfa",
                  [](Log& l) {
                    Mutated(l, [](std::string& type, Details& d) {
                      if (type == "approval.recorded" && d["approvals"] == "2")
                        d["mfa_max_age"] = "60";
                    });
                  },
                  "identity_confirmed", "MFA 240s old (the rule allows 60s)"},
        CheckCase{"EndedLate",
                  [](Log& l) {
                    Mutated(l, [](std::string& type, Details& d) {
                      if (type == "request.activated") d["ends_at"] = Rfc(25);
                      if (type == "ssh.cert_issued") d["valid_before"] = Rfc(25);
                    });
                  },
                  "time_limited", "ended 360s after its end time"},
        CheckCase{"CertificateOutlivesTheGrant",
                  [](Log& l) {
                    Mutated(l, [](std::string& type, Details& d) {
                      if (type == "ssh.cert_issued") d["valid_before"] = Rfc(90);
                    });
                  },
                  "time_limited", "serial 42 valid until"},
        CheckCase{"StillActive",
                  [](Log& l) {
                    Mutated(l, [](std::string& type, Details&) {
                      if (type == "request.expired" || type == "connector.revoke") type = "";
                    });
                  },
                  "time_limited", "still active at the checkpoint"},
        CheckCase{"RevocationFailed",
                  [](Log& l) {
                    Mutated(l, [](std::string& type, Details& d) {
                      if (type == "connector.revoke") {
                        d["outcome"] = "error";
                        d["error"] = "connection refused";
                      }
                    });
                  },
                  "time_limited",
                  "the last revocation on db did not succeed (attempt 1, error: connection "
                  "refused)"},
        CheckCase{"NoRevocation",
                  [](Log& l) {
                    Mutated(l, [](std::string& type, Details&) {
                      if (type == "connector.revoke") type = "";
                    });
                  },
                  "time_limited", "no revocation on the target system is recorded after the end"},
        CheckCase{"MissingChunk",
                  [](Log& l) {
                    Mutated(l, [](std::string& type, Details& d) {
                      if (type == "session.chunk" && d["seq"] == "0") type = "";
                      if (type == "session.ended") d["chunks"] = "1";
                    });
                  },
                  "attributable", "chunk 0 is missing or out of order"},
        CheckCase{"CredentialOfSomeoneElse",
                  [](Log& l) {
                    Log plain;
                    Tier2(plain, "req_x", 0);
                    for (const std::string& leaf : plain.leaves) {
                      LeafEvent e = *ParseLeaf(leaf);
                      if (e.type == "ssh.cert_issued") e.actor = "mallory";
                      l.leaves.push_back(EncodeLeaf(e));
                    }
                  },
                  "attributable", "handed to mallory"},
        CheckCase{"NoReview",
                  [](Log& l) {
                    Mutated(l, [](std::string& type, Details&) {
                      if (type.rfind("review.", 0) == 0) type = "";
                    });
                  },
                  "reviewed", "no review recorded"},
        CheckCase{"OpenReview",
                  [](Log& l) {
                    Mutated(l, [](std::string& type, Details&) {
                      if (type == "review.verdict" || type == "review.closed") type = "";
                    });
                  },
                  "reviewed", "open (due"},
        CheckCase{"InappropriateVerdict",
                  [](Log& l) {
                    Mutated(l, [](std::string& type, Details& d) {
                      if (type == "review.verdict") {
                        d["verdict"] = "inappropriate";
                        d["findings"] = "copied the table";
                      }
                    });
                  },
                  "reviewed", "sam found it inappropriate: copied the table"}),
    [](const auto& p) { return p.param.name; });

TEST(EvidenceSummaryTest, ControlsAreMetWithoutExceptionsAndCountTheGrants) {
  Log log;
  for (int i = 0; i < 3; ++i) Tier2(log, "req_" + std::to_string(i), i * 100);
  auto out = log.Build();
  EvidenceContext c;
  c.checkpoint = Checkpoint{"test", 99, std::string(32, 'r'), {}};
  c.key_name = "test+01020304";
  auto j = nlohmann::json::parse(SummaryJson(out.grants, c));
  EXPECT_EQ(j["counts"]["grants"], 3);
  EXPECT_EQ(j["counts"]["session_chunks"], 6);
  std::set<std::string> ids;
  for (const auto& control : j["controls"]) {
    EXPECT_EQ(control["status"], "met") << control.dump();
    ids.insert(control["framework"].get<std::string>() + " " + control["id"].get<std::string>());
  }
  EXPECT_THAT(ids, ::testing::IsSupersetOf({"PCI DSS 4.0 8.2.2", "NIST SP 800-53 AC-2(2)",
                                            "NIST SP 800-53 AU-9(3)", "NIST SP 800-53 AU-10",
                                            "HIPAA 164.312(a)(2)(ii)"}));
  const std::string md = SummaryMarkdown(out.grants, c);
  EXPECT_THAT(md, HasSubstr("| PCI DSS 4.0 | 8.2.2 | business justification documented | met |"));
}

TEST(EvidenceSummaryTest, MarkdownEscapesWhatAReviewerWrote) {
  Log log;
  Mutated(log, [](std::string& t, Details& d) {
    if (t == "review.verdict") {
      d["verdict"] = "inappropriate";
      d["findings"] = "| [click](http://x) <b>";
    }
  });
  const std::string md = SummaryMarkdown(log.Build().grants, EvidenceContext{});
  EXPECT_THAT(md, HasSubstr(R"(\| \[click\](http://x) \<b\>)"));
}

// ---- the tree in memory ----

TEST(MemoryTreeTest, HoldsTheNodesTheStoreKeepsSoProofsAreTheSame) {
  std::mt19937 rng(7);
  MemoryTree tree;
  CompactRange range;
  std::map<std::pair<int, int64_t>, std::string> stored;
  for (int n = 1; n <= 70; ++n) {
    const std::string leaf = HashLeaf(std::to_string(rng()));
    tree.Append(leaf);
    for (const Node& node : range.Append(leaf)) stored[{node.level, node.index}] = node.hash;
    ASSERT_EQ(tree.size(), n);
    NodeReader from_store = [&](int level, int64_t index) -> Result<std::string> {
      auto it = stored.find({level, index});
      if (it == stored.end()) return Error::NotFound("no node");
      return it->second;
    };
    EXPECT_EQ(RootAt(n, tree.Reader()).value(), range.Root());
    for (int64_t i = 0; i < n; ++i) {
      EXPECT_EQ(InclusionProof(i, n, tree.Reader()).value(),
                InclusionProof(i, n, from_store).value());
    }
  }
  EXPECT_FALSE(tree.Reader()(0, 70).has_value());
  EXPECT_FALSE(tree.Reader()(9, 0).has_value());
}

// ---- reports: written, verified, and changed ----

class EvidenceReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::CountingRandom random(9);
    signer_ = std::make_unique<NoteSigner>(NoteSigner::Generate("evidence.test", random).value());
    log_.Add("auth.login", "alice", "", {}, 0);
    Tier2(log_, "req_a", 1);
    log_.Add("request.created", "bob", "req_b",
             {{"tier", "1"}, {"reason", "look"}, {"ticket", "INC-9"}, {"mfa_verified_at", Rfc(99)}},
             100);
    log_.Add("request.self_approved", "bob", "req_b", {}, 100);
    log_.Add("request.activated", "system", "req_b", {{"ends_at", Rfc(110)}}, 100);
    log_.Add("request.revoked", "bob", "req_b", {{"reason", "done"}}, 105);
    Tier2(log_, "req_c", 200, /*review=*/false);
    Write();
  }

  // Makes the report of the whole log, as `report evidence` does.
  void Write(std::optional<int64_t> trusted_size = std::nullopt) {
    files_.clear();
    tree_ = MemoryTree();
    for (const std::string& leaf : log_.leaves) tree_.Append(HashLeaf(leaf));
    EvidenceInput in;
    in.built = log_.Build();
    in.nodes = tree_.Reader();
    in.context.checkpoint = Cp(static_cast<int64_t>(log_.leaves.size()));
    in.context.key_name = VerifierKeyName(signer_->VerifierKey());
    in.context.generated_at = "2026-12-01T00:00:00Z";
    in.context.source = "test";
    in.checkpoint_note = signer_->Sign(in.context.checkpoint).value();
    in.verifier_key = signer_->VerifierKey();
    in.trusted_size = trusted_size;
    ASSERT_TRUE(
        WriteEvidenceReport(std::move(in), [this](std::string_view name, std::string_view bytes) {
          files_[std::string(name)].append(bytes);
          return Ok();
        }));
  }

  Checkpoint Cp(int64_t size) {
    return Checkpoint{"evidence.test", size, RootAt(size, tree_.Reader()).value(), {}};
  }

  Result<EvidenceVerifyReport> Verify(std::optional<std::string> trusted = std::nullopt) {
    EvidenceFiles f{files_["checkpoint.txt"],   files_["proofs.jsonl"], files_["grants.jsonl"],
                    files_["grants.csv"],       files_["summary.json"], files_["summary.md"],
                    files_["consistency.jsonl"]};
    EvidenceVerifyOptions o;
    o.verifier_key = signer_->VerifierKey();
    o.trusted_checkpoint = std::move(trusted);
    return VerifyEvidence(f, o);
  }

  // Line `n` (from 0) of a file.
  std::string& Line(const std::string& file, size_t n) {
    lines_.clear();
    std::string text = files_[file];
    size_t start = 0;
    while (start < text.size()) {
      size_t nl = text.find('\n', start);
      lines_.push_back(text.substr(start, nl - start));
      start = nl + 1;
    }
    return lines_.at(n);
  }
  void PutLines(const std::string& file) {
    std::string text;
    for (const auto& l : lines_) text += l + "\n";
    files_[file] = text;
  }

  Log log_;
  std::unique_ptr<NoteSigner> signer_;
  MemoryTree tree_;
  std::map<std::string, std::string> files_;
  std::vector<std::string> lines_;
};

TEST_F(EvidenceReportTest, AFreshReportVerifies) {
  EXPECT_EQ(files_.count("consistency.jsonl"), 0u);
  auto r = Verify();
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->grants, 3);
  EXPECT_EQ(r->entries, static_cast<int64_t>(log_.leaves.size()) - 1);  // all but the login
  EXPECT_EQ(files_["key.txt"], signer_->VerifierKey() + "\n");
  auto summary = nlohmann::json::parse(files_["summary.json"]);
  EXPECT_EQ(summary["checks"]["reviewed"]["exceptions"][0]["request"], "req_b");
  EXPECT_EQ(summary["checks"]["reviewed"]["exceptions"][1]["why"], "no review recorded");
}

TEST_F(EvidenceReportTest, AnEditedFactInGrantsJsonlIsNamedByItsEntry) {
  nlohmann::json g = nlohmann::json::parse(Line("grants.jsonl", 0));
  const int64_t approval = g["approvals"][0]["audit_index"];
  g["approvals"][0]["actor"] = "mallory";
  Line("grants.jsonl", 0) = g.dump();
  PutLines("grants.jsonl");
  auto r = Verify();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().field(), "entries");
  EXPECT_THAT(r.error().message(),
              HasSubstr(fmt::format("entry {}: grants.jsonl line 1 (grant req_a): "
                                    "approvals[0].actor says \"mallory\", the signed entry says "
                                    "\"carol\"",
                                    approval)));
}

TEST_F(EvidenceReportTest, AChangedLeafIsNamedByItsEntry) {
  // The reason of req_a's request, changed in the leaf and (consistently) in grants.jsonl.
  nlohmann::json p = nlohmann::json::parse(Line("proofs.jsonl", 0));
  std::string leaf = *Base64Decode(p["leaf"].get<std::string>());
  leaf.replace(leaf.find("replication stuck"), 17, "replication fine!");
  p["leaf"] = Base64Encode(leaf);
  Line("proofs.jsonl", 0) = p.dump();
  PutLines("proofs.jsonl");
  auto r = Verify();
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message(),
              HasSubstr(fmt::format("entry {}: its leaf and inclusion proof do not lead to the "
                                    "signed root",
                                    p["index"].get<int64_t>())));
}

TEST_F(EvidenceReportTest, EveryOtherChangeIsCaught) {
  struct Change {
    const char* name;
    std::function<void()> apply;
    const char* message;
  };
  const std::vector<Change> changes = {
      {"DroppedLastGrantLine",
       [&] {
         Line("grants.jsonl", 2);
         lines_.pop_back();
         PutLines("grants.jsonl");
       },
       "grants.jsonl has no line for grant req_c"},
      {"DroppedGrantLine",
       [&] {
         Line("grants.jsonl", 1);
         lines_.erase(lines_.begin() + 1);
         PutLines("grants.jsonl");
       },
       "grants.jsonl line 2 holds grant req_c where the signed entries give grant req_b"},
      {"AddedGrantLine",
       [&] {
         Line("grants.jsonl", 1);
         lines_.push_back(lines_[1]);
         PutLines("grants.jsonl");
       },
       "grants.jsonl line 4: a grant no signed entry of the report gives"},
      {"ExtraProof",
       [&] {
         nlohmann::json p = nlohmann::json::parse(Line("proofs.jsonl", 0));
         auto proof = InclusionProof(0, tree_.size(), tree_.Reader()).value();
         lines_.insert(lines_.begin(), ProofJsonLine(0, tree_.size(), log_.leaves[0], proof));
         PutLines("proofs.jsonl");
       },
       "entry 0: proofs.jsonl holds it, but no grant of the report cites it"},
      {"DroppedProof",
       [&] {
         Line("proofs.jsonl", 3);
         lines_.erase(lines_.begin() + 3);
         PutLines("proofs.jsonl");
       },
       "entry 1: grants.jsonl line 1 (grant req_a): "},
      {"SwappedProofs",
       [&] {
         Line("proofs.jsonl", 0);
         std::swap(lines_[0], lines_[1]);
         PutLines("proofs.jsonl");
       },
       "repeats it or lists it out of order"},
      {"SummaryCount",
       [&] {
         auto& s = files_["summary.json"];
         s.replace(s.find("\"grants\": 3"), 11, "\"grants\": 4");
       },
       "summary.json line"},
      {"SummaryWindow",
       [&] {
         auto& s = files_["summary.json"];
         s.replace(s.find("\"since\": null"), 13, "\"since\": \"2026-11-02T12:00:00Z\"");
       },
       "entry 1: proofs.jsonl holds it, but no grant of the report cites it"},
      {"SummaryMarkdown",
       [&] {
         auto& s = files_["summary.md"];
         s.replace(s.find("| **exceptions** |"), 18, "| met |");
       },
       "summary.md line"},
      {"CsvCell",
       [&] {
         auto& s = files_["grants.csv"];
         s.replace(s.find("INC-7"), 5, "INC-8");
       },
       "grants.csv line 2"},
      {"OtherKeysCheckpoint",
       [&] {
         testing::CountingRandom random(1);
         auto other = NoteSigner::Generate("evidence.test", random).value();
         files_["checkpoint.txt"] = other.Sign(Cp(tree_.size())).value();
       },
       "checkpoint"},
  };
  const auto saved = files_;
  for (const Change& c : changes) {
    files_ = saved;
    c.apply();
    auto r = Verify();
    ASSERT_FALSE(r) << c.name;
    EXPECT_THAT(r.error().ToString(), HasSubstr(c.message)) << c.name;
  }
}

TEST_F(EvidenceReportTest, NoByteOfProofsOrGrantsCanChangeUnnoticed) {
  std::mt19937 rng(11);
  const auto saved = files_;
  for (const char* file : {"proofs.jsonl", "grants.jsonl"}) {
    for (int trial = 0; trial < 300; ++trial) {
      files_ = saved;
      std::string& text = files_[file];
      const size_t at = rng() % text.size();
      const char was = text[at];
      text[at] = static_cast<char>(was ^ (1 << (rng() % 7)));
      if (text[at] == '\n' || was == '\n') continue;  // a line split or joined: still caught
      EXPECT_FALSE(Verify()) << file << " byte " << at << " '" << was << "' -> '" << text[at]
                             << "'";
    }
  }
}

TEST_F(EvidenceReportTest, ATrustedCheckpointNeedsTheReportToExtendIt) {
  const int64_t n = tree_.size();
  const std::string older = signer_->Sign(Cp(n - 5)).value();
  auto missing = Verify(older);
  ASSERT_FALSE(missing);
  EXPECT_THAT(missing.error().message(), HasSubstr("no consistency proof from size"));

  Write(n - 5);
  auto ok = Verify(older);
  ASSERT_TRUE(ok) << ok.error().ToString();
  EXPECT_EQ(ok->trusted->size, n - 5);
  EXPECT_TRUE(Verify(signer_->Sign(Cp(n)).value()));

  Checkpoint rewritten = Cp(n - 5);
  rewritten.root[0] ^= 1;
  auto bad = Verify(signer_->Sign(rewritten).value());
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().field(), "trusted_checkpoint");
  EXPECT_THAT(bad.error().message(), HasSubstr("is not a prefix"));

  Checkpoint newer{"evidence.test", n + 1, std::string(32, 'x'), {}};
  auto ahead = Verify(signer_->Sign(newer).value());
  ASSERT_FALSE(ahead);
  EXPECT_THAT(ahead.error().message(), HasSubstr("is newer than the report's"));
}

}  // namespace
}  // namespace bg::audit
