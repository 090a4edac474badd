// The Server-Sent Events streams of GET /v1/events: one per client, each fed from the
// service's event bus with what its caller may see (request events of visible requests;
// alerts addressed to them, or to auditors and admins). A comment goes out every 15 s so
// proxies keep the stream open and dead peers are found. A stream ends within
// kCheckInterval (plus one store read) of its token no longer being valid: expired, logged
// out, or its account disabled, also by another process.
//
// Thread-safe. The destructor closes every stream still open (their on-close hooks run).
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "core/request.h"
#include "http/http_server.h"
#include "service/service.h"

namespace bg::api {

class EventStreams {
 public:
  explicit EventStreams(service::Service& service);
  ~EventStreams();
  EventStreams(const EventStreams&) = delete;
  EventStreams& operator=(const EventStreams&) = delete;

  // Starts the stream on `w` for `actor`, authenticated by `token`.
  void Open(const core::Actor& actor, std::string token, std::shared_ptr<http::ResponseWriter> w);

  // How many streams are open (for tests and metrics).
  size_t size();

 static constexpr std::chrono::milliseconds kCheckInterval{200};

 private:
  static constexpr int kHeartbeatTicks = 75;  // 15 s of kCheckInterval
  struct Stream {
    std::shared_ptr<http::ResponseWriter> writer;
    std::string token;
  };
  void Heartbeats();
  // False once `token` no longer authenticates; true also when the store could not be asked.
  bool StillValid(const std::string& token);

  service::Service& service_;
  std::mutex mu_;
  // The open streams by subscription id: this class owns their writers (a dropped writer
  // ends its stream); closed ones are dropped by the heartbeat.
  std::map<uint64_t, Stream> streams_;
  std::atomic<bool> stopping_{false};
  std::thread heartbeat_;
};

}  // namespace bg::api
