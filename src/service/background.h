// Background workers of the service: the durable timer queue (expiry within a second) and the
// outbox runner (connector calls, at least once, with exponential backoff).
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <queue>
#include <thread>
#include <vector>

#include "store/store.h"
#include "util/time.h"

namespace bg::service {

// Holds every durable timer in memory (loaded at start, fed by the writer after each commit)
// and calls `fire` on its own thread once a timer's time has come.
class Scheduler {
 public:
  Scheduler(const Clock& clock, std::function<void(const store::TimerRecord&)> fire);
  ~Scheduler();
  void Add(const std::vector<store::TimerRecord>& timers);
  void Stop();
  size_t Pending() const;

 private:
  struct Later {
    bool operator()(const store::TimerRecord& a, const store::TimerRecord& b) const {
      return a.at != b.at ? a.at > b.at : a.id > b.id;
    }
  };
  void Loop();

  const Clock& clock_;
  std::function<void(const store::TimerRecord&)> fire_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::priority_queue<store::TimerRecord, std::vector<store::TimerRecord>, Later> heap_;
  bool stopping_ = false;
  std::thread thread_;
};

// Polls the outbox (and wakes on Notify) and hands the due jobs to `run`, which returns once
// their outcomes committed.
class Outbox {
 public:
  Outbox(store::Store& store, const Clock& clock,
         std::function<void(const std::vector<store::OutboxJob>&)> run);
  ~Outbox();
  void Notify();
  void Stop();
  // The delay before attempt n+1 after n failures: 1s, 2s, 4s, ... capped at 5 minutes.
  static Seconds Backoff(int attempts);

 private:
  void Loop();
  store::Store& store_;
  const Clock& clock_;
  std::function<void(const std::vector<store::OutboxJob>&)> run_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool notified_ = false;
  std::thread thread_;
};

// Runs `tick` on its own thread at Start and then every `interval` until Stop (the reviews'
// deadline watch, attestation campaigns). Stop waits for a tick in progress.
class Periodic {
 public:
  explicit Periodic(std::function<void()> tick) : tick_(std::move(tick)) {}
  ~Periodic();
  void Start(Seconds interval);
  void Stop();

 private:
  std::function<void()> tick_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace bg::service
