#include "session/shipper.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "util/encoding.h"
#include "util/sha256.h"
#include "util/time.h"

namespace bg::session {

std::string ChunkBody(const Chunk& chunk, const std::string& request_id,
                      const std::string& header_line) {
  nlohmann::json j = {{"seq", chunk.seq},
                      {"data", chunk.data},
                      {"sha256", HexEncode(AsBytes(Sha256(chunk.data)))}};
  if (chunk.seq == 0) {
    j["request_id"] = request_id;
    j["header"] = header_line;
  }
  if (chunk.final) {
    j["final"] = true;
    j["ended_at"] = FormatRfc3339(FromUnixSeconds(chunk.ended_at));
    j["end_reason"] = chunk.end_reason;
  }
  return j.dump();
}

namespace {

bool Retryable(const Error& e) {
  return e.code() == ErrorCode::kUnavailable || e.code() == ErrorCode::kInternal ||
         e.code() == ErrorCode::kUnauthenticated;
}

Status WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Error::Unavailable(std::string("write: ") + std::strerror(errno));
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Ok();
}

}  // namespace

Result<std::unique_ptr<Shipper>> Shipper::Start(Transport& transport, ShipperOptions options,
                                                std::function<void(const std::string&)> notice) {
  BG_ASSIGN_OR_RETURN(Spool spool, Spool::Open(options.spool_dir));
  return std::unique_ptr<Shipper>(
      new Shipper(transport, std::move(options), std::move(spool), std::move(notice)));
}

Shipper::Shipper(Transport& transport, ShipperOptions options, Spool spool,
                 std::function<void(const std::string&)> notice)
    : transport_(transport),
      options_(std::move(options)),
      spool_(std::move(spool)),
      notice_(std::move(notice)),
      thread_([this] { Loop(); }) {}

Shipper::~Shipper() { Stop(); }

void Shipper::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Shipper::Begin(const std::string& header_line) {
  std::lock_guard lock(mu_);
  header_ = header_line;
}

void Shipper::Put(Chunk chunk) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(chunk));
    given_++;
  }
  cv_.notify_all();
}

bool Shipper::Drain(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [this] {
    return stats_.refused || stats_.lost > 0 || (queue_.empty() && stats_.uploaded == given_);
  });
  return queue_.empty() && stats_.uploaded == given_;
}

bool Shipper::WaitUploaded(int64_t n, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return stats_.refused || stats_.uploaded >= n; });
  return stats_.uploaded >= n;
}

Shipper::Stats Shipper::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

void Shipper::Loop() {
  using Clock = std::chrono::steady_clock;
  std::chrono::milliseconds backoff{0};
  Clock::time_point next_try = Clock::now();
  bool failing = false;
  std::unique_lock lock(mu_);
  for (;;) {
    // Spool first: a chunk is on disk before any attempt to send it.
    while (!queue_.empty()) {
      Chunk c = std::move(queue_.front());
      queue_.pop_front();
      std::string body = ChunkBody(c, options_.request_id, header_);
      lock.unlock();
      Status s = spool_.Write(c.seq, body);
      lock.lock();
      if (!s) {
        stats_.last_error = s.error().message();
        if (notice_) notice_("breakglass: cannot spool the recording: " + s.error().message());
      } else {
        stats_.spooled++;
        final_spooled_ = final_spooled_ || c.final;
      }
    }
    const bool pending = stats_.uploaded < stats_.spooled && !stats_.refused && stats_.lost == 0;
    if (pending && Clock::now() >= next_try) {
      lock.unlock();
      UploadReport report;
      Status s = UploadSession(transport_, spool_, options_.session_id, report);
      lock.lock();
      stats_.uploaded += report.uploaded;
      if (s && report.uploaded == 0 && report.rejected == 0) {
        // Nothing left to upload although chunks are missing on the server: the spool was
        // removed under us. Say so once and stop, instead of trying again at once forever.
        stats_.lost = stats_.spooled - stats_.uploaded;
        stats_.last_error = "the spool directory lost chunks before they were uploaded";
        if (notice_) {
          notice_("breakglass: " + std::to_string(stats_.lost) +
                  " chunk(s) of the recording were lost: " + spool_.dir() +
                  " was removed before they were uploaded");
        }
        cv_.notify_all();
        continue;
      }
      // The whole recording is on the server: its directory goes.
      if (s && final_spooled_ && stats_.uploaded == stats_.spooled) spool_.RemoveIfEmpty();
      if (s) {
        backoff = std::chrono::milliseconds{0};
        if (failing && notice_) notice_("breakglass: the server is back; the recording caught up");
        failing = false;
      } else if (Retryable(s.error())) {
        backoff = std::min(options_.max_backoff, std::max(options_.min_backoff, backoff * 2));
        next_try = Clock::now() + backoff;
        stats_.last_error = s.error().message();
        if (!failing && notice_) {
          notice_("breakglass: cannot upload the recording (" + s.error().message() +
                  "); keeping it in " + spool_.dir() + " and retrying");
        }
        failing = true;
      } else {
        stats_.refused = true;
        stats_.last_error = s.error().message();
        if (notice_) {
          notice_("breakglass: the server refused a chunk of the recording: " +
                  s.error().message() + " (kept in " + spool_.dir() + ")");
        }
      }
      cv_.notify_all();
      continue;
    }
    if (stopping_ && queue_.empty()) return;
    if (pending) {
      cv_.wait_until(lock, next_try, [this] { return stopping_ || !queue_.empty(); });
    } else {
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    }
  }
}

Result<std::unique_ptr<CastFile>> CastFile::Open(const std::string& path) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return Error::InvalidArgument("output",
                                  fmt::format("cannot write {}: {}", path, std::strerror(errno)));
  }
  return std::unique_ptr<CastFile>(new CastFile(fd));
}

CastFile::~CastFile() { close(fd_); }

void CastFile::Begin(const std::string& header_line) { (void)WriteAll(fd_, header_line + "\n"); }

void CastFile::Put(Chunk chunk) { (void)WriteAll(fd_, chunk.data); }

void TeeSink::Begin(const std::string& header_line) {
  for (auto* s : sinks_) s->Begin(header_line);
}

void TeeSink::Put(Chunk chunk) {
  for (size_t i = 0; i + 1 < sinks_.size(); ++i) sinks_[i]->Put(chunk);
  if (!sinks_.empty()) sinks_.back()->Put(std::move(chunk));
}

}  // namespace bg::session
