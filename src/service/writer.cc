#include "service/writer.h"

#include <chrono>
#include <future>
#include <variant>

#include "log/json_log.h"
#include "util/random.h"

namespace bg::service {

namespace {

// A timer's id: random, 62 bits, so that replicas sharing one database never pick the same one
// (a collision, about one in 10^14 with a million timers pending, fails the commit as a
// conflict and the writer runs the group again with new ids).
int64_t NewTimerId() {
  uint64_t v = 0;
  SystemRandom::Get().Fill(reinterpret_cast<uint8_t*>(&v), sizeof v);
  v &= (uint64_t{1} << 62) - 1;
  return static_cast<int64_t>(v == 0 ? 1 : v);
}

}  // namespace

Tx::Tx(store::Store& store, AuditAppender appender, Timestamp now)
    : store_(store), appender_(std::move(appender)), now_(now) {}

Result<std::optional<core::Request>> Tx::GetRequest(const RequestId& id) {
  if (auto it = request_slot_.find(id); it != request_slot_.end()) {
    core::Request r = batch_.requests[it->second].request;
    r.version = batch_.requests[it->second].expected_version + 1;
    return std::optional<core::Request>(std::move(r));
  }
  return store_.GetRequest(id);
}

Result<std::optional<store::UserRecord>> Tx::GetUser(const std::string& name) {
  if (auto it = user_slot_.find(name); it != user_slot_.end()) {
    return std::optional<store::UserRecord>(batch_.users[it->second]);
  }
  return store_.GetUser(name);
}

Result<std::optional<store::TokenRecord>> Tx::GetToken(const std::string& hash) {
  for (const auto& h : batch_.tokens_deleted) {
    if (h == hash) return std::optional<store::TokenRecord>();
  }
  for (auto it = batch_.tokens_updated.rbegin(); it != batch_.tokens_updated.rend(); ++it) {
    if (it->token_hash == hash) return std::optional<store::TokenRecord>(*it);
  }
  for (const auto& t : batch_.tokens) {
    if (t.token_hash == hash) return std::optional<store::TokenRecord>(t);
  }
  return store_.GetToken(hash);
}

void Tx::PutRequest(const core::Request& r) {
  Staged();
  if (auto it = request_slot_.find(r.id); it != request_slot_.end()) {
    batch_.requests[it->second].request = r;  // keeps the version first read in this group
    return;
  }
  request_slot_[r.id] = batch_.requests.size();
  batch_.requests.push_back({r, r.version});
}

void Tx::PutUser(const store::UserRecord& u) {
  Staged();
  if (auto it = user_slot_.find(u.name); it != user_slot_.end()) {
    batch_.users[it->second] = u;
    return;
  }
  user_slot_[u.name] = batch_.users.size();
  batch_.users.push_back(u);
}

Result<std::optional<store::SessionRecord>> Tx::GetSession(const SessionId& id) {
  for (auto it = batch_.sessions.rbegin(); it != batch_.sessions.rend(); ++it) {
    if (it->session.id == id) return std::optional<store::SessionRecord>(it->session);
  }
  return store_.GetSession(id);
}

void Tx::PutSession(const store::SessionRecord& s, int64_t expected_chunks) {
  Staged();
  for (auto& w : batch_.sessions) {
    if (w.session.id == s.id) {
      w.session = s;  // keeps the chunk count first read in this group
      return;
    }
  }
  batch_.sessions.push_back({s, expected_chunks});
}

Result<std::optional<core::Review>> Tx::GetReview(const std::string& id) {
  if (auto it = review_slot_.find(id); it != review_slot_.end()) {
    core::Review r = batch_.reviews[it->second].review;
    r.version = batch_.reviews[it->second].expected_version + 1;
    return std::optional<core::Review>(std::move(r));
  }
  return store_.GetReview(id);
}

void Tx::PutReview(const core::Review& r) {
  Staged();
  if (auto it = review_slot_.find(r.id); it != review_slot_.end()) {
    batch_.reviews[it->second].review = r;  // keeps the version first read in this group
    return;
  }
  review_slot_[r.id] = batch_.reviews.size();
  batch_.reviews.push_back({r, r.version});
}

Result<std::optional<core::Campaign>> Tx::GetCampaign(const std::string& id) {
  if (auto it = campaign_slot_.find(id); it != campaign_slot_.end()) {
    core::Campaign c = batch_.campaigns[it->second].campaign;
    c.version = batch_.campaigns[it->second].expected_version + 1;
    return std::optional<core::Campaign>(std::move(c));
  }
  return store_.GetCampaign(id);
}

void Tx::PutCampaign(const core::Campaign& c) {
  Staged();
  if (auto it = campaign_slot_.find(c.id); it != campaign_slot_.end()) {
    batch_.campaigns[it->second].campaign = c;
    return;
  }
  campaign_slot_[c.id] = batch_.campaigns.size();
  batch_.campaigns.push_back({c, c.version});
}

Result<std::optional<store::DrillRecord>> Tx::GetDrill(const std::string& id) {
  if (auto it = drill_slot_.find(id); it != drill_slot_.end()) {
    store::DrillRecord d = batch_.drills[it->second].drill;
    d.version = batch_.drills[it->second].expected_version + 1;
    return std::optional<store::DrillRecord>(std::move(d));
  }
  return store_.GetDrill(id);
}

void Tx::PutDrill(const store::DrillRecord& d) {
  Staged();
  if (auto it = drill_slot_.find(d.id); it != drill_slot_.end()) {
    batch_.drills[it->second].drill = d;
    return;
  }
  drill_slot_[d.id] = batch_.drills.size();
  batch_.drills.push_back({d, d.version});
}

Result<std::optional<std::string>> Tx::GetMeta(const std::string& key) {
  for (auto it = batch_.meta.rbegin(); it != batch_.meta.rend(); ++it) {
    if (it->first == key) return std::optional<std::string>(it->second);
  }
  return store_.GetMeta(key);
}

void Tx::UseSource(const std::string& user, const std::string& address) {
  if (address.empty()) return;
  Staged();
  batch_.sources.push_back({user, address, now_});
}

void Tx::Audit(const core::AuditEvent& event) {
  Staged();
  batch_.audit.push_back(appender_.Append(appender_leaf_encoder_(event, now_)));
  batch_.audit.back().request = event.request.value();
}

void Tx::AddTimer(const core::ScheduleTimer& t) {
  Staged();
  store::TimerRecord rec{NewTimerId(), t.kind, t.request, t.at};
  batch_.timers.push_back(rec);
  new_timers_.push_back(rec);
}

void Tx::AddJob(std::string kind, const RequestId& request) {
  Staged();
  batch_.outbox.push_back({0, std::move(kind), request, "{}", 0, now_, ""});
}

Writer::Writer(store::Store& store, AuditLog& audit, const Clock& clock,
               std::function<void(const std::vector<store::TimerRecord>&)> on_timers)
    : store_(store),
      audit_(audit),
      clock_(clock),
      on_timers_(std::move(on_timers)),
      thread_([this] { Loop(); }) {}

Writer::~Writer() { Stop(); }

void Writer::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Writer::Submit(Op op) {
  {
    std::lock_guard lock(mu_);
    if (!stopping_) {
      queue_.push_back(std::move(op));
      cv_.notify_one();
      return;
    }
  }
  op.done(Error::Unavailable("the server is shutting down"));
}

Status Writer::RunSync(std::function<Status(Tx&)> run) {
  auto p = std::make_shared<std::promise<Status>>();
  auto f = p->get_future();
  Submit({std::move(run), [p](Status s) { p->set_value(std::move(s)); }});
  return f.get();
}

Writer::Stats Writer::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

void Writer::Loop() {
  constexpr size_t kMaxGroup = 512;
  for (;;) {
    std::vector<Op> group;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty() && stopping_) return;
      while (!queue_.empty() && group.size() < kMaxGroup) {
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    RunGroup(group);
  }
}

void Writer::RunGroup(std::vector<Op>& ops) {
  std::vector<Status> results;
  std::unique_ptr<Tx> tx;
  Status commit = Ok();
  uint64_t races = 0;
  // Another writer on the same database (another replica; `breakglass user add` beside the
  // server) may have committed between our reads and our commit: the audit log grew
  // (FailedPrecondition) or a row moved past the version read (Conflict). Nothing of the group
  // was written: re-read the log's edge and run the group again, so every operation decides
  // afresh on what is stored now, a little later each time so that racing writers part.
  // Between the replicas of one database, the store's exclusive section makes that rare: the
  // group reads the log's end, decides and commits while no other server commits.
  const bool exclusive = store_.BeginExclusive();
  if (exclusive) (void)audit_.Reload();  // a failure shows at the commit
  for (int attempt = 0;; ++attempt) {
    tx = std::make_unique<Tx>(store_, audit_.Appender(), clock_.Now());
    tx->appender_leaf_encoder_ = [this](const core::AuditEvent& e, Timestamp now) {
      return audit_.Encode(e, now);
    };
    results.clear();
    bool poisoned = false;
    for (Op& op : ops) {
      tx->ResetStagedFlag();
      Status s = op.run(*tx);
      if (!s && tx->staged()) {
        log::Error("writer.operation_failed_after_staging",
                   {{"error", s.error().ToString()}, {"outcome", "its group is refused"}});
        poisoned = true;
      }
      results.push_back(std::move(s));
    }
    commit = Ok();
    if (poisoned) {
      commit = Error::Internal("an operation in the same commit group failed; nothing was changed");
      break;
    }
    if (tx->batch_.empty()) break;
    commit = store_.Commit(tx->batch_);
    if (commit) break;
    const ErrorCode code = commit.error().code();
    const bool raced = code == ErrorCode::kFailedPrecondition || code == ErrorCode::kConflict;
    if (raced && attempt + 1 < kMaxAttempts && audit_.Reload()) {
      log::Warn("writer.raced", {{"attempt", attempt + 1},
                                 {"error", commit.error().message()},
                                 {"outcome", "running the group again"}});
      ++races;
      if (attempt > 0) {
        uint8_t r = 0;
        SystemRandom::Get().Fill(&r, 1);
        std::this_thread::sleep_for(
            std::chrono::microseconds((int64_t{r} + 1) << std::min(attempt, 6)));
      }
      continue;
    }
    log::Error("writer.commit_failed",
               {{"operations", ops.size()}, {"error", commit.error().ToString()}});
    commit = Error::Unavailable(
        "the change and its audit record could not be stored; nothing was changed (" +
        commit.error().message() + ")");
    break;
  }
  store_.EndExclusive();
  {
    std::lock_guard lock(mu_);
    stats_.groups++;
    stats_.ops += ops.size();
    stats_.races += races;
    if (!commit) stats_.commit_failures++;
  }
  if (!commit) {
    for (Op& op : ops) op.done(commit);
    return;
  }
  audit_.Adopt(tx->appender_);
  if (audit_listener_) {
    for (const auto& a : tx->batch_.audit) audit_listener_(a.index, a.leaf);
  }
  if (!tx->new_timers_.empty() && on_timers_) on_timers_(tx->new_timers_);
  for (auto& fn : tx->after_commit_) fn();
  for (size_t i = 0; i < ops.size(); ++i) ops[i].done(std::move(results[i]));
}

}  // namespace bg::service
