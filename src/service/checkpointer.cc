#include "service/checkpointer.h"

#include <algorithm>

#include "log/json_log.h"
#include "metrics/metrics.h"
#include "service/audit_log.h"
#include "service/service.h"

namespace bg::service {

bool CheckpointSchedule::Due(Timestamp now, int64_t log_size) const {
  if (log_size <= signed_size_) return false;
  return !last_.has_value() || now - *last_ >= interval_;
}

void CheckpointSchedule::Signed(Timestamp now, int64_t size) {
  last_ = now;
  signed_size_ = std::max(signed_size_, size);
}

Seconds Backoff(int failures, const RetryPolicy& policy) {
  Seconds wait = policy.first_backoff;
  for (int i = 1; i < failures && wait < policy.max_backoff; ++i) wait *= 2;
  return std::min(wait, policy.max_backoff);
}

void WitnessQueue::Offer(int64_t size, const std::string& note, Timestamp now) {
  for (const auto& url : urls_) pending_[url] = Pending{size, note, 0, now};
}

std::vector<WitnessQueue::Push> WitnessQueue::Due(Timestamp now) const {
  std::vector<Push> out;
  for (const auto& [url, p] : pending_) {
    if (p.next_try <= now) out.push_back(Push{url, p.size, p.note});
  }
  return out;
}

bool WitnessQueue::Done(const Push& push, bool ok, Timestamp now) {
  auto it = pending_.find(push.url);
  if (it == pending_.end() || it->second.size != push.size) return false;  // superseded
  if (ok) {
    pending_.erase(it);
    return false;
  }
  Pending& p = it->second;
  if (++p.failures >= policy_.max_attempts) {
    pending_.erase(it);
    return true;
  }
  p.next_try = now + Backoff(p.failures, policy_);
  return false;
}

std::optional<Timestamp> WitnessQueue::Next() const {
  std::optional<Timestamp> next;
  for (const auto& [url, p] : pending_) {
    if (!next || p.next_try < *next) next = p.next_try;
  }
  return next;
}

Checkpointer::Checkpointer(CheckpointerOptions options, CheckpointerHooks hooks, const Clock& clock,
                           metrics::Registry* metrics)
    : options_(std::move(options)),
      hooks_(std::move(hooks)),
      clock_(clock),
      schedule_(options_.interval),
      witnesses_(options_.witnesses, options_.retry) {
  if (metrics != nullptr) {
    auto c = metrics->AddCounter("breakglass_witness_push_failures_total",
                                 "Checkpoint pushes to witnesses that failed (each attempt).");
    if (c) failures_metric_ = *c;
  }
}

std::unique_ptr<Checkpointer> Checkpointer::ForService(
    Service& service, std::function<Status(const std::string&, const std::string&)> post) {
  CheckpointerOptions options;
  options.interval = service.config().checkpoint_interval;
  options.witnesses = service.config().witnesses;
  CheckpointerHooks hooks;
  AuditLog& log = service.audit();
  hooks.log_size = [&log] { return log.Size(); };
  hooks.sign = [&log]() -> Result<std::pair<int64_t, std::string>> {
    BG_ASSIGN_OR_RETURN(SignedCheckpoint cp, log.Checkpoint());
    return std::make_pair(cp.size, cp.note);
  };
  // AuditLog::Checkpoint() stored it before returning it (as it does for the API's
  // GET /v1/audit/checkpoint): storing it again here could put an older one back.
  hooks.persist = [](const std::string&) { return Ok(); };
  hooks.post = std::move(post);
  return std::make_unique<Checkpointer>(std::move(options), std::move(hooks), SystemClock::Get(),
                                        &service.metrics());
}

Checkpointer::~Checkpointer() { JoinThreads(); }

bool Checkpointer::JoinThreads() {
  {
    std::lock_guard lock(mu_);
    if (!sign_thread_.joinable()) return false;
    stopping_ = true;
  }
  cv_.notify_all();
  sign_thread_.join();
  if (push_thread_.joinable()) push_thread_.join();
  return true;
}

void Checkpointer::Start() {
  std::lock_guard lock(mu_);
  if (sign_thread_.joinable()) return;
  stopping_ = false;
  sign_thread_ = std::thread([this] { SignLoop(); });
  if (!options_.witnesses.empty()) push_thread_ = std::thread([this] { PushLoop(); });
}

void Checkpointer::Stop(std::chrono::milliseconds drain) {
  if (!JoinThreads()) return;
  // A last checkpoint covering what was appended since (e.g. "server.stopped"), whatever the
  // interval: the log is about to stop growing.
  TickImpl(/*force=*/true);
  const auto deadline = std::chrono::steady_clock::now() + drain;
  std::unique_lock lock(mu_);
  while (witnesses_.Next().has_value() && std::chrono::steady_clock::now() < deadline) {
    lock.unlock();
    PushDue();
    lock.lock();
    cv_.wait_for(lock, std::chrono::milliseconds(100));
  }
}

std::optional<int64_t> Checkpointer::Tick() { return TickImpl(/*force=*/false); }

std::optional<int64_t> Checkpointer::TickImpl(bool force) {
  const Timestamp now = clock_.Now();
  const int64_t size = hooks_.log_size();
  {
    std::lock_guard lock(mu_);
    if (force ? size <= schedule_.signed_size() : !schedule_.Due(now, size)) return std::nullopt;
  }
  auto signed_cp = hooks_.sign();
  if (!signed_cp) {
    log::Error("audit.checkpoint_failed", {{"error", signed_cp.error().message()}});
    return std::nullopt;
  }
  const auto& [cp_size, note] = *signed_cp;
  if (auto s = hooks_.persist(note); !s) {
    // Not marked signed: the next tick tries again.
    log::Error("audit.checkpoint_persist_failed",
               {{"size", cp_size}, {"error", s.error().message()}});
    return std::nullopt;
  }
  {
    std::lock_guard lock(mu_);
    schedule_.Signed(now, cp_size);
    witnesses_.Offer(cp_size, note, now);
  }
  cv_.notify_all();
  log::Debug("audit.checkpoint_signed", {{"size", cp_size}});
  return cp_size;
}

int Checkpointer::PushDue() {
  const Timestamp now = clock_.Now();
  std::vector<WitnessQueue::Push> due;
  {
    std::lock_guard lock(mu_);
    due = witnesses_.Due(now);
  }
  for (const auto& push : due) {
    Status s = hooks_.post ? hooks_.post(push.url, push.note)
                           : Status(Error::Internal("no witness transport"));
    const Timestamp after = clock_.Now();
    bool gave_up = false;
    {
      std::lock_guard lock(mu_);
      gave_up = witnesses_.Done(push, s.has_value(), after);
      if (!s) ++push_failures_;
    }
    if (!s) {
      if (failures_metric_ != nullptr) failures_metric_->Inc();
      log::Warn("audit.witness_push_failed", {{"witness", push.url},
                                               {"size", push.size},
                                               {"error", s.error().message()},
                                               {"gave_up", gave_up}});
    }
  }
  return static_cast<int>(due.size());
}

uint64_t Checkpointer::push_failures() const {
  std::lock_guard lock(mu_);
  return push_failures_;
}

void Checkpointer::SignLoop() {
  const auto poll = std::min<std::chrono::milliseconds>(
      std::chrono::seconds(1), options_.interval / 4 + std::chrono::milliseconds(100));
  std::unique_lock lock(mu_);
  while (!stopping_) {
    lock.unlock();
    Tick();
    lock.lock();
    cv_.wait_for(lock, poll, [this] { return stopping_; });
  }
}

void Checkpointer::PushLoop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    lock.unlock();
    PushDue();
    lock.lock();
    // Woken by a new checkpoint (Offer) or to retry; backoffs are whole seconds.
    cv_.wait_for(lock, std::chrono::milliseconds(250));
  }
}

}  // namespace bg::service
