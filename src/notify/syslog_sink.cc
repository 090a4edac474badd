#include "notify/syslog_sink.h"

#include <fmt/format.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <nlohmann/json.hpp>

#include "audit/event.h"
#include "notify/severity.h"

namespace bg::notify {
namespace {

constexpr int kFacilityAuthPriv = 10;
// RFC 5424's structured data id for private use: name@<enterprise number>; 32473 is the
// number reserved for documentation and examples (RFC 5612).
constexpr std::string_view kSdId = "breakglass@32473";

// PRINTUSASCII (33..126), at most `max` characters: HOSTNAME, APP-NAME, MSGID fields.
std::string PrintAscii(std::string_view s, size_t max) {
  std::string out;
  for (char c : s) {
    if (out.size() == max) break;
    out += (c >= 33 && c <= 126) ? c : '_';
  }
  return out.empty() ? "-" : out;
}

// SD-PARAM values escape '"', '\' and ']'.
std::string SdEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\' || c == ']') out += '\\';
    out += c;
  }
  return out;
}

std::string Hostname() {
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "-";
  return buf;
}

}  // namespace

Result<SyslogTarget> ParseSyslogUrl(std::string_view url) {
  auto bad = [&](std::string_view why) {
    return Error::InvalidArgument("syslog", fmt::format("\"{}\": {}", url, why));
  };
  SyslogTarget t;
  std::string_view rest;
  if (url.rfind("udp://", 0) == 0) {
    rest = url.substr(6);
  } else if (url.rfind("tcp://", 0) == 0) {
    t.tcp = true;
    rest = url.substr(6);
  } else {
    return bad("must start with udp:// or tcp://");
  }
  std::string_view port;
  if (!rest.empty() && rest.front() == '[') {
    size_t close = rest.find(']');
    if (close == std::string_view::npos) return bad("unterminated [IPv6 address]");
    t.host = std::string(rest.substr(1, close - 1));
    rest.remove_prefix(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return bad("expected :PORT after the address");
      port = rest.substr(1);
    }
  } else {
    size_t colon = rest.find(':');
    t.host = std::string(rest.substr(0, colon));
    if (colon != std::string_view::npos) port = rest.substr(colon + 1);
  }
  if (t.host.empty()) return bad("no host");
  if (!port.empty()) {
    int p = 0;
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (ec != std::errc() || ptr != port.data() + port.size() || p < 1 || p > 65535) {
      return bad("port must be 1-65535");
    }
    t.port = static_cast<uint16_t>(p);
  }
  return t;
}

std::string FormatSyslog(int64_t index, std::string_view leaf, std::string_view hostname, int pid,
                         std::string_view fallback_time) {
  auto event = audit::ParseLeaf(leaf);
  std::string type = event ? event->type : "invalid";
  std::string time = event ? FormatRfc3339(event->time) : std::string(fallback_time);
  // A leaf that is not a valid event is itself worth a warning.
  int pri = kFacilityAuthPriv * 8 + (event ? SeverityOf(type).syslog : kSyslogWarning);
  std::string sd = fmt::format("[{} index=\"{}\"", kSdId, index);
  if (event) {
    sd += fmt::format(" actor=\"{}\"", SdEscape(event->actor));
    if (event->request) sd += fmt::format(" request=\"{}\"", SdEscape(event->request->value()));
  }
  sd += ']';
  return fmt::format("<{}>1 {} {} breakglass {} {} {} \xEF\xBB\xBF{}", pri, time,
                     PrintAscii(hostname, 255), pid, PrintAscii(type, 32), sd, leaf);
}

SyslogSink::SyslogSink(SyslogTarget target)
    : target_(std::move(target)), hostname_(Hostname()), pid_(getpid()) {}

SyslogSink::~SyslogSink() { CloseSocket(); }

std::string SyslogSink::Describe() const {
  const bool v6 = target_.host.find(':') != std::string::npos;
  return fmt::format("{}://{}{}{}:{}", target_.tcp ? "tcp" : "udp", v6 ? "[" : "", target_.host,
                     v6 ? "]" : "", target_.port);
}

Status SyslogSink::Deliver(int64_t index, std::string_view leaf) {
  return Send(FormatSyslog(
      index, leaf, hostname_, pid_,
      FormatRfc3339(std::chrono::time_point_cast<Seconds>(std::chrono::system_clock::now()))));
}

void SyslogSink::CloseSocket() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

Status SyslogSink::Send(const std::string& message) {
  auto failed = [&](std::string_view what) {
    return Error::Unavailable(fmt::format("syslog {}: {}", Describe(), what));
  };
  if (fd_ < 0) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = target_.tcp ? SOCK_STREAM : SOCK_DGRAM;
    addrinfo* res = nullptr;
    int rc = getaddrinfo(target_.host.c_str(), std::to_string(target_.port).c_str(), &hints, &res);
    if (rc != 0) return failed(gai_strerror(rc));
    for (addrinfo* a = res; a != nullptr && fd_ < 0; a = a->ai_next) {
      fd_ = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
      if (fd_ < 0) continue;
      if (target_.tcp) {
        timeval tv{5, 0};
        setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
      }
      if (connect(fd_, a->ai_addr, a->ai_addrlen) != 0) CloseSocket();
    }
    freeaddrinfo(res);
    if (fd_ < 0) return failed("cannot connect");
  }
  std::string framed = target_.tcp ? fmt::format("{} {}", message.size(), message) : message;
  size_t off = 0;
  while (off < framed.size()) {
    ssize_t n = send(fd_, framed.data() + off, framed.size() - off, MSG_NOSIGNAL);
    if (n < 0) {
      const int err = errno;
      CloseSocket();
      return failed(strerror(err));
    }
    if (!target_.tcp) break;  // one datagram
    off += static_cast<size_t>(n);
  }
  return Ok();
}

}  // namespace bg::notify
