// Signs audit checkpoints on a schedule and hands copies to witnesses.
//
// While the log grows, a new checkpoint is signed once `interval` has passed since the last one
// (so no entry stays unsigned much longer than the interval), stored as meta
// "audit.checkpoint.latest" (with the verifier key as "audit.verifier_key", for offline export),
// and POSTed (text/plain) to every witness URL. Pushes run on their own thread with timeouts and
// exponential backoff; a newer checkpoint replaces one still waiting for a witness. Nothing here
// runs on, or waits for, the audit writer.
//
// The timing rules are pure (CheckpointSchedule, WitnessQueue) and take `now`; Checkpointer adds
// the two threads. Tick() and PushDue() are public so tests drive them with a fake clock.
// Thread-safe.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "util/result.h"
#include "util/time.h"

namespace bg::metrics {
class Counter;
class Registry;
}  // namespace bg::metrics

namespace bg::service {

class Service;

// When to sign: the log has entries the last checkpoint does not cover, and `interval` has
// passed since that checkpoint (or none was signed yet).
class CheckpointSchedule {
 public:
  explicit CheckpointSchedule(Seconds interval) : interval_(interval) {}
  bool Due(Timestamp now, int64_t log_size) const;
  void Signed(Timestamp now, int64_t size);
  int64_t signed_size() const { return signed_size_; }

 private:
  Seconds interval_;
  std::optional<Timestamp> last_;
  int64_t signed_size_ = -1;
};

struct RetryPolicy {
  int max_attempts = 5;
  Seconds first_backoff = Seconds(1);
  Seconds max_backoff = Seconds(60);
};
// The wait after `failures` failed attempts (1, 2, 4, ... seconds, capped).
Seconds Backoff(int failures, const RetryPolicy& policy);

// The checkpoint each witness still has to receive, and when to try next.
class WitnessQueue {
 public:
  struct Push {
    std::string url;
    int64_t size = 0;
    std::string note;
  };
  WitnessQueue(std::vector<std::string> urls, RetryPolicy policy)
      : urls_(std::move(urls)), policy_(policy) {}
  // A new checkpoint for every witness, due at once (replacing an older one not yet delivered).
  void Offer(int64_t size, const std::string& note, Timestamp now);
  // The pushes due at `now`.
  std::vector<Push> Due(Timestamp now) const;
  // Records the outcome of a push of checkpoint `size`; returns true when the queue gave up on
  // it (max_attempts failures).
  bool Done(const Push& push, bool ok, Timestamp now);
  // The earliest time something is due, if anything is pending.
  std::optional<Timestamp> Next() const;

 private:
  struct Pending {
    int64_t size = 0;
    std::string note;
    int failures = 0;
    Timestamp next_try;
  };
  std::vector<std::string> urls_;
  RetryPolicy policy_;
  std::map<std::string, Pending> pending_;
};

struct CheckpointerOptions {
  Seconds interval = Seconds(10);
  std::vector<std::string> witnesses;
  RetryPolicy retry;
};

// What the Checkpointer needs from the server, as functions so tests can fake them.
struct CheckpointerHooks {
  std::function<int64_t()> log_size;
  // Signs the current tree head: (size, signed note).
  std::function<Result<std::pair<int64_t, std::string>>()> sign;
  std::function<Status(const std::string& note)> persist;
  std::function<Status(const std::string& url, const std::string& note)> post;
};

class Checkpointer {
 public:
  Checkpointer(CheckpointerOptions options, CheckpointerHooks hooks, const Clock& clock,
               metrics::Registry* metrics = nullptr);
  // Hooks onto a running service: its AuditLog signs, its store keeps the latest checkpoint.
  static std::unique_ptr<Checkpointer> ForService(
      Service& service, std::function<Status(const std::string&, const std::string&)> post);
  ~Checkpointer();

  void Start();
  // Signs a last checkpoint if the log grew (e.g. "server.stopped"), offers it to witnesses for
  // up to `drain`, then stops both threads.
  void Stop(std::chrono::milliseconds drain = std::chrono::milliseconds(3000));

  // One scheduling step at clock.Now(): signs, persists and queues a checkpoint when due.
  // Returns the size signed, if one was.
  std::optional<int64_t> Tick();
  // Sends the witness pushes due at clock.Now(); returns how many were attempted.
  int PushDue();

  uint64_t push_failures() const;

 private:
  std::optional<int64_t> TickImpl(bool force);
  bool JoinThreads();  // false if not running
  void SignLoop();
  void PushLoop();

  CheckpointerOptions options_;
  CheckpointerHooks hooks_;
  const Clock& clock_;
  metrics::Counter* failures_metric_ = nullptr;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  CheckpointSchedule schedule_;
  WitnessQueue witnesses_;
  bool stopping_ = false;
  uint64_t push_failures_ = 0;
  std::thread sign_thread_;
  std::thread push_thread_;
};

}  // namespace bg::service
