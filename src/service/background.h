// Background workers of the service: the durable timer queue (expiry within a second) and the
// outbox runner (connector calls, at least once, with exponential backoff).
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <queue>
#include <set>
#include <thread>
#include <vector>

#include "store/store.h"
#include "util/time.h"

namespace bg::service {

// Holds every durable timer in memory (loaded at start, fed by the writer after each commit,
// and by Sync with what other replicas stored) and, once active, calls `fire(timer, attempt)` on
// its own thread when a timer's time has come (attempt 0). A timer whose firing could not be
// stored (the store was full or failing) is handed back with Retry and fires again later, its
// record (and so its `at`) unchanged. A timer is queued once, however often it is added, until
// Sync sees it gone from the store.
class Scheduler {
 public:
  using Fire = std::function<void(const store::TimerRecord&, int attempt)>;
  // `active` false: queues but fires nothing until Activate() (a replica that does not own the
  // background work).
  Scheduler(const Clock& clock, Fire fire, bool active = true);
  ~Scheduler();
  void Add(const std::vector<store::TimerRecord>& timers);
  // `stored` is every timer the store holds now: those not queued yet are added; those neither
  // queued nor stored any more (fired, deleted) are forgotten.
  void Sync(const std::vector<store::TimerRecord>& stored);
  void Activate();
  // Fires `t` again, as `attempt` (1 for the first retry), RetryDelay(attempt) from now.
  void Retry(const store::TimerRecord& t, int attempt);
  // 1s, 2s, 4s, then 5s: a grant whose end passed while the store failed ends within seconds
  // of the store's recovery.
  static Seconds RetryDelay(int attempt);
  void Stop();
  size_t Pending() const;

 private:
  struct Entry {
    int64_t due_us;  // when it fires: the timer's `at`, or the time of its retry
    store::TimerRecord timer;
    int attempt;
  };
  struct Later {
    bool operator()(const Entry& a, const Entry& b) const {
      return a.due_us != b.due_us ? a.due_us > b.due_us : a.timer.id > b.timer.id;
    }
  };
  void Loop();
  void AddLocked(const store::TimerRecord& t);  // mu_ held

  const Clock& clock_;
  Fire fire_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::priority_queue<Entry, std::vector<Entry>, Later> heap_;
  std::set<int64_t> queued_;  // ids in heap_
  std::set<int64_t> known_;   // ids added and not yet seen gone from the store
  bool active_ = true;
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
// deadline watch, attestation campaigns), or sooner after Wake. Stop waits for a tick in
// progress.
class Periodic {
 public:
  explicit Periodic(std::function<void()> tick) : tick_(std::move(tick)) {}
  ~Periodic();
  void Start(std::chrono::milliseconds interval);
  // The next tick runs now (or right after the one in progress).
  void Wake();
  void Stop();

 private:
  std::function<void()> tick_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool woken_ = false;
  std::thread thread_;
};

}  // namespace bg::service
