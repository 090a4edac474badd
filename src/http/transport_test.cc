#include "http/transport.h"

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "http/tls.h"

namespace bg::http::internal {
namespace {

// Receives what the socket has into the transport's inbox, as the server's connections do.
// False when nothing was there.
template <typename T>
bool Pump(T& transport, int fd) {
  std::span<char> space = transport.inbox().Space();
  ssize_t n = ::recv(fd, space.data(), space.size(), 0);
  if (n > 0) {
    transport.inbox().Commit(static_cast<size_t>(n));
    return true;
  }
  if (n == 0) {
    transport.inbox().End();
    return true;
  }
  return false;
}

TEST(InboxTest, TakesInOrderMovesThePendingFrontAndEnds) {
  Inbox inbox;
  EXPECT_EQ(inbox.size(), 0u);
  std::span<char> space = inbox.Space();
  ASSERT_EQ(space.size(), Inbox::kCapacity);
  std::string in = "hello world";
  std::copy(in.begin(), in.end(), space.begin());
  inbox.Commit(in.size());
  std::array<char, 6> out{};
  ASSERT_EQ(inbox.Take(out), 6u);
  EXPECT_EQ(std::string(out.data(), 6), "hello ");
  // What is left moves to the front: the space is everything after it.
  EXPECT_EQ(inbox.Space().size(), Inbox::kCapacity - 5);
  inbox.End();
  EXPECT_TRUE(inbox.ended());
  ASSERT_EQ(inbox.Take(out), 5u);
  EXPECT_EQ(std::string(out.data(), 5), "world");
  EXPECT_EQ(inbox.size(), 0u);
  EXPECT_EQ(inbox.Take(out), 0u);
}

TEST(PlainTransportTest, ReadsTheInboxWritesTheSocketAndSeesTheEnd) {
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
  PlainTransport t(fds[0]);
  char buf[64];
  EXPECT_EQ(t.Read(buf, sizeof(buf)).status, Io::kWantRead);
  ASSERT_EQ(::send(fds[1], "ping", 4, 0), 4);
  ASSERT_TRUE(Pump(t, fds[0]));
  IoResult r = t.Read(buf, sizeof(buf));
  ASSERT_EQ(r.status, Io::kDone);
  EXPECT_EQ(std::string(buf, r.bytes), "ping");
  r = t.Write("pong", 4);
  ASSERT_EQ(r.status, Io::kDone);
  EXPECT_EQ(r.bytes, 4u);
  ASSERT_EQ(::recv(fds[1], buf, sizeof(buf), 0), 4);
  ::shutdown(fds[1], SHUT_WR);
  ASSERT_TRUE(Pump(t, fds[0]));
  EXPECT_EQ(t.Read(buf, sizeof(buf)).status, Io::kEnd);
  t.Detach();
  EXPECT_EQ(t.Write("x", 1).status, Io::kError);
  EXPECT_EQ(t.Read(buf, sizeof(buf)).status, Io::kError);
  ::close(fds[0]);
  ::close(fds[1]);
}

struct CtxFree {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
using CtxPtr = std::unique_ptr<SSL_CTX, CtxFree>;

class TlsTransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/bg_transport_test_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto cert = EnsureSelfSignedCertificate(dir_);
    ASSERT_TRUE(cert.has_value()) << cert.error().message();
    server_ctx_.reset(SSL_CTX_new(TLS_server_method()));
    ASSERT_EQ(SSL_CTX_use_certificate_chain_file(server_ctx_.get(), cert->cert_path.c_str()), 1);
    ASSERT_EQ(
        SSL_CTX_use_PrivateKey_file(server_ctx_.get(), cert->key_path.c_str(), SSL_FILETYPE_PEM),
        1);
    ConfigureTransport(server_ctx_.get());
    client_ctx_.reset(SSL_CTX_new(TLS_client_method()));
    ConfigureTransport(client_ctx_.get());
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds_), 0);
    auto server = TlsTransport::Server(server_ctx_.get(), fds_[0]);
    auto client = TlsTransport::Client(client_ctx_.get(), fds_[1]);
    ASSERT_TRUE(server.has_value() && client.has_value());
    server_.emplace(std::move(*server));
    client_.emplace(std::move(*client));
  }
  void TearDown() override {
    server_.reset();
    client_.reset();
    ::close(fds_[0]);
    ::close(fds_[1]);
    std::filesystem::remove_all(dir_);
  }

  // Steps both handshakes, receiving whenever one wants input, until both are done.
  void Handshake() {
    bool server_done = false;
    bool client_done = false;
    for (int i = 0; i < 100 && !(server_done && client_done); ++i) {
      if (!client_done) {
        IoResult r = client_->Handshake();
        ASSERT_NE(r.status, Io::kError);
        client_done = r.status == Io::kDone;
        if (r.status == Io::kWantRead) Pump(*client_, fds_[1]);
      }
      if (!server_done) {
        IoResult r = server_->Handshake();
        ASSERT_NE(r.status, Io::kError);
        server_done = r.status == Io::kDone;
        if (r.status == Io::kWantRead) Pump(*server_, fds_[0]);
      }
    }
    ASSERT_TRUE(server_done && client_done);
  }

  // Everything `t` can decrypt from what has arrived on `fd`, until it waits for more.
  std::string ReadAll(TlsTransport& t, int fd, Io* last = nullptr) {
    std::string out;
    char buf[4096];
    for (;;) {
      IoResult r = t.Read(buf, sizeof(buf));
      if (r.status == Io::kDone) {
        out.append(buf, r.bytes);
        continue;
      }
      if (r.status == Io::kWantRead && Pump(t, fd)) continue;
      if (last != nullptr) *last = r.status;
      return out;
    }
  }

  std::string dir_;
  CtxPtr server_ctx_;
  CtxPtr client_ctx_;
  int fds_[2] = {-1, -1};
  std::optional<TlsTransport> server_;
  std::optional<TlsTransport> client_;
};

TEST_F(TlsTransportTest, HandshakeDataBothWaysAndCloseNotifyAsTheEnd) {
  Handshake();
  IoResult w = client_->Write("GET / HTTP/1.1\r\n\r\n", 18);
  ASSERT_EQ(w.status, Io::kDone);
  EXPECT_EQ(ReadAll(*server_, fds_[0]), "GET / HTTP/1.1\r\n\r\n");
  w = server_->Write("HTTP/1.1 200 OK\r\n\r\n", 19);
  ASSERT_EQ(w.status, Io::kDone);
  EXPECT_EQ(ReadAll(*client_, fds_[1]), "HTTP/1.1 200 OK\r\n\r\n");
  ASSERT_EQ(server_->Shutdown().status, Io::kDone);
  Io last = Io::kDone;
  EXPECT_EQ(ReadAll(*client_, fds_[1], &last), "");
  EXPECT_EQ(last, Io::kEnd);
}

TEST_F(TlsTransportTest, AnErrorLeftInTheThreadsQueueDoesNotTurnAWaitIntoAFailure) {
  Handshake();
  // A handler on the I/O thread may leave OpenSSL errors behind (a failed parse, say).
  ERR_raise(ERR_LIB_SSL, SSL_R_BAD_LENGTH);
  char buf[16];
  EXPECT_EQ(server_->Read(buf, sizeof(buf)).status, Io::kWantRead);
  ERR_raise(ERR_LIB_SSL, SSL_R_BAD_LENGTH);
  EXPECT_EQ(server_->Write("x", 1).status, Io::kDone);
}

TEST_F(TlsTransportTest, PartialWritesResumeWhenTheSocketDrainsAndNothingIsLost) {
  Handshake();
  int small = 4096;
  ASSERT_EQ(setsockopt(fds_[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
  std::string big(1 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 23);
  std::string_view rest = big;
  std::string got;
  int waits = 0;
  while (!rest.empty()) {
    IoResult r = server_->Write(rest.data(), rest.size());
    if (r.status == Io::kDone) {
      rest.remove_prefix(r.bytes);
      continue;
    }
    ASSERT_EQ(r.status, Io::kWantWrite);
    ++waits;
    got += ReadAll(*client_, fds_[1]);
  }
  got += ReadAll(*client_, fds_[1]);
  EXPECT_GT(waits, 0);
  EXPECT_EQ(got.size(), big.size());
  EXPECT_TRUE(got == big);
}

TEST_F(TlsTransportTest, WritingToAPeerThatLeftFailsWithoutSigpipe) {
  Handshake();
  client_.reset();
  ::close(fds_[1]);
  fds_[1] = ::dup(fds_[0]);  // TearDown closes something valid
  // With write() (OpenSSL's socket BIO) this would raise SIGPIPE and end the test binary.
  IoResult r{Io::kDone};
  for (int i = 0; i < 4 && r.status == Io::kDone; ++i) r = server_->Write("data", 4);
  EXPECT_EQ(r.status, Io::kError);
}

TEST_F(TlsTransportTest, ADetachedTransportNeitherReadsNorWrites) {
  Handshake();
  ASSERT_EQ(client_->Write("late", 4).status, Io::kDone);
  ASSERT_TRUE(Pump(*server_, fds_[0]));
  ReadAll(*client_, fds_[1]);  // whatever the handshake left (session tickets)
  server_->Detach();
  char buf[16];
  EXPECT_EQ(server_->Read(buf, sizeof(buf)).status, Io::kError);
  EXPECT_EQ(server_->Write("x", 1).status, Io::kError);
  // Nothing reached the peer.
  const ssize_t n = ::recv(fds_[1], buf, sizeof(buf), 0);
  const int error = errno;
  EXPECT_EQ(n, -1);
  EXPECT_EQ(error, EAGAIN);
}

}  // namespace
}  // namespace bg::http::internal
