// Delivers the audit log to one Sink: a cursor (the next leaf index to deliver, saved in the
// store's meta table) that follows the log. Each event is delivered in log order; a failure
// stops the runner at that event and it is tried again after an exponential backoff (1 s,
// doubling, at most RetryPolicy::max_backoff), so later events never overtake it. The cursor is
// saved after every page, so a crash re-delivers at most one page (the receiver deduplicates
// by index). A sink configured for the first time starts at the log's end: it is not sent the
// history.
//
// Step() is the whole rule and takes `now`; Start() adds the thread, which wakes on Wake()
// (a new leaf of this process) or every kPollInterval (leaves other processes appended).
// Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "notify/sink.h"
#include "util/result.h"

namespace bg::notify {

// The log a runner reads, and where it keeps its place.
class SinkLog {
 public:
  virtual ~SinkLog() = default;
  virtual Result<int64_t> Size() = 0;
  // Leaves [start, end) (fewer if the log is shorter).
  virtual Result<std::vector<std::string>> Leaves(int64_t start, int64_t end) = 0;
  // The next index to deliver to `sink`, if one was saved.
  virtual Result<std::optional<int64_t>> LoadCursor(const std::string& sink) = 0;
  virtual Status SaveCursor(const std::string& sink, int64_t next) = 0;
};

struct SinkRetry {
  std::chrono::milliseconds first_backoff{1000};
  std::chrono::milliseconds max_backoff{60000};
  int failing_after = 3;  // consecutive failures after which the sink counts as failing
  // Called after every delivery attempt (true: delivered), e.g. for a metric. Must not block.
  std::function<void(bool delivered)> on_attempt;
  // Called once each time the sink becomes failing (with the last error), from the runner's
  // thread and without its lock held, e.g. to raise an alert to the other sinks.
  std::function<void(const std::string& error)> on_failing;
};

struct SinkStats {
  int64_t next = -1;  // the next index to deliver (-1 before the first step)
  int64_t backlog = 0;
  uint64_t delivered = 0;
  uint64_t failures = 0;
  int consecutive_failures = 0;
  bool failing = false;
  std::string last_error;
};

class SinkRunner {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::milliseconds kPollInterval{1000};
  static constexpr int64_t kPage = 256;

  SinkRunner(std::string name, std::unique_ptr<Sink> sink, SinkLog& log, SinkRetry retry = {});
  ~SinkRunner();
  SinkRunner(const SinkRunner&) = delete;
  SinkRunner& operator=(const SinkRunner&) = delete;

  const std::string& name() const { return name_; }
  std::string Describe() const { return sink_->Describe(); }

  // Delivers what is due at `now`, up to the log's end or the first failure; returns how many
  // events were delivered. An error only when the log or the cursor could not be read.
  Result<int64_t> Step(Clock::time_point now);

  // Loads (or starts) the cursor, then runs the thread.
  void Start();
  void Wake();
  // Stops the thread after one last attempt to deliver what is pending (backoff ignored).
  void Stop();
  SinkStats stats() const;

 private:
  void Loop();
  // Loads the saved cursor, or saves the log's end as a new sink's start. step_mu_ held.
  Status LoadOrStartCursor();
  void Failed(Clock::time_point now, const Error& e, int64_t index);

  const std::string name_;
  const std::unique_ptr<Sink> sink_;
  SinkLog& log_;
  const SinkRetry retry_;

  mutable std::mutex mu_;  // guards everything below
  std::condition_variable cv_;
  std::mutex step_mu_;     // one Step at a time (the thread, Stop, tests)
  SinkStats stats_;
  std::optional<int64_t> next_;
  Clock::time_point next_attempt_{};
  bool woken_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace bg::notify
