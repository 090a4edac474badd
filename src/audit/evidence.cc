#include "audit/evidence.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <nlohmann/json.hpp>

#include "util/encoding.h"

namespace bg::audit {
namespace {

using Json = nlohmann::json;

constexpr std::array<std::string_view, 25> kTypes = {
    "request.created", "approval.recorded", "denial.recorded", "request.approval_withdrawn",
    "request.approved", "request.self_approved", "request.auto_approved", "request.activated",
    "request.extended", "ssh.cert_issued", "credential.taken", "session.started", "session.chunk",
    "session.ended", "request.expired", "request.revoked", "review.opened", "review.verdict",
    "review.closed", "review.overdue", "connector.grant", "connector.revoke",
    // Read only to forget a request that ended without a grant; never cited.
    "request.denied", "request.cancelled", "request.timed_out"};

const std::string& Get(const LeafEvent& e, const std::string& key) {
  static const std::string kEmpty;
  auto it = e.details.find(key);
  return it == e.details.end() ? kEmpty : it->second;
}

std::optional<Timestamp> TimeDetail(const LeafEvent& e, const std::string& key) {
  const std::string& v = Get(e, key);
  if (v.empty()) return std::nullopt;
  auto t = ParseRfc3339(v);
  if (!t) return std::nullopt;
  return *t;
}

// A canonical non-negative decimal ("0", "17"; no sign, no leading zero, at most 18 digits).
std::optional<int64_t> Canonical(std::string_view s) {
  if (s.empty() || s.size() > 18 || (s.size() > 1 && s[0] == '0')) return std::nullopt;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

Fact FactOf(int64_t index, const LeafEvent& e) { return Fact{index, e.time, e.actor}; }

Decision DecisionOf(int64_t index, const LeafEvent& e, bool approval) {
  Decision d;
  d.fact = FactOf(index, e);
  if (approval) {
    d.for_what = Get(e, "for");
    d.comment = Get(e, "comment");
    d.mfa = Get(e, "mfa");
    d.mfa_verified_at = TimeDetail(e, "mfa_verified_at");
    d.mfa_max_age = Canonical(Get(e, "mfa_max_age"));
  } else {
    d.comment = Get(e, "reason");
  }
  return d;
}

Session* FindSession(GrantRecord& r, const std::string& id) {
  for (Session& s : r.sessions) {
    if (s.id == id) return &s;
  }
  return nullptr;
}

// ---- JSON ----

Json TimeJson(const std::optional<Timestamp>& t) {
  return t ? Json(FormatRfc3339(*t)) : Json(nullptr);
}

// Details are strings in the log; counts and durations read as numbers when they are plainly
// written as such, and the string as it is otherwise.
Json NumberOr(const std::string& s) {
  if (auto v = Canonical(s)) return *v;
  return s;
}

Json BoolOr(const std::string& s) {
  if (s == "true") return true;
  if (s == "false") return false;
  return s;
}

Json List(const std::string& comma_separated) {
  Json out = Json::array();
  size_t start = 0;
  while (!comma_separated.empty() && start <= comma_separated.size()) {
    size_t end = comma_separated.find(',', start);
    if (end == std::string::npos) end = comma_separated.size();
    out.push_back(comma_separated.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

Json FactJson(const Fact& f) {
  return Json{{"audit_index", f.audit_index}, {"time", FormatRfc3339(f.time)}, {"actor", f.actor}};
}

template <typename T, typename F>
Json Array(const std::vector<T>& items, F&& each) {
  Json out = Json::array();
  for (const T& item : items) out.push_back(each(item));
  return out;
}

template <typename T, typename F>
Json Optional(const std::optional<T>& item, F&& each) {
  return item ? each(*item) : Json(nullptr);
}

Json AskedJson(const Asked& a) {
  Json j = FactJson(a.fact);
  j["resource"] = a.resource;
  j["privilege"] = a.privilege;
  j["tier"] = NumberOr(a.tier);
  j["duration_seconds"] = NumberOr(a.duration);
  j["reason"] = a.reason;
  j["ticket"] = a.ticket;
  j["source_address"] = a.source_address;
  j["emergency"] = BoolOr(a.emergency);
  j["drill"] = a.drill.empty() ? Json(nullptr) : Json(a.drill);
  j["pool"] = a.pool;
  j["required_approvals"] = NumberOr(a.required_approvals);
  j["risk_signals"] = List(a.risk_signals);
  j["mfa_verified_at"] = TimeJson(a.mfa_verified_at);
  j["mfa_age_seconds"] =
      a.mfa_verified_at ? Json((a.fact.time - *a.mfa_verified_at).count()) : Json(nullptr);
  return j;
}

Json DecisionJson(const Decision& d) {
  Json j = FactJson(d.fact);
  j["for"] = d.for_what;
  j["comment"] = d.comment;
  j["mfa"] = d.mfa;
  j["mfa_verified_at"] = TimeJson(d.mfa_verified_at);
  j["mfa_max_age_seconds"] = d.mfa_max_age ? Json(*d.mfa_max_age) : Json(nullptr);
  j["mfa_age_seconds"] = d.MfaAge() ? Json(*d.MfaAge()) : Json(nullptr);
  return j;
}

Json DenialJson(const Decision& d) {
  Json j = FactJson(d.fact);
  j["reason"] = d.comment;
  return j;
}

Json CredentialJson(const Credential& c) {
  Json j = FactJson(c.fact);
  j["type"] = c.type;
  j["connector"] = c.connector;
  j["serial"] = c.serial;
  j["key_fingerprint"] = c.key_fingerprint;
  j["principals"] = List(c.principals);
  j["valid_after"] = TimeJson(c.valid_after);
  j["valid_before"] = TimeJson(c.valid_before);
  j["source_address"] = c.source_address;
  return j;
}

Json SessionJson(const Session& s) {
  Json j = FactJson(s.started);
  j["session"] = s.id;
  j["command"] = s.command;
  j["header_sha256"] = s.header_sha256;
  j["chunks"] = Array(s.chunks, [](const Chunk& c) {
    return Json{{"audit_index", c.audit_index},
                {"seq", NumberOr(c.seq)},
                {"sha256", c.sha256},
                {"bytes", NumberOr(c.bytes)}};
  });
  j["ended"] = Optional(s.ended, [](const SessionEnd& e) {
    Json k = FactJson(e.fact);
    k["ended_at"] = TimeJson(e.ended_at);
    k["end_reason"] = e.end_reason;
    k["chunks"] = NumberOr(e.chunks);
    k["bytes"] = NumberOr(e.bytes);
    return k;
  });
  return j;
}

Json ReviewJson(const ReviewFacts& r) {
  Json j = FactJson(r.opened);
  j["review"] = r.id;
  j["trigger"] = r.trigger;
  j["granted_by"] = r.granted_by;
  j["due_at"] = TimeJson(r.due_at);
  j["reviewers_needed"] = NumberOr(r.reviewers_needed);
  j["verdicts"] = Array(r.verdicts, [](const Verdict& v) {
    Json k = FactJson(v.fact);
    k["verdict"] = v.verdict;
    k["findings"] = v.findings;
    k["follow_up_ticket"] = v.follow_up_ticket;
    return k;
  });
  j["closed"] = Optional(r.closed, [](const ReviewMark& m) {
    Json k = FactJson(m.fact);
    k["inappropriate"] = BoolOr(m.inappropriate);
    k["late"] = BoolOr(m.late);
    return k;
  });
  j["overdue"] = Optional(r.overdue, [](const ReviewMark& m) { return FactJson(m.fact); });
  return j;
}

// ---- CSV ----

std::string Cell(std::string s) {
  // A cell a spreadsheet would evaluate (=, +, -, @, or a leading tab or CR) is kept as text.
  if (!s.empty() && std::string_view("=+-@\t\r").find(s[0]) != std::string_view::npos) {
    s.insert(s.begin(), '\'');
  }
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string Index(int64_t i) { return std::to_string(i); }
std::string TimeText(const std::optional<Timestamp>& t) { return t ? FormatRfc3339(*t) : ""; }

template <typename T, typename F>
std::string Joined(const std::vector<T>& items, F&& each) {
  std::string out;
  for (const T& item : items) {
    if (!out.empty()) out += "; ";
    out += each(item);
  }
  return out;
}

// "ok #17": the outcome of the target's last revocation, "" when none is recorded.
std::string LastRevocation(const GrantRecord& g) {
  for (auto it = g.connector_calls.rbegin(); it != g.connector_calls.rend(); ++it) {
    if (it->job == "revoke") return fmt::format("{} #{}", it->outcome, it->fact.audit_index);
  }
  return "";
}

}  // namespace

std::optional<int64_t> Decision::MfaAge() const {
  if (!mfa_verified_at) return std::nullopt;
  return (fact.time - *mfa_verified_at).count();
}

std::optional<Timestamp> GrantRecord::EndsAt() const {
  for (auto it = extensions.rbegin(); it != extensions.rend(); ++it) {
    if (it->ends_at) return it->ends_at;
  }
  return granted.ends_at;
}

std::vector<int64_t> GrantRecord::CitedIndices() const {
  std::vector<int64_t> out = {asked.fact.audit_index, granted.fact.audit_index};
  auto facts = [&out](const auto& items) {
    for (const auto& item : items) out.push_back(item.fact.audit_index);
  };
  facts(approvals);
  facts(denials);
  facts(withdrawals);
  facts(extensions);
  facts(credentials);
  facts(connector_calls);
  if (approved) out.push_back(approved->fact.audit_index);
  if (ended) out.push_back(ended->fact.audit_index);
  for (const Session& s : sessions) {
    out.push_back(s.started.audit_index);
    for (const Chunk& c : s.chunks) out.push_back(c.audit_index);
    if (s.ended) out.push_back(s.ended->fact.audit_index);
  }
  if (review) {
    out.push_back(review->opened.audit_index);
    facts(review->verdicts);
    if (review->closed) out.push_back(review->closed->fact.audit_index);
    if (review->overdue) out.push_back(review->overdue->fact.audit_index);
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool IsEvidenceEventType(std::string_view type) {
  return std::find(kTypes.begin(), kTypes.end(), type) != kTypes.end();
}

bool EvidenceBuilder::OutsideWindow(const Pending& p) const {
  const GrantRecord& r = p.record;
  if (window_.until && r.granted.fact.time >= *window_.until) return true;
  return window_.since && r.ended && r.ended->fact.time < *window_.since;
}

bool EvidenceBuilder::Apply(Pending& p, int64_t index, const LeafEvent& e) {
  GrantRecord& r = p.record;
  const std::string& t = e.type;
  if (t == "approval.recorded") {
    r.approvals.push_back(DecisionOf(index, e, true));
  } else if (t == "denial.recorded") {
    r.denials.push_back(DecisionOf(index, e, false));
  } else if (t == "request.approval_withdrawn") {
    r.withdrawals.push_back(Withdrawal{FactOf(index, e), Get(e, "approver"), Get(e, "reason")});
  } else if (t == "request.approved" || t == "request.self_approved" ||
             t == "request.auto_approved") {
    if (r.approved) return false;
    r.approved = Approved{FactOf(index, e), t.substr(t.find('.') + 1), Get(e, "alerted")};
  } else if (t == "request.activated") {
    if (p.granted) return false;
    p.granted = true;
    r.granted = Granted{FactOf(index, e), TimeDetail(e, "starts_at"), TimeDetail(e, "ends_at")};
  } else if (t == "request.extended") {
    r.extensions.push_back(
        Extension{FactOf(index, e), Get(e, "added"), Get(e, "reason"), TimeDetail(e, "ends_at")});
  } else if (t == "ssh.cert_issued" || t == "credential.taken") {
    r.credentials.push_back(Credential{FactOf(index, e), t, Get(e, "connector"), Get(e, "serial"),
                                       Get(e, "key_fingerprint"), Get(e, "principals"),
                                       Get(e, "source_address"), TimeDetail(e, "valid_after"),
                                       TimeDetail(e, "valid_before")});
  } else if (t == "connector.grant" || t == "connector.revoke") {
    r.connector_calls.push_back(ConnectorCall{FactOf(index, e), t.substr(t.find('.') + 1),
                                              Get(e, "connector"), Get(e, "attempt"),
                                              Get(e, "outcome"), Get(e, "error")});
  } else if (t == "session.started") {
    if (Get(e, "session").empty() || FindSession(r, Get(e, "session")) != nullptr) return false;
    r.sessions.push_back(Session{Get(e, "session"),
                                 FactOf(index, e),
                                 Get(e, "command"),
                                 Get(e, "header_sha256"),
                                 {},
                                 std::nullopt});
  } else if (t == "session.chunk" || t == "session.ended") {
    Session* s = FindSession(r, Get(e, "session"));
    if (s == nullptr || s->ended) return false;
    if (t == "session.chunk") {
      s->chunks.push_back(Chunk{index, Get(e, "seq"), Get(e, "sha256"), Get(e, "bytes")});
    } else {
      s->ended = SessionEnd{FactOf(index, e), Get(e, "chunks"), Get(e, "bytes"),
                            Get(e, "end_reason"), TimeDetail(e, "ended_at")};
    }
  } else if (t == "request.expired" || t == "request.revoked") {
    if (r.ended) return false;
    r.ended = Ended{FactOf(index, e), t.substr(t.find('.') + 1), Get(e, "reason"), Get(e, "cause"),
                    TimeDetail(e, "review_due")};
  } else if (t == "review.opened") {
    if (r.review || Get(e, "review").empty()) return false;
    ReviewFacts rv;
    rv.id = Get(e, "review");
    rv.opened = FactOf(index, e);
    rv.trigger = Get(e, "trigger");
    rv.granted_by = Get(e, "granted_by");
    rv.reviewers_needed = Get(e, "reviewers_needed");
    rv.due_at = TimeDetail(e, "due_at");
    r.review = std::move(rv);
  } else if (t == "review.verdict" || t == "review.closed" || t == "review.overdue") {
    if (!r.review || r.review->id != Get(e, "review")) return false;
    if (t == "review.verdict") {
      r.review->verdicts.push_back(Verdict{FactOf(index, e), Get(e, "verdict"), Get(e, "findings"),
                                           Get(e, "follow_up_ticket")});
    } else {
      std::optional<ReviewMark>& mark = t == "review.closed" ? r.review->closed : r.review->overdue;
      if (mark) return false;
      mark = ReviewMark{FactOf(index, e), Get(e, "inappropriate"), Get(e, "late")};
    }
  } else {
    return false;
  }
  return true;
}

void EvidenceBuilder::Add(int64_t index, const LeafEvent& e, std::string_view leaf) {
  if (!e.request || !IsEvidenceEventType(e.type)) return;
  const std::string& id = e.request->value();
  if (dropped_.count(id) != 0) return;
  auto it = pending_.find(id);
  if (e.type == "request.created") {
    if (it != pending_.end()) return;
    Pending p;
    GrantRecord& r = p.record;
    r.request = id;
    Asked& a = r.asked;
    a.fact = FactOf(index, e);
    a.resource = Get(e, "resource");
    a.privilege = Get(e, "privilege");
    a.tier = Get(e, "tier");
    a.duration = Get(e, "duration");
    a.reason = Get(e, "reason");
    a.ticket = Get(e, "ticket");
    a.source_address = Get(e, "source_address");
    a.emergency = Get(e, "emergency");
    a.drill = Get(e, "drill");
    a.pool = Get(e, "pool");
    a.required_approvals = Get(e, "required_approvals");
    a.risk_signals = Get(e, "risk_signals");
    a.mfa_verified_at = TimeDetail(e, "mfa_verified_at");
    p.leaves.emplace_back(index, keep_leaves_ ? std::string(leaf) : std::string());
    pending_.emplace(id, std::move(p));
    return;
  }
  if (it == pending_.end()) return;
  Pending& p = it->second;
  const bool ends_ungranted =
      !p.granted &&
      (e.type == "request.denied" || e.type == "request.cancelled" ||
       e.type == "request.timed_out" || e.type == "request.expired" || e.type == "request.revoked");
  if (ends_ungranted) {
    pending_.erase(it);
    dropped_.insert(id);
    return;
  }
  if (!Apply(p, index, e)) return;
  p.leaves.emplace_back(index, keep_leaves_ ? std::string(leaf) : std::string());
  if (p.granted && OutsideWindow(p)) {
    pending_.erase(it);
    dropped_.insert(id);
  }
}

EvidenceBuilder::Output EvidenceBuilder::Finish() && {
  Output out;
  for (auto& [id, p] : pending_) {
    if (!p.granted) continue;
    out.grants.push_back(std::move(p.record));
    for (auto& leaf : p.leaves) out.leaves.push_back(std::move(leaf));
  }
  pending_.clear();
  std::sort(out.grants.begin(), out.grants.end(), [](const GrantRecord& a, const GrantRecord& b) {
    return a.asked.fact.audit_index < b.asked.fact.audit_index;
  });
  std::sort(out.leaves.begin(), out.leaves.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  return out;
}

std::string GrantJsonLine(const GrantRecord& g) {
  Json j;
  j["request"] = g.request;
  j["requested"] = AskedJson(g.asked);
  j["approval"] = Optional(g.approved, [](const Approved& a) {
    Json k = FactJson(a.fact);
    k["how"] = a.how;
    k["alerted"] = List(a.alerted);
    return k;
  });
  j["approvals"] = Array(g.approvals, DecisionJson);
  j["denials"] = Array(g.denials, DenialJson);
  j["withdrawn_approvals"] = Array(g.withdrawals, [](const Withdrawal& w) {
    Json k = FactJson(w.fact);
    k["approver"] = w.approver;
    k["reason"] = w.reason;
    return k;
  });
  Json granted = FactJson(g.granted.fact);
  granted["starts_at"] = TimeJson(g.granted.starts_at);
  granted["ends_at"] = TimeJson(g.granted.ends_at);
  j["granted"] = granted;
  j["extensions"] = Array(g.extensions, [](const Extension& x) {
    Json k = FactJson(x.fact);
    k["added_seconds"] = NumberOr(x.added);
    k["ends_at"] = TimeJson(x.ends_at);
    k["reason"] = x.reason;
    return k;
  });
  j["ends_at"] = TimeJson(g.EndsAt());
  j["credentials"] = Array(g.credentials, CredentialJson);
  j["sessions"] = Array(g.sessions, SessionJson);
  j["ended"] = Optional(g.ended, [](const Ended& e) {
    Json k = FactJson(e.fact);
    k["how"] = e.how;
    k["reason"] = e.reason;
    k["cause"] = e.cause;
    k["review_due"] = TimeJson(e.review_due);
    return k;
  });
  j["review"] = Optional(g.review, ReviewJson);
  j["connector_calls"] = Array(g.connector_calls, [](const ConnectorCall& c) {
    Json k = FactJson(c.fact);
    k["job"] = c.job;
    k["connector"] = c.connector;
    k["attempt"] = NumberOr(c.attempt);
    k["outcome"] = c.outcome;
    k["error"] = c.error;
    return k;
  });
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string GrantCsvHeader() {
  return "request,requester,requested_at,requested_index,resource,privilege,tier,emergency,"
         "duration_seconds,reason,ticket,risk_signals,approval,approval_index,approvers,"
         "granted_at,granted_index,ends_at,credentials,sessions,ended,ended_at,ended_by,"
         "ended_index,review,review_verdicts,revocation";
}

std::string GrantCsvRow(const GrantRecord& g) {
  const Asked& a = g.asked;
  std::vector<std::string> cells = {
      g.request,
      a.fact.actor,
      FormatRfc3339(a.fact.time),
      Index(a.fact.audit_index),
      a.resource,
      a.privilege,
      a.tier,
      a.emergency,
      a.duration,
      a.reason,
      a.ticket,
      a.risk_signals,
      g.approved ? g.approved->how : "",
      g.approved ? Index(g.approved->fact.audit_index) : "",
      Joined(g.approvals,
             [](const Decision& d) {
               std::string mfa = d.mfa.empty() ? "mfa not recorded" : "mfa " + d.mfa;
               if (d.MfaAge()) mfa += fmt::format(" {}s old", *d.MfaAge());
               return fmt::format("{} at {} ({}) #{}", d.fact.actor, FormatRfc3339(d.fact.time),
                                  mfa, d.fact.audit_index);
             }),
      FormatRfc3339(g.granted.fact.time),
      Index(g.granted.fact.audit_index),
      TimeText(g.EndsAt()),
      Joined(g.credentials,
             [](const Credential& c) {
               std::string s = c.type;
               if (!c.serial.empty()) s += " serial " + c.serial;
               if (c.valid_before) s += " valid until " + FormatRfc3339(*c.valid_before);
               return fmt::format("{} #{}", s, c.fact.audit_index);
             }),
      Joined(g.sessions,
             [](const Session& s) {
               return fmt::format("{} ({} chunks{}) #{}", s.id, s.chunks.size(),
                                  s.ended ? ", ended" : ", not ended", s.started.audit_index);
             }),
      g.ended ? g.ended->how : "still active",
      g.ended ? FormatRfc3339(g.ended->fact.time) : "",
      g.ended ? g.ended->fact.actor : "",
      g.ended ? Index(g.ended->fact.audit_index) : "",
      !g.review           ? "none recorded"
      : g.review->closed  ? "closed"
      : g.review->overdue ? "open, overdue"
                          : "open",
      g.review
          ? Joined(g.review->verdicts,
                   [](const Verdict& v) {
                     return fmt::format("{} {} #{}", v.fact.actor, v.verdict, v.fact.audit_index);
                   })
          : "",
      LastRevocation(g)};
  std::string row;
  for (auto& c : cells) {
    if (!row.empty()) row += ',';
    row += Cell(std::move(c));
  }
  return row;
}

std::string ProofJsonLine(int64_t index, int64_t size, std::string_view leaf,
                          const std::vector<std::string>& hashes) {
  std::string out;
  out.reserve(64 + hashes.size() * 47 + leaf.size() * 4 / 3);
  out += "{\"hashes\":[";
  for (size_t i = 0; i < hashes.size(); ++i) {
    if (i > 0) out += ',';
    out += '"';
    Base64EncodeAppend(hashes[i], out);
    out += '"';
  }
  out += fmt::format("],\"index\":{},\"leaf\":\"", index);
  Base64EncodeAppend(leaf, out);
  out += fmt::format("\",\"size\":{}}}", size);
  return out;
}

void MemoryTree::Append(std::string_view leaf_hash) {
  if (levels_.empty()) levels_.emplace_back();
  levels_[0].append(leaf_hash);
  // Each node that completes a pair completes its parent, as CompactRange::Append does.
  for (size_t level = 0;; ++level) {
    const size_t count = levels_[level].size() / kHashSize;
    if (count % 2 != 0) break;
    std::string parent =
        HashChildren(std::string_view(levels_[level]).substr((count - 2) * kHashSize, kHashSize),
                     std::string_view(levels_[level]).substr((count - 1) * kHashSize, kHashSize));
    if (levels_.size() == level + 1) levels_.emplace_back();
    levels_[level + 1].append(parent);
  }
}

int64_t MemoryTree::size() const {
  return levels_.empty() ? 0 : static_cast<int64_t>(levels_[0].size() / kHashSize);
}

NodeReader MemoryTree::Reader() const {
  return [this](int level, int64_t index) -> Result<std::string> {
    if (level < 0 || static_cast<size_t>(level) >= levels_.size() || index < 0 ||
        static_cast<size_t>(index + 1) * kHashSize > levels_[static_cast<size_t>(level)].size()) {
      return Error::NotFound(fmt::format("no node ({}, {}) in the tree", level, index));
    }
    return levels_[static_cast<size_t>(level)].substr(static_cast<size_t>(index) * kHashSize,
                                                      kHashSize);
  };
}

}  // namespace bg::audit
