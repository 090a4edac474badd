#include "service/background.h"

#include <algorithm>
#include <set>

#include "log/json_log.h"

namespace bg::service {

Scheduler::Scheduler(const Clock& clock, Fire fire, bool active)
    : clock_(clock), fire_(std::move(fire)), active_(active), thread_([this] { Loop(); }) {}

Scheduler::~Scheduler() { Stop(); }

void Scheduler::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Scheduler::AddLocked(const store::TimerRecord& t) {
  if (!known_.insert(t.id).second) return;
  queued_.insert(t.id);
  heap_.push({ToUnixSeconds(t.at) * 1'000'000, t, 0});
}

void Scheduler::Add(const std::vector<store::TimerRecord>& timers) {
  {
    std::lock_guard lock(mu_);
    for (const auto& t : timers) AddLocked(t);
  }
  cv_.notify_all();
}

void Scheduler::Sync(const std::vector<store::TimerRecord>& stored) {
  std::set<int64_t> present;
  {
    std::lock_guard lock(mu_);
    for (const auto& t : stored) {
      present.insert(t.id);
      AddLocked(t);
    }
    // A timer fired and no longer stored will not come back: forget it. One fired whose
    // deletion is not committed yet is still stored, so it stays known and is not queued again.
    for (auto it = known_.begin(); it != known_.end();) {
      if (!queued_.count(*it) && !present.count(*it)) {
        it = known_.erase(it);
      } else {
        ++it;
      }
    }
  }
  cv_.notify_all();
}

void Scheduler::Activate() {
  {
    std::lock_guard lock(mu_);
    active_ = true;
  }
  cv_.notify_all();
}

void Scheduler::Retry(const store::TimerRecord& t, int attempt) {
  const int64_t due_us = clock_.NowMicros() + RetryDelay(attempt).count() * 1'000'000;
  {
    std::lock_guard lock(mu_);
    known_.insert(t.id);
    queued_.insert(t.id);
    heap_.push({due_us, t, attempt});
  }
  cv_.notify_all();
}

Seconds Scheduler::RetryDelay(int attempt) {
  return std::min(Seconds(int64_t{1} << std::clamp(attempt - 1, 0, 3)), Seconds(5));
}

size_t Scheduler::Pending() const {
  std::lock_guard lock(mu_);
  return heap_.size();
}

void Scheduler::Loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    if (heap_.empty() || !active_) {
      cv_.wait(lock);
      continue;
    }
    const int64_t due_us = heap_.top().due_us;
    const int64_t now_us = clock_.NowMicros();
    if (now_us < due_us) {
      // Wake at the due time, or earlier when a sooner timer arrives. Capped so that a clock
      // step (NTP) is noticed within a second.
      auto wait = std::chrono::microseconds(std::min<int64_t>(due_us - now_us, 1'000'000));
      cv_.wait_for(lock, wait);
      continue;
    }
    std::vector<Entry> due;
    while (!heap_.empty() && heap_.top().due_us <= now_us) {
      due.push_back(heap_.top());
      queued_.erase(heap_.top().timer.id);
      heap_.pop();
    }
    lock.unlock();
    for (const auto& e : due) fire_(e.timer, e.attempt);
    lock.lock();
  }
}

Outbox::Outbox(store::Store& store, const Clock& clock,
               std::function<void(const std::vector<store::OutboxJob>&)> run)
    : store_(store), clock_(clock), run_(std::move(run)), thread_([this] { Loop(); }) {}

Outbox::~Outbox() { Stop(); }

void Outbox::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Outbox::Notify() {
  {
    std::lock_guard lock(mu_);
    notified_ = true;
  }
  cv_.notify_all();
}

Seconds Outbox::Backoff(int attempts) {
  int shift = std::clamp(attempts - 1, 0, 9);
  return std::min(Seconds(int64_t{1} << shift), Seconds(300));
}

void Outbox::Loop() {
  // `run_` returns only after the outcomes of the jobs committed, so a job is never run twice
  // at once; after a crash a job may run again, which connectors tolerate (idempotent by id).
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_ || notified_; });
      if (stopping_) return;
      notified_ = false;
    }
    auto jobs = store_.ListOutbox();
    if (!jobs) {
      log::Warn("outbox.read_failed", {{"error", jobs.error().ToString()}});
      continue;
    }
    Timestamp now = clock_.Now();
    std::vector<store::OutboxJob> due;
    for (auto& job : *jobs) {
      if (job.next_attempt <= now) due.push_back(std::move(job));
    }
    if (!due.empty()) run_(due);
  }
}

Periodic::~Periodic() { Stop(); }

void Periodic::Start(std::chrono::milliseconds interval) {
  std::lock_guard lock(mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this, interval] {
    std::unique_lock lk(mu_);
    while (!stopping_) {
      lk.unlock();
      tick_();
      lk.lock();
      cv_.wait_for(lk, interval, [this] { return stopping_ || woken_; });
      woken_ = false;
    }
  });
}

void Periodic::Wake() {
  {
    std::lock_guard lock(mu_);
    woken_ = true;
  }
  cv_.notify_all();
}

void Periodic::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace bg::service
