// A ResponseWriter for API tests: captures what a route answered. Thread-safe.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/http_server.h"

namespace bg::testing {

// Records what the API answered (an answer, or a stream and its events); Wait() blocks, with a
// deadline that guards against a hang (never a rule's time), until it did.
class CapturingWriter final : public http::ResponseWriter {
 public:
  bool Send(http::HttpResponse response) override {
    std::lock_guard lock(mu_);
    if (done_) return false;
    response_ = std::move(response);
    done_ = true;
    cv_.notify_all();
    return true;
  }
  bool StartStream(http::HeaderList headers) override {
    std::lock_guard lock(mu_);
    if (done_) return false;
    response_.status = 200;
    response_.content_type = "text/event-stream";
    response_.headers = std::move(headers);
    streaming_ = true;
    done_ = true;
    cv_.notify_all();
    return true;
  }
  bool WriteEvent(std::string_view event, std::string_view data, std::string_view id) override {
    std::lock_guard lock(mu_);
    if (!streaming_ || closed_) return false;
    events_.push_back(std::string(event) + ":" + std::string(data));
    ids_.push_back(std::string(id));
    cv_.notify_all();
    return true;
  }
  // Waits (with a deadline) for at least `n` events; returns (event:data, id) pairs.
  std::vector<std::pair<std::string, std::string>> WaitEvents(size_t n) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(20), [&] { return events_.size() >= n; });
    std::vector<std::pair<std::string, std::string>> out;
    for (size_t i = 0; i < events_.size(); ++i) out.emplace_back(events_[i], ids_[i]);
    return out;
  }
  bool WriteComment(std::string_view) override { return IsOpen(); }
  void Close() override {
    std::function<void()> cb;
    {
      std::lock_guard lock(mu_);
      if (closed_) return;
      closed_ = true;
      done_ = true;
      cb = std::move(on_close_);
      cv_.notify_all();
    }
    if (cb) cb();
  }
  bool IsOpen() const override {
    std::lock_guard lock(mu_);
    return streaming_ && !closed_;
  }
  void SetOnClose(std::function<void()> callback) override {
    {
      std::lock_guard lock(mu_);
      if (!closed_) {
        on_close_ = std::move(callback);
        return;
      }
    }
    callback();
  }

  http::HttpResponse Wait(std::chrono::milliseconds guard = std::chrono::seconds(20)) {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, guard, [this] { return done_; })) {
      ADD_FAILURE() << "no answer";
    }
    return response_;
  }
  bool closed() const {
    std::lock_guard lock(mu_);
    return closed_;
  }
  // Waits (with a deadline) until the stream is closed.
  bool WaitClosed(std::chrono::milliseconds deadline) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, deadline, [this] { return closed_; });
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false, streaming_ = false, closed_ = false;
  http::HttpResponse response_;
  std::vector<std::string> events_;
  std::vector<std::string> ids_;
  std::function<void()> on_close_;
};

}  // namespace bg::testing
