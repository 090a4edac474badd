// The Server-Sent Events streams of GET /v1/events: one per client, each fed from the
// service's event bus with what its caller may see (request events of visible requests;
// alerts addressed to them, or to auditors and admins). A comment goes out every 15 s so
// proxies keep the stream open and dead peers are found.
//
// Thread-safe. The destructor closes every stream still open (their on-close hooks run).
#pragma once

#include <atomic>
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

 private:
  struct Stream {
    std::shared_ptr<http::ResponseWriter> writer;
    std::string token;
  };
  void Heartbeats();

  service::Service& service_;
  std::mutex mu_;
  // The open streams by subscription id: this class owns their writers (a dropped writer
  // ends its stream); closed ones are dropped by the heartbeat.
  std::map<uint64_t, Stream> streams_;
  std::atomic<bool> stopping_{false};
  std::thread heartbeat_;
};

}  // namespace bg::api
