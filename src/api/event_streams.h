// The Server-Sent Events streams of GET /v1/events: one per client, each fed from the
// service's event bus with what its caller may see (request events of visible requests;
// alerts addressed to them, or to auditors and admins). A comment goes out every 15 s so
// proxies keep the stream open and dead peers are found. A stream ends within
// kCheckInterval (plus one store read) of its token no longer being valid: expired, logged
// out, or its account disabled, also by another process.
//
// Every event carries an id, "<epoch>-<seq>" (the epoch is this process's, the sequence counts
// the bus's events). A client that reconnects with Last-Event-ID gets, before anything new, the
// events it may see that it missed, from the last kReplay; when those are gone, or the id is of
// another process (a restart), it gets one "reset" event instead: read everything again. Replay
// and registration happen under the lock the fan-out holds, so nothing falls between them.
//
// Thread-safe. The destructor closes every stream still open (their on-close hooks run).
#pragma once

#include <atomic>
#include <chrono>
#include <deque>
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

  // Starts the stream on `w` for `actor`, authenticated by `token`; `last_event_id` is the
  // client's Last-Event-ID header (empty on a first connection).
  void Open(const core::Actor& actor, std::string token, std::shared_ptr<http::ResponseWriter> w,
            const std::string& last_event_id = "");

  // How many streams are open (for tests and metrics).
  size_t size();

 static constexpr std::chrono::milliseconds kCheckInterval{200};
  static constexpr size_t kReplay = 1024;

 private:
  static constexpr int kHeartbeatTicks = 75;  // 15 s of kCheckInterval
  struct Stream {
    std::shared_ptr<http::ResponseWriter> writer;
    std::string token;
    core::Actor actor;
  };
  // One bus event as it goes out: its sequence number, the event (for who may see it) and its
  // SSE name and data, rendered once for every stream.
  struct Recorded {
    uint64_t seq = 0;
    service::StateEvent event;
    std::string name;  // "request" or "alert"
    std::string data;
  };
  // Records `e` and writes it to every stream whose actor may see it (under mu_).
  void FanOut(const service::StateEvent& e);
  // Writes `r` to `w` if `actor` may see it; the caller holds mu_.
  void WriteTo(http::ResponseWriter& w, const core::Actor& actor, const Recorded& r);
  void Heartbeats();
  // False once `token` no longer authenticates; true also when the store could not be asked.
  bool StillValid(const std::string& token);

  service::Service& service_;
  std::mutex mu_;
  // The open streams by subscription id: this class owns their writers (a dropped writer
  // ends its stream); closed ones are dropped by the heartbeat.
  std::map<uint64_t, Stream> streams_;
  uint64_t next_stream_ = 1;
  const std::string epoch_;     // random, per process
  uint64_t seq_ = 0;            // the last event's sequence number
  std::deque<Recorded> recent_;  // the last kReplay events
  uint64_t subscription_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> sweep_{false};  // a stream closed: drop closed ones on the next tick
  std::thread heartbeat_;
};

}  // namespace bg::api
