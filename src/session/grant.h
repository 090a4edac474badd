// What the recorder knows about the grant it runs under, and the rules for acting on it.
//
// GrantState is shared between the grant watcher (which polls the server) and the recorder's
// loop (which it wakes through a pipe). GrantTimer is the pure rule: warn `warn_before` and
// 60 s before the end, end the session at the end; a later end (an extension) re-arms the
// warnings.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "session/transport.h"
#include "util/result.h"

namespace bg::session {

class GrantState {
 public:
  GrantState();
  ~GrantState();
  GrantState(const GrantState&) = delete;
  GrantState& operator=(const GrantState&) = delete;

  // Unix seconds; 0 while unknown.
  void SetEndsAt(int64_t unix_seconds);
  int64_t ends_at() const { return ends_at_.load(); }
  // The grant is over ("revoked", "expired", ...): the session must end now.
  void End(const std::string& reason);
  std::optional<std::string> ended() const;
  // The grant's rule has recording = "required" (as the server says).
  void SetRecordingRequired() { recording_required_ = true; }
  bool recording_required() const { return recording_required_.load(); }
  // Readable when something changed (the recorder polls it; it drains it with Drained()).
  int wake_fd() const { return pipe_[0]; }
  void Drained();

 private:
  void Wake();
  std::atomic<int64_t> ends_at_{0};
  std::atomic<bool> recording_required_{false};
  mutable std::mutex mu_;
  std::optional<std::string> ended_;
  int pipe_[2] = {-1, -1};
};

class GrantTimer {
 public:
  explicit GrantTimer(int64_t warn_before_seconds) : warn_before_(warn_before_seconds) {}
  struct Action {
    enum Kind { kNone, kWarn, kEnd } kind = kNone;
    int64_t remaining = 0;  // seconds left, for a warning
  };
  // What to do at `now` given the grant's end (0: unknown, nothing to do). Each warning is given
  // once; when several are due at once (a late start), only the latest is given.
  Action Check(int64_t now, int64_t ends_at);
  // Seconds from `now` to the next warning or the end; -1 when nothing is scheduled.
  int64_t NextDue(int64_t now, int64_t ends_at) const;

 private:
  std::vector<int64_t> Points(int64_t ends_at) const;
  int64_t warn_before_;
  int64_t armed_for_ = 0;          // the end the fired set belongs to
  std::vector<int64_t> fired_;     // warning times already given
};

// Human text for a remaining time: "5m", "1m", "45s", "1h2m".
std::string Remaining(int64_t seconds);

// Polls GET /v1/requests/{id} every `interval` and updates `state`: the end time (extensions),
// and the end of the grant when the request leaves the active state. An unreachable server
// changes nothing (the last known end still holds).
class GrantWatcher {
 public:
  GrantWatcher(Transport& transport, std::string request_id, GrantState& state,
               std::chrono::milliseconds interval);
  ~GrantWatcher();
  // One poll, also used at start: the request as the server sees it, applied to the state.
  // Returns the request's state name ("active", ...).
  static Result<std::string> PollOnce(Transport& transport, const std::string& request_id,
                                      GrantState& state);

 private:
  Transport& transport_;
  std::string request_id_;
  GrantState& state_;
  std::chrono::milliseconds interval_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace bg::session
