// The only translation unit that includes Beast: everything Beast-shaped stays in here.
//
// Shape: `threads` io_contexts, each run by one thread; the listener hands each accepted
// connection to the next context in turn, and everything a connection does runs on its
// context's thread, so no strand is needed. Asio gives readiness, receives and timers; the
// bytes go through a transport (transport.h: plain, or OpenSSL driven directly) and Beast's
// parser is fed what arrived, so a request costs no composed operations. A Session reads one
// request, waits for the handler's answer (written at once when the handler answers on the I/O
// thread, else posted to it through the ConnectionWriter), writes it (status line, headers and body
// in one buffer, one write), and only then reads the next request, so pipelined requests are
// answered in order. Streams (SSE) write chunks from a queue and keep a read pending to
// notice the client leaving. Per connection, the read buffer, the response buffer and the
// deadline timer are reused across requests.
//
// Lifetime: sessions are owned by their pending operations and by the writer of the request in
// progress; both hold the ServerShared (and so the io_context) alive. After Stop() no writer
// posts anything any more (post_mu/stopped), so nothing can be queued on a context nobody runs.
#include "http/http_server.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <malloc.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <ctime>
#include <deque>
#include <future>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <variant>

#include "http/transport.h"
#include "http/wire.h"

namespace bg::http {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = net::ip::tcp;

namespace {

using internal::ErrorResponse;

// A buffer that grew past this for one large request or response is released afterwards
// instead of being kept for the connection's next request.
constexpr size_t kKeepCapacityBytes = 64 << 10;
constexpr size_t kDrainLimitBytes = 8 << 20;      // Unread input discarded before closing.
// How often, after connections ended, the heap's free memory beyond kTrimAboveBytes is given
// back to the system.
constexpr std::chrono::seconds kTrimInterval{2};
constexpr int kStreamSendBufferBytes = 64 << 10;  // SO_SNDBUF of an event stream
constexpr size_t kTrimAboveBytes = 4 << 20;
constexpr std::chrono::milliseconds kMaxDrainTime = std::chrono::seconds(2);
// What a kept-alive connection reads when its next request starts arriving.
constexpr size_t kFirstReadBytes = 4 << 10;

// Mozilla "intermediate" TLS 1.2 suites: ECDHE + AEAD only.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
// TLS 1.3 suites are all AEAD with (EC)DHE; named anyway, so that a system-wide OpenSSL
// configuration cannot add or reorder them.
constexpr const char* kTls13Suites =
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";

bool IsTokenChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool ValidHeader(std::string_view name, std::string_view value) {
  if (name.empty() || !std::all_of(name.begin(), name.end(), IsTokenChar)) return false;
  return value.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

std::string_view Sv(beast::string_view s) { return {s.data(), s.size()}; }

// A request body as a string that grows with the bytes that arrive. Beast's string_body
// reserves the whole Content-Length up front, so a client announcing a 1 MiB body and
// sending nothing held 1 MiB per connection.
struct ArrivingBody {
  using value_type = std::string;
  static std::uint64_t size(const value_type& body) { return body.size(); }
  class reader {
   public:
    template <bool kIsRequest, class Fields>
    reader(bhttp::header<kIsRequest, Fields>&, value_type& body) : body_(body) {}
    void init(const boost::optional<std::uint64_t>&, beast::error_code& ec) { ec = {}; }
    template <class ConstBufferSequence>
    std::size_t put(const ConstBufferSequence& buffers, beast::error_code& ec) {
      const size_t before = body_.size();
      const size_t n = net::buffer_size(buffers);
      body_.resize(before + n);  // geometric growth of the capacity, by std::string
      ec = {};
      return net::buffer_copy(net::buffer(body_.data() + before, n), buffers);
    }
    void finish(beast::error_code& ec) { ec = {}; }

   private:
    value_type& body_;
  };
};

// Gives back a string's memory when one large message made it grow.
void ReleaseIfLarge(std::string& s) {
  if (s.capacity() > kKeepCapacityBytes) std::string().swap(s);
}

bool HasLineBreak(std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; }

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool IsLoopback(const net::ip::address& address) {
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return net::ip::make_address_v4(net::ip::v4_mapped, address.to_v6()).is_loopback();
  }
  return address.is_loopback();
}

// Errors a parser reports about the bytes it was given (as opposed to I/O ending).
bool IsMalformed(const beast::error_code& ec) {
  if (ec.category() != bhttp::make_error_code(bhttp::error::bad_method).category()) return false;
  return ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message &&
         ec != bhttp::error::need_more && ec != bhttp::error::header_limit &&
         ec != bhttp::error::body_limit;
}

using RequestParser = bhttp::request_parser<ArrivingBody>;

// The header and body limits a connection reads a request with.
void Limit(RequestParser& parser, size_t max_header_bytes, size_t max_body_bytes) {
  parser.header_limit(static_cast<uint32_t>(max_header_bytes));
  parser.body_limit(max_body_bytes);
}

// Feeds `rest` to the parser until it has the headers (whole: the whole message), taking what
// it consumed off the front of `rest`; false when the bytes end first. A parse error is left
// in `ec` (needing more bytes is not one).
bool Feed(RequestParser& parser, std::string_view& rest, bool whole, beast::error_code& ec) {
  parser.eager(whole);
  while (whole ? !parser.is_done() : !parser.is_header_done()) {
    const size_t n = parser.put(net::buffer(rest.data(), rest.size()), ec);
    rest.remove_prefix(n);
    if (ec == bhttp::error::need_more) ec = {};
    // No progress: what the parser needs next has not arrived.
    if (ec || n == 0) return false;
  }
  return true;
}

HttpResponse TooLarge(size_t max_body_bytes) {
  return ErrorResponse(413, "payload_too_large",
                       fmt::format("the request body exceeds {} bytes", max_body_bytes), "body");
}

// The server's own answer to a request whose headers have arrived, when it does not go to the
// handler: a version other than 1.0/1.1, 1.1 without Host, Content-Length with
// Transfer-Encoding (400), a declared body over the limit (413).
std::optional<HttpResponse> RefusalOfHeader(const RequestParser& parser, size_t max_body_bytes) {
  const auto& req = parser.get();
  const unsigned version = req.version();
  if (version != 10 && version != 11) {
    return ErrorResponse(400, "invalid_argument", "only HTTP/1.0 and 1.1 are served");
  }
  if (version == 11 && req.find(bhttp::field::host) == req.end()) {
    return ErrorResponse(400, "invalid_argument", "HTTP/1.1 requires a Host header");
  }
  if (req.find(bhttp::field::content_length) != req.end() &&
      req.find(bhttp::field::transfer_encoding) != req.end()) {
    return ErrorResponse(400, "invalid_argument", "Content-Length and Transfer-Encoding together");
  }
  if (auto length = parser.content_length(); length && *length > max_body_bytes) {
    return TooLarge(max_body_bytes);
  }
  return std::nullopt;
}

// The server's answer to a read that failed on the bytes themselves (431, 413, 400); nullopt
// when the input just ended, was reset or timed out: nobody is listening for an answer.
std::optional<HttpResponse> RefusalOfReadError(const beast::error_code& ec,
                                               size_t max_header_bytes, size_t max_body_bytes) {
  if (ec == bhttp::error::header_limit) {
    return ErrorResponse(431, "headers_too_large",
                         fmt::format("the request headers exceed {} bytes", max_header_bytes));
  }
  if (ec == bhttp::error::body_limit) return TooLarge(max_body_bytes);
  if (IsMalformed(ec)) {
    return ErrorResponse(400, "invalid_argument",
                         fmt::format("malformed HTTP request: {}", ec.message()));
  }
  return std::nullopt;
}

// The handler's view of a complete message (its body moved out): the target decoded into
// path and query, header names lower-cased, repeated headers joined ("; " for Cookie, else
// ", "). A target that does not decode is the InvalidArgument the connection answers with 400.
Result<HttpRequest> ToHttpRequest(RequestParser::value_type& msg) {
  BG_ASSIGN_OR_RETURN(internal::Target target, internal::ParseTarget(Sv(msg.target())));
  HttpRequest request;
  request.method.assign(Sv(msg.method_string()));
  request.path = std::move(target.path);
  request.query = std::move(target.query);
  for (const auto& field : msg) {
    std::string name = Lower(Sv(field.name_string()));
    auto [it, inserted] = request.headers.emplace(std::move(name), Sv(field.value()));
    if (!inserted) {
      it->second += it->first == "cookie" ? "; " : ", ";
      it->second += Sv(field.value());
    }
  }
  request.body = std::move(msg.body());
  return request;
}

}  // namespace

namespace internal {

ReadResult ReadRequest(std::string_view bytes, size_t max_header_bytes, size_t max_body_bytes) {
  ReadResult out;
  RequestParser parser;
  Limit(parser, max_header_bytes, max_body_bytes);
  std::string_view rest = bytes;
  beast::error_code ec;
  auto feed = [&](bool whole) { return Feed(parser, rest, whole, ec); };
  const auto failed = [&] {
    out.refusal = RefusalOfReadError(ec, max_header_bytes, max_body_bytes);
    out.consumed = bytes.size() - rest.size();
    return out;
  };
  if (!feed(false)) return failed();
  if ((out.refusal = RefusalOfHeader(parser, max_body_bytes))) {
    out.consumed = bytes.size() - rest.size();
    return out;
  }
  if (!feed(true)) return failed();
  out.consumed = bytes.size() - rest.size();
  auto request = ToHttpRequest(parser.get());
  if (!request) {
    out.refusal = ErrorResponse(400, "invalid_argument", request.error().message(),
                                request.error().field());
  } else {
    out.request = std::move(*request);
  }
  return out;
}

}  // namespace internal

namespace {

using Executor = net::io_context::executor_type;
using Socket = net::basic_stream_socket<tcp, Executor>;
using Acceptor = net::basic_socket_acceptor<tcp, Executor>;
using Timer = net::basic_waitable_timer<std::chrono::steady_clock,
                                        net::wait_traits<std::chrono::steady_clock>, Executor>;
using SteadyClock = std::chrono::steady_clock;

constexpr SteadyClock::time_point kNoDeadline = SteadyClock::time_point::max();

// For deadlines, which are seconds long and set several times per request: the steady clock
// (CLOCK_MONOTONIC, as libstdc++'s) as of its last tick, which reads no time source. A deadline
// so set passes at most one tick (a few milliseconds) early.
SteadyClock::time_point CoarseNow() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return SteadyClock::time_point(std::chrono::duration_cast<SteadyClock::duration>(
      std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec)));
}

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
    char y = b[i] >= 'A' && b[i] <= 'Z' ? static_cast<char>(b[i] - 'A' + 'a') : b[i];
    if (x != y) return false;
  }
  return true;
}

// Headers the transport writes itself; a handler's own are dropped (a "close" in its
// Connection header is honoured).
bool IsServerManaged(std::string_view name) {
  return IEquals(name, "connection") || IEquals(name, "content-length") ||
         IEquals(name, "transfer-encoding") || IEquals(name, "date") ||
         IEquals(name, "x-content-type-options") || IEquals(name, "strict-transport-security");
}

// Sent with every response: no content sniffing; over TLS, HTTPS only for a year.
void AppendSecurityHeaders(std::string& out, bool tls) {
  out += "X-Content-Type-Options: nosniff\r\n";
  if (tls) out += "Strict-Transport-Security: max-age=31536000\r\n";
}

bool HasCloseToken(std::string_view value) {
  for (size_t i = 0; i + 5 <= value.size(); ++i) {
    if (IEquals(value.substr(i, 5), "close")) return true;
  }
  return false;
}

void AppendDecimal(std::string& out, uint64_t value) {
  char digits[20];
  size_t n = 0;
  do {
    digits[n++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value != 0);
  while (n > 0) out += digits[--n];
}

void AppendHex(std::string& out, uint64_t value) {
  char digits[16];
  size_t n = 0;
  do {
    digits[n++] = "0123456789abcdef"[value & 15];
    value >>= 4;
  } while (value != 0);
  while (n > 0) out += digits[--n];
}

// "Date: <IMF-fixdate>\r\n" (RFC 9110 5.6.7), formatted at most once a second per thread.
void AppendDate(std::string& out) {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  thread_local time_t cached_second = -1;
  thread_local std::string cached_line;
  time_t now = time(nullptr);
  if (now != cached_second) {
    struct tm tm {};
    gmtime_r(&now, &tm);
    cached_line = fmt::format("Date: {}, {:02} {} {:04} {:02}:{:02}:{:02} GMT\r\n",
                              kDays[tm.tm_wday % 7], tm.tm_mday, kMonths[tm.tm_mon % 12],
                              tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    cached_second = now;
  }
  out += cached_line;
}

void AppendStatusLine(std::string& out, unsigned version, int status) {
  out += version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  AppendDecimal(out, static_cast<uint64_t>(status));
  out += ' ';
  out += Sv(bhttp::obsolete_reason(static_cast<bhttp::status>(status)));
  out += "\r\n";
}

class SessionBase;

// State every session shares with the server, kept alive by whoever still needs it.
struct ServerShared {
  ServerShared(HttpServerOptions options_in, Handler handler_in)
      : options(std::move(options_in)), handler(std::move(handler_in)) {
    for (int i = 0; i < options.threads; ++i) {
      // One thread runs each context, so a connection's handlers never run concurrently and
      // need no strand. Not constructed with concurrency hint 1: with it, Asio queues what the
      // I/O thread posts in a thread-private queue that is merged after the running handler,
      // so a handler's StartStream could land behind events another thread posted after it.
      contexts.push_back(std::make_unique<net::io_context>());
    }
  }

  // Posts `fn` unless the server stopped; false if it did.
  template <typename Fn>
  bool Post(const Executor& executor, Fn&& fn) {
    std::shared_lock lock(post_mu);
    if (stopped) return false;
    net::post(executor, std::forward<Fn>(fn));
    return true;
  }

  std::vector<std::unique_ptr<net::io_context>> contexts;
  struct SslCtxFree {
    void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
  };
  std::unique_ptr<SSL_CTX, SslCtxFree> tls;  // when options.tls
  HttpServerOptions options;
  Handler handler;

  std::shared_mutex post_mu;
  bool stopped = false;  // Guarded by post_mu.
  std::atomic<bool> stopping{false};

  std::mutex sessions_mu;
  std::unordered_map<SessionBase*, std::weak_ptr<SessionBase>> sessions;
  std::atomic<uint64_t> sessions_ended{0};  // since the listener last looked

  // Open connections, in all and by source (SourceOf); see ConnectionSlot.
  std::mutex connections_mu;
  std::unordered_map<std::string, size_t> per_source;  // Guarded by connections_mu.
  std::atomic<size_t> open_connections{0};             // Written under connections_mu.
};

// The key a connection counts under for max_connections_per_source: an IPv4 address as it is,
// an IPv6 address by its /64 (one host is usually given a whole /64). `address` is not
// IPv4-mapped (StartSession unmaps it).
std::string SourceOf(const net::ip::address& address) {
  if (address.is_v4()) return address.to_string();
  auto bytes = address.to_v6().to_bytes();
  std::fill(bytes.begin() + 8, bytes.end(), 0);
  return net::ip::address_v6(bytes).to_string() + "/64";
}

// One connection's place in the server's counts, taken at accept and given back when the
// connection closes (or, at the latest, when its session goes).
class ConnectionSlot {
 public:
  // The slot, or the limit that refuses it.
  static std::variant<std::unique_ptr<ConnectionSlot>, Refusal> Take(ServerShared& shared,
                                                                     std::string source) {
    const auto& options = shared.options;
    std::lock_guard lock(shared.connections_mu);
    const size_t open = shared.open_connections.load(std::memory_order_relaxed);
    if (options.max_connections != 0 && open >= options.max_connections) {
      return Refusal::kConnectionLimit;
    }
    size_t& from_source = shared.per_source[source];
    if (options.max_connections_per_source != 0 &&
        from_source >= options.max_connections_per_source) {
      return Refusal::kPerSourceLimit;  // from_source is not 0: the entry was there already
    }
    ++from_source;
    shared.open_connections.store(open + 1, std::memory_order_relaxed);
    return std::unique_ptr<ConnectionSlot>(new ConnectionSlot(shared, std::move(source)));
  }

  ~ConnectionSlot() {
    std::lock_guard lock(shared_.connections_mu);
    shared_.open_connections.fetch_sub(1, std::memory_order_relaxed);
    auto it = shared_.per_source.find(source_);
    if (it != shared_.per_source.end() && --it->second == 0) shared_.per_source.erase(it);
  }
  ConnectionSlot(const ConnectionSlot&) = delete;
  ConnectionSlot& operator=(const ConnectionSlot&) = delete;

 private:
  ConnectionSlot(ServerShared& shared, std::string source)
      : shared_(shared), source_(std::move(source)) {}
  ServerShared& shared_;
  std::string source_;
};

// glibc keeps what a burst of connections freed (its arenas grow and are trimmed only from the
// top): after slow-client tests resident memory went from 20 MB to 262 MB and stayed. This
// returns free pages when the heap holds more than kTrimAboveBytes of free memory.
void ReleaseFreeHeap() {
#ifdef __GLIBC__
  if (mallinfo2().fordblks > kTrimAboveBytes) malloc_trim(0);
#endif
}

// What a ConnectionWriter needs from its connection; every Deliver* and Abort runs on the
// session's I/O thread.
class SessionBase : public std::enable_shared_from_this<SessionBase> {
 public:
  SessionBase(std::shared_ptr<ServerShared> shared, Executor executor)
      : shared_(std::move(shared)), executor_(executor) {}
  virtual ~SessionBase() {
    std::lock_guard lock(shared_->sessions_mu);
    shared_->sessions.erase(this);
    ++shared_->sessions_ended;
  }
  const Executor& executor() const { return executor_; }
  // False if the connection is already closed.
  virtual bool DeliverResponse(HttpResponse response) = 0;
  virtual void DeliverStreamStart(HeaderList headers) = 0;
  virtual void DeliverStreamData(std::string data) = 0;
  virtual void DeliverStreamEnd() = 0;
  virtual void Abort() = 0;

  ServerShared& shared() { return *shared_; }

 protected:
  std::shared_ptr<ServerShared> shared_;
  Executor executor_;
};

class ConnectionWriter final : public ResponseWriter {
 public:
  explicit ConnectionWriter(std::shared_ptr<SessionBase> session) : session_(std::move(session)) {}

  ~ConnectionWriter() override {
    // Dropped without a word: the client still gets an answer, a stream still gets its end.
    if (state_ == State::kNew) {
      Post([response = ErrorResponse(500, "internal", "the handler did not respond")](
               SessionBase& s) mutable { s.DeliverResponse(std::move(response)); });
    } else if (state_ == State::kStreaming) {
      Post([](SessionBase& s) { s.DeliverStreamEnd(); });
    }
    if (on_close_ && (state_ == State::kNew || state_ == State::kStreaming)) on_close_();
  }

  bool Send(HttpResponse response) override {
    std::function<void()> callback;
    bool delivered = false;
    bool here = false;
    {
      std::lock_guard lock(mu_);
      if (state_ != State::kNew) return false;
      state_ = State::kDone;
      callback = std::move(on_close_);
      // On the connection's own I/O thread (the usual case: the handler answers at once) the
      // response is written directly. Nothing of this writer can be queued before it (the
      // state was kNew), so the order of deliveries is kept.
      here = session_->executor().running_in_this_thread();
      if (!here) {
        delivered = Post([response = std::move(response)](SessionBase& s) mutable {
          s.DeliverResponse(std::move(response));
        });
      }
    }
    if (here) delivered = session_->DeliverResponse(std::move(response));
    if (callback) callback();
    return delivered;
  }

  bool StartStream(HeaderList headers) override {
    std::lock_guard lock(mu_);
    if (state_ != State::kNew) return false;
    state_ = State::kStreaming;
    return Post([headers = std::move(headers)](SessionBase& s) mutable {
      s.DeliverStreamStart(std::move(headers));
    });
  }

  bool WriteEvent(std::string_view event, std::string_view data, std::string_view id) override {
    if (HasLineBreak(event) || HasLineBreak(id)) return false;
    return WriteRaw(internal::FormatEvent(event, data, id));
  }

  bool WriteComment(std::string_view text) override {
    if (HasLineBreak(text)) return false;
    return WriteRaw(fmt::format(": {}\n\n", text));
  }

  void Close() override {
    std::function<void()> callback;
    {
      std::lock_guard lock(mu_);
      if (state_ == State::kNew) {
        Post([](SessionBase& s) { s.Abort(); });
      } else if (state_ == State::kStreaming) {
        Post([](SessionBase& s) { s.DeliverStreamEnd(); });
      } else {
        return;
      }
      state_ = State::kDone;
      callback = std::move(on_close_);
    }
    if (callback) callback();
  }

  bool IsOpen() const override {
    std::lock_guard lock(mu_);
    return state_ == State::kNew || state_ == State::kStreaming;
  }

  void SetOnClose(std::function<void()> callback) override {
    {
      std::lock_guard lock(mu_);
      if (state_ == State::kNew || state_ == State::kStreaming) {
        on_close_ = std::move(callback);
        return;
      }
    }
    if (callback) callback();
  }

  // The connection is gone (client left, write failed, server stopped). I/O thread only.
  void MarkClosed() {
    std::function<void()> callback;
    {
      std::lock_guard lock(mu_);
      if (state_ == State::kDone) return;
      state_ = State::kDone;
      callback = std::move(on_close_);
    }
    if (callback) callback();
  }

 private:
  enum class State { kNew, kStreaming, kDone };

  // Called with mu_ held (or from the destructor), so posts keep the caller's order.
  template <typename Fn>
  bool Post(Fn fn) {
    return session_->shared().Post(
        session_->executor(), [session = session_, fn = std::move(fn)]() mutable { fn(*session); });
  }

  bool WriteRaw(std::string bytes) {
    std::lock_guard lock(mu_);
    if (state_ != State::kStreaming) return false;
    return Post([bytes = std::move(bytes)](SessionBase& s) mutable {
      s.DeliverStreamData(std::move(bytes));
    });
  }

  const std::shared_ptr<SessionBase> session_;
  mutable std::mutex mu_;
  State state_ = State::kNew;
  std::function<void()> on_close_;
};

// One connection. Everything here runs on the connection's I/O thread. At most one request is
// read at a time and its response written before the next is read; a stream writes while a
// read watches for the client leaving.
//
// I/O: the transport is tried first. Only when it has used up its inbox is input received into
// it (asio's speculative receive, which does not re-arm the descriptor as an async_wait for
// readability would), and only a full socket is waited on for writing; so a request that
// arrives whole, is answered at once and written at once costs one receive completion. A continuation that ran inline more
// than kMaxInlineDepth times in a row (pipelined requests answered at once) is posted, so the
// stack stays bounded.
//
// Deadlines: one timer per connection holds the earliest deadline it was armed for; moving the
// deadline later only stores the new time (the timer re-arms itself when it fires early), so
// the per-request cost is a clock read, not a timer operation.
template <typename Transport>
class Session final : public SessionBase {
 public:
  static constexpr bool kTls = std::is_same_v<Transport, internal::TlsTransport>;

  Session(std::shared_ptr<ServerShared> shared, Socket&& socket, Transport&& transport,
          std::string remote, std::unique_ptr<ConnectionSlot> slot)
      : SessionBase(std::move(shared), socket.get_executor()),
        socket_(std::move(socket)),
        transport_(std::move(transport)),
        timer_(executor_),
        slot_(std::move(slot)) {
    log_request_.remote_address = std::move(remote);
  }

  void Run() {
    net::dispatch(executor_, [self = Self()] {
      if constexpr (kTls) {
        self->SetDeadline(self->options().header_timeout, Deadline::kHandshake);
        self->Handshake();
      } else {
        self->DoRead();
      }
    });
  }

  void Abort() override { CloseNow(); }

  bool DeliverResponse(HttpResponse response) override {
    if (closed_) return false;
    writer_.reset();
    WriteResponse(std::move(response));
    return true;
  }

  void DeliverStreamStart(HeaderList headers) override {
    if (closed_) return;
    streaming_ = true;
    // The kernel's send buffer would otherwise grow to megabytes for a reader that stopped
    // reading, in front of max_stream_buffer_bytes; events are small and a stream needs
    // little throughput.
    beast::error_code ignored;
    socket_.set_option(net::socket_base::send_buffer_size(kStreamSendBufferBytes), ignored);
    chunked_ = version_ >= 11;
    out_.clear();
    AppendStatusLine(out_, version_, 200);
    AppendDate(out_);
    AppendSecurityHeaders(out_, options().tls);
    out_ += "Content-Type: text/event-stream\r\nCache-Control: no-cache\r\nX-Accel-Buffering: no\r\n";
    for (const auto& [name, value] : headers) {
      if (!ValidHeader(name, value) || IsServerManaged(name)) continue;
      AppendHeader(name, value);
    }
    // The stream ends the connection: say so up front.
    if (version_ == 11) out_ += "Connection: close\r\n";
    if (chunked_) out_ += "Transfer-Encoding: chunked\r\n";
    out_ += "\r\n";
    writing_ = true;
    SetDeadline(options().write_timeout, Deadline::kWrite);
    Write(out_, [this](bool ok) {
      writing_ = false;
      Complete(200);
      if (!ok) return CloseNow();
      // From here on, reads wait for the client to leave (no deadline) and each write has
      // its own.
      ClearDeadline();
      Watch();
      Flush();
    });
  }

  void DeliverStreamData(std::string data) override {
    if (closed_ || !streaming_ || stream_ending_) return;
    queued_bytes_ += data.size();
    queue_.push_back(std::move(data));
    // What this reader has not taken yet: queued, and the chunk being written. A reader that
    // falls further behind is dropped (it may reconnect) rather than held in memory.
    // in_flight_ is emptied when its write completes.
    if (queued_bytes_ + in_flight_.size() > options().max_stream_buffer_bytes) {
      if (options().on_stream_dropped) options().on_stream_dropped();
      return CloseNow();
    }
    Flush();
  }

  void DeliverStreamEnd() override {
    if (closed_ || !streaming_) return;
    stream_ending_ = true;
    Flush();
  }

 private:
  static constexpr int kMaxInlineDepth = 8;
  // What one read asks for in a request's headers or body (a TLS record carries at most 16 KiB).
  static constexpr size_t kReadBytes = 16 << 10;

  std::shared_ptr<Session> Self() { return std::static_pointer_cast<Session>(shared_from_this()); }
  const HttpServerOptions& options() const { return shared_->options; }

  // Calls next(true) once the transport can go on after `io`: kWantRead, once more input is
  // in its inbox (or the peer's end of the stream); kWantWrite, once the socket is writable.
  // next(false), after closing the connection, when the receive or the wait fails or the
  // connection closed meanwhile. At most one receive is pending: a second is a bug here and
  // closes the connection.
  template <typename Fn>
  void Await(internal::Io io, Fn next) {
    if (io == internal::Io::kWantWrite) {
      socket_.async_wait(Socket::wait_write,
                         [self = Self(), next = std::move(next)](beast::error_code ec) mutable {
                           const bool ok = !ec && !self->closed_;
                           if (!ok) self->CloseNow();
                           next(ok);
                         });
      return;
    }
    if (receiving_) {
      CloseNow();
      return next(false);
    }
    receiving_ = true;
    const std::span<char> space = transport_.inbox().Space();
    socket_.async_receive(
        net::buffer(space.data(), space.size()),
        [self = Self(), next = std::move(next)](beast::error_code ec, size_t n) mutable {
          self->receiving_ = false;
          bool ok = !self->closed_;
          if (ok && !ec) {
            self->transport_.inbox().Commit(n);
          } else if (ok && ec == net::error::eof) {
            self->transport_.inbox().End();
          } else {
            ok = false;
            self->CloseNow();
          }
          next(ok);
        });
  }

  // Reads what has arrived (at least one byte, at most `size`) onto buffer_, then calls
  // `next`. The end of input, a reset or a TLS failure closes the connection: nobody is
  // listening for an answer.
  template <typename Fn>
  void ReadSome(size_t size, Fn next) {
    if (closed_) return;
    auto space = buffer_.prepare(size);
    const internal::IoResult r = transport_.Read(static_cast<char*>(space.data()), space.size());
    switch (r.status) {
      case internal::Io::kDone:
        buffer_.commit(r.bytes);
        return next();
      case internal::Io::kWantRead:
      case internal::Io::kWantWrite:
        return Await(r.status, [this, size, next = std::move(next)](bool ok) mutable {
          if (ok) ReadSome(size, std::move(next));
        });
      default:
        return CloseNow();
    }
  }

  // Writes all of `data` (which must stay alive and unchanged until `done` runs), then calls
  // done(true); done(false) when the connection failed (it is then closed or closing).
  template <typename Fn>
  void Write(std::string_view data, Fn done) {
    while (!data.empty()) {
      if (closed_) return done(false);
      const internal::IoResult r = transport_.Write(data.data(), data.size());
      if (r.status == internal::Io::kDone) {
        data.remove_prefix(r.bytes);
        continue;
      }
      if (r.status == internal::Io::kWantRead || r.status == internal::Io::kWantWrite) {
        return Await(r.status, [this, data, done = std::move(done)](bool ok) mutable {
          if (!ok) return done(false);
          Write(data, std::move(done));
        });
      }
      return done(false);
    }
    done(true);
  }

  void Handshake() {
    const internal::IoResult r = transport_.Handshake();
    if (r.status == internal::Io::kDone) return DoRead();
    if (r.status == internal::Io::kWantRead || r.status == internal::Io::kWantWrite) {
      return Await(r.status, [this](bool ok) {
        if (ok) Handshake();
      });
    }
    CloseNow();
  }

  // `what` is reported to on_timeout if this deadline passes (nullopt: closing anyway).
  void SetDeadline(std::chrono::milliseconds timeout, std::optional<Deadline> what) {
    deadline_ = CoarseNow() + timeout;
    deadline_what_ = what;
    if (!timer_armed_ || deadline_ < timer_expiry_) ArmTimer();
  }
  void ClearDeadline() { deadline_ = kNoDeadline; }

  void ArmTimer() {
    timer_armed_ = true;
    timer_expiry_ = deadline_;
    uint64_t generation = ++timer_generation_;
    timer_.expires_at(deadline_);  // Cancels a pending wait; it sees a stale generation.
    timer_.async_wait([self = Self(), generation](beast::error_code ec) {
      if (generation != self->timer_generation_) return;
      self->timer_armed_ = false;
      if (ec || self->closed_ || self->deadline_ == kNoDeadline) return;
      if (SteadyClock::now() >= self->deadline_) return self->Expire();
      self->ArmTimer();
    });
  }

  void Expire() {
    if (deadline_what_) {
      if (*deadline_what_ == Deadline::kWrite && streaming_ && options().on_stream_dropped) {
        options().on_stream_dropped();
      }
      if (options().on_timeout) options().on_timeout(*deadline_what_);
    }
    CloseNow();
  }

  void DoRead() {
    if (closed_) return;
    // No read is pending here: the last request's large headers or body chunks may go.
    if (buffer_.size() == 0 && buffer_.capacity() > kKeepCapacityBytes) buffer_.shrink_to_fit();
    parser_.emplace();
    Limit(*parser_, options().max_header_bytes, options().max_body_bytes);
    if (buffer_.size() > 0 || requests_ == 0) return ReadHeader();
    // Kept alive, nothing pipelined: idle until the next request's first bytes.
    SetDeadline(options().idle_timeout, Deadline::kIdle);
    ReadSome(kFirstReadBytes, [this] { ReadHeader(); });
  }

  void ReadHeader() {
    SetDeadline(options().header_timeout, Deadline::kHeaders);
    ParseMore(false);
  }

  // Feeds buffer_ to the parser and reads more until it has the headers (whole: the whole
  // message), then goes on to OnHeader (OnBody), also with a parse error.
  void ParseMore(bool whole) {
    beast::error_code ec;
    if (Parse(whole, ec) || ec) return whole ? OnBody(ec) : OnHeader(ec);
    ReadSome(kReadBytes, [this, whole] { ParseMore(whole); });
  }

  // Feeds what buffer_ holds to the parser until it has the headers (or, whole, the
  // message); true when it got there. A malformed request or a limit leaves its error in ec.
  bool Parse(bool whole, beast::error_code& ec) {
    const auto data = buffer_.data();
    std::string_view rest(static_cast<const char*>(data.data()), data.size());
    const bool done = Feed(*parser_, rest, whole, ec);
    buffer_.consume(data.size() - rest.size());
    return done;
  }

  void OnHeader(beast::error_code ec) {
    started_ = SteadyClock::now();
    ++requests_;
    head_request_ = false;
    const auto& req = parser_->get();
    // What is known so far, for on_complete if the request is refused before the handler.
    // Empty when the start line itself was not understood.
    log_request_.method.assign(Sv(req.method_string()));
    std::string_view target = Sv(req.target());
    log_request_.path.assign(target.substr(0, target.find('?')));
    if (ec) return OnReadError(ec);
    version_ = req.version();
    keep_alive_ = req.keep_alive();
    if (auto refusal = RefusalOfHeader(*parser_, options().max_body_bytes)) {
      return Refuse(std::move(*refusal));
    }
    auto expect = req.find(bhttp::field::expect);
    if (expect != req.end() && version_ == 11 && beast::iequals(expect->value(), "100-continue")) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      SetDeadline(options().write_timeout, Deadline::kWrite);
      Write(kContinue, [this](bool ok) {
        if (!ok) return CloseNow();
        ReadBody();
      });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    // A request without a body is complete with its headers: no read to start.
    if (parser_->is_done()) return OnBody({});
    SetDeadline(options().body_timeout, Deadline::kBody);
    ParseMore(true);
  }

  void OnReadError(beast::error_code ec) {
    if (auto refusal =
            RefusalOfReadError(ec, options().max_header_bytes, options().max_body_bytes)) {
      return Refuse(std::move(*refusal));
    }
    CloseNow();
  }

  // Answers without calling the handler and closes, discarding what the client still sends.
  void Refuse(HttpResponse response) {
    keep_alive_ = false;
    drain_ = true;
    WriteResponse(std::move(response));
  }

  void OnBody(beast::error_code ec) {
    if (ec) return OnReadError(ec);
    ClearDeadline();  // The handler may take its time; the write gets its own deadline.
    auto parsed = ToHttpRequest(parser_->get());
    if (!parsed.has_value()) {
      // The message itself was well framed, so the connection may carry on.
      return WriteResponse(
          ErrorResponse(400, "invalid_argument", parsed.error().message(), parsed.error().field()));
    }
    HttpRequest request = std::move(*parsed);
    request.remote_address = log_request_.remote_address;
    head_request_ = request.method == "HEAD";
    log_request_.path = request.path;

    auto writer = std::make_shared<ConnectionWriter>(shared_from_this());
    writer_ = writer;
    try {
      shared_->handler(std::move(request), writer);
    } catch (const std::exception& e) {
      writer->Send(ErrorResponse(500, "internal", "internal error"));
    } catch (...) {
      writer->Send(ErrorResponse(500, "internal", "internal error"));
    }
  }

  void AppendHeader(std::string_view name, std::string_view value) {
    out_ += name;
    out_ += ": ";
    out_ += value;
    out_ += "\r\n";
  }

  // Writes the status line, the headers and the body in one buffer.
  void WriteResponse(HttpResponse response) {
    bool valid = response.status >= 200 && response.status <= 599 &&
                 ValidHeader("content-type", response.content_type);
    for (const auto& [name, value] : response.headers) valid = valid && ValidHeader(name, value);
    if (!valid) response = ErrorResponse(500, "internal", "the handler built an invalid response");

    bool no_body = response.status == 204 || response.status == 304;
    bool keep_alive = keep_alive_ && version_ == 11;
    out_.clear();
    AppendStatusLine(out_, version_, response.status);
    AppendDate(out_);
    AppendSecurityHeaders(out_, options().tls);
    if (!no_body && !response.content_type.empty()) {
      AppendHeader("Content-Type", response.content_type);
    }
    for (const auto& [name, value] : response.headers) {
      if (IsServerManaged(name)) {
        if (IEquals(name, "connection") && HasCloseToken(value)) keep_alive = false;
        continue;
      }
      AppendHeader(name, value);
    }
    if (!no_body) {
      out_ += "Content-Length: ";
      AppendDecimal(out_, response.body.size());
      out_ += "\r\n";
    }
    if (!keep_alive && version_ == 11) out_ += "Connection: close\r\n";
    out_ += "\r\n";
    if (!no_body && !head_request_) out_ += response.body;

    status_ = response.status;
    SetDeadline(options().write_timeout, Deadline::kWrite);
    Write(out_, [this, keep_alive](bool ok) {
      Complete(status_);
      ReleaseIfLarge(out_);
      if (!ok) return CloseNow();
      if (!keep_alive) return Shutdown();
      NextRequest();
    });
  }

  // After a response: the next request, inline unless that nested too deep.
  void NextRequest() {
    if (inline_depth_ >= kMaxInlineDepth) {
      net::post(executor_, [self = Self()] { self->DoRead(); });
      return;
    }
    ++inline_depth_;
    DoRead();
    --inline_depth_;
  }

  void Complete(int status) {
    const auto& callback = options().on_complete;
    if (!callback) return;
    double seconds = std::chrono::duration<double>(SteadyClock::now() - started_).count();
    try {
      callback(log_request_, status, seconds);
    } catch (...) {
      // An access log that throws must not take the connection down.
    }
  }

  // SSE: a read kept pending while streaming tells us when the client goes away.
  void Watch() {
    ReadSome(512, [this] {
      if (draining_) return Drain();  // the stream ended meanwhile: this read is the drain's
      if (buffer_.size() > options().max_header_bytes) return CloseNow();
      Watch();
    });
  }

  // Writes everything queued as one chunk.
  void Flush() {
    if (writing_ || closed_) return;
    if (queued_bytes_ == 0) {
      queue_.clear();
      if (stream_ending_) WriteLastChunk();
      return;
    }
    in_flight_.clear();
    if (chunked_) {
      AppendHex(in_flight_, queued_bytes_);
      in_flight_ += "\r\n";
    }
    for (auto& piece : queue_) in_flight_ += piece;
    if (chunked_) in_flight_ += "\r\n";
    queue_.clear();
    queued_bytes_ = 0;
    writing_ = true;
    SetDeadline(options().write_timeout, Deadline::kWrite);
    Write(in_flight_, [this](bool ok) {
      writing_ = false;
      ClearDeadline();
      in_flight_.clear();
      ReleaseIfLarge(in_flight_);
      if (!ok) return CloseNow();
      Flush();
    });
  }

  void WriteLastChunk() {
    if (!chunked_) return Shutdown();
    static constexpr std::string_view kLastChunk = "0\r\n\r\n";
    writing_ = true;
    SetDeadline(options().write_timeout, Deadline::kWrite);
    Write(kLastChunk, [this](bool ok) {
      writing_ = false;
      if (!ok) return CloseNow();
      Shutdown();
    });
  }

  // Graceful end after a final response: our side ends (FIN; TLS: close_notify), then, over
  // TLS or when asked to drain, what the client still sends is read and discarded until it
  // ends too (at most kDrainLimitBytes, within kMaxDrainTime), so that unread input does not
  // turn the close into a reset that could destroy the response on its way.
  void Shutdown() {
    if (closed_) return;
    SetDeadline(std::min(options().write_timeout, kMaxDrainTime), std::nullopt);
    EndOurSide();
  }

  void EndOurSide() {
    const internal::IoResult r = transport_.Shutdown();
    if (r.status == internal::Io::kWantRead || r.status == internal::Io::kWantWrite) {
      return Await(r.status, [this](bool ok) {
        if (ok) EndOurSide();
      });
    }
    if (r.status != internal::Io::kDone || (!kTls && !drain_)) return CloseNow();
    drained_ = 0;
    draining_ = true;
    Drain();
  }

  void Drain() {
    scratch_.resize(16 << 10);
    for (;;) {
      if (closed_) return;
      const internal::IoResult r = transport_.Read(scratch_.data(), scratch_.size());
      // A stream's Watch is receiving: what it brings comes back here.
      if (r.status == internal::Io::kWantRead && receiving_) return;
      if (r.status == internal::Io::kWantRead || r.status == internal::Io::kWantWrite) {
        return Await(r.status, [this](bool ok) {
          if (ok) Drain();
        });
      }
      drained_ += r.bytes;
      if (r.status != internal::Io::kDone || drained_ > kDrainLimitBytes) return CloseNow();
    }
  }

  void CloseNow() {
    if (closed_) return;
    closed_ = true;
    ++timer_generation_;
    timer_.cancel();
    transport_.Detach();  // before the descriptor goes: its number may be reused at once
    beast::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    // What was queued for a stream will never be written (a write in progress keeps its own
    // buffer until its handler runs).
    std::deque<std::string>().swap(queue_);
    queued_bytes_ = 0;
    if (auto writer = writer_.lock()) writer->MarkClosed();
    writer_.reset();
    slot_.reset();  // The socket is closed: the connection no longer counts.
  }

  Socket socket_;
  Transport transport_;
  Timer timer_;
  SteadyClock::time_point deadline_ = kNoDeadline;
  std::optional<Deadline> deadline_what_;
  SteadyClock::time_point timer_expiry_ = kNoDeadline;
  bool timer_armed_ = false;
  uint64_t timer_generation_ = 0;
  int inline_depth_ = 0;

  beast::flat_buffer buffer_;
  std::optional<RequestParser> parser_;
  std::string out_;  // The response being written; its capacity is kept across requests.
  std::weak_ptr<ConnectionWriter> writer_;
  // The current request's method, path and peer address, for on_complete.
  HttpRequest log_request_;
  SteadyClock::time_point started_ = SteadyClock::now();
  unsigned version_ = 11;
  bool keep_alive_ = false;
  bool head_request_ = false;
  bool drain_ = false;
  bool draining_ = false;   // Drain() reads what arrives
  bool receiving_ = false;  // a receive into the transport's inbox is pending
  bool closed_ = false;
  int status_ = 0;
  size_t drained_ = 0;
  std::string scratch_;
  uint64_t requests_ = 0;  // whose headers arrived on this connection
  std::unique_ptr<ConnectionSlot> slot_;

  // Streaming (SSE) state.
  bool streaming_ = false;
  bool chunked_ = true;
  bool stream_ending_ = false;
  bool writing_ = false;
  std::deque<std::string> queue_;
  size_t queued_bytes_ = 0;
  std::string in_flight_;
};

class Listener : public std::enable_shared_from_this<Listener> {
 public:
  Listener(std::shared_ptr<ServerShared> shared, Acceptor acceptor)
      : shared_(std::move(shared)),
        acceptor_(std::move(acceptor)),
        retry_(acceptor_.get_executor()),
        trim_(acceptor_.get_executor()) {}

  // Every kTrimInterval while listening: if connections ended meanwhile, ReleaseFreeHeap.
  void Trim() {
    trim_.expires_after(kTrimInterval);
    trim_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec || !self->acceptor_.is_open()) return;
      if (self->shared_->sessions_ended.exchange(0) > 0) ReleaseFreeHeap();
      self->Trim();
    });
  }

  void Accept() {
    // Connections are spread over the I/O threads in turn.
    auto& context = *shared_->contexts[next_context_];
    next_context_ = (next_context_ + 1) % shared_->contexts.size();
    acceptor_.async_accept(context.get_executor(),
                           [self = shared_from_this()](beast::error_code ec, Socket socket) {
                             self->OnAccept(ec, std::move(socket));
                           });
  }

  // Runs on the acceptor's thread: stops accepting and gives up the descriptor, still
  // listening (its backlog stays in the kernel). A pending accept ends with operation_aborted.
  void Release(std::function<void(Result<int>)> done) {
    net::post(acceptor_.get_executor(), [self = shared_from_this(), done = std::move(done)] {
      if (!self->acceptor_.is_open()) {
        return done(Error::FailedPrecondition("the listener was already released"));
      }
      self->retry_.cancel();
      self->trim_.cancel();
      beast::error_code ec;
      int fd = self->acceptor_.release(ec);
      if (ec) {
        return done(Error::Internal(fmt::format("cannot release the listener: {}", ec.message())));
      }
      done(fd);
    });
  }

  // Runs on the acceptor's thread, like OnAccept, so no session slips past it; `done` runs
  // once every session's Abort is queued.
  void Shutdown(std::function<void()> done) {
    net::post(acceptor_.get_executor(), [self = shared_from_this(), done = std::move(done)] {
      beast::error_code ignored;
      self->acceptor_.close(ignored);
      self->retry_.cancel();
      self->trim_.cancel();
      std::vector<std::shared_ptr<SessionBase>> sessions;
      {
        std::lock_guard lock(self->shared_->sessions_mu);
        for (auto& [raw, weak] : self->shared_->sessions) {
          if (auto session = weak.lock()) sessions.push_back(std::move(session));
        }
      }
      for (auto& session : sessions) {
        net::post(session->executor(), [session] { session->Abort(); });
      }
      done();
    });
  }

 private:
  void OnAccept(beast::error_code ec, Socket socket) {
    // A connection accepted just before the listener was released is still served here.
    if (!ec && !shared_->stopping) StartSession(std::move(socket));
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
    if (ec) {
      // Out of descriptors and the like: back off briefly instead of spinning.
      retry_.expires_after(std::chrono::milliseconds(50));
      retry_.async_wait([self = shared_from_this()](beast::error_code wait_ec) {
        if (!wait_ec) self->Accept();
      });
      return;
    }
    Accept();
  }

  void StartSession(Socket socket) {
    beast::error_code ec;
    auto endpoint = socket.remote_endpoint(ec);
    if (ec) return;
    auto address = endpoint.address();
    if (address.is_v6() && address.to_v6().is_v4_mapped()) {
      address = net::ip::make_address_v4(net::ip::v4_mapped, address.to_v6());
    }
    auto slot = ConnectionSlot::Take(*shared_, SourceOf(address));
    if (const Refusal* refusal = std::get_if<Refusal>(&slot)) {
      // Reset at once: no handshake to pay for, nothing left in TIME_WAIT here.
      socket.set_option(net::socket_base::linger(true, 0), ec);
      socket.close(ec);
      if (shared_->options.on_refused) shared_->options.on_refused(*refusal);
      return;
    }
    auto taken = std::move(std::get<std::unique_ptr<ConnectionSlot>>(slot));
    socket.set_option(tcp::no_delay(true), ec);
    socket.native_non_blocking(true, ec);
    if (ec) return;
    const int fd = socket.native_handle();
    if (shared_->tls) {
      auto transport = internal::TlsTransport::Server(shared_->tls.get(), fd);
      if (!transport.has_value()) return;  // out of memory: the socket closes with its object
      Register(std::make_shared<Session<internal::TlsTransport>>(
          shared_, std::move(socket), std::move(*transport), address.to_string(),
          std::move(taken)));
    } else {
      Register(std::make_shared<Session<internal::PlainTransport>>(
          shared_, std::move(socket), internal::PlainTransport(fd), address.to_string(),
          std::move(taken)));
    }
  }

  template <typename S>
  void Register(std::shared_ptr<S> session) {
    {
      std::lock_guard lock(shared_->sessions_mu);
      shared_->sessions.emplace(session.get(), session);
    }
    session->Run();
  }

  std::shared_ptr<ServerShared> shared_;
  Acceptor acceptor_;
  Timer retry_;
  Timer trim_;
  size_t next_context_ = 0;
};

Result<net::ip::address> ListenAddress(std::string host) {
  if (host == "localhost") host = "127.0.0.1";
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  beast::error_code ec;
  auto address = net::ip::make_address(host, ec);
  if (ec) {
    return Error::InvalidArgument(
        "listen", fmt::format("\"{}\" is not an IP address (or \"localhost\")", host));
  }
  return address;
}

// The local address of a listening TCP socket handed to us.
Result<net::ip::address> ListeningAddress(int fd) {
  auto refuse = [fd](std::string_view why) {
    return Error::InvalidArgument("listen_fd", fmt::format("descriptor {} {}", fd, why));
  };
  int type = 0;
  int listening = 0;
  socklen_t length = sizeof(type);
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) != 0 || type != SOCK_STREAM) {
    return refuse("is not a stream socket");
  }
  length = sizeof(listening);
  if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &length) != 0 || listening == 0) {
    return refuse("is not listening");
  }
  sockaddr_storage storage{};
  length = sizeof(storage);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &length) != 0) {
    return refuse("has no local address");
  }
  if (storage.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&storage);
    return net::ip::address(net::ip::address_v4(ntohl(in->sin_addr.s_addr)));
  }
  if (storage.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&storage);
    net::ip::address_v6::bytes_type bytes;
    std::copy(std::begin(in6->sin6_addr.s6_addr), std::end(in6->sin6_addr.s6_addr),
              bytes.begin());
    return net::ip::address(net::ip::address_v6(bytes, in6->sin6_scope_id));
  }
  return refuse("is not an IPv4 or IPv6 socket");
}

// The most recent OpenSSL error's reason, and clears the queue.
std::string OpenSslReason() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  const char* reason = code == 0 ? nullptr : ERR_reason_error_string(code);
  return reason != nullptr ? reason : "unknown error";
}

Status ConfigureTls(SSL_CTX* ctx, const HttpServerOptions& options) {
  SSL_CTX_set_options(ctx, SSL_OP_ALL | SSL_OP_NO_COMPRESSION | SSL_OP_SINGLE_DH_USE |
                               SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_cipher_list(ctx, kTls12Ciphers) != 1 ||
      SSL_CTX_set_ciphersuites(ctx, kTls13Suites) != 1 ||
      SSL_CTX_set1_groups_list(ctx, "X25519:P-256:P-384") != 1) {
    ERR_clear_error();
    return Error::Internal("cannot configure the TLS context");
  }
  static const unsigned char kSessionContext[] = "breakglass";
  SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof(kSessionContext) - 1);
  internal::ConfigureTransport(ctx);
  if (SSL_CTX_use_certificate_chain_file(ctx, options.cert_file.c_str()) != 1) {
    return Error::InvalidArgument("cert_file", fmt::format("cannot load certificate {}: {}",
                                                           options.cert_file, OpenSslReason()));
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, options.key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx) != 1) {
    ERR_clear_error();
    return Error::InvalidArgument(
        "key_file", fmt::format("cannot load private key {} (or it does not match the "
                                "certificate)",
                                options.key_file));
  }
  return Ok();
}

class ServerImpl final : public HttpServer {
 public:
  explicit ServerImpl(std::shared_ptr<ServerShared> shared) : shared_(std::move(shared)) {
    for (auto& context : shared_->contexts) work_.emplace_back(net::make_work_guard(*context));
  }
  ~ServerImpl() override { Stop(); }

  Status Listen(const net::ip::address& address) {
    const auto& options = shared_->options;
    tcp::endpoint endpoint(address, options.port);
    Acceptor acceptor(shared_->contexts[0]->get_executor());
    beast::error_code ec;
    if (options.listen_fd >= 0) {
      acceptor.assign(endpoint.protocol(), options.listen_fd, ec);
      if (ec) {
        return Error::InvalidArgument(
            "listen_fd", fmt::format("cannot accept on descriptor {}: {}", options.listen_fd,
                                     ec.message()));
      }
    } else {
      acceptor.open(endpoint.protocol(), ec);
      if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
      if (!ec) acceptor.bind(endpoint, ec);
      if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
      if (ec) {
        return Error::InvalidArgument(
            "listen",
            fmt::format("cannot listen on {}:{}: {}", options.host, options.port, ec.message()));
      }
    }
    port_ = acceptor.local_endpoint(ec).port();
    listener_ = std::make_shared<Listener>(shared_, std::move(acceptor));
    listener_->Accept();
    listener_->Trim();
    for (auto& context : shared_->contexts) {
      threads_.emplace_back([shared = shared_, context = context.get()] {
        for (;;) {
          try {
            context->run();
            return;
          } catch (...) {
            // Keep serving: one failed handler must not take the process down.
          }
        }
      });
    }
    return Ok();
  }

  uint16_t port() const override { return port_; }
  size_t open_connections() const override {
    return shared_->open_connections.load(std::memory_order_relaxed);
  }

  Result<int> ReleaseListener() override {
    {
      std::shared_lock lock(shared_->post_mu);
      if (shared_->stopped) return Error::FailedPrecondition("the server is stopped");
    }
    std::promise<Result<int>> released;
    listener_->Release([&released](Result<int> fd) { released.set_value(std::move(fd)); });
    return released.get_future().get();
  }

  void Stop() override {
    {
      std::unique_lock lock(shared_->post_mu);
      if (shared_->stopped) return;
      shared_->stopped = true;
    }
    shared_->stopping = true;
    if (listener_) {
      // Every session's Abort must be queued before the threads may run out of work.
      std::promise<void> queued;
      listener_->Shutdown([&queued] { queued.set_value(); });
      queued.get_future().wait();
    }
    work_.clear();
    for (auto& thread : threads_) thread.join();
    threads_.clear();
  }

 private:
  std::shared_ptr<ServerShared> shared_;
  std::vector<net::executor_work_guard<Executor>> work_;
  std::shared_ptr<Listener> listener_;
  std::vector<std::thread> threads_;
  uint16_t port_ = 0;
};

}  // namespace

namespace internal {

std::string ConnectionSource(std::string_view ip) {
  beast::error_code ec;
  auto address = net::ip::make_address(std::string(ip), ec);
  if (ec) return std::string(ip);
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    address = net::ip::make_address_v4(net::ip::v4_mapped, address.to_v6());
  }
  return SourceOf(address);
}

}  // namespace internal

std::string_view ToString(Refusal refusal) {
  switch (refusal) {
    case Refusal::kConnectionLimit:
      return "connection_limit";
    case Refusal::kPerSourceLimit:
      return "per_source_limit";
  }
  return "unknown";
}

std::string_view ToString(Deadline deadline) {
  switch (deadline) {
    case Deadline::kHandshake:
      return "handshake";
    case Deadline::kHeaders:
      return "headers";
    case Deadline::kBody:
      return "body";
    case Deadline::kIdle:
      return "idle";
    case Deadline::kWrite:
      return "write";
  }
  return "unknown";
}

Result<std::unique_ptr<HttpServer>> HttpServer::Start(HttpServerOptions options, Handler handler) {
  if (options.threads < 1 || options.threads > 256) {
    return Error::InvalidArgument("threads", "threads must be between 1 and 256");
  }
  if (!handler) return Error::InvalidArgument("handler", "a handler is required");
  if (options.max_connections != 0 &&
      options.max_connections_per_source > options.max_connections) {
    return Error::InvalidArgument("max_connections_per_source",
                                  "max_connections_per_source must not exceed max_connections");
  }
  const std::pair<std::string_view, std::chrono::milliseconds> kTimeouts[] = {
      {"header_timeout", options.header_timeout},
      {"body_timeout", options.body_timeout},
      {"idle_timeout", options.idle_timeout},
      {"write_timeout", options.write_timeout}};
  for (const auto& [name, timeout] : kTimeouts) {
    if (timeout.count() <= 0) {
      return Error::InvalidArgument(std::string(name), fmt::format("{} must be positive", name));
    }
  }
  net::ip::address address;
  if (options.listen_fd >= 0) {
    BG_ASSIGN_OR_RETURN(address, ListeningAddress(options.listen_fd));
    options.host = address.to_string();
  } else {
    BG_ASSIGN_OR_RETURN(address, ListenAddress(options.host));
  }
  if (!options.tls && !IsLoopback(address)) {
    return Error::InvalidArgument(
        "listen", fmt::format("plain HTTP is allowed only on a loopback address (127.0.0.0/8, "
                              "::1, localhost), not on \"{}\": enable TLS",
                              options.host));
  }
  auto shared = std::make_shared<ServerShared>(std::move(options), std::move(handler));
  if (shared->options.tls) {
    shared->tls.reset(SSL_CTX_new(TLS_server_method()));
    if (!shared->tls) {
      ERR_clear_error();
      return Error::Internal("cannot make a TLS context");
    }
    BG_TRY(ConfigureTls(shared->tls.get(), shared->options));
  }
  auto server = std::make_unique<ServerImpl>(shared);
  BG_TRY(server->Listen(address));
  return std::unique_ptr<HttpServer>(std::move(server));
}

}  // namespace bg::http
