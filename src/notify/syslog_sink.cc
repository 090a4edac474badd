#include "notify/syslog_sink.h"

#include <fmt/format.h>
#include <netdb.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <nlohmann/json.hpp>

#include "audit/event.h"
#include "notify/severity.h"
#include "util/encoding.h"

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
  } else if (url.rfind("tls://", 0) == 0) {
    t.tcp = true;
    t.tls = true;
    t.port = 6514;
    rest = url.substr(6);
  } else {
    return bad("must start with udp://, tcp:// or tls://");
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

struct SyslogSink::TlsState {
  SSL_CTX* ctx = nullptr;
  SSL* ssl = nullptr;
  ~TlsState() {
    if (ssl) {
      SSL_shutdown(ssl);
      SSL_free(ssl);
    }
    if (ctx) SSL_CTX_free(ctx);
  }
};

SyslogSink::SyslogSink(SyslogTarget target)
    : target_(std::move(target)), hostname_(Hostname()), pid_(getpid()) {}

SyslogSink::~SyslogSink() { CloseSocket(); }

std::string SyslogSink::Describe() const {
  const bool v6 = target_.host.find(':') != std::string::npos;
  return fmt::format("{}://{}{}{}:{}", target_.tls ? "tls" : target_.tcp ? "tcp" : "udp",
                     v6 ? "[" : "", target_.host, v6 ? "]" : "", target_.port);
}

Status SyslogSink::Deliver(int64_t index, std::string_view leaf) {
  return Send(FormatSyslog(
      index, leaf, hostname_, pid_,
      FormatRfc3339(std::chrono::time_point_cast<Seconds>(std::chrono::system_clock::now()))));
}

void SyslogSink::CloseSocket() {
  tls_.reset();  // before the socket: a TLS close_notify goes out on it
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

namespace {

// A socket BIO that writes with MSG_NOSIGNAL: a receiver that went away must be an error for
// this sink, not a SIGPIPE for the process (OpenSSL's own socket BIO uses write()).
int NoSigpipeWrite(BIO* b, const char* data, int len) {
  const int fd = static_cast<int>(reinterpret_cast<intptr_t>(BIO_get_data(b)));
  BIO_clear_retry_flags(b);
  const ssize_t n = send(fd, data, static_cast<size_t>(len), MSG_NOSIGNAL);
  if (n < 0 && errno == EINTR) BIO_set_retry_write(b);
  return static_cast<int>(n);
}
int NoSigpipeRead(BIO* b, char* data, int len) {
  const int fd = static_cast<int>(reinterpret_cast<intptr_t>(BIO_get_data(b)));
  BIO_clear_retry_flags(b);
  const ssize_t n = recv(fd, data, static_cast<size_t>(len), 0);
  if (n < 0 && errno == EINTR) BIO_set_retry_read(b);
  return static_cast<int>(n);
}
long NoSigpipeCtrl(BIO*, int cmd, long, void*) { return cmd == BIO_CTRL_FLUSH ? 1 : 0; }
int NoSigpipeCreate(BIO* b) {
  BIO_set_init(b, 1);
  return 1;
}

BIO* NoSigpipeBio(int fd) {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "breakglass socket");
    BIO_meth_set_write(m, NoSigpipeWrite);
    BIO_meth_set_read(m, NoSigpipeRead);
    BIO_meth_set_ctrl(m, NoSigpipeCtrl);
    BIO_meth_set_create(m, NoSigpipeCreate);
    return m;
  }();
  BIO* b = BIO_new(method);
  if (b) BIO_set_data(b, reinterpret_cast<void*>(static_cast<intptr_t>(fd)));
  return b;
}

std::string OpenSslError() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "TLS failure";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof(buf));
  return buf;
}

}  // namespace

Status SyslogSink::Connect() {
  auto failed = [&](std::string_view what) {
    CloseSocket();
    return Error::Unavailable(fmt::format("syslog {}: {}", Describe(), what));
  };
  {
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
  if (!target_.tls) return Ok();
  // RFC 5425: TLS 1.2 or later, the server authenticated by its certificate and name.
  timeval tv{5, 0};
  setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  tls_ = std::make_unique<TlsState>();
  tls_->ctx = SSL_CTX_new(TLS_client_method());
  if (!tls_->ctx) return failed(OpenSslError());
  SSL_CTX_set_min_proto_version(tls_->ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify(tls_->ctx, SSL_VERIFY_PEER, nullptr);
  const bool cas = target_.cacert.empty()
                       ? SSL_CTX_set_default_verify_paths(tls_->ctx) == 1
                       : SSL_CTX_load_verify_locations(tls_->ctx, target_.cacert.c_str(), nullptr) == 1;
  if (!cas) return failed("cannot load the CA certificates: " + OpenSslError());
  tls_->ssl = SSL_new(tls_->ctx);
  if (!tls_->ssl) return failed(OpenSslError());
  BIO* bio = NoSigpipeBio(fd_);
  if (!bio) return failed(OpenSslError());
  SSL_set_bio(tls_->ssl, bio, bio);  // one BIO both ways: SSL owns it
  if (IsIpAddress(target_.host)) {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(tls_->ssl), target_.host.c_str());
  } else {
    SSL_set_tlsext_host_name(tls_->ssl, target_.host.c_str());
    SSL_set1_host(tls_->ssl, target_.host.c_str());
  }
  if (SSL_connect(tls_->ssl) != 1) {
    const long verify = SSL_get_verify_result(tls_->ssl);
    std::string why = verify != X509_V_OK ? std::string("certificate not trusted: ") +
                                                X509_verify_cert_error_string(verify)
                                          : OpenSslError();
    return failed("TLS handshake: " + why);
  }
  return Ok();
}

Status SyslogSink::Send(const std::string& message) {
  auto failed = [&](std::string_view what) {
    return Error::Unavailable(fmt::format("syslog {}: {}", Describe(), what));
  };
  if (fd_ < 0) BG_TRY(Connect());
  std::string framed = target_.tcp ? fmt::format("{} {}", message.size(), message) : message;
  if (tls_) {
    size_t off = 0;
    while (off < framed.size()) {
      const int n = SSL_write(tls_->ssl, framed.data() + off, static_cast<int>(framed.size() - off));
      if (n <= 0) {
        const std::string why = OpenSslError();
        CloseSocket();
        return failed(why);
      }
      off += static_cast<size_t>(n);
    }
    return Ok();
  }
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
