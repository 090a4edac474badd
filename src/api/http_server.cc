// The only translation unit that includes Beast: everything Beast-shaped stays in here.
//
// Shape: one io_context run by `threads` threads. Each connection is a Session on its own
// strand; it reads one request, waits for the handler's answer (which arrives through a
// ConnectionWriter posted onto that strand), writes it, and only then reads the next request,
// so pipelined requests are answered in order. Streams (SSE) write chunks from a queue and keep
// a read pending to notice the client leaving.
//
// Lifetime: sessions are owned by their pending operations and by the writer of the request in
// progress; both hold the ServerShared (and so the io_context) alive. After Stop() no writer
// posts anything any more (post_mu/stopped), so nothing can be queued on a context nobody runs.
#include "api/http_server.h"

#include <fmt/format.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <deque>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <thread>
#include <type_traits>
#include <unordered_map>

namespace bg::api {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

namespace {

constexpr size_t kMaxStreamQueueBytes = 1 << 20;  // A slower SSE reader than this is dropped.
constexpr size_t kDrainLimitBytes = 8 << 20;      // Unread input discarded before closing.
constexpr std::chrono::milliseconds kMaxDrainTime = std::chrono::seconds(2);

// Mozilla "intermediate" TLS 1.2 suites: ECDHE + AEAD only. TLS 1.3 keeps OpenSSL's defaults.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

std::string JsonEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += fmt::format("\\u{:04x}", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out;
}

HttpResponse ErrorResponse(int status, std::string_view code, std::string_view message,
                           std::string_view field = {}) {
  HttpResponse response;
  response.status = status;
  response.body = fmt::format(R"({{"error":{{"code":"{}","message":"{}")", JsonEscape(code),
                              JsonEscape(message));
  if (!field.empty()) response.body += fmt::format(R"(,"field":"{}")", JsonEscape(field));
  response.body += "}}";
  return response;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> PercentDecode(std::string_view in, bool plus_is_space) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return std::nullopt;
      int hi = HexValue(in[i + 1]);
      int lo = HexValue(in[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      c = ' ';
    }
    if (c == '\0') return std::nullopt;
    out += c;
  }
  return out;
}

bool IsTokenChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool ValidHeader(std::string_view name, std::string_view value) {
  if (name.empty() || !std::all_of(name.begin(), name.end(), IsTokenChar)) return false;
  return value.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

std::string_view Sv(beast::string_view s) { return {s.data(), s.size()}; }

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
  if (ec.category() != http::make_error_code(http::error::bad_method).category()) return false;
  return ec != http::error::end_of_stream && ec != http::error::partial_message &&
         ec != http::error::need_more && ec != http::error::header_limit &&
         ec != http::error::body_limit;
}

}  // namespace

namespace internal {

Result<Target> ParseTarget(std::string_view target) {
  if (target.empty() || target[0] != '/') {
    return Error::InvalidArgument("path", "the request target must be a path starting with '/'");
  }
  size_t question = target.find('?');
  Target out;
  auto path = PercentDecode(target.substr(0, question), false);
  if (!path) return Error::InvalidArgument("path", "the path has an invalid percent-escape");
  out.path = std::move(*path);
  if (question == std::string_view::npos) return out;
  std::string_view query = target.substr(question + 1);
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    auto key = PercentDecode(pair.substr(0, eq), true);
    auto value = PercentDecode(eq == std::string_view::npos ? "" : pair.substr(eq + 1), true);
    if (!key || key->empty()) {
      return Error::InvalidArgument("query", "a query parameter has an invalid or empty name");
    }
    if (!value) {
      return Error::InvalidArgument(*key, fmt::format("query parameter \"{}\" has an invalid "
                                                      "percent-escape",
                                                      *key));
    }
    if (!out.query.emplace(*key, std::move(*value)).second) {
      return Error::InvalidArgument(*key, fmt::format("query parameter \"{}\" is repeated", *key));
    }
  }
  return out;
}

std::string FormatEvent(std::string_view event, std::string_view data, std::string_view id) {
  std::string out;
  out.reserve(event.size() + data.size() + id.size() + 32);
  if (!event.empty()) {
    out += "event: ";
    out += event;
    out += '\n';
  }
  if (!id.empty()) {
    out += "id: ";
    out += id;
    out += '\n';
  }
  // Every line of data (split at \r\n, \n or \r) becomes its own "data:" line.
  size_t start = 0;
  while (true) {
    size_t end = data.find_first_of("\r\n", start);
    out += "data: ";
    out += data.substr(start, end == std::string_view::npos ? end : end - start);
    out += '\n';
    if (end == std::string_view::npos) break;
    start = end + ((data[end] == '\r' && end + 1 < data.size() && data[end + 1] == '\n') ? 2 : 1);
  }
  out += '\n';
  return out;
}

}  // namespace internal

namespace {

class SessionBase;

// State every session shares with the server, kept alive by whoever still needs it.
struct ServerShared {
  ServerShared(HttpServerOptions options_in, Handler handler_in)
      : options(std::move(options_in)), handler(std::move(handler_in)) {}

  // Posts `fn` unless the server stopped; false if it did.
  template <typename Fn>
  bool Post(const net::any_io_executor& executor, Fn&& fn) {
    std::shared_lock lock(post_mu);
    if (stopped) return false;
    net::post(executor, std::forward<Fn>(fn));
    return true;
  }

  net::io_context ioc;
  std::optional<ssl::context> tls;
  HttpServerOptions options;
  Handler handler;

  std::shared_mutex post_mu;
  bool stopped = false;  // Guarded by post_mu.
  std::atomic<bool> stopping{false};

  std::mutex sessions_mu;
  std::unordered_map<SessionBase*, std::weak_ptr<SessionBase>> sessions;
};

// What a ConnectionWriter needs from its connection; every method runs on the session strand.
class SessionBase : public std::enable_shared_from_this<SessionBase> {
 public:
  explicit SessionBase(std::shared_ptr<ServerShared> shared) : shared_(std::move(shared)) {}
  virtual ~SessionBase() {
    std::lock_guard lock(shared_->sessions_mu);
    shared_->sessions.erase(this);
  }
  virtual net::any_io_executor executor() = 0;
  virtual void DeliverResponse(HttpResponse response) = 0;
  virtual void DeliverStreamStart(HeaderList headers) = 0;
  virtual void DeliverStreamData(std::string data) = 0;
  virtual void DeliverStreamEnd() = 0;
  virtual void Abort() = 0;

  ServerShared& shared() { return *shared_; }

 protected:
  std::shared_ptr<ServerShared> shared_;
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
    bool posted = false;
    {
      std::lock_guard lock(mu_);
      if (state_ != State::kNew) return false;
      state_ = State::kDone;
      callback = std::move(on_close_);
      posted = Post([response = std::move(response)](SessionBase& s) mutable {
        s.DeliverResponse(std::move(response));
      });
    }
    if (callback) callback();
    return posted;
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

  // The connection is gone (client left, write failed, server stopped). Strand only.
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

using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

template <typename Stream>
class Session final : public SessionBase {
 public:
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

  Session(std::shared_ptr<ServerShared> shared, tcp::socket&& socket, std::string remote)
      : SessionBase(std::move(shared)),
        stream_(MakeStream(*shared_, std::move(socket))),
        remote_(std::move(remote)),
        write_timer_(stream_.get_executor()) {}

  net::any_io_executor executor() override { return stream_.get_executor(); }

  void Run() {
    net::dispatch(stream_.get_executor(), [self = Self()] {
      if constexpr (kTls) {
        self->Lowest().expires_after(self->options().timeout);
        self->stream_.async_handshake(ssl::stream_base::server, [self](beast::error_code ec) {
          if (ec) return self->CloseNow();
          self->DoRead();
        });
      } else {
        self->DoRead();
      }
    });
  }

  void Abort() override { CloseNow(); }

  void DeliverResponse(HttpResponse response) override {
    if (closed_) return;
    writer_.reset();
    WriteResponse(std::move(response));
  }

  void DeliverStreamStart(HeaderList headers) override {
    if (closed_) return;
    streaming_ = true;
    chunked_ = version_ >= 11;
    stream_response_.emplace(http::status::ok, version_);
    stream_response_->set(http::field::content_type, "text/event-stream");
    stream_response_->set(http::field::cache_control, "no-cache");
    stream_response_->set("X-Accel-Buffering", "no");
    for (auto& [name, value] : headers) {
      if (ValidHeader(name, value)) stream_response_->insert(name, value);
    }
    // The stream ends the connection: say so up front.
    stream_response_->keep_alive(false);
    if (chunked_) stream_response_->chunked(true);
    stream_serializer_.emplace(*stream_response_);
    writing_ = true;
    Lowest().expires_after(options().timeout);
    http::async_write_header(stream_, *stream_serializer_,
                             [self = Self()](beast::error_code ec, size_t) {
                               self->writing_ = false;
                               self->Complete(200);
                               if (ec) return self->CloseNow();
                               // From here on, reads wait for the client to leave (no
                               // deadline) and each write has its own timer.
                               self->Lowest().expires_never();
                               self->Watch();
                               self->Flush();
                             });
  }

  void DeliverStreamData(std::string data) override {
    if (closed_ || !streaming_ || stream_ending_) return;
    queued_bytes_ += data.size();
    queue_.push_back(std::move(data));
    if (queued_bytes_ > kMaxStreamQueueBytes) return CloseNow();
    Flush();
  }

  void DeliverStreamEnd() override {
    if (closed_ || !streaming_) return;
    stream_ending_ = true;
    Flush();
  }

 private:
  static Stream MakeStream(ServerShared& shared, tcp::socket&& socket) {
    if constexpr (kTls) {
      return Stream(std::move(socket), *shared.tls);
    } else {
      return Stream(std::move(socket));
    }
  }

  std::shared_ptr<Session> Self() { return std::static_pointer_cast<Session>(shared_from_this()); }
  beast::tcp_stream& Lowest() { return beast::get_lowest_layer(stream_); }
  const HttpServerOptions& options() const { return shared_->options; }

  void DoRead() {
    if (closed_) return;
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(options().max_header_bytes));
    parser_->body_limit(options().max_body_bytes);
    Lowest().expires_after(options().timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = Self()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    started_ = std::chrono::steady_clock::now();
    head_request_ = false;
    const auto& req = parser_->get();
    // What is known so far, for on_complete if the request is refused before the handler.
    log_request_ = HttpRequest{};
    log_request_.remote_address = remote_;
    // Empty when the start line itself was not understood.
    log_request_.method = std::string(Sv(req.method_string()));
    log_request_.path = std::string(Sv(req.target().substr(0, req.target().find('?'))));
    if (ec) return OnReadError(ec);
    version_ = req.version();
    keep_alive_ = req.keep_alive();
    if (version_ != 10 && version_ != 11) {
      return Refuse(ErrorResponse(400, "invalid_argument", "only HTTP/1.0 and 1.1 are served"));
    }
    if (version_ == 11 && req.find(http::field::host) == req.end()) {
      return Refuse(ErrorResponse(400, "invalid_argument", "HTTP/1.1 requires a Host header"));
    }
    if (req.find(http::field::content_length) != req.end() &&
        req.find(http::field::transfer_encoding) != req.end()) {
      return Refuse(
          ErrorResponse(400, "invalid_argument", "Content-Length and Transfer-Encoding together"));
    }
    if (auto length = parser_->content_length(); length && *length > options().max_body_bytes) {
      return RefuseTooLarge();
    }
    auto expect = req.find(http::field::expect);
    if (expect != req.end() && version_ == 11 && beast::iequals(expect->value(), "100-continue")) {
      auto go_on = std::make_shared<http::response<http::empty_body>>(http::status::continue_, 11);
      Lowest().expires_after(options().timeout);
      http::async_write(stream_, *go_on, [self = Self(), go_on](beast::error_code ec, size_t) {
        if (ec) return self->CloseNow();
        self->ReadBody();
      });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    Lowest().expires_after(options().timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = Self()](beast::error_code ec, size_t) { self->OnBody(ec); });
  }

  void OnReadError(beast::error_code ec) {
    if (ec == http::error::header_limit) {
      return Refuse(ErrorResponse(
          431, "headers_too_large",
          fmt::format("the request headers exceed {} bytes", options().max_header_bytes)));
    }
    if (ec == http::error::body_limit) return RefuseTooLarge();
    if (IsMalformed(ec)) {
      return Refuse(ErrorResponse(400, "invalid_argument",
                                  fmt::format("malformed HTTP request: {}", ec.message())));
    }
    CloseNow();  // End of input, reset, timeout: nobody is listening for an answer.
  }

  void RefuseTooLarge() {
    Refuse(ErrorResponse(413, "payload_too_large",
                         fmt::format("the request body exceeds {} bytes", options().max_body_bytes),
                         "body"));
  }

  // Answers without calling the handler and closes, discarding what the client still sends.
  void Refuse(HttpResponse response) {
    keep_alive_ = false;
    drain_ = true;
    WriteResponse(std::move(response));
  }

  void OnBody(beast::error_code ec) {
    if (ec) return OnReadError(ec);
    http::request<http::string_body> msg = parser_->release();
    auto target = internal::ParseTarget(Sv(msg.target()));
    if (!target.has_value()) {
      // The message itself was well framed, so the connection may carry on.
      return WriteResponse(
          ErrorResponse(400, "invalid_argument", target.error().message(), target.error().field()));
    }
    HttpRequest request;
    request.method = std::string(Sv(msg.method_string()));
    request.path = std::move(target->path);
    request.query = std::move(target->query);
    request.remote_address = remote_;
    for (const auto& field : msg) {
      std::string name = Lower(Sv(field.name_string()));
      auto [it, inserted] = request.headers.emplace(name, std::string(Sv(field.value())));
      if (!inserted) {
        it->second += name == "cookie" ? "; " : ", ";
        it->second += Sv(field.value());
      }
    }
    head_request_ = request.method == "HEAD";
    log_request_ = request;
    request.body = std::move(msg.body());

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

  void WriteResponse(HttpResponse response) {
    bool valid = response.status >= 200 && response.status <= 599 &&
                 ValidHeader("content-type", response.content_type);
    for (const auto& [name, value] : response.headers) valid = valid && ValidHeader(name, value);
    if (!valid) response = ErrorResponse(500, "internal", "the handler built an invalid response");

    auto res = std::make_shared<http::response<http::string_body>>();
    res->version(version_);
    res->result(static_cast<unsigned>(response.status));
    bool no_body = response.status == 204 || response.status == 304;
    if (!no_body && !response.content_type.empty()) {
      res->set(http::field::content_type, response.content_type);
    }
    for (auto& [name, value] : response.headers) res->insert(name, value);
    bool keep_alive = keep_alive_ && res->keep_alive();
    res->keep_alive(keep_alive);
    if (no_body) {
      // Neither a body nor a length.
    } else if (head_request_) {
      res->content_length(response.body.size());
    } else {
      res->body() = std::move(response.body);
      res->prepare_payload();
    }
    status_ = response.status;
    Lowest().expires_after(options().timeout);
    http::async_write(stream_, *res,
                      [self = Self(), res, keep_alive](beast::error_code ec, size_t) {
                        self->Complete(self->status_);
                        if (ec) return self->CloseNow();
                        if (!keep_alive) return self->Shutdown();
                        self->DoRead();
                      });
  }

  void Complete(int status) {
    const auto& callback = options().on_complete;
    if (!callback) return;
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    try {
      callback(log_request_, status, seconds);
    } catch (...) {
      // An access log that throws must not take the connection down.
    }
  }

  // SSE: a pending read while streaming tells us when the client goes away.
  void Watch() {
    stream_.async_read_some(buffer_.prepare(512), [self = Self()](beast::error_code ec, size_t n) {
      if (ec) return self->CloseNow();
      self->buffer_.commit(n);
      if (self->buffer_.size() > self->options().max_header_bytes) return self->CloseNow();
      self->Watch();
    });
  }

  void Flush() {
    if (writing_ || closed_) return;
    if (queue_.empty()) {
      if (stream_ending_) WriteLastChunk();
      return;
    }
    in_flight_.clear();
    for (auto& piece : queue_) in_flight_ += piece;
    queue_.clear();
    queued_bytes_ = 0;
    StartWrite();
    auto done = [self = Self()](beast::error_code ec, size_t) { self->OnStreamWrite(ec); };
    if (chunked_) {
      net::async_write(stream_, http::make_chunk(net::buffer(in_flight_)), std::move(done));
    } else {
      net::async_write(stream_, net::buffer(in_flight_), std::move(done));
    }
  }

  void WriteLastChunk() {
    if (!chunked_) return Shutdown();
    StartWrite();
    net::async_write(stream_, http::make_chunk_last(),
                     [self = Self()](beast::error_code ec, size_t) {
                       self->write_timer_.cancel();
                       self->writing_ = false;
                       if (ec) return self->CloseNow();
                       self->Shutdown();
                     });
  }

  void StartWrite() {
    writing_ = true;
    uint64_t generation = ++write_generation_;
    write_timer_.expires_after(options().timeout);
    write_timer_.async_wait([self = Self(), generation](beast::error_code ec) {
      if (!ec && self->writing_ && self->write_generation_ == generation) self->CloseNow();
    });
  }

  void OnStreamWrite(beast::error_code ec) {
    write_timer_.cancel();
    writing_ = false;
    if (ec) return CloseNow();
    Flush();
  }

  // Graceful end after a final response: drain unread input if asked, then close.
  void Shutdown() {
    if (closed_) return;
    if constexpr (!kTls) {
      beast::error_code ignored;
      Lowest().socket().shutdown(tcp::socket::shutdown_send, ignored);
    }
    if (drain_) {
      drained_ = 0;
      Lowest().expires_after(std::min(options().timeout, kMaxDrainTime));
      return Drain();
    }
    FinishShutdown();
  }

  void Drain() {
    scratch_.resize(16 << 10);
    stream_.async_read_some(net::buffer(scratch_), [self = Self()](beast::error_code ec, size_t n) {
      self->drained_ += n;
      if (ec || self->drained_ > kDrainLimitBytes) return self->FinishShutdown();
      self->Drain();
    });
  }

  void FinishShutdown() {
    if (closed_) return;
    if constexpr (kTls) {
      Lowest().expires_after(std::min(options().timeout, kMaxDrainTime));
      stream_.async_shutdown([self = Self()](beast::error_code) { self->CloseNow(); });
    } else {
      CloseNow();
    }
  }

  void CloseNow() {
    if (closed_) return;
    closed_ = true;
    write_timer_.cancel();
    beast::error_code ignored;
    Lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
    Lowest().close();
    if (auto writer = writer_.lock()) writer->MarkClosed();
    writer_.reset();
  }

  Stream stream_;
  std::string remote_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::weak_ptr<ConnectionWriter> writer_;
  HttpRequest log_request_;  // The current request without its body, for on_complete.
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  unsigned version_ = 11;
  bool keep_alive_ = false;
  bool head_request_ = false;
  bool drain_ = false;
  bool closed_ = false;
  int status_ = 0;
  size_t drained_ = 0;
  std::string scratch_;

  // Streaming (SSE) state.
  bool streaming_ = false;
  bool chunked_ = true;
  bool stream_ending_ = false;
  bool writing_ = false;
  std::optional<http::response<http::empty_body>> stream_response_;
  std::optional<http::response_serializer<http::empty_body>> stream_serializer_;
  std::deque<std::string> queue_;
  size_t queued_bytes_ = 0;
  std::string in_flight_;
  net::steady_timer write_timer_;
  uint64_t write_generation_ = 0;
};

class Listener : public std::enable_shared_from_this<Listener> {
 public:
  Listener(std::shared_ptr<ServerShared> shared, tcp::acceptor acceptor)
      : shared_(std::move(shared)),
        acceptor_(std::move(acceptor)),
        retry_(acceptor_.get_executor()) {}

  void Accept() {
    acceptor_.async_accept(net::make_strand(shared_->ioc),
                           [self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
                             self->OnAccept(ec, std::move(socket));
                           });
  }

  // Runs on the acceptor's strand, like OnAccept, so no session slips past it.
  void Shutdown() {
    net::post(acceptor_.get_executor(), [self = shared_from_this()] {
      beast::error_code ignored;
      self->acceptor_.close(ignored);
      self->retry_.cancel();
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
    });
  }

 private:
  void OnAccept(beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
    if (ec) {
      // Out of descriptors and the like: back off briefly instead of spinning.
      retry_.expires_after(std::chrono::milliseconds(50));
      retry_.async_wait([self = shared_from_this()](beast::error_code wait_ec) {
        if (!wait_ec) self->Accept();
      });
      return;
    }
    if (!shared_->stopping) StartSession(std::move(socket));
    Accept();
  }

  void StartSession(tcp::socket socket) {
    beast::error_code ec;
    auto endpoint = socket.remote_endpoint(ec);
    if (ec) return;
    auto address = endpoint.address();
    if (address.is_v6() && address.to_v6().is_v4_mapped()) {
      address = net::ip::make_address_v4(net::ip::v4_mapped, address.to_v6());
    }
    socket.set_option(tcp::no_delay(true), ec);
    if (shared_->tls) {
      Register(
          std::make_shared<Session<TlsStream>>(shared_, std::move(socket), address.to_string()));
    } else {
      Register(
          std::make_shared<Session<PlainStream>>(shared_, std::move(socket), address.to_string()));
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
  tcp::acceptor acceptor_;
  net::steady_timer retry_;
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

Status ConfigureTls(ssl::context& ctx, const HttpServerOptions& options) {
  SSL_CTX* native = ctx.native_handle();
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_compression |
                  ssl::context::single_dh_use | SSL_OP_NO_RENEGOTIATION |
                  SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_cipher_list(native, kTls12Ciphers) != 1 ||
      SSL_CTX_set1_groups_list(native, "X25519:P-256:P-384") != 1) {
    return Error::Internal("cannot configure the TLS context");
  }
  static const unsigned char kSessionContext[] = "breakglass";
  SSL_CTX_set_session_id_context(native, kSessionContext, sizeof(kSessionContext) - 1);
  beast::error_code ec;
  ctx.use_certificate_chain_file(options.cert_file, ec);
  if (ec) {
    return Error::InvalidArgument("cert_file", fmt::format("cannot load certificate {}: {}",
                                                           options.cert_file, ec.message()));
  }
  ctx.use_private_key_file(options.key_file, ssl::context::pem, ec);
  if (ec || SSL_CTX_check_private_key(native) != 1) {
    return Error::InvalidArgument(
        "key_file", fmt::format("cannot load private key {} (or it does not match the "
                                "certificate)",
                                options.key_file));
  }
  return Ok();
}

class ServerImpl final : public HttpServer {
 public:
  explicit ServerImpl(std::shared_ptr<ServerShared> shared)
      : shared_(std::move(shared)), work_(net::make_work_guard(shared_->ioc)) {}
  ~ServerImpl() override { Stop(); }

  Status Listen(const net::ip::address& address) {
    const auto& options = shared_->options;
    tcp::endpoint endpoint(address, options.port);
    tcp::acceptor acceptor(net::make_strand(shared_->ioc));
    beast::error_code ec;
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
      return Error::InvalidArgument(
          "listen",
          fmt::format("cannot listen on {}:{}: {}", options.host, options.port, ec.message()));
    }
    port_ = acceptor.local_endpoint().port();
    listener_ = std::make_shared<Listener>(shared_, std::move(acceptor));
    listener_->Accept();
    for (int i = 0; i < options.threads; ++i) {
      threads_.emplace_back([shared = shared_] {
        for (;;) {
          try {
            shared->ioc.run();
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

  void Stop() override {
    {
      std::unique_lock lock(shared_->post_mu);
      if (shared_->stopped) return;
      shared_->stopped = true;
    }
    shared_->stopping = true;
    if (listener_) listener_->Shutdown();
    work_.reset();
    for (auto& thread : threads_) thread.join();
    threads_.clear();
  }

 private:
  std::shared_ptr<ServerShared> shared_;
  net::executor_work_guard<net::io_context::executor_type> work_;
  std::shared_ptr<Listener> listener_;
  std::vector<std::thread> threads_;
  uint16_t port_ = 0;
};

}  // namespace

Result<std::unique_ptr<HttpServer>> HttpServer::Start(HttpServerOptions options, Handler handler) {
  if (options.threads < 1 || options.threads > 256) {
    return Error::InvalidArgument("threads", "threads must be between 1 and 256");
  }
  if (!handler) return Error::InvalidArgument("handler", "a handler is required");
  BG_ASSIGN_OR_RETURN(net::ip::address address, ListenAddress(options.host));
  if (!options.tls && !IsLoopback(address)) {
    return Error::InvalidArgument(
        "listen", fmt::format("plain HTTP is allowed only on a loopback address (127.0.0.0/8, "
                              "::1, localhost), not on \"{}\": enable TLS",
                              options.host));
  }
  auto shared = std::make_shared<ServerShared>(std::move(options), std::move(handler));
  if (shared->options.tls) {
    shared->tls.emplace(ssl::context::tls_server);
    BG_TRY(ConfigureTls(*shared->tls, shared->options));
  }
  auto server = std::make_unique<ServerImpl>(shared);
  BG_TRY(server->Listen(address));
  return std::unique_ptr<HttpServer>(std::move(server));
}

}  // namespace bg::api
