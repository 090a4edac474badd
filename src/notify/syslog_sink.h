// RFC 5424 syslog forwarding of audit events, over UDP (one datagram per message, RFC 5426) or
// TCP (octet-counting framing, RFC 6587), configured as "udp://HOST:PORT" or "tcp://HOST:PORT".
//
// Each leaf becomes one message:
//   <PRI>1 <leaf time> <hostname> breakglass <pid> <event type> [breakglass@32473 index="N"
//   actor="..." request="..."] BOM<the leaf's canonical JSON>
// facility authpriv (10); severity warning for failures and alerts, notice otherwise.
//
// SyslogSink::Enqueue never blocks (the audit writer calls it): messages go into a bounded
// queue that one sender thread drains; when the queue is full the oldest message is dropped and
// counted. Send errors are logged as structured JSON and the connection is re-made on the next
// message. Thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "util/result.h"

namespace bg::notify {

struct SyslogTarget {
  bool tcp = false;
  std::string host;
  uint16_t port = 514;
};

// Parses "udp://HOST:PORT" or "tcp://HOST:PORT" (IPv6 as "[::1]:514"; the port defaults to
// 514). InvalidArgument(field "syslog") otherwise.
Result<SyslogTarget> ParseSyslogUrl(std::string_view url);

// The RFC 5424 message for the leaf at `index` (without transport framing). A leaf that is not
// a valid audit event is still forwarded, with MSGID "invalid" and the time of `fallback_time`.
std::string FormatSyslog(int64_t index, std::string_view leaf, std::string_view hostname, int pid,
                         std::string_view fallback_time);

class SyslogSink {
 public:
  struct Stats {
    uint64_t sent = 0;
    uint64_t dropped = 0;
    uint64_t send_errors = 0;
  };
  // Opens no socket yet. `max_queue` bounds memory when the receiver is down.
  SyslogSink(SyslogTarget target, size_t max_queue = 100000);
  ~SyslogSink();
  SyslogSink(const SyslogSink&) = delete;
  SyslogSink& operator=(const SyslogSink&) = delete;

  void Start();
  // Queues one leaf; returns at once.
  void Enqueue(int64_t index, std::string leaf);
  // Sends what is queued (for up to `drain` seconds), then stops the thread.
  void Stop(std::chrono::milliseconds drain = std::chrono::milliseconds(2000));
  Stats stats() const;

 private:
  void Loop();
  bool Send(const std::string& message);
  void CloseSocket();

  SyslogTarget target_;
  size_t max_queue_;
  std::string hostname_;
  int pid_ = 0;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<int64_t, std::string>> queue_;
  bool stopping_ = false;
  std::chrono::steady_clock::time_point drain_deadline_;
  Stats stats_;
  int fd_ = -1;
  std::thread thread_;
};

}  // namespace bg::notify
