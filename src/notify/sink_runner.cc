#include "notify/sink_runner.h"

#include <algorithm>

#include "log/json_log.h"

namespace bg::notify {

SinkRunner::SinkRunner(std::string name, std::unique_ptr<Sink> sink, SinkLog& log, SinkRetry retry)
    : name_(std::move(name)), sink_(std::move(sink)), log_(log), retry_(retry) {}

SinkRunner::~SinkRunner() { Stop(); }

void SinkRunner::Failed(Clock::time_point now, const Error& e, int64_t index) {
  if (retry_.on_attempt) retry_.on_attempt(false);
  bool became_failing = false;
  {
  std::lock_guard lock(mu_);
  ++stats_.failures;
  ++stats_.consecutive_failures;
  stats_.last_error = e.message();
  // 1 s, 2 s, 4 s, ... after the 1st, 2nd, 3rd failure in a row, capped.
  auto wait = retry_.first_backoff;
  for (int i = 1; i < stats_.consecutive_failures && wait < retry_.max_backoff; ++i) wait *= 2;
  wait = std::min(wait, retry_.max_backoff);
  next_attempt_ = now + wait;
  const bool was_failing = stats_.failing;
  stats_.failing = stats_.consecutive_failures >= retry_.failing_after;
  const log::Fields fields = {{"sink", name_},
                              {"target", sink_->Describe()},
                              {"index", index},
                              {"attempt", stats_.consecutive_failures},
                              {"retry_in_ms", wait.count()},
                              {"error", e.message()}};
  became_failing = stats_.failing && !was_failing;
  if (became_failing) {
    log::Error("notify.sink_failing", fields);
  } else {
    log::Warn("notify.delivery_failed", fields);
  }
  }
  // Outside the lock: the alert is an audit event, whose append wakes this runner.
  if (became_failing && retry_.on_failing) retry_.on_failing(e.message());
}

Result<int64_t> SinkRunner::Step(Clock::time_point now) {
  std::lock_guard step(step_mu_);
  {
    std::lock_guard lock(mu_);
    if (now < next_attempt_) return int64_t{0};
  }
  BG_TRY(LoadOrStartCursor());
  BG_ASSIGN_OR_RETURN(const int64_t size, log_.Size());
  int64_t next = *next_;
  int64_t delivered = 0;
  while (next < size) {
    BG_ASSIGN_OR_RETURN(auto leaves, log_.Leaves(next, std::min(size, next + kPage)));
    if (leaves.empty()) break;
    const int64_t page_start = next;
    for (const std::string& leaf : leaves) {
      if (Status s = sink_->Deliver(next, leaf); !s) {
        Failed(now, s.error(), next);
        break;
      }
      ++next;
      ++delivered;
      if (retry_.on_attempt) retry_.on_attempt(true);
      std::lock_guard lock(mu_);
      next_ = next;
      ++stats_.delivered;
      if (stats_.consecutive_failures > 0) {
        log::Info("notify.delivery_resumed", {{"sink", name_}, {"index", next - 1}});
      }
      stats_.consecutive_failures = 0;
      stats_.failing = false;
      stats_.last_error.clear();
    }
    if (next > page_start) {
      if (Status saved = log_.SaveCursor(name_, next); !saved) {
        // Delivery carries on; after a restart at most these events are sent again.
        log::Warn("notify.cursor_not_saved", {{"sink", name_}, {"error", saved.error().message()}});
      }
    }
    std::lock_guard lock(mu_);
    if (stats_.consecutive_failures > 0) break;
  }
  std::lock_guard lock(mu_);
  stats_.next = next;
  stats_.backlog = std::max<int64_t>(0, size - next);
  return delivered;
}

Status SinkRunner::LoadOrStartCursor() {
  if (next_) return Ok();
  BG_ASSIGN_OR_RETURN(auto saved, log_.LoadCursor(name_));
  if (!saved) {
    // New here: from now on, not the history.
    BG_ASSIGN_OR_RETURN(const int64_t size, log_.Size());
    BG_TRY(log_.SaveCursor(name_, size));
    saved = size;
  }
  std::lock_guard lock(mu_);
  next_ = *saved;
  return Ok();
}

void SinkRunner::Start() {
  {
    // Here, not on the thread: what is appended after Start() reaches the sink.
    std::lock_guard step(step_mu_);
    if (Status s = LoadOrStartCursor(); !s) {
      log::Warn("notify.log_unreadable", {{"sink", name_}, {"error", s.error().message()}});
    }
  }
  std::lock_guard lock(mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void SinkRunner::Wake() {
  {
    std::lock_guard lock(mu_);
    woken_ = true;
  }
  cv_.notify_one();
}

void SinkRunner::Stop() {
  {
    std::lock_guard lock(mu_);
    if (!thread_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_one();
  thread_.join();
  {
    std::lock_guard lock(mu_);
    next_attempt_ = {};  // one last try, whatever the backoff
  }
  (void)Step(Clock::now());
}

void SinkRunner::Loop() {
  for (;;) {
    {
      std::unique_lock lock(mu_);
      auto until = Clock::now() + kPollInterval;
      if (next_attempt_ > Clock::now()) until = std::min(until, next_attempt_);
      cv_.wait_until(lock, until, [this] { return stopping_ || woken_; });
      if (stopping_) return;
      woken_ = false;
    }
    if (auto r = Step(Clock::now()); !r) {
      log::Warn("notify.log_unreadable", {{"sink", name_}, {"error", r.error().message()}});
    }
  }
}

SinkStats SinkRunner::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

}  // namespace bg::notify
