#include "service/reviews.h"

#include <fmt/format.h>

#include <map>
#include <set>

#include "log/json_log.h"
#include "service/audit_log.h"
#include "service/request_json.h"
#include "service/writer.h"
#include "util/encoding.h"
#include "util/random.h"
#include "util/secret.h"
#include "util/sha256.h"

namespace bg::service {

using nlohmann::json;

namespace {

// Leaf types that record what a connector did or handed out for a grant.
bool IsConnectorAction(std::string_view type) {
  return type.starts_with("connector.") || type.starts_with("ssh.") ||
         type.starts_with("credential.") || type == "session.recording_credential";
}

json VerdictJson(const core::ReviewEntry& e) {
  json v = {{"reviewer", e.reviewer},
            {"verdict", core::ToString(e.verdict)},
            {"findings", e.findings},
            {"at", FormatRfc3339(e.at)}};
  v["follow_up_ticket"] = e.follow_up_ticket.empty() ? json(nullptr) : json(e.follow_up_ticket);
  return v;
}

// What the trail says about each recorded session: the digest of every chunk by sequence.
using LoggedChunks = std::map<std::string, std::map<int64_t, std::string>>;

// The sessions of `request` with whether each stored chunk matches the digest its audit leaf
// logged (and the log has a leaf for each): a recording edited or cut after the fact shows.
Result<json> SessionsJson(store::Store& store, const RequestId& request,
                          const LoggedChunks& logged, bool trail_verified) {
  store::SessionFilter f;
  f.request = request;
  f.limit = 1000;
  BG_ASSIGN_OR_RETURN(auto sessions, store.ListSessions(f));
  json out = json::array();
  for (const store::SessionRecord& s : sessions) {
    std::string problem;
    auto lit = logged.find(s.id.value());
    constexpr int64_t kPage = 256;
    for (int64_t seq = 0; seq < s.chunks && problem.empty(); seq += kPage) {
      BG_ASSIGN_OR_RETURN(auto chunks, store.GetSessionChunks(s.id, seq, kPage));
      for (const store::SessionChunk& c : chunks) {
        const std::string digest = HexEncode(AsBytes(Sha256(c.data)));
        const std::string* in_log = nullptr;
        if (lit != logged.end()) {
          if (auto ci = lit->second.find(c.seq); ci != lit->second.end()) in_log = &ci->second;
        }
        if (in_log == nullptr) {
          problem = fmt::format("chunk {} has no digest in the audit log", c.seq);
        } else if (!ConstantTimeEquals(*in_log, digest)) {
          problem = fmt::format("chunk {} does not match the digest in the audit log", c.seq);
        }
        if (!problem.empty()) break;
      }
    }
    const size_t logged_count = lit == logged.end() ? 0 : lit->second.size();
    if (problem.empty() && static_cast<int64_t>(logged_count) != s.chunks) {
      problem = fmt::format("the audit log has {} chunks, the recording {}", logged_count,
                            s.chunks);
    }
    if (problem.empty() && !trail_verified) problem = "the audit trail itself does not verify";
    json j = {{"id", s.id.value()},
              {"user", s.user},
              {"started_at", FormatRfc3339(s.started_at)},
              {"ended_at", s.ended_at ? json(FormatRfc3339(*s.ended_at)) : json(nullptr)},
              {"complete", s.complete},
              {"chunks", s.chunks},
              {"bytes", s.bytes},
              {"end_reason", s.end_reason},
              {"verified", problem.empty()}};
    if (!problem.empty()) j["problem"] = problem;
    out.push_back(std::move(j));
  }
  return out;
}

}  // namespace

Reviews::Reviews(store::Store& store, Writer& writer, const Clock& clock, Effects& effects,
                 AuditLog& audit)
    : store_(store),
      writer_(writer),
      clock_(clock),
      effects_(effects),
      audit_(audit),
      watch_([this] {
        auto n = EscalateOverdue();
        if (!n) {
          log::Warn("review.escalation_failed", {{"error", n.error().ToString()}});
        } else if (*n > 0) {
          log::Info("review.escalated", {{"reviews", std::to_string(*n)}});
        }
      }) {}

Reviews::~Reviews() { Stop(); }

Status Reviews::CheckReader(const core::Actor& actor) const {
  if (actor.recording_grant) {
    return Error::PermissionDenied("a recording credential can only record its grant's sessions");
  }
  if (!actor.Has(core::Role::kAuditor) && !actor.Has(core::Role::kAdmin)) {
    return Error::PermissionDenied("reviews are for auditors and admins");
  }
  return Ok();
}

json Reviews::ToJson(const core::Review& r, Timestamp now) {
  json verdicts = json::array();
  for (const core::ReviewEntry& e : r.verdicts) verdicts.push_back(VerdictJson(e));
  json j = {{"id", r.id},
            {"request_id", r.request.empty() ? json(nullptr) : json(r.request.value())},
            {"requester", r.requester},
            {"trigger", r.trigger},
            {"opened_at", FormatRfc3339(r.opened_at)},
            {"due_at", FormatRfc3339(r.due_at)},
            {"state", core::ToString(r.state)},
            {"overdue", r.state == core::ReviewState::kOpen && now >= r.due_at},
            {"reviewers_needed", r.reviewers_needed},
            {"verdicts", std::move(verdicts)}};
  if (!r.kit_record.empty()) j["kit_record"] = r.kit_record;
  return j;
}

Result<std::vector<core::Review>> Reviews::List(const core::Actor& actor,
                                                store::ReviewFilter filter) {
  BG_TRY(CheckReader(actor));
  return store_.ListReviews(filter);
}

bool Reviews::MayReview(const core::Actor& actor, const core::Review& review) {
  if (review.state != core::ReviewState::kOpen) return false;
  for (const core::ReviewEntry& e : review.verdicts) {
    if (e.reviewer == actor.name) return false;
  }
  std::optional<core::Request> r;
  if (!review.request.empty()) {
    auto got = store_.GetRequest(review.request);
    if (!got) return false;
    r = std::move(*got);
  }
  return core::CheckReviewer(review, r ? &*r : nullptr, actor).has_value();
}

Result<json> Reviews::Detail(const core::Actor& actor, const std::string& id) {
  BG_TRY(CheckReader(actor));
  BG_ASSIGN_OR_RETURN(auto review, store_.GetReview(id));
  if (!review) return Error::NotFound("no review " + id);
  const Timestamp now = clock_.Now();
  json out = ToJson(*review, now);
  out["may_review"] = MayReview(actor, *review);
  if (review->request.empty()) {
    out["request"] = nullptr;
    out["connector_actions"] = json::array();
    out["sessions"] = json::array();
    out["timeline"] = nullptr;
    return out;
  }
  BG_ASSIGN_OR_RETURN(auto request, store_.GetRequest(review->request));
  out["request"] = request ? RequestJson(*request) : json(nullptr);
  BG_ASSIGN_OR_RETURN(AuditTrail trail, audit_.TrailOf(review->request, 10000));
  const std::string key = audit_.VerifierKey();
  Status verified = VerifyTrail(trail, key);
  json actions = json::array();
  json events = json::array();
  LoggedChunks logged;
  for (const AuditTrail::Entry& e : trail.entries) {
    json leaf = json::parse(e.leaf, nullptr, false);
    if (!leaf.is_object()) continue;
    const std::string type = leaf.value("type", "");
    json details = leaf.value("details", json::object());
    json line = {{"index", e.index},
                 {"type", type},
                 {"actor", leaf.value("actor", "")},
                 {"time", leaf.value("time", "")},
                 {"details", details}};
    if (IsConnectorAction(type)) actions.push_back(line);
    if (type == "session.chunk" && details.is_object()) {
      const std::string session = details.value("session", "");
      if (auto seq = ParseDecimalU64(details.value("seq", ""))) {
        logged[session][static_cast<int64_t>(*seq)] = details.value("sha256", "");
      }
    }
    events.push_back(std::move(line));
  }
  BG_ASSIGN_OR_RETURN(json sessions,
                      SessionsJson(store_, review->request, logged, verified.has_value()));
  out["connector_actions"] = std::move(actions);
  out["sessions"] = std::move(sessions);
  json timeline = {{"checkpoint_size", trail.checkpoint.size},
                   {"entries", trail.entries.size()},
                   {"verified", verified.has_value()},
                   {"events", std::move(events)}};
  if (!verified) timeline["problem"] = verified.error().message();
  // The proofs themselves, so a client can check them without trusting this answer.
  timeline["proofs"] = TrailJson(trail, key);
  out["timeline"] = std::move(timeline);
  return out;
}

void Reviews::Submit(const core::Actor& actor, std::string id, core::SubmitVerdict verdict,
                     Callback<core::Review> cb) {
  if (Status s = CheckReader(actor); !s) return cb(s.error());
  auto fn = [this, actor, id = std::move(id),
             verdict = std::move(verdict)](Tx& tx) -> Result<core::Review> {
    BG_ASSIGN_OR_RETURN(auto review, tx.GetReview(id));
    if (!review) return Error::NotFound("no review " + id);
    std::optional<core::Request> request;
    if (!review->request.empty()) {
      BG_ASSIGN_OR_RETURN(request, tx.GetRequest(review->request));
    }
    auto policy = effects_.policy();
    if (!policy) return Error::Unavailable("no policy is loaded");
    BG_ASSIGN_OR_RETURN(core::ReviewTransition t,
                        core::SubmitReview(*policy, *review, request ? &*request : nullptr, actor,
                                           verdict, tx.now()));
    effects_.ApplyReview(tx, t, request.value_or(core::Request{}));
    core::Review stored = t.review;
    stored.version = review->version + 1;
    return stored;
  };
  writer_.Submit(MakeOp<core::Review>(std::move(fn), std::move(cb)));
}

Result<int> Reviews::EscalateOverdue() {
  store::ReviewFilter f;
  f.state = core::ReviewState::kOpen;
  f.due_before = clock_.Now() + Seconds(1);  // due_at <= now
  f.overdue_alerted = false;
  f.limit = 1000;
  BG_ASSIGN_OR_RETURN(auto due, store_.ListReviews(f));
  int escalated = 0;
  for (const core::Review& listed : due) {
    const std::string id = listed.id;
    bool raised = false;
    Status s = writer_.RunSync([this, id, &raised](Tx& tx) -> Status {
      BG_ASSIGN_OR_RETURN(auto review, tx.GetReview(id));
      if (!review) return Ok();
      auto policy = effects_.policy();
      if (!policy) return Ok();
      core::ReviewTransition t = core::OnReviewDue(*policy, *review, tx.now());
      if (t.effects.empty()) return Ok();  // closed or escalated meanwhile, or not yet due
      std::optional<core::Request> request;
      if (!review->request.empty()) {
        BG_ASSIGN_OR_RETURN(request, tx.GetRequest(review->request));
      }
      effects_.ApplyReview(tx, t, request.value_or(core::Request{}));
      raised = true;
      return Ok();
    });
    if (!s) return s.error();
    if (raised) ++escalated;
  }
  return escalated;
}

Result<int64_t> Reviews::OverdueCount() {
  store::ReviewFilter f;
  f.state = core::ReviewState::kOpen;
  f.due_before = clock_.Now() + Seconds(1);
  return store_.CountReviews(f);
}

void Reviews::Start(Seconds interval) { watch_.Start(interval); }

void Reviews::Stop() { watch_.Stop(); }

void Reviews::OpenOfflineUse(Tx& tx, const core::OfflineUse& use, Seconds review_within) {
  core::ReviewTransition t =
      core::OpenOfflineUseReview(use, NewId("rev"), review_within, tx.now());
  tx.PutReview(t.review);
  for (const core::Effect& e : t.effects) {
    if (const auto* a = std::get_if<core::AuditEvent>(&e)) tx.Audit(*a);
  }
}

}  // namespace bg::service
