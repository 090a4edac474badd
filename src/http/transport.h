// The byte transports of the HTTP server's connections, plain or TLS, over a connected
// stream socket that the caller reads. TLS is OpenSSL driven directly (no memory-BIO pair with
// its own copy of every record, no composed operations around it): its BIO takes input from
// the connection's Inbox, which the caller fills from the socket, and writes with
// send(MSG_NOSIGNAL), so a peer that left is an error for that connection, not a SIGPIPE for
// the process (OpenSSL's own socket BIO uses write()).
//
// Reads are the caller's so that they go through the event loop's speculative receive: after
// a request the next receive is tried at once and, finding nothing, waits on the readiness the
// loop already watches; asking the loop to wait for readability instead re-arms the descriptor
// (one epoll_ctl per request). Writes go straight to the socket and only a full socket waits.
//
// Each call does what it can now and never blocks; when it cannot go on it says whether it
// needs more input (kWantRead: fill the inbox) or a writable socket (kWantWrite). Detach()
// (call it before closing the descriptor) makes every later call fail, so a descriptor number
// reused by another connection is never written through an old transport.
// Thread-compatible: one connection's calls come from one thread at a time.
#pragma once

#include <cstddef>
#include <memory>
#include <span>

#include "util/result.h"

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;

namespace bg::http::internal {

enum class Io {
  kDone,       // `bytes` were read or written (at least one), or the step finished
  kWantRead,   // nothing more until more input is in the inbox
  kWantWrite,  // nothing more until the socket is writable
  kEnd,        // the peer ended its side in order (FIN; TLS: close_notify)
  kError,      // reset, TLS failure, or detached
};

// Bytes received from the socket and not yet taken by the transport. Its memory (kCapacity)
// is allocated on first use and kept for the connection.
class Inbox {
 public:
  static constexpr size_t kCapacity = 16 << 10;  // a whole TLS record fits
  // Where the next receive goes: the free space at the end, after what is pending was moved
  // to the front. Empty only when kCapacity bytes are pending.
  std::span<char> Space();
  // `n` bytes were received into Space().
  void Commit(size_t n) { end_ += n; }
  // The peer ended the stream; once the pending bytes are taken, reads see the end.
  void End() { ended_ = true; }
  // Moves up to out.size() pending bytes to `out`; returns how many.
  size_t Take(std::span<char> out);
  size_t size() const { return end_ - begin_; }
  bool ended() const { return ended_; }

 private:
  std::unique_ptr<char[]> data_;
  size_t begin_ = 0;
  size_t end_ = 0;
  bool ended_ = false;
};

struct IoResult {
  Io status = Io::kError;
  size_t bytes = 0;
};

class PlainTransport {
 public:
  explicit PlainTransport(int fd) : fd_(fd) {}
  IoResult Handshake() { return {fd_ >= 0 ? Io::kDone : Io::kError}; }
  // From the inbox.
  IoResult Read(char* data, size_t size);
  IoResult Write(const char* data, size_t size);
  // Ends our side (shutdown(SHUT_WR)).
  IoResult Shutdown();
  void Detach() { fd_ = -1; }
  Inbox& inbox() { return inbox_; }

 private:
  int fd_;
  Inbox inbox_;
};

class TlsTransport {
 public:
  // The server side of a TLS connection on `fd` (non-blocking), with `ctx`'s settings.
  // Errors: Internal when OpenSSL cannot make the connection's state (memory).
  static Result<TlsTransport> Server(SSL_CTX* ctx, int fd);
  // The client side; for tests.
  static Result<TlsTransport> Client(SSL_CTX* ctx, int fd);

  TlsTransport(TlsTransport&&) noexcept;
  TlsTransport& operator=(TlsTransport&&) noexcept;
  ~TlsTransport();

  IoResult Handshake();
  // Decrypts from what the inbox holds.
  IoResult Read(char* data, size_t size);
  // May write part of `data` (bytes says how much); after kWantRead/kWantWrite, call again
  // with the same bytes still unwritten.
  IoResult Write(const char* data, size_t size);
  // Sends close_notify (after a successful handshake only). The peer's close_notify is then
  // seen by Read as kEnd.
  IoResult Shutdown();
  void Detach();
  Inbox& inbox();

  // What the BIO works on: the descriptor it writes to (-1 once detached) and the inbox it
  // reads from. Kept apart so that its address survives moves of the transport.
  struct Wire {
    int fd = -1;
    Inbox inbox;
  };

 private:
  struct SslFree {
    void operator()(SSL* ssl) const;
  };
  TlsTransport(std::unique_ptr<Wire> wire, std::unique_ptr<SSL, SslFree> ssl)
      : wire_(std::move(wire)), ssl_(std::move(ssl)) {}
  static Result<TlsTransport> Open(SSL_CTX* ctx, int fd, bool server);
  IoResult Failed(int ret);

  std::unique_ptr<Wire> wire_;  // declared first: the SSL (and its BIO) goes before it
  std::unique_ptr<SSL, SslFree> ssl_;
};

// The settings every server connection's TLS gets, on its context: reads take whatever has
// arrived (read-ahead: the whole of what the inbox holds, not a record header and then its
// body) and writes may be partial.
void ConfigureTransport(SSL_CTX* ctx);

}  // namespace bg::http::internal
