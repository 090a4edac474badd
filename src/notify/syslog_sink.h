// RFC 5424 syslog forwarding of audit events, over UDP (one datagram per message, RFC 5426),
// TCP (octet-counting framing, RFC 6587) or TLS (RFC 5425: the same framing inside TLS 1.2+,
// the server's certificate verified against `cacert` or the system store and its name against
// the host), configured as "udp://HOST:PORT", "tcp://HOST:PORT" or "tls://HOST:PORT".
//
// Each leaf becomes one message:
//   <PRI>1 <leaf time> <hostname> breakglass <pid> <event type> [breakglass@32473 index="N"
//   actor="..." request="..."] BOM<the leaf's canonical JSON>
// facility authpriv (10); severity warning for failures and alerts, notice otherwise.
//
// SyslogSink is a Sink (notify/sink.h): SinkRunner feeds it from the audit log, in order, and
// retries an event it could not send. Send errors are logged as structured JSON and the
// connection is re-made on the next attempt. A UDP datagram that the network loses is lost
// (UDP syslog has no acknowledgement); use tcp:// where every message must arrive.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "notify/sink.h"
#include "util/result.h"

namespace bg::notify {

struct SyslogTarget {
  bool tcp = false;  // a stream (tcp:// or tls://)
  std::string host;
  uint16_t port = 514;
  bool tls = false;    // tls://
  std::string cacert;  // tls: PEM file of the CA to trust; empty: the system store
};

// Parses "udp://HOST:PORT", "tcp://HOST:PORT" or "tls://HOST:PORT" (IPv6 as "[::1]:514"; the
// port defaults to 514, for tls:// to 6514). InvalidArgument(field "syslog") otherwise.
Result<SyslogTarget> ParseSyslogUrl(std::string_view url);

// The RFC 5424 message for the leaf at `index` (without transport framing). A leaf that is not
// a valid audit event is still forwarded, with MSGID "invalid" and the time of `fallback_time`.
std::string FormatSyslog(int64_t index, std::string_view leaf, std::string_view hostname, int pid,
                         std::string_view fallback_time);

class SyslogSink final : public Sink {
 public:
  // Opens no socket yet.
  explicit SyslogSink(SyslogTarget target);
  ~SyslogSink() override;
  SyslogSink(const SyslogSink&) = delete;
  SyslogSink& operator=(const SyslogSink&) = delete;

  std::string Describe() const override;
  Status Deliver(int64_t index, std::string_view leaf) override;

 private:
  Status Send(const std::string& message);
  Status Connect();
  void CloseSocket();

  SyslogTarget target_;
  struct TlsState;
  std::unique_ptr<TlsState> tls_;  // while a tls:// connection is open
  std::string hostname_;
  int pid_ = 0;
  int fd_ = -1;
};

}  // namespace bg::notify
