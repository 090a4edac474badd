// An HTTP/1.1 server (HTTPS by default) that knows nothing about routes: it parses requests,
// hands each one to a Handler with a ResponseWriter, and writes what the handler sends back.
//
// Transport guarantees: keep-alive; pipelined requests are answered in order, one at a time;
// a body larger than max_body_bytes gets 413 without being buffered; a malformed request
// (also a path or query that is not UTF-8 once decoded) gets 400, oversized headers 431 (then
// the connection closes); an exception escaping the handler becomes a 500; a handler that
// drops its writer without answering yields a 500; every read and write (TLS handshake,
// headers, body, idle keep-alive, each response or stream chunk) has a deadline; connections
// open at once are capped in all and per source. TLS is 1.2 or 1.3 only, AEAD ciphers with
// forward secrecy. Plain HTTP is refused unless the listen host is a loopback address. Error
// bodies are {"error":{"code","message","field"?}}.
//
// Responses carry a Date header, X-Content-Type-Options: nosniff and, over TLS,
// Strict-Transport-Security: max-age=31536000 (a handler's own copies of these are dropped).
// Threading: each connection is served by one of the server's I/O threads; handlers run there
// and must not block; a handler may answer later from any thread through its ResponseWriter.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/result.h"

namespace bg::http {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method;                          // As sent, e.g. "GET".
  std::string path;                            // Percent-decoded UTF-8, without the query.
  std::map<std::string, std::string> query;    // Percent-decoded UTF-8 ('+' is a space); keys unique.
  std::map<std::string, std::string> headers;  // Lower-case names; repeats joined by ", ".
  std::string body;
  std::string remote_address;  // Peer IP address, e.g. "127.0.0.1".
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  // Extra headers; names and values must not contain CR, LF or NUL. Date, Content-Length,
  // Transfer-Encoding, Connection, X-Content-Type-Options and Strict-Transport-Security are
  // the server's own and are dropped (a Connection
  // header containing "close" still closes the connection after this response).
  HeaderList headers;
};

// The answer channel for one request. Thread-safe: every method may be called from any
// thread, at any time, also after the connection or the server is gone (then it does nothing
// and returns false). Either Send() once, or StartStream() and then events until Close().
class ResponseWriter {
 public:
  virtual ~ResponseWriter() = default;

  // Sends the whole response. Returns false if a response was already sent or started, or
  // the connection is gone.
  virtual bool Send(HttpResponse response) = 0;

  // Server-Sent Events: sends 200 with Content-Type text/event-stream (plus `headers`),
  // then each WriteEvent/WriteComment goes out at once, unbuffered. Heartbeats are the
  // caller's job (WriteComment). The connection closes when the stream ends.
  virtual bool StartStream(HeaderList headers = {}) = 0;
  // Writes "event: <event>\n" (omitted when empty), "id: <id>\n" (omitted when empty) and
  // one "data: " line per line of `data`, then a blank line. Returns false when the stream is
  // not open, or when `event` or `id` contains a line break.
  virtual bool WriteEvent(std::string_view event, std::string_view data,
                          std::string_view id = {}) = 0;
  // Writes ": <text>\n\n" (a comment; clients ignore it). Line breaks in `text` are refused.
  virtual bool WriteComment(std::string_view text) = 0;
  // Ends the stream (or, before any response, the connection).
  virtual void Close() = 0;

  // True until a response was sent, the stream was closed, the client went away or the
  // server stopped. A stream whose client is too slow to read (about 1 MiB queued) is closed.
  virtual bool IsOpen() const = 0;
  // `callback` runs exactly once, when IsOpen() turns false for any reason (at once, on the
  // calling thread, if it already is). For streams this is the place to unsubscribe. It may
  // run on an I/O thread: it must not block.
  virtual void SetOnClose(std::function<void()> callback) = 0;
};

using Handler = std::function<void(HttpRequest, std::shared_ptr<ResponseWriter>)>;

// Why a connection was closed as soon as it was accepted (before any TLS or HTTP).
enum class Refusal {
  kConnectionLimit,  // max_connections were open
  kPerSourceLimit,   // max_connections_per_source were open from the peer's source
};
// "connection_limit", "per_source_limit".
std::string_view ToString(Refusal refusal);

// The deadline that passed when the server closed a connection for taking too long.
enum class Deadline {
  kHandshake,  // the TLS handshake (header_timeout)
  kHeaders,    // a request's headers (header_timeout)
  kBody,       // a request's body (body_timeout)
  kIdle,       // a kept-alive connection waiting for its next request (idle_timeout)
  kWrite,      // a response, or a chunk of a stream, not taken by the client (write_timeout)
};
// "handshake", "headers", "body", "idle", "write".
std::string_view ToString(Deadline deadline);

struct HttpServerOptions {
  std::string host = "127.0.0.1";  // IP address, or "localhost" (binds 127.0.0.1).
  uint16_t port = 0;               // 0 picks a free port; see HttpServer::port().
  bool tls = true;
  std::string cert_file;  // PEM certificate (chain) and private key, when tls.
  std::string key_file;
  int threads = 2;
  size_t max_body_bytes = 1 << 20;
  size_t max_header_bytes = 16 << 10;
  // What a stream may hold for a reader that does not keep up (queued, plus the chunk being
  // written); a stream that would hold more is dropped (closed, on_stream_dropped called).
  size_t max_stream_buffer_bytes = 256 << 10;
  // Connections open at once, in all and from one source (an IPv4 address; for IPv6 its /64);
  // 0 is no limit. A connection beyond either is closed (reset) as soon as it is accepted,
  // before its TLS handshake, and reported to on_refused; the others are served as before.
  size_t max_connections = 1024;
  size_t max_connections_per_source = 64;
  // Deadlines; when one passes the connection is closed (and reported to on_timeout). Each
  // must be positive.
  // The TLS handshake, and a request's headers: on a new connection from the handshake's end
  // (plain HTTP: from accept), on a kept-alive one from the request's first byte.
  std::chrono::milliseconds header_timeout = std::chrono::seconds(10);
  // A request's whole body, from the end of its headers (a client announcing more than it
  // sends is cut off here).
  std::chrono::milliseconds body_timeout = std::chrono::seconds(30);
  // A kept-alive connection's wait for the first byte of its next request.
  std::chrono::milliseconds idle_timeout = std::chrono::seconds(30);
  // Writing one response, or one chunk of a stream, to a client that does not read it (a
  // stream cut off here is also reported to on_stream_dropped).
  std::chrono::milliseconds write_timeout = std::chrono::seconds(30);
  // Called once per request after its response was written (or, for a stream, after the
  // stream's headers were), with the time since the request's headers arrived. Also called
  // for requests the server refused itself (400/413/431), with what was parsed of them.
  // The request carries method, path and remote_address only (no query, headers or body).
  // Runs on an I/O thread.
  std::function<void(const HttpRequest&, int status, double seconds)> on_complete;
  // Called when a stream is dropped because its reader fell max_stream_buffer_bytes behind,
  // or did not take a chunk within write_timeout. Runs on an I/O thread.
  std::function<void()> on_stream_dropped;
  // Called for each connection refused at accept, on the accepting I/O thread; must be cheap
  // (a flood calls it at the flood's rate).
  std::function<void(Refusal)> on_refused;
  // Called for each connection closed because a deadline passed. Runs on an I/O thread.
  std::function<void(Deadline)> on_timeout;
  // An already bound, already listening TCP socket to accept on instead of binding host:port
  // (host and port are then ignored; plain HTTP still needs it bound to a loopback address),
  // e.g. one HttpServer::ReleaseListener() handed back. The server owns it once Start
  // succeeds; when Start fails it is still the caller's, open.
  int listen_fd = -1;
};

class HttpServer {
 public:
  // Binds, listens (or adopts options.listen_fd) and starts the I/O threads. Errors:
  // InvalidArgument field "listen" (bad host, plain HTTP on a non-loopback host, bind
  // failure), field "listen_fd" (not a listening TCP socket), field "cert_file"/"key_file"
  // (unreadable or mismatched TLS files), field "threads", field "max_connections_per_source"
  // (above a non-zero max_connections), fields "header_timeout", "body_timeout",
  // "idle_timeout", "write_timeout" (not positive).
  static Result<std::unique_ptr<HttpServer>> Start(HttpServerOptions options, Handler handler);

  virtual ~HttpServer() = default;
  // The bound port (the real one when options.port was 0).
  virtual uint16_t port() const = 0;
  // Connections open now (accepted and not yet closed; refused ones never count). Any thread.
  virtual size_t open_connections() const = 0;
  // Stops accepting, closes every connection (open streams see their on-close callback),
  // lets the I/O threads finish and joins them. Idempotent; also run by the destructor.
  // Must not be called from a handler or an on-close callback.
  virtual void Stop() = 0;
  // Stops accepting and hands the listening socket back as an owned descriptor, still bound
  // and listening: connections waiting in its accept backlog stay there for whoever accepts
  // next (another HttpServer started with options.listen_fd), so clients never see a refused
  // connection. Connections this server already accepted carry on and get their answers;
  // Stop() (or the destructor) ends them. Errors: FailedPrecondition when the listener was
  // already released or the server stopped. Must not be called from a handler, an on-close
  // callback or concurrently with Stop().
  virtual Result<int> ReleaseListener() = 0;
};

}  // namespace bg::http
