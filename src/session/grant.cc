#include "session/grant.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "util/time.h"

namespace bg::session {

GrantState::GrantState() {
  if (pipe2(pipe_, O_CLOEXEC | O_NONBLOCK) != 0) pipe_[0] = pipe_[1] = -1;
}

GrantState::~GrantState() {
  for (int fd : pipe_) {
    if (fd >= 0) close(fd);
  }
}

void GrantState::Wake() {
  if (pipe_[1] >= 0) {
    char c = 1;
    (void)!write(pipe_[1], &c, 1);
  }
}

void GrantState::Drained() {
  char buf[64];
  while (pipe_[0] >= 0 && read(pipe_[0], buf, sizeof buf) > 0) {
  }
}

void GrantState::SetEndsAt(int64_t unix_seconds) {
  if (ends_at_.exchange(unix_seconds) != unix_seconds) Wake();
}

void GrantState::End(const std::string& reason) {
  {
    std::lock_guard lock(mu_);
    if (ended_) return;
    ended_ = reason;
  }
  Wake();
}

std::optional<std::string> GrantState::ended() const {
  std::lock_guard lock(mu_);
  return ended_;
}

std::vector<int64_t> GrantTimer::Points(int64_t ends_at) const {
  std::vector<int64_t> p;
  if (warn_before_ > 0) p.push_back(ends_at - warn_before_);
  if (warn_before_ > 60) p.push_back(ends_at - 60);
  return p;
}

GrantTimer::Action GrantTimer::Check(int64_t now, int64_t ends_at) {
  if (ends_at <= 0) return {};
  if (ends_at != armed_for_) {
    // A new end (first known, or extended/shortened): warnings still ahead are armed again,
    // and a warning already given for a point that is still past is not repeated.
    std::vector<int64_t> keep;
    for (int64_t p : Points(ends_at)) {
      if (p <= now && !fired_.empty()) keep.push_back(p);
    }
    fired_ = std::move(keep);
    armed_for_ = ends_at;
  }
  if (now >= ends_at) return {Action::kEnd, 0};
  bool due = false;
  for (int64_t p : Points(ends_at)) {
    if (p <= now && std::find(fired_.begin(), fired_.end(), p) == fired_.end()) {
      fired_.push_back(p);
      due = true;
    }
  }
  if (due) return {Action::kWarn, ends_at - now};
  return {};
}

int64_t GrantTimer::NextDue(int64_t now, int64_t ends_at) const {
  if (ends_at <= 0) return -1;
  int64_t next = ends_at;
  for (int64_t p : Points(ends_at)) {
    if (p > now) next = std::min(next, p);
  }
  return std::max<int64_t>(0, next - now);
}

std::string Remaining(int64_t seconds) {
  if (seconds < 60) return fmt::format("{}s", std::max<int64_t>(seconds, 0));
  // Round to the minute: a warning given at 4m59s says "5m".
  return FormatDuration(Seconds((seconds + 30) / 60 * 60));
}

GrantWatcher::GrantWatcher(Transport& transport, std::string request_id, GrantState& state,
                           std::chrono::milliseconds interval)
    : transport_(transport),
      request_id_(std::move(request_id)),
      state_(state),
      interval_(interval),
      thread_([this] {
        std::unique_lock lock(mu_);
        while (!stopping_) {
          cv_.wait_for(lock, interval_, [this] { return stopping_; });
          if (stopping_) break;
          lock.unlock();
          (void)PollOnce(transport_, request_id_, state_);
          lock.lock();
        }
      }) {}

GrantWatcher::~GrantWatcher() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Result<std::string> GrantWatcher::PollOnce(Transport& transport, const std::string& request_id,
                                           GrantState& state) {
  BG_ASSIGN_OR_RETURN(std::string body, transport.Call("GET", "/v1/requests/" + request_id, ""));
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_object() || !j.contains("state") || !j["state"].is_string()) {
    return Error::Internal("the server's answer about request " + request_id + " has no state");
  }
  const std::string st = j["state"].get<std::string>();
  if (j.contains("ends_at") && j["ends_at"].is_string()) {
    auto t = ParseRfc3339(j["ends_at"].get<std::string>(), "ends_at");
    if (t) state.SetEndsAt(ToUnixSeconds(*t));
  }
  if (j.value("recording", "") == "required") state.SetRecordingRequired();
  if (st != "active" && st != "approved" && st != "pending") state.End(st);
  return st;
}

}  // namespace bg::session
