#include "notify/syslog_sink.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <csignal>
#include <thread>

#include "audit/event.h"
#include "http/tls.h"
#include "test/fakes/temp_dir.h"

namespace bg::notify {
namespace {

TEST(SyslogUrl, ParsesUdpTcpAndIpv6AndRefusesTheRest) {
  struct Case {
    const char* url;
    bool ok;
    bool tcp;
    const char* host;
    uint16_t port;
  };
  const Case kCases[] = {
      {"udp://127.0.0.1:514", true, false, "127.0.0.1", 514},
      {"tcp://logs.example:6514", true, true, "logs.example", 6514},
      {"udp://127.0.0.1", true, false, "127.0.0.1", 514},
      {"tcp://[::1]:1514", true, true, "::1", 1514},
      {"http://127.0.0.1:514", false, false, "", 0},
      {"udp://", false, false, "", 0},
      {"udp://h:0", false, false, "", 0},
      {"udp://h:65536", false, false, "", 0},
      {"udp://h:12x", false, false, "", 0},
      {"tcp://[::1", false, false, "", 0},
  };
  for (const auto& c : kCases) {
    auto t = ParseSyslogUrl(c.url);
    ASSERT_EQ(t.has_value(), c.ok) << c.url;
    if (!c.ok) {
      EXPECT_EQ(t.error().field(), "syslog");
      continue;
    }
    EXPECT_EQ(t->tcp, c.tcp) << c.url;
    EXPECT_EQ(t->host, c.host) << c.url;
    EXPECT_EQ(t->port, c.port) << c.url;
  }
}

std::string Leaf(const std::string& type, const std::string& actor) {
  audit::LeafEvent e;
  e.time = FromUnixSeconds(1795000000);
  e.type = type;
  e.actor = actor;
  e.request = RequestId("req_9");
  e.details = {{"reason", "x"}};
  return audit::EncodeLeaf(e);
}

TEST(SyslogFormat, WritesAnRfc5424LineWithStructuredDataAndTheLeafAsMessage) {
  std::string leaf = Leaf("request.created", "al\"ice]");
  EXPECT_EQ(FormatSyslog(12, leaf, "host one", 42, "unused"),
            "<85>1 2026-11-18T11:06:40Z host_one breakglass 42 request.created "
            "[breakglass@32473 index=\"12\" actor=\"al\\\"ice\\]\" request=\"req_9\"] "
            "\xEF\xBB\xBF" +
                leaf);
}

TEST(SyslogFormat, FailuresAreWarningsAndInvalidLeavesAreStillForwarded) {
  EXPECT_EQ(FormatSyslog(1, Leaf("login.failed", "bob"), "h", 1, "").substr(0, 5), "<84>1");
  EXPECT_EQ(FormatSyslog(3, "not json", "h", 1, "2026-01-01T00:00:00Z"),
            "<84>1 2026-01-01T00:00:00Z h breakglass 1 invalid [breakglass@32473 index=\"3\"] "
            "\xEF\xBB\xBFnot json");
}

TEST(SyslogSink, SendsEachDeliveredLeafAsOneUdpDatagram) {
  int rx = socket(AF_INET, SOCK_DGRAM, 0);
  ASSERT_GE(rx, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(rx, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(getsockname(rx, reinterpret_cast<sockaddr*>(&addr), &len), 0);

  SyslogSink sink(SyslogTarget{false, "127.0.0.1", ntohs(addr.sin_port), false, ""});
  EXPECT_EQ(sink.Describe(), "udp://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)));
  ASSERT_TRUE(sink.Deliver(0, Leaf("request.created", "alice")).has_value());
  ASSERT_TRUE(sink.Deliver(1, Leaf("request.approved", "bob")).has_value());
  std::vector<std::string> got;
  while (got.size() < 2) {
    pollfd p{rx, POLLIN, 0};
    ASSERT_EQ(poll(&p, 1, 10000), 1) << "no datagram";
    char buf[4096];
    ssize_t n = recv(rx, buf, sizeof(buf), 0);
    ASSERT_GT(n, 0);
    got.emplace_back(buf, static_cast<size_t>(n));
  }
  close(rx);
  EXPECT_NE(got[0].find(" request.created [breakglass@32473 index=\"0\""), std::string::npos);
  EXPECT_NE(got[1].find(" request.approved [breakglass@32473 index=\"1\""), std::string::npos);
}

TEST(SyslogSink, TcpWithoutAReceiverFailsAndConnectsOnceOneListens) {
  int probe = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(probe, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(getsockname(probe, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  SyslogSink sink(SyslogTarget{true, "127.0.0.1", ntohs(addr.sin_port), false, ""});
  auto refused = sink.Deliver(7, Leaf("request.created", "alice"));  // bound, not listening
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(refused.error().message().find("tcp://127.0.0.1:"), std::string::npos);

  ASSERT_EQ(listen(probe, 1), 0);
  ASSERT_TRUE(sink.Deliver(7, Leaf("request.created", "alice")).has_value());
  int conn = accept(probe, nullptr, nullptr);
  ASSERT_GE(conn, 0);
  std::string got;
  while (got.find("request.created") == std::string::npos) {
    char buf[4096];
    ssize_t n = recv(conn, buf, sizeof(buf), 0);
    ASSERT_GT(n, 0);
    got.append(buf, static_cast<size_t>(n));
  }
  close(conn);
  close(probe);
  // Octet counting: "<length> <message>".
  const size_t space = got.find(' ');
  ASSERT_NE(space, std::string::npos);
  EXPECT_EQ(std::stoul(got.substr(0, space)), got.size() - space - 1);
}

// RFC 5425 against a TLS receiver made here (the server's self-signed certificate): octet-counted
// messages inside TLS to a receiver the sink trusts by `cacert`; refused when the certificate is
// not trusted (the system store does not hold it).
TEST(SyslogTls, DeliversInsideTlsAndRefusesAnUntrustedReceiver) {
  bg::testing::TempDir dir("bg_syslog_tls");
  auto cert = http::EnsureSelfSignedCertificate(dir.path());
  ASSERT_TRUE(cert.has_value()) << cert.error().ToString();
  SSL_CTX* sctx = SSL_CTX_new(TLS_server_method());
  ASSERT_EQ(SSL_CTX_use_certificate_chain_file(sctx, cert->cert_path.c_str()), 1);
  ASSERT_EQ(SSL_CTX_use_PrivateKey_file(sctx, cert->key_path.c_str(), SSL_FILETYPE_PEM), 1);
  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(lfd, 4), 0);
  socklen_t len = sizeof(addr);
  getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &len);
  const uint16_t port = ntohs(addr.sin_port);
  // Two connections: the trusted sink's, then a refused handshake.
  std::string received;
  int accepted_handshakes = 0;
  std::thread server([&] {
    // The receiver's TLS alert to a client that already left would raise SIGPIPE (its socket
    // BIO uses write()); blocked in this thread, it is dropped when the thread ends. (The sink
    // itself writes with MSG_NOSIGNAL.)
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
    for (int c = 0; c < 2; ++c) {
      pollfd p{lfd, POLLIN, 0};
      if (poll(&p, 1, 10000) != 1) return;
      int fd = accept(lfd, nullptr, nullptr);
      timeval tv{10, 0};
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
      SSL* ssl = SSL_new(sctx);
      SSL_set_fd(ssl, fd);
      if (SSL_accept(ssl) == 1) {
        ++accepted_handshakes;
        char buf[4096];
        int n;
        while ((n = SSL_read(ssl, buf, sizeof(buf))) > 0) received.append(buf, static_cast<size_t>(n));
      }
      ERR_clear_error();
      SSL_free(ssl);
      close(fd);
    }
  });
  const std::string leaf = audit::EncodeLeaf(
      core::AuditEvent{"request.created", "alice", RequestId("req_tls"), {}}, FromUnixSeconds(1767225600));
  auto dflt = ParseSyslogUrl("tls://logs.example");
  ASSERT_TRUE(dflt.has_value());
  EXPECT_TRUE(dflt->tls && dflt->tcp);
  EXPECT_EQ(dflt->port, 6514) << "RFC 5425's port";
  auto target = ParseSyslogUrl("tls://127.0.0.1:" + std::to_string(port));
  ASSERT_TRUE(target.has_value());
  EXPECT_TRUE(target->tls);
  {
    SyslogTarget trusted = *target;
    trusted.cacert = cert->cert_path;
    trusted.host = "localhost";  // by name: SNI and the certificate's DNS name are checked
    SyslogSink sink(trusted);
    EXPECT_EQ(sink.Describe(), "tls://localhost:" + std::to_string(port));
    Status st = sink.Deliver(7, leaf);
    ASSERT_TRUE(st.has_value()) << st.error().ToString();
    ASSERT_TRUE(sink.Deliver(8, leaf).has_value());
  }  // closes the connection: the receiver's read ends
  {
    SyslogSink untrusted(*target);  // the system store does not know this certificate
    Status st = untrusted.Deliver(9, leaf);
    ASSERT_FALSE(st.has_value());
    EXPECT_NE(st.error().message().find("certificate"), std::string::npos) << st.error().message();
  }
  server.join();
  close(lfd);
  SSL_CTX_free(sctx);
  EXPECT_EQ(accepted_handshakes, 1);
  // Octet counting (RFC 6587 framing, as RFC 5425 keeps it): "LEN SP MSG" twice.
  ASSERT_FALSE(received.empty());
  const size_t sp = received.find(' ');
  const size_t first_len = std::stoul(received.substr(0, sp));
  const std::string first = received.substr(sp + 1, first_len);
  EXPECT_EQ(first.rfind("<", 0), 0u);
  EXPECT_NE(first.find("req_tls"), std::string::npos);
  EXPECT_NE(first.find("index=\"7\""), std::string::npos);
  EXPECT_NE(received.find("index=\"8\"", sp + 1 + first_len), std::string::npos);
}

}  // namespace
}  // namespace bg::notify
