#include "audit/evidence_summary.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "util/encoding.h"

namespace bg::audit {
namespace {

using Json = nlohmann::json;

// A grant's exceptions to one check: (entry, why).
using Findings = std::vector<std::pair<int64_t, std::string>>;

bool IsEmergency(const GrantRecord& g) { return g.asked.emergency == "true"; }

std::optional<int64_t> Number(const std::string& s) {
  if (s.empty() || s.size() > 18 || (s.size() > 1 && s[0] == '0')) return std::nullopt;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

// The approvals of the main round that still count: one per approver, not the requester's,
// not withdrawn before the request was approved.
std::vector<const Decision*> CountedApprovals(const GrantRecord& g) {
  std::vector<const Decision*> out;
  std::set<std::string> seen;
  for (const Decision& d : g.approvals) {
    if (d.for_what != "request" || d.fact.actor == g.asked.fact.actor) continue;
    if (g.approved && d.fact.audit_index > g.approved->fact.audit_index) continue;
    const bool withdrawn =
        std::any_of(g.withdrawals.begin(), g.withdrawals.end(), [&](const Withdrawal& w) {
          return w.approver == d.fact.actor && w.fact.audit_index > d.fact.audit_index &&
                 (!g.approved || w.fact.audit_index < g.approved->fact.audit_index);
        });
    if (withdrawn || !seen.insert(d.fact.actor).second) continue;
    out.push_back(&d);
  }
  return out;
}

Findings CheckJustified(const GrantRecord& g) {
  Findings f;
  const int64_t at = g.asked.fact.audit_index;
  if (g.asked.reason.empty()) f.emplace_back(at, "the request gives no reason");
  if (g.asked.ticket.empty()) f.emplace_back(at, "the request names no ticket");
  return f;
}

Findings CheckApproved(const GrantRecord& g) {
  Findings f;
  if (!g.approved || g.approved->fact.audit_index > g.granted.fact.audit_index) {
    f.emplace_back(g.granted.fact.audit_index, "granted with no approval in the log before it");
    return f;
  }
  const Approved& a = *g.approved;
  const int64_t at = a.fact.audit_index;
  if (a.how == "self_approved" && g.asked.tier != "1") {
    f.emplace_back(at, fmt::format("self-approved at tier {}", g.asked.tier));
  } else if (a.how == "auto_approved" && g.asked.emergency != "true") {
    f.emplace_back(at, "auto-approved without being an emergency request");
  } else if (a.how == "approved") {
    const auto counted = CountedApprovals(g);
    const auto required = Number(g.asked.required_approvals);
    if (!required || static_cast<int64_t>(counted.size()) < *required) {
      f.emplace_back(at, fmt::format("approved with {} counted approvals of {} required",
                                     counted.size(), g.asked.required_approvals));
    }
  }
  for (const Decision& d : g.approvals) {
    if (d.fact.actor == g.asked.fact.actor) {
      f.emplace_back(d.fact.audit_index, "approved by its own requester");
    }
  }
  return f;
}

Findings CheckMfaConfirmed(const GrantRecord& g) {
  Findings f;
  if (g.approved && g.approved->how == "approved") {
    for (const Decision* d : CountedApprovals(g)) {
      const int64_t at = d->fact.audit_index;
      if (d->mfa.empty()) {
        f.emplace_back(at, fmt::format("the approval by {} does not say how MFA was confirmed",
                                       d->fact.actor));
      } else if (d->mfa == "session") {
        const auto age = d->MfaAge();
        if (!age || !d->mfa_max_age || *age > *d->mfa_max_age) {
          f.emplace_back(
              at, fmt::format("the approval by {} rests on MFA {} old (the rule allows {})",
                              d->fact.actor, age ? fmt::format("{}s", *age) : "of unknown age",
                              d->mfa_max_age ? fmt::format("{}s", *d->mfa_max_age) : "none"));
        }
      }
    }
    return f;
  }
  if (!g.asked.mfa_verified_at) {
    f.emplace_back(g.asked.fact.audit_index,
                   "the request does not say when its requester last passed MFA");
  }
  return f;
}

Findings CheckTimeLimited(const GrantRecord& g) {
  Findings f;
  const auto ends = g.EndsAt();
  if (!ends) {
    f.emplace_back(g.granted.fact.audit_index, "the grant has no end time");
    return f;
  }
  if (!g.ended) {
    f.emplace_back(
        g.granted.fact.audit_index,
        fmt::format("still active at the checkpoint (ends at {})", FormatRfc3339(*ends)));
  } else if (g.ended->fact.time > *ends + kEvidenceEndGrace) {
    f.emplace_back(g.ended->fact.audit_index,
                   fmt::format("ended {}s after its end time {}",
                               (g.ended->fact.time - *ends).count(), FormatRfc3339(*ends)));
  }
  if (g.ended) {
    const ConnectorCall* last = nullptr;
    for (const ConnectorCall& c : g.connector_calls) {
      if (c.job == "revoke" && c.fact.audit_index > g.ended->fact.audit_index) last = &c;
    }
    if (last == nullptr) {
      f.emplace_back(g.ended->fact.audit_index,
                     "no revocation on the target system is recorded after the end");
    } else if (last->outcome != "ok") {
      f.emplace_back(last->fact.audit_index,
                     fmt::format("the last revocation on {} did not succeed (attempt {}, {}: {})",
                                 last->connector, last->attempt, last->outcome, last->error));
    }
  }
  for (const Credential& c : g.credentials) {
    if (c.valid_before && *c.valid_before > *ends + kEvidenceEndGrace) {
      f.emplace_back(c.fact.audit_index,
                     fmt::format("{} {}valid until {}, after the grant's end {}", c.type,
                                 c.serial.empty() ? "" : "serial " + c.serial + " ",
                                 FormatRfc3339(*c.valid_before), FormatRfc3339(*ends)));
    }
  }
  return f;
}

Findings CheckAttributable(const GrantRecord& g) {
  Findings f;
  const std::string& who = g.asked.fact.actor;
  auto named = [&f](const Fact& fact) {
    if (fact.actor.empty()) f.emplace_back(fact.audit_index, "an entry names no actor");
  };
  named(g.asked.fact);
  for (const Decision& d : g.approvals) named(d.fact);
  for (const Credential& c : g.credentials) {
    named(c.fact);
    if (!c.fact.actor.empty() && c.fact.actor != who) {
      f.emplace_back(c.fact.audit_index,
                     fmt::format("{} handed to {}, not the requester", c.type, c.fact.actor));
    }
  }
  for (const Session& s : g.sessions) {
    named(s.started);
    if (!s.started.actor.empty() && s.started.actor != who) {
      f.emplace_back(
          s.started.audit_index,
          fmt::format("session {} recorded for {}, not the requester", s.id, s.started.actor));
    }
    for (size_t i = 0; i < s.chunks.size(); ++i) {
      if (s.chunks[i].seq != std::to_string(i)) {
        f.emplace_back(s.chunks[i].audit_index,
                       fmt::format("session {}: chunk {} is missing or out of order", s.id, i));
        break;
      }
    }
    if (!s.ended) {
      f.emplace_back(s.started.audit_index, fmt::format("session {} has no end in the log", s.id));
    } else if (s.ended->chunks != std::to_string(s.chunks.size())) {
      f.emplace_back(s.ended->fact.audit_index,
                     fmt::format("session {} ended with {} chunks; the log has {}", s.id,
                                 s.ended->chunks, s.chunks.size()));
    }
  }
  return f;
}

Findings CheckReviewed(const GrantRecord& g) {
  Findings f;
  if (!g.review) {
    f.emplace_back(g.ended ? g.ended->fact.audit_index : g.granted.fact.audit_index,
                   "no review recorded");
    return f;
  }
  const ReviewFacts& r = *g.review;
  for (const Verdict& v : r.verdicts) {
    if (v.verdict == "inappropriate") {
      f.emplace_back(v.fact.audit_index,
                     fmt::format("{} found it inappropriate: {}", v.fact.actor, v.findings));
    }
  }
  if (!r.closed) {
    f.emplace_back(
        r.overdue ? r.overdue->fact.audit_index : r.opened.audit_index,
        fmt::format("review {} {} (due {}, {} of {} verdicts)", r.id,
                    r.overdue ? "overdue" : "open", r.due_at ? FormatRfc3339(*r.due_at) : "?",
                    r.verdicts.size(), r.reviewers_needed));
  }
  return f;
}

struct CheckDef {
  const char* name;
  const char* title;
  Findings (*run)(const GrantRecord&);
};

constexpr CheckDef kChecks[] = {
    {"justified", "the request gives a reason and a ticket", CheckJustified},
    {"approved",
     "approved as its rule requires before it was granted (M of N approvers, a tier-1 "
     "self-approval, or an emergency auto-approval)",
     CheckApproved},
    {"identity_confirmed",
     "every counted approver passed MFA, fresh enough for the rule; for "
     "self- and auto-approvals, the requester's last MFA is recorded",
     CheckMfaConfirmed},
    {"time_limited",
     "the grant ended by itself or was revoked, no later than its end time "
     "(+60 s), the target system then revoked it, and no credential outlives it",
     CheckTimeLimited},
    {"attributable",
     "every fact names who acted; credentials and sessions are the requester's; "
     "sessions are complete (every chunk digest, an end)",
     CheckAttributable},
    {"reviewed", "a post-incident review closed with no inappropriate verdict", CheckReviewed},
};

struct ControlDef {
  const char* framework;
  const char* id;
  const char* item;
  std::vector<std::string> checks;
  bool emergency_only;
  std::function<std::string(const std::map<std::string, int64_t>&, const EvidenceContext&)>
      evidence;
};

std::map<std::string, int64_t> Counts(const std::vector<GrantRecord>& grants,
                                      const EvidenceContext& c) {
  std::map<std::string, int64_t> n = {{"grants", 0},
                                      {"emergency", 0},
                                      {"approved", 0},
                                      {"self_approved", 0},
                                      {"auto_approved", 0},
                                      {"approvals", 0},
                                      {"expired", 0},
                                      {"revoked", 0},
                                      {"active", 0},
                                      {"revocations_ok", 0},
                                      {"credentials", 0},
                                      {"sessions", 0},
                                      {"session_chunks", 0},
                                      {"reviews_closed", 0},
                                      {"reviews_open", 0},
                                      {"reviews_none", 0},
                                      {"verdicts_appropriate", 0},
                                      {"verdicts_appropriate_with_findings", 0},
                                      {"verdicts_inappropriate", 0}};
  for (const GrantRecord& g : grants) {
    n["grants"]++;
    if (IsEmergency(g)) n["emergency"]++;
    if (g.approved) n[g.approved->how]++;
    n["approvals"] += static_cast<int64_t>(g.approvals.size());
    n[g.ended ? g.ended->how : "active"]++;
    n["credentials"] += static_cast<int64_t>(g.credentials.size());
    if (g.ended && std::any_of(g.connector_calls.begin(), g.connector_calls.end(),
                               [&g](const ConnectorCall& call) {
                                 return call.job == "revoke" && call.outcome == "ok" &&
                                        call.fact.audit_index > g.ended->fact.audit_index;
                               })) {
      n["revocations_ok"]++;
    }
    n["sessions"] += static_cast<int64_t>(g.sessions.size());
    for (const Session& s : g.sessions)
      n["session_chunks"] += static_cast<int64_t>(s.chunks.size());
    n[!g.review ? "reviews_none" : g.review->closed ? "reviews_closed" : "reviews_open"]++;
    if (g.review) {
      for (const Verdict& v : g.review->verdicts) n["verdicts_" + v.verdict]++;
    }
  }
  n["cited_entries"] = c.cited_entries;
  return n;
}

std::vector<ControlDef> Controls() {
  using N = std::map<std::string, int64_t>;
  auto at = [](const N& n, const char* k) {
    auto it = n.find(k);
    return it == n.end() ? int64_t{0} : it->second;
  };
  return {
      {"PCI DSS 4.0",
       "8.2.2",
       "used only for an exceptional circumstance",
       {"approved"},
       false,
       [at](const N& n, const EvidenceContext&) {
         return fmt::format(
             "{} grants, each one named person's request for one privilege on one "
             "resource; no standing access ({} emergency)",
             at(n, "grants"), at(n, "emergency"));
       }},
      {"PCI DSS 4.0",
       "8.2.2",
       "use limited to the time needed",
       {"time_limited"},
       false,
       [at](const N& n, const EvidenceContext&) {
         return fmt::format(
             "every grant has an end time: {} expired by themselves, {} were "
             "revoked, {} still active at the checkpoint",
             at(n, "expired"), at(n, "revoked"), at(n, "active"));
       }},
      {"PCI DSS 4.0",
       "8.2.2",
       "business justification documented",
       {"justified"},
       false,
       [at](const N& n, const EvidenceContext&) {
         return fmt::format("reason and ticket recorded with each of the {} requests",
                            at(n, "grants"));
       }},
      {"PCI DSS 4.0",
       "8.2.2",
       "use explicitly approved",
       {"approved"},
       false,
       [at](const N& n, const EvidenceContext&) {
         return fmt::format(
             "{} approved by the required number of approvers, {} self-approved "
             "under tier-1 rules, {} emergency auto-approvals (security contacts "
             "alerted)",
             at(n, "approved"), at(n, "self_approved"), at(n, "auto_approved"));
       }},
      {"PCI DSS 4.0",
       "8.2.2",
       "individual identity confirmed before access",
       {"identity_confirmed"},
       false,
       [at](const N& n, const EvidenceContext&) {
         return fmt::format("{} approvals, each recording how and when its approver passed MFA",
                            at(n, "approvals"));
       }},
      {"PCI DSS 4.0",
       "8.2.2",
       "every action attributable to an individual",
       {"attributable"},
       false,
       [at](const N& n, const EvidenceContext&) {
         return fmt::format(
             "every fact names its actor; {} credentials issued to their "
             "requesters; {} sessions recorded with {} chunk digests",
             at(n, "credentials"), at(n, "sessions"), at(n, "session_chunks"));
       }},
      {"NIST SP 800-53",
       "AC-2(2)",
       "temporary and emergency access removed automatically",
       {"time_limited"},
       false,
       [at](const N& n, const EvidenceContext&) {
         return fmt::format(
             "{} grants expired at their end by the system, {} were revoked "
             "earlier, {} still active; the target system confirmed the "
             "revocation of {}",
             at(n, "expired"), at(n, "revoked"), at(n, "active"), at(n, "revocations_ok"));
       }},
      {"NIST SP 800-53",
       "AU-9(3)",
       "cryptographic protection of audit information",
       {},
       false,
       [at](const N& n, const EvidenceContext& c) {
         return fmt::format(
             "each of the {} cited entries has an RFC 9162 inclusion proof to the "
             "checkpoint \"{}\" of size {}, signed with Ed25519 key {}; `breakglass "
             "audit verify --report DIR` checks them offline",
             at(n, "cited_entries"), c.checkpoint.origin, c.checkpoint.size, c.key_name);
       }},
      {"NIST SP 800-53",
       "AU-10",
       "non-repudiation",
       {"attributable", "identity_confirmed"},
       false,
       [at](const N& n, const EvidenceContext&) {
         return fmt::format(
             "every decision and action is a signed log entry naming its actor: "
             "{} approvals with MFA, {} credentials, {} sessions",
             at(n, "approvals"), at(n, "credentials"), at(n, "sessions"));
       }},
      {"HIPAA",
       "164.312(a)(2)(ii)",
       "emergency access procedure",
       {"justified", "approved", "time_limited", "reviewed"},
       true,
       [at](const N& n, const EvidenceContext&) {
         return fmt::format(
             "{} emergency grants, each requested with a reason, approved under an "
             "emergency rule (security contacts alerted), limited in time and "
             "reviewed afterwards",
             at(n, "emergency"));
       }},
      {"breakglass",
       "review",
       "post-incident review of every grant",
       {"reviewed"},
       false,
       [at](const N& n, const EvidenceContext&) {
         return fmt::format(
             "{} reviews closed, {} open, {} grants without a review; verdicts: {} "
             "appropriate, {} with findings, {} inappropriate",
             at(n, "reviews_closed"), at(n, "reviews_open"), at(n, "reviews_none"),
             at(n, "verdicts_appropriate"), at(n, "verdicts_appropriate_with_findings"),
             at(n, "verdicts_inappropriate"));
       }},
  };
}

int64_t ControlExceptions(const ControlDef& c, const std::vector<CheckResult>& checks) {
  int64_t n = 0;
  for (const CheckResult& r : checks) {
    if (std::find(c.checks.begin(), c.checks.end(), r.name) == c.checks.end()) continue;
    n += c.emergency_only ? r.emergency_exceptions : static_cast<int64_t>(r.exceptions.size());
  }
  return n;
}

Json TimeOrNull(const std::optional<Timestamp>& t) {
  return t ? Json(FormatRfc3339(*t)) : Json(nullptr);
}

// Dynamic text in Markdown (never at the start of a line): the characters that could make code,
// emphasis, a link, HTML or a table cell out of it escaped, line breaks as spaces. Underscores
// inside words (request ids) cannot start emphasis and are left alone.
std::string Md(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '\n' || c == '\r') {
      out += ' ';
      continue;
    }
    const bool word_inside = c == '_' && i > 0 && i + 1 < s.size() &&
                             std::isalnum(static_cast<unsigned char>(s[i - 1])) != 0 &&
                             std::isalnum(static_cast<unsigned char>(s[i + 1])) != 0;
    if (!word_inside && std::string_view("\\`*_[]<>|~").find(c) != std::string_view::npos) {
      out += '\\';
    }
    out += c;
  }
  return out;
}

constexpr size_t kMarkdownExceptionsPerCheck = 50;

}  // namespace

std::vector<CheckResult> RunEvidenceChecks(const std::vector<GrantRecord>& grants) {
  std::vector<CheckResult> out;
  for (const CheckDef& def : kChecks) {
    CheckResult r;
    r.name = def.name;
    r.title = def.title;
    for (const GrantRecord& g : grants) {
      Findings f = def.run(g);
      const bool emergency = IsEmergency(g);
      if (f.empty()) {
        r.passed++;
        if (emergency) r.emergency_passed++;
        continue;
      }
      if (emergency) r.emergency_exceptions++;
      for (auto& [index, why] : f) r.exceptions.push_back(CheckException{g.request, index, why});
    }
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<ControlStatus> EvaluateControls(const std::vector<GrantRecord>& grants) {
  const auto checks = RunEvidenceChecks(grants);
  std::vector<ControlStatus> out;
  for (const ControlDef& def : Controls()) {
    out.push_back(ControlStatus{def.framework, def.id, def.item, ControlExceptions(def, checks)});
  }
  return out;
}

std::string SummaryJson(const std::vector<GrantRecord>& grants, const EvidenceContext& c) {
  const auto checks = RunEvidenceChecks(grants);
  const auto counts = Counts(grants, c);
  Json j;
  j["format"] = "breakglass-evidence";
  j["version"] = 1;
  j["generated"] = {{"at", c.generated_at}, {"source", c.source}, {"log_size", c.log_size}};
  j["window"] = {{"since", TimeOrNull(c.window.since)}, {"until", TimeOrNull(c.window.until)}};
  j["checkpoint"] = {{"origin", c.checkpoint.origin},
                     {"size", c.checkpoint.size},
                     {"root", Base64Encode(c.checkpoint.root)},
                     {"key", c.key_name}};
  j["counts"] = counts;
  Json jc = Json::object();
  for (const CheckResult& r : checks) {
    Json ex = Json::array();
    for (const CheckException& e : r.exceptions) {
      ex.push_back({{"request", e.request}, {"audit_index", e.audit_index}, {"why", e.why}});
    }
    jc[r.name] = {{"title", r.title},
                  {"passed", r.passed},
                  {"emergency_passed", r.emergency_passed},
                  {"grants_with_exceptions", static_cast<int64_t>(grants.size()) - r.passed},
                  {"emergency_with_exceptions", r.emergency_exceptions},
                  {"exceptions", ex}};
  }
  j["checks"] = jc;
  Json controls = Json::array();
  for (const ControlDef& def : Controls()) {
    const int64_t n = ControlExceptions(def, checks);
    controls.push_back({{"framework", def.framework},
                        {"id", def.id},
                        {"requirement", def.item},
                        {"checks", def.checks},
                        {"scope", def.emergency_only ? "emergency grants" : "all grants"},
                        {"status", n == 0 ? "met" : "exceptions"},
                        {"grants_with_exceptions", n},
                        {"evidence", def.evidence(counts, c)}});
  }
  j["controls"] = controls;
  return j.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

std::string SummaryMarkdown(const std::vector<GrantRecord>& grants, const EvidenceContext& c) {
  const auto checks = RunEvidenceChecks(grants);
  const auto counts = Counts(grants, c);
  auto count = [&counts](const char* k) { return counts.at(k); };
  std::string md;
  md += "# Evidence of privileged access\n\n";
  md += fmt::format("- Window: {} to {} (grants in use at any time in it)\n",
                    c.window.since ? FormatRfc3339(*c.window.since) : "the log's start",
                    c.window.until ? FormatRfc3339(*c.window.until) : "the checkpoint");
  md += fmt::format("- Log: checkpoint \"{}\", size {}, root `{}`, signed by `{}`\n",
                    Md(c.checkpoint.origin), c.checkpoint.size, Base64Encode(c.checkpoint.root),
                    Md(c.key_name));
  md += fmt::format(
      "- Made {} from {} (log size then {}; entries after the checkpoint are not "
      "read)\n",
      Md(c.generated_at), Md(c.source), c.log_size);
  md += fmt::format(
      "- {} grants ({} emergency), {} cited entries, each with its inclusion "
      "proof in proofs.jsonl\n",
      count("grants"), count("emergency"), count("cited_entries"));
  md += "- Verify offline: `breakglass audit verify --report DIR --key KEYFILE`\n\n";

  md +=
      "## Controls\n\n| framework | control | requirement | status | grants with exceptions | "
      "evidence |\n| --- | --- | --- | --- | --- | --- |\n";
  for (const ControlDef& def : Controls()) {
    const int64_t n = ControlExceptions(def, checks);
    md += fmt::format("| {} | {} | {} | {} | {} | {} |\n", def.framework, Md(def.id), Md(def.item),
                      n == 0 ? "met" : "**exceptions**", n, Md(def.evidence(counts, c)));
  }
  md +=
      "\n## Checks\n\n| check | what it holds every grant to | passed | exceptions |\n"
      "| --- | --- | --- | --- |\n";
  for (const CheckResult& r : checks) {
    md += fmt::format("| {} | {} | {} | {} |\n", Md(r.name), Md(r.title), r.passed,
                      static_cast<int64_t>(grants.size()) - r.passed);
  }
  for (const CheckResult& r : checks) {
    if (r.exceptions.empty()) continue;
    md += fmt::format("\n### Exceptions: {}\n\n", Md(r.name));
    for (size_t i = 0; i < r.exceptions.size() && i < kMarkdownExceptionsPerCheck; ++i) {
      const CheckException& e = r.exceptions[i];
      md += fmt::format("- {} (entry {}): {}\n", Md(e.request), e.audit_index, Md(e.why));
    }
    if (r.exceptions.size() > kMarkdownExceptionsPerCheck) {
      md += fmt::format("- ... and {} more (summary.json lists them all)\n",
                        r.exceptions.size() - kMarkdownExceptionsPerCheck);
    }
  }
  return md;
}

}  // namespace bg::audit
