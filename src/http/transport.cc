#include "http/transport.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace bg::http::internal {
namespace {

bool WouldBlock(int error) { return error == EAGAIN || error == EWOULDBLOCK; }

TlsTransport::Wire& WireOf(BIO* bio) {
  return *static_cast<TlsTransport::Wire*>(BIO_get_data(bio));
}

// send() without SIGPIPE, retried when interrupted: kDone (bytes), kWantWrite or kError.
IoResult Send(int fd, const char* data, size_t size) {
  if (fd < 0) return {Io::kError};
  for (;;) {
    ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n >= 0) return {Io::kDone, static_cast<size_t>(n)};
    if (errno == EINTR) continue;
    return {WouldBlock(errno) ? Io::kWantWrite : Io::kError};
  }
}

// What the inbox has for a read of `size` bytes: kDone (bytes), kEnd or kWantRead.
IoResult FromInbox(Inbox& inbox, char* data, size_t size) {
  if (inbox.size() > 0) return {Io::kDone, inbox.Take({data, size})};
  return {inbox.ended() ? Io::kEnd : Io::kWantRead};
}

int SocketWrite(BIO* bio, const char* data, size_t size, size_t* written) {
  BIO_clear_retry_flags(bio);
  const IoResult r = Send(WireOf(bio).fd, data, size);
  if (r.status == Io::kWantWrite) BIO_set_retry_write(bio);
  *written = r.bytes;
  return r.status == Io::kDone ? 1 : 0;
}

int InboxRead(BIO* bio, char* data, size_t size, size_t* read) {
  BIO_clear_retry_flags(bio);
  TlsTransport::Wire& wire = WireOf(bio);
  if (wire.fd < 0) return 0;
  const IoResult r = FromInbox(wire.inbox, data, size);
  if (r.status == Io::kEnd) BIO_set_flags(bio, BIO_FLAGS_IN_EOF);
  if (r.status == Io::kWantRead) BIO_set_retry_read(bio);
  *read = r.bytes;
  return r.status == Io::kDone ? 1 : 0;
}

long SocketCtrl(BIO* bio, int cmd, long, void*) {
  switch (cmd) {
    case BIO_CTRL_FLUSH:
      return 1;
    case BIO_CTRL_EOF:
      return BIO_test_flags(bio, BIO_FLAGS_IN_EOF) != 0 ? 1 : 0;
    default:
      return 0;
  }
}

int SocketCreate(BIO* bio) {
  BIO_set_init(bio, 1);
  return 1;
}

// Made once, never freed (OpenSSL keeps a pointer to it in every BIO made from it).
const BIO_METHOD* SocketMethod() {
  static BIO_METHOD* const method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "bg-socket");
    if (m == nullptr) return m;
    BIO_meth_set_write_ex(m, SocketWrite);
    BIO_meth_set_read_ex(m, InboxRead);
    BIO_meth_set_ctrl(m, SocketCtrl);
    BIO_meth_set_create(m, SocketCreate);
    return m;
  }();
  return method;
}

// Empties the thread's error queue before a call: a handler on this thread may have left
// errors in it, which would make SSL_get_error report a failure for a mere "wait". Looks
// first (clearing walks every slot of the queue even when it is empty).
void ClearErrors() {
  if (ERR_peek_error() != 0) ERR_clear_error();
}

}  // namespace

std::span<char> Inbox::Space() {
  if (!data_) data_ = std::make_unique<char[]>(kCapacity);
  if (begin_ > 0) {
    std::memmove(data_.get(), data_.get() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  return {data_.get() + end_, kCapacity - end_};
}

size_t Inbox::Take(std::span<char> out) {
  const size_t n = std::min(out.size(), end_ - begin_);
  std::memcpy(out.data(), data_.get() + begin_, n);
  begin_ += n;
  if (begin_ == end_) begin_ = end_ = 0;
  return n;
}

IoResult PlainTransport::Read(char* data, size_t size) {
  if (fd_ < 0) return {Io::kError};
  return FromInbox(inbox_, data, size);
}

IoResult PlainTransport::Write(const char* data, size_t size) { return Send(fd_, data, size); }

IoResult PlainTransport::Shutdown() {
  if (fd_ < 0 || ::shutdown(fd_, SHUT_WR) != 0) return {Io::kError};
  return {Io::kDone};
}

void TlsTransport::SslFree::operator()(SSL* ssl) const { SSL_free(ssl); }

Result<TlsTransport> TlsTransport::Open(SSL_CTX* ctx, int fd, bool server) {
  std::unique_ptr<SSL, SslFree> ssl(ctx == nullptr ? nullptr : SSL_new(ctx));
  const BIO_METHOD* method = SocketMethod();
  BIO* bio = !ssl || method == nullptr ? nullptr : BIO_new(method);
  if (bio == nullptr) {
    ERR_clear_error();
    return Error::Internal("cannot make a TLS connection");
  }
  auto wire = std::make_unique<Wire>();
  wire->fd = fd;
  BIO_set_data(bio, wire.get());
  SSL_set_bio(ssl.get(), bio, bio);  // one BIO for both directions; the SSL owns it
  if (server) {
    SSL_set_accept_state(ssl.get());
  } else {
    SSL_set_connect_state(ssl.get());
  }
  return TlsTransport(std::move(wire), std::move(ssl));
}

Result<TlsTransport> TlsTransport::Server(SSL_CTX* ctx, int fd) { return Open(ctx, fd, true); }
Result<TlsTransport> TlsTransport::Client(SSL_CTX* ctx, int fd) { return Open(ctx, fd, false); }

TlsTransport::TlsTransport(TlsTransport&&) noexcept = default;
TlsTransport& TlsTransport::operator=(TlsTransport&&) noexcept = default;
TlsTransport::~TlsTransport() = default;

// What a failed call waits for; after a failure the error queue is emptied.
IoResult TlsTransport::Failed(int ret) {
  switch (SSL_get_error(ssl_.get(), ret)) {
    case SSL_ERROR_WANT_READ:
      return {Io::kWantRead};
    case SSL_ERROR_WANT_WRITE:
      return {Io::kWantWrite};
    case SSL_ERROR_ZERO_RETURN:
      return {Io::kEnd};
    default:
      ERR_clear_error();
      return {Io::kError};
  }
}

IoResult TlsTransport::Handshake() {
  if (!ssl_) return {Io::kError};
  ClearErrors();
  int ret = SSL_do_handshake(ssl_.get());
  if (ret == 1) return {Io::kDone};
  return Failed(ret);
}

IoResult TlsTransport::Read(char* data, size_t size) {
  if (!ssl_) return {Io::kError};
  ClearErrors();
  size_t n = 0;
  int ret = SSL_read_ex(ssl_.get(), data, size, &n);
  if (ret == 1) return {Io::kDone, n};
  return Failed(ret);
}

IoResult TlsTransport::Write(const char* data, size_t size) {
  if (!ssl_) return {Io::kError};
  ClearErrors();
  size_t n = 0;
  int ret = SSL_write_ex(ssl_.get(), data, size, &n);
  if (ret == 1) return {Io::kDone, n};
  return Failed(ret);
}

IoResult TlsTransport::Shutdown() {
  if (!ssl_ || SSL_is_init_finished(ssl_.get()) != 1) return {Io::kError};
  ClearErrors();
  int ret = SSL_shutdown(ssl_.get());
  if (ret >= 0) return {Io::kDone};
  return Failed(ret);
}

void TlsTransport::Detach() {
  if (wire_) wire_->fd = -1;
}

Inbox& TlsTransport::inbox() { return wire_->inbox; }

void ConfigureTransport(SSL_CTX* ctx) {
  SSL_CTX_set_read_ahead(ctx, 1);
  // Not SSL_MODE_RELEASE_BUFFERS: with it every request freed and allocated both record buffers
  // again (about 6% of the server's CPU per request under wrk); without it a TLS connection
  // holds them, and the slow-client benchmark's peaks stay at or below those of asio's
  // ssl::stream, which kept buffers of its own (bench/RESULTS.md).
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
}

}  // namespace bg::http::internal
