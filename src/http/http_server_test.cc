#include "http/http_server.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <fcntl.h>
#include <malloc.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "http/tls.h"
#include "http/wire.h"
#include "util/utf8.h"

namespace bg::http {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using ::testing::HasSubstr;

std::string MakeTempDir() {
  char tmpl[] = "/tmp/bg_http_test_XXXXXX";
  char* dir = mkdtemp(tmpl);
  return dir == nullptr ? std::string() : std::string(dir);
}

// Runs a shell command; returns its exit status and standard output.
std::pair<int, std::string> RunCommand(const std::string& command) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return {-1, out};
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
  int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

bool HaveTool(const std::string& name) {
  return RunCommand("command -v " + name + " >/dev/null 2>&1").first == 0;
}

// A blocking test client on 127.0.0.1: TLS (verifying the server against `cacert`, host
// 127.0.0.1) when cacert is non-empty, else plain TCP. Errors throw (gtest reports them).
class Client {
 public:
  // With handshake=false the TCP connection is made but the TLS handshake waits for
  // Handshake().
  // `source`: the local address to connect from (any of 127.0.0.0/8 reaches the server).
  Client(uint16_t port, const std::string& cacert, const std::function<void(SSL_CTX*)>& tune = {},
         bool handshake = true, const std::string& source = "127.0.0.1")
      : ctx_(ssl::context::tls_client) {
    tcp::endpoint endpoint(net::ip::make_address("127.0.0.1"), port);
    auto connect = [&](beast::tcp_stream& s) {
      s.socket().open(tcp::v4());
      s.socket().bind(tcp::endpoint(net::ip::make_address(source), 0));
      s.connect(endpoint);
    };
    if (cacert.empty()) {
      plain_ = std::make_unique<beast::tcp_stream>(ioc_);
      connect(*plain_);
      return;
    }
    ctx_.load_verify_file(cacert);
    ctx_.set_verify_mode(ssl::verify_peer);
    ctx_.set_verify_callback(ssl::host_name_verification("127.0.0.1"));
    if (tune) tune(ctx_.native_handle());
    tls_ = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(ioc_, ctx_);
    connect(beast::get_lowest_layer(*tls_));
    if (handshake) Handshake();
  }

  // Whether this connection is one the server refused: it fails the TLS handshake, or (plain)
  // ends without an answer to a request.
  bool Refused() {
    if (tls_) return static_cast<bool>(handshake_error_);
    beast::error_code ec;
    std::string request = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    net::write(*plain_, net::buffer(request), ec);
    return ReadToEnd().empty();
  }

  void Handshake() {
    if (tls_) tls_->handshake(ssl::stream_base::client, handshake_error_);
  }

  // Runs f on whichever stream this client has.
  template <typename F>
  decltype(auto) Visit(F&& f) {
    if (tls_) return f(*tls_);
    return f(*plain_);
  }

  const beast::error_code& handshake_error() const { return handshake_error_; }
  std::string tls_version() { return tls_ ? SSL_get_version(tls_->native_handle()) : ""; }

  void Write(std::string_view bytes) {
    Visit([&](auto& s) { net::write(s, net::buffer(bytes.data(), bytes.size())); });
  }

  bhttp::response<bhttp::string_body> Read() {
    bhttp::response<bhttp::string_body> res;
    Visit([&](auto& s) { bhttp::read(s, buffer_, res); });
    return res;
  }

  // The answer to a HEAD request: headers only, whatever Content-Length says.
  bhttp::response<bhttp::empty_body> ReadHead() {
    bhttp::response_parser<bhttp::empty_body> parser;
    parser.skip(true);
    Visit([&](auto& s) { bhttp::read(s, buffer_, parser); });
    return parser.release();
  }

  // Reads until the server closes; returns what arrived (after anything buffered).
  std::string ReadToEnd() {
    std::string out = beast::buffers_to_string(buffer_.data());
    buffer_.consume(buffer_.size());
    char buf[4096];
    beast::error_code ec;
    for (;;) {
      size_t n = Visit([&](auto& s) { return s.read_some(net::buffer(buf), ec); });
      out.append(buf, n);
      if (ec) return out;
    }
  }

  // SSE: reads the response head, then decoded body bytes until `done(body)` holds.
  std::string ReadStream(const std::function<bool(const std::string&)>& done) {
    if (!stream_parser_) {
      stream_parser_.emplace();
      stream_parser_->body_limit(boost::none);
      Visit([&](auto& s) { bhttp::read_header(s, buffer_, *stream_parser_); });
    }
    while (!done(stream_parser_->get().body())) {
      Visit([&](auto& s) { bhttp::read_some(s, buffer_, *stream_parser_); });
    }
    return stream_parser_->get().body();
  }
  const bhttp::response<bhttp::string_body>& stream_head() { return stream_parser_->get(); }

  // Drops the TCP connection without any TLS close_notify, like a client that goes away.
  void Disconnect() {
    beast::error_code ec;
    auto& socket = tls_ ? beast::get_lowest_layer(*tls_).socket() : plain_->socket();
    socket.shutdown(tcp::socket::shutdown_both, ec);
    socket.close(ec);
  }

 private:
  net::io_context ioc_;
  ssl::context ctx_;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> tls_;
  std::unique_ptr<beast::tcp_stream> plain_;
  beast::error_code handshake_error_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::response_parser<bhttp::string_body>> stream_parser_;
};

std::string Get(std::string_view target, std::string_view extra_headers = "") {
  return fmt::format("GET {} HTTP/1.1\r\nHost: 127.0.0.1\r\n{}\r\n", target, extra_headers);
}

std::string Post(std::string_view target, std::string_view body) {
  return fmt::format(
      "POST {} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
      "Content-Length: {}\r\n\r\n{}",
      target, body.size(), body);
}

HttpResponse Text(std::string body, int status = 200) {
  HttpResponse response;
  response.status = status;
  response.content_type = "text/plain";
  response.body = std::move(body);
  return response;
}

class HttpServerTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir();
    ASSERT_FALSE(dir_.empty());
    auto cert = EnsureSelfSignedCertificate(dir_);
    ASSERT_TRUE(cert.has_value()) << cert.error().ToString();
    cert_ = *cert;
  }
  void TearDown() override {
    server_.reset();
    std::filesystem::remove_all(dir_);
  }

  bool tls() const { return GetParam(); }

  void StartServer(Handler handler, const std::function<void(HttpServerOptions&)>& tune = {}) {
    HttpServerOptions options;
    options.host = "127.0.0.1";
    options.tls = tls();
    options.cert_file = cert_.cert_path;
    options.key_file = cert_.key_path;
    if (tune) tune(options);
    auto server = HttpServer::Start(options, std::move(handler));
    ASSERT_TRUE(server.has_value()) << server.error().ToString();
    server_ = std::move(*server);
  }

  std::unique_ptr<Client> Connect(const std::string& source = "127.0.0.1") {
    return std::make_unique<Client>(server_->port(), tls() ? cert_.cert_path : "",
                                    std::function<void(SSL_CTX*)>{}, true, source);
  }

  std::string dir_;
  CertificateInfo cert_;
  std::unique_ptr<HttpServer> server_;
};

INSTANTIATE_TEST_SUITE_P(Transport, HttpServerTest, ::testing::Values(true, false),
                         [](const auto& p) { return p.param ? "Tls" : "Plain"; });

TEST_P(HttpServerTest, GetRoundTripParsesPathQueryHeadersAndPeer) {
  std::promise<HttpRequest> seen;
  StartServer([&](HttpRequest req, std::shared_ptr<ResponseWriter> writer) {
    seen.set_value(req);
    HttpResponse response;
    response.status = 201;
    response.body = R"({"ok":true})";
    response.headers = {{"X-Request-Id", "req_1"}};
    writer->Send(response);
  });
  auto client = Connect();
  client->Write(Get("/v1/re%71uests?state=pending&mine=true&q=a%20b+c&empty=&flag",
                    "X-Custom: One\r\nAccept: a\r\nAccept: b\r\n"));
  auto res = client->Read();
  EXPECT_EQ(res.result_int(), 201);
  EXPECT_EQ(res[bhttp::field::content_type], "application/json");
  EXPECT_EQ(res["X-Request-Id"], "req_1");
  EXPECT_EQ(res.body(), R"({"ok":true})");
  EXPECT_TRUE(res.keep_alive());

  HttpRequest req = seen.get_future().get();
  EXPECT_EQ(req.method, "GET");
  EXPECT_EQ(req.path, "/v1/requests");
  EXPECT_EQ(
      req.query,
      (std::map<std::string, std::string>{
          {"state", "pending"}, {"mine", "true"}, {"q", "a b c"}, {"empty", ""}, {"flag", ""}}));
  EXPECT_EQ(req.headers["x-custom"], "One");
  EXPECT_EQ(req.headers["accept"], "a, b");
  EXPECT_EQ(req.headers["host"], "127.0.0.1");
  EXPECT_EQ(req.remote_address, "127.0.0.1");
  EXPECT_TRUE(req.body.empty());
}

TEST_P(HttpServerTest, PostBodyReachesTheHandler) {
  StartServer([](HttpRequest req, std::shared_ptr<ResponseWriter> writer) {
    writer->Send(
        Text(req.method + " " + std::to_string(req.body.size()) + " " + req.body.substr(0, 10)));
  });
  std::string body = R"({"reason":")" + std::string(5000, 'x') + R"("})";
  auto client = Connect();
  client->Write(Post("/v1/requests", body));
  auto res = client->Read();
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(res.body(), "POST " + std::to_string(body.size()) + " {\"reason\":");
}

TEST_P(HttpServerTest, ChunkedBodyIsDecoded) {
  StartServer([](HttpRequest req, std::shared_ptr<ResponseWriter> writer) {
    writer->Send(Text(req.body));
  });
  auto client = Connect();
  client->Write(
      "POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
  EXPECT_EQ(client->Read().body(), "hello world");
}

TEST_P(HttpServerTest, OversizedBodyGets413BeforeTheBodyIsSent) {
  std::atomic<int> calls{0};
  StartServer(
      [&](HttpRequest, std::shared_ptr<ResponseWriter> writer) {
        ++calls;
        writer->Send(Text("handled"));
      },
      [](HttpServerOptions& o) { o.max_body_bytes = 1024; });
  auto client = Connect();
  // Announces 10 MiB but sends only the head: the answer must come without the body.
  client->Write("POST /v1/requests HTTP/1.1\r\nHost: h\r\nContent-Length: 10485760\r\n\r\n{\"a\":");
  auto res = client->Read();
  EXPECT_EQ(res.result_int(), 413);
  EXPECT_EQ(res[bhttp::field::content_type], "application/json");
  EXPECT_EQ(res.body(),
            R"({"error":{"code":"payload_too_large","message":"the request body exceeds 1024 )"
            R"(bytes","field":"body"}})");
  EXPECT_FALSE(res.keep_alive());
  EXPECT_EQ(calls.load(), 0);
}

TEST_P(HttpServerTest, OversizedChunkedBodyGets413) {
  StartServer([](HttpRequest, std::shared_ptr<ResponseWriter> writer) { writer->Send(Text("")); },
              [](HttpServerOptions& o) { o.max_body_bytes = 16; });
  auto client = Connect();
  client->Write(
      "POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
      "20\r\n" +
      std::string(32, 'z') + "\r\n0\r\n\r\n");
  EXPECT_EQ(client->Read().result_int(), 413);
}

TEST_P(HttpServerTest, BodyWithinLimitAfterExpectContinueIsRead) {
  StartServer([](HttpRequest req, std::shared_ptr<ResponseWriter> writer) {
    writer->Send(Text(req.body));
  });
  auto client = Connect();
  client->Write("POST /x HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
  EXPECT_EQ(client->Read().result_int(), 100);
  client->Write("data");
  EXPECT_EQ(client->Read().body(), "data");
}

TEST_P(HttpServerTest, MalformedRequestsGet400AndClose) {
  static constexpr char kGarbage[] = "\x16\x03\x01\x02\xff garbage \x01\r\n\r\n";
  struct Case {
    const char* name;
    std::string bytes;
  };
  const Case kCases[] = {
      {"garbage", std::string(kGarbage, sizeof(kGarbage) - 1)},
      {"bad version", "GET / HTTP/9.9\r\nHost: h\r\n\r\n"},
      {"no host", "GET / HTTP/1.1\r\n\r\n"},
      {"space in header name", "GET / HTTP/1.1\r\nHost: h\r\nBad Name: x\r\n\r\n"},
      {"length and chunked",
       "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n"
       "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
      {"bad content length", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1x\r\n\r\n"},
  };
  std::atomic<int> calls{0};
  StartServer([&](HttpRequest, std::shared_ptr<ResponseWriter> writer) {
    ++calls;
    writer->Send(Text("handled"));
  });
  for (const auto& c : kCases) {
    auto client = Connect();
    client->Write(c.bytes);
    auto res = client->Read();
    EXPECT_EQ(res.result_int(), 400) << c.name;
    EXPECT_THAT(res.body(), HasSubstr(R"({"error":{"code":"invalid_argument","message":")"))
        << c.name;
    EXPECT_FALSE(res.keep_alive()) << c.name;
  }
  EXPECT_EQ(calls.load(), 0);
}

TEST_P(HttpServerTest, BadTargetsGet400WithTheFieldAndKeepTheConnection) {
  StartServer([](HttpRequest req, std::shared_ptr<ResponseWriter> writer) {
    writer->Send(Text(req.path));
  });
  auto client = Connect();
  client->Write(Get("/v1/requests?state=a&state=b"));
  auto res = client->Read();
  EXPECT_EQ(res.result_int(), 400);
  EXPECT_EQ(res.body(), R"({"error":{"code":"invalid_argument","message":"query parameter )"
                        R"(\"state\" is repeated","field":"state"}})");
  client->Write(Get("/bad%zz"));
  EXPECT_EQ(client->Read().result_int(), 400);
  client->Write(Get("/fine"));
  EXPECT_EQ(client->Read().body(), "/fine");
}

TEST_P(HttpServerTest, OversizedHeadersGet431) {
  StartServer([](HttpRequest, std::shared_ptr<ResponseWriter> writer) { writer->Send(Text("")); },
              [](HttpServerOptions& o) { o.max_header_bytes = 1024; });
  auto client = Connect();
  client->Write(Get("/", "X-Big: " + std::string(2000, 'a') + "\r\n"));
  auto res = client->Read();
  EXPECT_EQ(res.result_int(), 431);
  EXPECT_THAT(res.body(), HasSubstr(R"("code":"headers_too_large")"));
}

TEST_P(HttpServerTest, KeepAliveAndPipelinedRequestsAreAnsweredInOrder) {
  StartServer([](HttpRequest req, std::shared_ptr<ResponseWriter> writer) {
    writer->Send(Text(req.path));
  });
  auto client = Connect();
  for (int i = 0; i < 5; ++i) {
    client->Write(Get("/one/" + std::to_string(i)));
    auto res = client->Read();
    EXPECT_EQ(res.body(), "/one/" + std::to_string(i));
    EXPECT_TRUE(res.keep_alive());
  }
  // Three requests in one write: three answers, in order, on the same connection.
  client->Write(Get("/p/1") + Post("/p/2", "body") + Get("/p/3"));
  for (const char* path : {"/p/1", "/p/2", "/p/3"}) EXPECT_EQ(client->Read().body(), path);
  client->Write(Get("/last", "Connection: close\r\n"));
  auto last = client->Read();
  EXPECT_EQ(last.body(), "/last");
  EXPECT_FALSE(last.keep_alive());
}

// Answered at once, pipelined requests are served inline a few at a time and then through the
// I/O thread's queue (the stack stays bounded): all of them, in order, whichever way.
TEST_P(HttpServerTest, ManyPipelinedRequestsInOneWriteAreAllAnsweredInOrder) {
  StartServer([](HttpRequest req, std::shared_ptr<ResponseWriter> writer) {
    writer->Send(Text(req.path));
  });
  auto client = Connect();
  std::string burst;
  for (int i = 0; i < 300; ++i) burst += Get("/n/" + std::to_string(i));
  client->Write(burst);
  for (int i = 0; i < 300; ++i) ASSERT_EQ(client->Read().body(), "/n/" + std::to_string(i));
}

TEST_P(HttpServerTest, HeadGetsTheLengthButNoBody) {
  StartServer([](HttpRequest, std::shared_ptr<ResponseWriter> writer) {
    writer->Send(Text("twelve bytes"));
  });
  auto client = Connect();
  client->Write("HEAD / HTTP/1.1\r\nHost: h\r\n\r\n" + Get("/after"));
  auto head = client->ReadHead();
  EXPECT_EQ(head.result_int(), 200);
  EXPECT_EQ(head[bhttp::field::content_length], "12");
  // Had the server sent a body after the HEAD answer, it would be read as the next response.
  EXPECT_EQ(client->Read().body(), "twelve bytes");
}

TEST_P(HttpServerTest, ResponsesCarryADateAndTheServerOwnsTheFraming) {
  StartServer([](HttpRequest req, std::shared_ptr<ResponseWriter> writer) {
    HttpResponse response = Text("four");
    response.headers = {{"Content-Length", "999"}, {"Transfer-Encoding", "chunked"},
                        {"X-Extra", "yes"}};
    if (req.path == "/close") response.headers.emplace_back("Connection", "Close");
    writer->Send(std::move(response));
  });
  auto client = Connect();
  client->Write(Get("/"));
  auto res = client->Read();
  EXPECT_EQ(res.body(), "four");
  EXPECT_EQ(res[bhttp::field::content_length], "4");
  EXPECT_EQ(res.count(bhttp::field::transfer_encoding), 0u);
  EXPECT_EQ(res["X-Extra"], "yes");
  EXPECT_TRUE(res.keep_alive());
  // IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT".
  EXPECT_THAT(std::string(res[bhttp::field::date]),
              ::testing::MatchesRegex("[A-Z][a-z][a-z], [0-9][0-9] [A-Z][a-z][a-z] [0-9][0-9][0-9][0-9] "
                                      "[0-9][0-9]:[0-9][0-9]:[0-9][0-9] GMT"));
  // A handler's "Connection: close" is honoured.
  client->Write(Get("/close"));
  auto last = client->Read();
  EXPECT_EQ(last.body(), "four");
  EXPECT_FALSE(last.keep_alive());
  EXPECT_EQ(client->ReadToEnd(), "");
}

TEST_P(HttpServerTest, Http10GetsAnHttp10AnswerAndTheConnectionCloses) {
  StartServer([](HttpRequest req, std::shared_ptr<ResponseWriter> writer) {
    writer->Send(Text(req.path));
  });
  auto client = Connect();
  client->Write("GET /old HTTP/1.0\r\n\r\n");
  std::string raw = client->ReadToEnd();
  EXPECT_THAT(raw, ::testing::StartsWith("HTTP/1.0 200 OK\r\n"));
  EXPECT_THAT(raw, HasSubstr("Content-Length: 4\r\n"));
  EXPECT_THAT(raw, ::testing::EndsWith("\r\n\r\n/old"));
}

TEST_P(HttpServerTest, IdleKeepAliveConnectionsCloseAtTheDeadline) {
  StartServer(
      [](HttpRequest req, std::shared_ptr<ResponseWriter> writer) { writer->Send(Text(req.path)); },
      [](HttpServerOptions& o) { o.idle_timeout = std::chrono::milliseconds(200); });
  auto client = Connect();
  // Each request moves the deadline later; once the client stays quiet, the connection ends.
  for (int i = 0; i < 3; ++i) {
    client->Write(Get("/" + std::to_string(i)));
    EXPECT_EQ(client->Read().body(), "/" + std::to_string(i));
  }
  EXPECT_EQ(client->ReadToEnd(), "");
}

TEST_P(HttpServerTest, SendFromAnotherThreadAfterTheHandlerReturned) {
  std::promise<std::shared_ptr<ResponseWriter>> parked;
  StartServer([&](HttpRequest, std::shared_ptr<ResponseWriter> writer) {
    parked.set_value(std::move(writer));
  });
  auto client = Connect();
  client->Write(Get("/slow"));
  auto reply = std::async(std::launch::async, [&] { return client->Read(); });
  std::shared_ptr<ResponseWriter> writer = parked.get_future().get();
  EXPECT_TRUE(writer->IsOpen());
  EXPECT_TRUE(writer->Send(Text("later", 202)));
  EXPECT_FALSE(writer->Send(Text("twice")));
  EXPECT_FALSE(writer->IsOpen());
  auto res = reply.get();
  EXPECT_EQ(res.result_int(), 202);
  EXPECT_EQ(res.body(), "later");
}

TEST_P(HttpServerTest, HandlerExceptionsAndDroppedWritersBecome500) {
  StartServer([](HttpRequest req, std::shared_ptr<ResponseWriter> writer) {
    if (req.path == "/throw") throw std::runtime_error("boom");
    if (req.path == "/throw-int") throw 42;
    if (req.path == "/bad-header") {
      writer->Send(HttpResponse{200, "text/plain", "x", {{"X-Evil", "a\r\nSet-Cookie: b"}}});
    }
    // "/drop": returns without answering.
  });
  auto client = Connect();
  for (const char* path : {"/throw", "/throw-int", "/drop", "/bad-header"}) {
    client->Write(Get(path));
    auto res = client->Read();
    EXPECT_EQ(res.result_int(), 500) << path;
    EXPECT_THAT(res.body(), HasSubstr(R"({"error":{"code":"internal")")) << path;
    EXPECT_EQ(res["Set-Cookie"], "") << path;
    EXPECT_TRUE(res.keep_alive()) << path;
  }
}

TEST_P(HttpServerTest, OnCompleteSeesEveryRequest) {
  std::mutex mu;
  std::vector<std::string> log;
  StartServer(
      [](HttpRequest req, std::shared_ptr<ResponseWriter> writer) {
        writer->Send(Text("", req.path == "/missing" ? 404 : 200));
      },
      [&](HttpServerOptions& o) {
        o.on_complete = [&](const HttpRequest& req, int status, double seconds) {
          std::lock_guard lock(mu);
          log.push_back(fmt::format("{} {} {} {}", req.method, req.path, status, seconds >= 0));
        };
      });
  auto client = Connect();
  client->Write(Get("/a?x=1"));
  client->Read();
  client->Write(Get("/missing"));
  client->Read();
  client->Write("BREW /pot HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999\r\n\r\n");
  client->Read();
  server_.reset();  // on_complete runs after the write: Stop() waits for every call.
  std::lock_guard lock(mu);
  EXPECT_EQ(log, (std::vector<std::string>{"GET /a 200 true", "GET /missing 404 true",
                                           "BREW /pot 413 true"}));
}

TEST_P(HttpServerTest, EventStreamDeliversEventsAndNoticesTheClientLeaving) {
  std::promise<std::shared_ptr<ResponseWriter>> parked;
  std::promise<void> closed;
  StartServer([&](HttpRequest, std::shared_ptr<ResponseWriter> writer) {
    writer->SetOnClose([&closed] { closed.set_value(); });
    EXPECT_TRUE(writer->StartStream({{"X-Stream", "events"}}));
    EXPECT_FALSE(writer->Send(Text("too late")));
    parked.set_value(writer);
  });
  auto client = Connect();
  client->Write(Get("/v1/events"));
  std::shared_ptr<ResponseWriter> writer = parked.get_future().get();
  EXPECT_TRUE(writer->WriteEvent("request", R"({"id":"req_1"})", "1"));
  EXPECT_TRUE(writer->WriteComment("heartbeat"));
  EXPECT_TRUE(writer->WriteEvent("request", "line one\nline two", "2"));
  EXPECT_TRUE(writer->WriteEvent("", "plain"));
  EXPECT_FALSE(writer->WriteEvent("bad\nname", "x"));
  const std::string expected =
      "event: request\nid: 1\ndata: {\"id\":\"req_1\"}\n\n"
      ": heartbeat\n\n"
      "event: request\nid: 2\ndata: line one\ndata: line two\n\n"
      "data: plain\n\n";
  std::string body =
      client->ReadStream([&](const std::string& b) { return b.size() >= expected.size(); });
  EXPECT_EQ(body, expected);
  EXPECT_EQ(client->stream_head().result_int(), 200);
  EXPECT_EQ(client->stream_head()[bhttp::field::content_type], "text/event-stream");
  EXPECT_EQ(client->stream_head()["X-Stream"], "events");
  EXPECT_EQ(client->stream_head()[bhttp::field::cache_control], "no-cache");
  EXPECT_TRUE(writer->IsOpen());

  client->Disconnect();
  closed.get_future().get();  // The server noticed without the app writing anything.
  EXPECT_FALSE(writer->IsOpen());
  EXPECT_FALSE(writer->WriteEvent("request", "gone"));
  bool late_callback = false;
  writer->SetOnClose([&] { late_callback = true; });
  EXPECT_TRUE(late_callback);
  server_.reset();  // Before the promises the callbacks refer to go out of scope.
}

TEST_P(HttpServerTest, ClosingAStreamEndsTheResponse) {
  std::promise<std::shared_ptr<ResponseWriter>> parked;
  int closes = 0;
  StartServer([&](HttpRequest, std::shared_ptr<ResponseWriter> writer) {
    writer->SetOnClose([&closes] { ++closes; });
    writer->StartStream();
    parked.set_value(writer);
  });
  auto client = Connect();
  client->Write(Get("/v1/events"));
  auto writer = parked.get_future().get();
  writer->WriteEvent("e", "1");
  writer->Close();
  writer->Close();
  EXPECT_EQ(closes, 1);
  std::string raw = client->ReadToEnd();
  EXPECT_THAT(raw, HasSubstr("event: e\ndata: 1\n\n"));
  EXPECT_THAT(raw, ::testing::EndsWith("\r\n0\r\n\r\n"));  // The last chunk.
  server_.reset();
  EXPECT_EQ(closes, 1);
}

TEST_P(HttpServerTest, StopClosesOpenStreamsAndLateWritesAreIgnored) {
  std::promise<std::shared_ptr<ResponseWriter>> parked;
  std::promise<void> closed;
  StartServer([&](HttpRequest, std::shared_ptr<ResponseWriter> writer) {
    writer->SetOnClose([&closed] { closed.set_value(); });
    writer->StartStream();
    parked.set_value(writer);
  });
  auto client = Connect();
  client->Write(Get("/v1/events"));
  auto writer = parked.get_future().get();
  server_->Stop();
  closed.get_future().get();
  EXPECT_FALSE(writer->IsOpen());
  EXPECT_FALSE(writer->WriteEvent("e", "after stop"));
  server_->Stop();  // Idempotent.
  server_.reset();
  EXPECT_FALSE(writer->WriteComment("server gone"));
}

TEST_P(HttpServerTest, SlowClientsAreDisconnectedAtTheDeadline) {
  std::atomic<int> calls{0};
  StartServer(
      [&](HttpRequest, std::shared_ptr<ResponseWriter> writer) {
        ++calls;
        writer->Send(Text(""));
      },
      [](HttpServerOptions& o) { o.header_timeout = std::chrono::milliseconds(200); });
  auto client = Connect();
  client->Write("GET / HTTP/1.1\r\nHost: h\r\nX-Slow: ");  // ...and never finishes.
  EXPECT_EQ(client->ReadToEnd(), "");                      // Closed without an answer.
  EXPECT_EQ(calls.load(), 0);
}

TEST_P(HttpServerTest, ReleasedListenerIsAdoptedWithItsBacklogAndAcceptedConnectionsFinish) {
  std::promise<std::shared_ptr<ResponseWriter>> parked;
  StartServer([&](HttpRequest req, std::shared_ptr<ResponseWriter> writer) {
    if (req.path == "/slow") return parked.set_value(std::move(writer));
    writer->Send(Text("A" + req.path));
  });
  const uint16_t port = server_->port();
  auto in_flight = Connect();
  in_flight->Write(Get("/slow"));
  auto writer = parked.get_future().get();

  auto fd = server_->ReleaseListener();
  ASSERT_TRUE(fd.has_value()) << fd.error().ToString();
  auto again = server_->ReleaseListener();
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code(), ErrorCode::kFailedPrecondition);

  // Nobody accepts now: the kernel completes the TCP handshake and queues the connection.
  Client queued(port, tls() ? cert_.cert_path : "", {}, /*handshake=*/false);

  HttpServerOptions options;
  options.tls = tls();
  options.cert_file = cert_.cert_path;
  options.key_file = cert_.key_path;
  options.host = "192.0.2.1";  // Ignored: the descriptor is already bound.
  options.port = 1;
  options.listen_fd = *fd;
  auto second = HttpServer::Start(options, [](HttpRequest req, std::shared_ptr<ResponseWriter> w) {
    w->Send(Text("B" + req.path));
  });
  ASSERT_TRUE(second.has_value()) << second.error().ToString();
  EXPECT_EQ((*second)->port(), port);

  queued.Handshake();
  ASSERT_FALSE(queued.handshake_error()) << queued.handshake_error().message();
  queued.Write(Get("/queued"));
  EXPECT_EQ(queued.Read().body(), "B/queued");
  auto fresh = std::make_unique<Client>(port, tls() ? cert_.cert_path : "");
  fresh->Write(Get("/fresh"));
  EXPECT_EQ(fresh->Read().body(), "B/fresh");

  // The first server still answers the request it accepted, on the same connection.
  EXPECT_TRUE(writer->Send(Text("A/slow")));
  EXPECT_EQ(in_flight->Read().body(), "A/slow");
  in_flight->Write(Get("/again"));
  EXPECT_EQ(in_flight->Read().body(), "A/again");

  server_.reset();  // Ends A's connection; B keeps serving.
  EXPECT_EQ(in_flight->ReadToEnd(), "");
  fresh->Write(Get("/still"));
  EXPECT_EQ(fresh->Read().body(), "B/still");
}

TEST(HttpServerStartTest, ListenFdMustBeAListeningTcpSocket) {
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  int unbound = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(unbound, 0);
  int datagram = socket(AF_INET, SOCK_DGRAM, 0);
  ASSERT_GE(datagram, 0);
  for (int fd : {pipe_fds[0], unbound, datagram}) {
    HttpServerOptions options;
    options.tls = false;
    options.listen_fd = fd;
    auto server = HttpServer::Start(options, [](HttpRequest, std::shared_ptr<ResponseWriter>) {});
    ASSERT_FALSE(server.has_value()) << fd;
    EXPECT_EQ(server.error().field(), "listen_fd");
    EXPECT_NE(fcntl(fd, F_GETFD), -1) << "a refused descriptor stays open for the caller";
  }
  for (int fd : {pipe_fds[0], pipe_fds[1], unbound, datagram}) close(fd);
}

TEST(HttpServerStartTest, PlainHttpIsRefusedOnNonLoopbackHosts) {
  auto handler = [](HttpRequest, std::shared_ptr<ResponseWriter> w) { w->Send(Text("")); };
  for (const char* host : {"0.0.0.0", "::", "192.0.2.10", "10.0.0.1", "::ffff:10.0.0.1"}) {
    HttpServerOptions options;
    options.host = host;
    options.tls = false;
    auto server = HttpServer::Start(options, handler);
    ASSERT_FALSE(server.has_value()) << host;
    EXPECT_EQ(server.error().code(), ErrorCode::kInvalidArgument) << host;
    EXPECT_EQ(server.error().field(), "listen") << host;
    EXPECT_THAT(server.error().message(), HasSubstr("loopback")) << host;
  }
  for (const char* host : {"127.0.0.1", "localhost", "127.0.0.2"}) {
    HttpServerOptions options;
    options.host = host;
    options.tls = false;
    auto server = HttpServer::Start(options, handler);
    ASSERT_TRUE(server.has_value()) << host << ": " << server.error().ToString();
    EXPECT_NE((*server)->port(), 0);
  }
}

TEST(HttpServerStartTest, BadOptionsAreRefusedWithTheirField) {
  std::string dir = MakeTempDir();
  auto handler = [](HttpRequest, std::shared_ptr<ResponseWriter> w) { w->Send(Text("")); };
  auto a = EnsureSelfSignedCertificate(dir + "/a");
  auto b = EnsureSelfSignedCertificate(dir + "/b");
  ASSERT_TRUE(a.has_value() && b.has_value());
  struct Case {
    const char* name;
    std::function<void(HttpServerOptions&)> tune;
    const char* field;
  };
  const Case kCases[] = {
      {"not an address", [](auto& o) { o.host = "example.com"; }, "listen"},
      {"no threads", [](auto& o) { o.threads = 0; }, "threads"},
      {"missing cert", [&](auto& o) { o.cert_file = dir + "/none.crt"; }, "cert_file"},
      {"key of another cert", [&](auto& o) { o.key_file = b->key_path; }, "key_file"},
      {"more per source than in all",
       [](auto& o) {
         o.max_connections = 2;
         o.max_connections_per_source = 3;
       },
       "max_connections_per_source"},
      {"no header deadline", [](auto& o) { o.header_timeout = {}; }, "header_timeout"},
      {"no body deadline", [](auto& o) { o.body_timeout = {}; }, "body_timeout"},
      {"no idle deadline", [](auto& o) { o.idle_timeout = {}; }, "idle_timeout"},
      {"negative write deadline", [](auto& o) { o.write_timeout = std::chrono::milliseconds(-1); },
       "write_timeout"},
  };
  for (const auto& c : kCases) {
    HttpServerOptions options;
    options.cert_file = a->cert_path;
    options.key_file = a->key_path;
    c.tune(options);
    auto server = HttpServer::Start(options, handler);
    ASSERT_FALSE(server.has_value()) << c.name;
    EXPECT_EQ(server.error().field(), c.field) << c.name << ": " << server.error().ToString();
  }
  // Two servers on one port: the second cannot bind.
  HttpServerOptions options;
  options.cert_file = a->cert_path;
  options.key_file = a->key_path;
  auto first = HttpServer::Start(options, handler);
  ASSERT_TRUE(first.has_value());
  options.port = (*first)->port();
  auto second = HttpServer::Start(options, handler);
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().field(), "listen");
  std::filesystem::remove_all(dir);
}

class TlsVersionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir();
    auto cert = EnsureSelfSignedCertificate(dir_);
    ASSERT_TRUE(cert.has_value());
    cert_ = *cert;
    HttpServerOptions options;
    options.cert_file = cert_.cert_path;
    options.key_file = cert_.key_path;
    auto server = HttpServer::Start(
        options, [](HttpRequest, std::shared_ptr<ResponseWriter> w) { w->Send(Text("ok")); });
    ASSERT_TRUE(server.has_value());
    server_ = std::move(*server);
  }
  void TearDown() override {
    server_.reset();
    std::filesystem::remove_all(dir_);
  }
  // A client that can speak exactly [min, max] (security level 0, so old versions are on).
  std::unique_ptr<Client> ConnectWith(int min_version, int max_version) {
    return std::make_unique<Client>(server_->port(), cert_.cert_path, [&](SSL_CTX* ctx) {
      SSL_CTX_set_security_level(ctx, 0);
      SSL_CTX_set_cipher_list(ctx, "DEFAULT:@SECLEVEL=0");
      SSL_CTX_set_min_proto_version(ctx, min_version);
      SSL_CTX_set_max_proto_version(ctx, max_version);
    });
  }
  std::string dir_;
  CertificateInfo cert_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(TlsVersionTest, Tls13IsPreferred) {
  Client client(server_->port(), cert_.cert_path);
  ASSERT_FALSE(client.handshake_error()) << client.handshake_error().message();
  EXPECT_EQ(client.tls_version(), "TLSv1.3");
}

TEST_F(TlsVersionTest, Tls12IsAccepted) {
  auto client = ConnectWith(TLS1_2_VERSION, TLS1_2_VERSION);
  ASSERT_FALSE(client->handshake_error()) << client->handshake_error().message();
  EXPECT_EQ(client->tls_version(), "TLSv1.2");
  client->Write(Get("/"));
  EXPECT_EQ(client->Read().body(), "ok");
}

TEST_F(TlsVersionTest, Tls11AndTls10AreRefusedByTheServer) {
  for (int version : {TLS1_1_VERSION, TLS1_VERSION}) {
    auto client = ConnectWith(version, version);
    ASSERT_TRUE(client->handshake_error()) << version;
    // The client did offer the old version: it is the server that answered with a
    // protocol_version alert (not the client refusing to start).
    EXPECT_EQ(ERR_GET_REASON(client->handshake_error().value()), SSL_R_TLSV1_ALERT_PROTOCOL_VERSION)
        << version << ": " << client->handshake_error().message();
  }
}

TEST_F(TlsVersionTest, WrongTrustAnchorFailsVerification) {
  std::string other_dir = MakeTempDir();
  auto other = EnsureSelfSignedCertificate(other_dir);
  ASSERT_TRUE(other.has_value());
  Client client(server_->port(), other->cert_path);
  EXPECT_TRUE(client.handshake_error());
  std::filesystem::remove_all(other_dir);
}

namespace target_parsing {

TEST(ParseTargetTest, DecodesPathAndQuery) {
  struct Case {
    const char* target;
    const char* path;
    std::map<std::string, std::string> query;
  };
  const Case kCases[] = {
      {"/", "/", {}},
      {"/a/b%2Fc", "/a/b/c", {}},
      {"/a+b", "/a+b", {}},  // '+' is only a space in the query.
      {"/x?", "/x", {}},
      {"/x?a=1&&b=%3D%26&c", "/x", {{"a", "1"}, {"b", "=&"}, {"c", ""}}},
      {"/x?k=v=w", "/x", {{"k", "v=w"}}},
      {"/x?%E2%9C%93=%c3%a9", "/x", {{"\xE2\x9C\x93", "\xc3\xa9"}}},
  };
  for (const auto& c : kCases) {
    auto target = internal::ParseTarget(c.target);
    ASSERT_TRUE(target.has_value()) << c.target << ": " << target.error().ToString();
    EXPECT_EQ(target->path, c.path) << c.target;
    EXPECT_EQ(target->query, c.query) << c.target;
  }
}

TEST(ParseTargetTest, RefusesBadTargetsNamingTheField) {
  struct Case {
    const char* target;
    const char* field;
  };
  const Case kCases[] = {
      {"", "path"},     {"*", "path"},       {"http://h/x", "path"}, {"/%", "path"},
      {"/%4", "path"},  {"/%zz", "path"},    {"/%00", "path"},       {"/x?=1", "query"},
      {"/x?a=%", "a"},  {"/x?a=1&a=2", "a"}, {"/x?a=1&a", "a"},      {"/x?a%00=1", "query"},
      {"/x?a=%2", "a"},
      // 13.27: not UTF-8 once decoded.
      {"/v1/requests/%ff", "path"}, {"/v1/requests/x/%ff", "path"}, {"/%c3", "path"},
      {"/%c0%af", "path"}, {"/%ed%a0%80", "path"}, {"/%f4%90%80%80", "path"},
      {"/v1/ssh/ca?connector=%ff", "connector"}, {"/v1/requests?before=%ff", "before"},
      {"/x?%ff=1", "query"},
  };
  for (const auto& c : kCases) {
    auto target = internal::ParseTarget(c.target);
    ASSERT_FALSE(target.has_value()) << c.target;
    EXPECT_EQ(target.error().code(), ErrorCode::kInvalidArgument) << c.target;
    EXPECT_EQ(target.error().field(), c.field) << c.target;
  }
}

TEST(ParseTargetTest, RandomTargetsNeverCrash) {
  uint32_t state = 12345;
  auto next = [&state] {
    state = state * 1103515245 + 12345;
    return static_cast<char>((state >> 16) & 0xff);
  };
  static constexpr char kAlphabet[] = "/?&=%+aZ09\x00\xff";
  const std::string alphabet(kAlphabet, sizeof(kAlphabet) - 1);  // Keeps the NUL.
  for (int i = 0; i < 20000; ++i) {
    std::string target = "/";
    int len = static_cast<unsigned char>(next()) % 24;
    for (int j = 0; j < len; ++j) {
      target += alphabet[static_cast<unsigned char>(next()) % alphabet.size()];
    }
    auto parsed = internal::ParseTarget(target);
    if (parsed.has_value()) {
      EXPECT_EQ(parsed->path.find('\0'), std::string::npos);
      EXPECT_TRUE(bg::IsValidUtf8(parsed->path));
      for (const auto& [k, v] : parsed->query) EXPECT_FALSE(k.empty());
    }
  }
}

// PercentDecode copies what needs no decoding in runs: it must agree with decoding one
// character at a time (the definition) on every input, '+' either way.
TEST(PercentDecodeTest, AgreesWithDecodingCharacterByCharacter) {
  const auto hex = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  const auto reference = [&](std::string_view in, bool plus) -> std::optional<std::string> {
    std::string out;
    for (size_t i = 0; i < in.size(); ++i) {
      char c = in[i];
      if (c == '%') {
        if (i + 2 >= in.size() || hex(in[i + 1]) < 0 || hex(in[i + 2]) < 0) return std::nullopt;
        c = static_cast<char>(hex(in[i + 1]) * 16 + hex(in[i + 2]));
        i += 2;
      } else if (c == '+' && plus) {
        c = ' ';
      }
      if (c == '\0') return std::nullopt;
      out += c;
    }
    return out;
  };
  static constexpr char kAlphabet[] = "%+aZ09F\x00\xff 2";
  const std::string alphabet(kAlphabet, sizeof(kAlphabet) - 1);  // Keeps the NUL.
  uint32_t state = 777;
  auto next = [&state] {
    state = state * 1103515245 + 12345;
    return (state >> 16) & 0xff;
  };
  int decoded = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string in;
    const unsigned len = next() % 12;
    for (unsigned j = 0; j < len; ++j) in += alphabet[next() % alphabet.size()];
    for (bool plus : {false, true}) {
      auto got = internal::PercentDecode(in, plus);
      auto want = reference(in, plus);
      ASSERT_EQ(got, want) << testing::PrintToString(in) << " plus " << plus;
      decoded += got.has_value() ? 1 : 0;
    }
  }
  EXPECT_GT(decoded, 1000);
}

}  // namespace target_parsing

// ReadRequest: what a connection makes of bytes, without a socket (the fuzz target's model).
TEST(ReadRequestTest, GivesTheRequestTheRefusalOrNeitherAsAConnectionWould) {
  const std::string two =
      "POST /v1/x?a=1&b=%C3%A9 HTTP/1.1\r\nHost: h\r\nX-A: 1\r\nx-a: 2\r\n"
      "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n";
  auto first = internal::ReadRequest(two, 16 << 10, 1 << 20);
  ASSERT_TRUE(first.request.has_value());
  EXPECT_FALSE(first.refusal.has_value());
  EXPECT_EQ(first.request->method, "POST");
  EXPECT_EQ(first.request->path, "/v1/x");
  EXPECT_EQ(first.request->query, (std::map<std::string, std::string>{{"a", "1"}, {"b", "\xC3\xA9"}}));
  EXPECT_EQ(first.request->headers.at("x-a"), "1, 2");
  EXPECT_EQ(first.request->body, "abc");
  auto second = internal::ReadRequest(std::string_view(two).substr(first.consumed), 16 << 10, 1 << 20);
  ASSERT_TRUE(second.request.has_value());
  EXPECT_EQ(second.request->method, "GET");
  EXPECT_EQ(first.consumed + second.consumed, two.size());

  const struct {
    std::string bytes;
    int status;  // 0: neither (the bytes end before the request does)
  } cases[] = {
      {"GET / HTTP/1.1\r\nHost: h\r\n", 0},
      {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nab", 0},
      {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n\r\n", 0},
      {"GET / HTTP/1.1\r\n\r\n", 400},
      {"GET /%zz HTTP/1.1\r\nHost: h\r\n\r\n", 400},
      {"GET / HTTP/2.0\r\nHost: h\r\n\r\n", 400},
      {"GARBAGE\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 65\r\n\r\n", 413},
      {"GET / HTTP/1.1\r\nHost: h\r\nX: " + std::string(300, 'x') + "\r\n\r\n", 431},
  };
  for (const auto& c : cases) {
    auto read = internal::ReadRequest(c.bytes, 256, 64);
    EXPECT_FALSE(read.request.has_value()) << c.bytes;
    EXPECT_EQ(read.refusal ? read.refusal->status : 0, c.status) << c.bytes;
  }
}

TEST(FormatEventTest, FollowsTheEventStreamFormat) {
  EXPECT_EQ(internal::FormatEvent("", "", ""), "data: \n\n");
  EXPECT_EQ(internal::FormatEvent("e", "x", ""), "event: e\ndata: x\n\n");
  EXPECT_EQ(internal::FormatEvent("e", "a\r\nb\rc\nd", "7"),
            "event: e\nid: 7\ndata: a\ndata: b\ndata: c\ndata: d\n\n");
  EXPECT_EQ(internal::FormatEvent("", "trailing\n", ""), "data: trailing\ndata: \n\n");
}

// --- The self-signed certificate ---

class CertificateTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = MakeTempDir(); }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(CertificateTest, CreatedOnceThenLoadedWithTheSameFingerprint) {
  auto first = EnsureSelfSignedCertificate(dir_ + "/data");
  ASSERT_TRUE(first.has_value()) << first.error().ToString();
  EXPECT_TRUE(first->created);
  auto second = EnsureSelfSignedCertificate(dir_ + "/data");
  ASSERT_TRUE(second.has_value()) << second.error().ToString();
  EXPECT_FALSE(second->created);
  EXPECT_EQ(first->sha256_fingerprint, second->sha256_fingerprint);
  EXPECT_EQ(first->cert_path, dir_ + "/data/tls.crt");
  EXPECT_EQ(first->key_path, dir_ + "/data/tls.key");
  EXPECT_THAT(first->sha256_fingerprint, ::testing::MatchesRegex("([0-9A-F]{2}:){31}[0-9A-F]{2}"));
  auto again = CertificateFingerprint(first->cert_path);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(*again, first->sha256_fingerprint);

  struct stat st {};
  ASSERT_EQ(stat(first->key_path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  // Another directory gets another key and so another fingerprint.
  auto other = EnsureSelfSignedCertificate(dir_ + "/other");
  ASSERT_TRUE(other.has_value());
  EXPECT_NE(other->sha256_fingerprint, first->sha256_fingerprint);
}

TEST_F(CertificateTest, CertificateHasTheRequiredContents) {
  auto info = EnsureSelfSignedCertificate(dir_);
  ASSERT_TRUE(info.has_value());
  FILE* f = fopen(info->cert_path.c_str(), "r");
  ASSERT_NE(f, nullptr);
  X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
  fclose(f);
  ASSERT_NE(cert, nullptr);
  EXPECT_EQ(X509_get_version(cert), X509_VERSION_3);
  EXPECT_EQ(X509_check_host(cert, "localhost", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ip_asc(cert, "127.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(cert, "::1", 0), 1);
  EXPECT_NE(X509_check_host(cert, "example.com", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ca(cert), 0);
  EXPECT_EQ(X509_get_key_usage(cert), static_cast<uint32_t>(KU_DIGITAL_SIGNATURE));
  EXPECT_EQ(X509_get_extended_key_usage(cert), static_cast<uint32_t>(XKU_SSL_SERVER));
  char cn[64] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof(cn));
  EXPECT_STREQ(cn, "breakglass");
  EVP_PKEY* key = X509_get0_pubkey(cert);
  ASSERT_NE(key, nullptr);
  EXPECT_TRUE(EVP_PKEY_is_a(key, "EC"));
  char group[32] = {};
  size_t group_len = 0;
  EVP_PKEY_get_utf8_string_param(key, "group", group, sizeof(group), &group_len);
  EXPECT_STREQ(group, "prime256v1");
  int days = 0, seconds = 0;
  ASSERT_EQ(ASN1_TIME_diff(&days, &seconds, X509_get0_notBefore(cert), X509_get0_notAfter(cert)),
            1);
  EXPECT_EQ(days, 365);
  EXPECT_EQ(X509_cmp_current_time(X509_get0_notBefore(cert)), -1);
  const ASN1_INTEGER* serial = X509_get0_serialNumber(cert);
  EXPECT_EQ(serial->length, 16);
  EXPECT_EQ(serial->type, V_ASN1_INTEGER);  // Positive.
  X509_free(cert);
}

TEST_F(CertificateTest, RefusesHalfPairsMismatchesAndOpenKeys) {
  auto a = EnsureSelfSignedCertificate(dir_ + "/a");
  auto b = EnsureSelfSignedCertificate(dir_ + "/b");
  ASSERT_TRUE(a.has_value() && b.has_value());

  std::filesystem::create_directories(dir_ + "/half");
  std::filesystem::copy_file(a->cert_path, dir_ + "/half/tls.crt");
  auto half = EnsureSelfSignedCertificate(dir_ + "/half");
  ASSERT_FALSE(half.has_value());
  EXPECT_EQ(half.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/half/tls.key"));  // Nothing invented.

  std::filesystem::copy_file(b->cert_path, dir_ + "/a/tls.crt",
                             std::filesystem::copy_options::overwrite_existing);
  auto mismatch = EnsureSelfSignedCertificate(dir_ + "/a");
  ASSERT_FALSE(mismatch.has_value());
  EXPECT_EQ(mismatch.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_THAT(mismatch.error().message(), HasSubstr("do not belong together"));

  ASSERT_EQ(chmod(b->key_path.c_str(), 0644), 0);
  auto open_key = EnsureSelfSignedCertificate(dir_ + "/b");
  ASSERT_FALSE(open_key.has_value());
  EXPECT_THAT(open_key.error().message(), HasSubstr("chmod 600"));

  std::filesystem::create_directories(dir_ + "/junk");
  std::ofstream(dir_ + "/junk/tls.crt") << "not pem";
  std::ofstream(dir_ + "/junk/tls.key") << "not pem";
  chmod((dir_ + "/junk/tls.key").c_str(), 0600);
  auto junk = EnsureSelfSignedCertificate(dir_ + "/junk");
  ASSERT_FALSE(junk.has_value());
  EXPECT_EQ(junk.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(junk.error().field(), "tls.crt");
  EXPECT_FALSE(CertificateFingerprint(dir_ + "/missing.crt").has_value());
}

// --- Checks with the real openssl and curl tools (label: integration) ---

TEST(HttpServerToolTest, FingerprintMatchesOpensslX509) {
  if (!HaveTool("openssl")) GTEST_SKIP() << "openssl not installed";
  std::string dir = MakeTempDir();
  auto info = EnsureSelfSignedCertificate(dir);
  ASSERT_TRUE(info.has_value());
  auto [status, out] =
      RunCommand("openssl x509 -noout -fingerprint -sha256 -in '" + info->cert_path + "'");
  ASSERT_EQ(status, 0);
  // "sha256 Fingerprint=AB:CD:...\n" (the prefix's case varies between OpenSSL versions).
  ASSERT_NE(out.find('='), std::string::npos);
  std::string fingerprint = out.substr(out.find('=') + 1);
  while (!fingerprint.empty() && fingerprint.back() == '\n') fingerprint.pop_back();
  EXPECT_EQ(fingerprint, info->sha256_fingerprint);
  // And openssl agrees the key belongs to the certificate and is a P-256 key.
  auto [key_status, key_text] =
      RunCommand("openssl pkey -noout -text -in '" + info->key_path + "'");
  EXPECT_EQ(key_status, 0);
  EXPECT_THAT(key_text, HasSubstr("P-256"));
  std::filesystem::remove_all(dir);
}

TEST(HttpServerToolTest, CurlTrustsTheCertificateAndGets413ForBigBodies) {
  if (!HaveTool("curl")) GTEST_SKIP() << "curl not installed";
  std::string dir = MakeTempDir();
  auto info = EnsureSelfSignedCertificate(dir);
  ASSERT_TRUE(info.has_value());
  HttpServerOptions options;
  options.cert_file = info->cert_path;
  options.key_file = info->key_path;
  options.max_body_bytes = 1 << 20;
  auto server = HttpServer::Start(options, [](HttpRequest req, std::shared_ptr<ResponseWriter> w) {
    w->Send(HttpResponse{200,
                         "application/json",
                         R"({"path":")" + req.path + R"(","mine":")" + req.query["mine"] + "\"}",
                         {}});
  });
  ASSERT_TRUE(server.has_value());
  std::string base = fmt::format("https://127.0.0.1:{}", (*server)->port());
  auto [status, out] = RunCommand(
      fmt::format("curl -sS --cacert '{}' '{}/v1/requests?mine=true'", info->cert_path, base));
  EXPECT_EQ(status, 0);
  EXPECT_EQ(out, R"({"path":"/v1/requests","mine":"true"})");

  std::string big = dir + "/big.json";
  std::ofstream(big) << std::string(2 << 20, 'x');
  for (const char* expect : {"", "-H 'Expect:'"}) {  // With and without 100-continue.
    auto [post_status, post_out] = RunCommand(fmt::format(
        "curl -sS --cacert '{}' {} -o - -w ' %{{http_code}}' --data-binary @'{}' '{}/v1/x'",
        info->cert_path, expect, big, base));
    EXPECT_EQ(post_status, 0) << expect;
    EXPECT_THAT(post_out, HasSubstr(R"("code":"payload_too_large")")) << expect;
    EXPECT_THAT(post_out, ::testing::EndsWith(" 413")) << expect;
  }
  // Without --cacert curl must refuse the self-signed certificate.
  EXPECT_NE(RunCommand(fmt::format("curl -sS '{}/' 2>/dev/null", base)).first, 0);
  std::filesystem::remove_all(dir);
}

// In-use heap of this process (main arena, other arenas, and mmapped chunks).
size_t HeapInUse() {
  struct mallinfo2 m = mallinfo2();
  return m.uordblks + m.hblkhd;
}

TEST_P(HttpServerTest, AnnouncedBodyIsNotReservedBeforeItArrives) {
  StartServer([](HttpRequest req, std::shared_ptr<ResponseWriter> writer) {
    writer->Send(Text(std::to_string(req.body.size())));
  });
  const size_t before = HeapInUse();
  // Each announces a body of almost max_body_bytes, sends one byte of it and stalls. The
  // 100 Continue says the server has parsed the headers (and set up the body).
  std::vector<std::unique_ptr<Client>> stalled;
  for (int i = 0; i < 16; ++i) {
    auto c = Connect();
    c->Write(
        "POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: 100-continue\r\n"
        "Content-Length: 1000000\r\n\r\n");
    auto interim = c->ReadHead();
    ASSERT_EQ(interim.result_int(), 100);
    c->Write("x");
    stalled.push_back(std::move(c));
  }
  // A finished round trip on one more connection: the stalled ones are all being read.
  auto probe = Connect();
  probe->Write(Post("/small", "{}"));
  EXPECT_EQ(probe->Read().body(), "2");
  const size_t after = HeapInUse();
  // 16 reserved bodies would be 16 MB; what they really hold is a few KiB each.
  EXPECT_LT(after > before ? after - before : 0, size_t{4} << 20)
      << "heap in use grew from " << before << " to " << after;
}

TEST_P(HttpServerTest, StreamToAReaderThatFallsBehindIsDroppedAtItsBufferLimit) {
  std::promise<std::shared_ptr<ResponseWriter>> parked;
  std::atomic<int> dropped{0};
  std::promise<void> closed;
  StartServer(
      [&](HttpRequest, std::shared_ptr<ResponseWriter> writer) {
        writer->SetOnClose([&closed] { closed.set_value(); });
        writer->StartStream({});
        parked.set_value(writer);
      },
      [&](HttpServerOptions& o) {
        o.max_stream_buffer_bytes = 64 << 10;
        o.on_stream_dropped = [&dropped] { ++dropped; };
      });
  auto client = Connect();
  client->Write(Get("/v1/events"));  // ...and never reads.
  auto writer = parked.get_future().get();
  auto closed_future = closed.get_future();
  const std::string chunk(16 << 10, 'e');
  size_t written = 0;
  // Kernel socket buffers take some megabytes first; 256 MiB is far beyond them.
  while (writer->IsOpen() && written < (size_t{256} << 20)) {
    if (!writer->WriteEvent("fill", chunk)) break;
    written += chunk.size();
    if (closed_future.wait_for(std::chrono::seconds(0)) == std::future_status::ready) break;
  }
  closed_future.wait();
  EXPECT_EQ(dropped.load(), 1);
  EXPECT_FALSE(writer->IsOpen());
  EXPECT_FALSE(writer->WriteEvent("fill", "after the drop"));
  // The client gets what was sent before the drop, then the end of the connection, and less
  // than was written.
  std::string got = client->ReadToEnd();
  EXPECT_LT(got.size(), written);
}

}  // namespace
}  // namespace bg::http

namespace bg::http {
namespace {

// Polls `condition` until it holds or a generous deadline passes (a loaded machine only makes
// this slower, never wrong).
bool Eventually(const std::function<bool()>& condition,
                std::chrono::seconds deadline = std::chrono::seconds(60)) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

// What on_refused and on_timeout reported, by name.
struct Reports {
  std::mutex mu;
  std::map<std::string, int> counts;
  void Add(std::string_view what) {
    std::lock_guard lock(mu);
    ++counts[std::string(what)];
  }
  int Count(const std::string& what) {
    std::lock_guard lock(mu);
    return counts[what];
  }
  void Watch(HttpServerOptions& o) {
    o.on_refused = [this](Refusal r) { Add(ToString(r)); };
    o.on_timeout = [this](Deadline d) { Add(ToString(d)); };
  }
};

void Echo(HttpRequest req, std::shared_ptr<ResponseWriter> writer) { writer->Send(Text(req.path)); }

// A round trip on `client`: true when the server answered with the path.
bool Served(Client& client, const std::string& path = "/ok") {
  client.Write(Get(path));
  return client.Read().body() == path;
}

TEST_P(HttpServerTest, ConnectionsBeyondThePerSourceLimitAreRefusedWhileOthersAreServed) {
  Reports reports;
  StartServer(Echo, [&](HttpServerOptions& o) {
    o.max_connections_per_source = 3;
    reports.Watch(o);
  });
  std::vector<std::unique_ptr<Client>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(Connect());
    ASSERT_TRUE(Served(*held.back()));
  }
  EXPECT_EQ(server_->open_connections(), 3u);
  auto excess = Connect();
  EXPECT_TRUE(excess->Refused());
  EXPECT_TRUE(Eventually([&] { return reports.Count("per_source_limit") == 1; }));
  // Another source is served, and so are the held connections' next requests.
  auto other = Connect("127.0.0.2");
  EXPECT_TRUE(Served(*other));
  for (auto& c : held) EXPECT_TRUE(Served(*c, "/again"));
  EXPECT_EQ(server_->open_connections(), 4u);
  // A connection that ends gives its place back.
  held.front()->Disconnect();
  EXPECT_TRUE(Eventually([&] { return server_->open_connections() == 3u; }));
  auto next = Connect();
  EXPECT_TRUE(Served(*next));
  EXPECT_EQ(reports.Count("connection_limit"), 0);
}

TEST_P(HttpServerTest, ConnectionsBeyondTheTotalLimitAreRefused) {
  Reports reports;
  StartServer(Echo, [&](HttpServerOptions& o) {
    o.max_connections = 2;
    o.max_connections_per_source = 0;  // no limit per source
    reports.Watch(o);
  });
  auto a = Connect("127.0.0.2");
  auto b = Connect("127.0.0.3");
  ASSERT_TRUE(Served(*a));
  ASSERT_TRUE(Served(*b));
  auto c = Connect("127.0.0.4");
  EXPECT_TRUE(c->Refused());
  EXPECT_TRUE(Eventually([&] { return reports.Count("connection_limit") == 1; }));
  EXPECT_EQ(reports.Count("per_source_limit"), 0);
  b->Disconnect();
  EXPECT_TRUE(Eventually([&] { return server_->open_connections() == 1u; }));
  auto d = Connect("127.0.0.4");
  EXPECT_TRUE(Served(*d));
}

TEST_P(HttpServerTest, HeadersSentAByteAtATimeAreCutOffAtTheHeaderDeadline) {
  Reports reports;
  std::atomic<int> calls{0};
  StartServer(
      [&](HttpRequest req, std::shared_ptr<ResponseWriter> writer) {
        ++calls;
        Echo(std::move(req), std::move(writer));
      },
      [&](HttpServerOptions& o) {
        o.header_timeout = std::chrono::milliseconds(300);
        o.idle_timeout = std::chrono::hours(1);
        reports.Watch(o);
      });
  auto client = Connect();
  // Slowloris: every byte arrives in time for a per-read timeout; the deadline is for the
  // whole of the headers. The header never ends ("X-a: aaaa..."), so only the deadline stops it.
  const std::string drip = "GET / HTTP/1.1\r\nHost: h\r\nX-a: " + std::string(8000, 'a');
  size_t sent = 0;
  try {
    while (sent < drip.size() && reports.Count("headers") == 0) {
      client->Write(drip.substr(sent++, 1));
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  } catch (const std::exception&) {
    // The server closed the connection under the write.
  }
  EXPECT_EQ(client->ReadToEnd(), "");
  EXPECT_TRUE(Eventually([&] { return reports.Count("headers") == 1; }));
  EXPECT_EQ(calls.load(), 0);
  // Meanwhile (and after) other clients are served.
  auto other = Connect();
  EXPECT_TRUE(Served(*other));
}

TEST_P(HttpServerTest, ABodyAnnouncedLongerThanSentIsCutOffAtTheBodyDeadline) {
  Reports reports;
  std::atomic<int> calls{0};
  StartServer(
      [&](HttpRequest req, std::shared_ptr<ResponseWriter> writer) {
        ++calls;
        Echo(std::move(req), std::move(writer));
      },
      [&](HttpServerOptions& o) {
        o.body_timeout = std::chrono::milliseconds(200);
        o.header_timeout = std::chrono::hours(1);
        reports.Watch(o);
      });
  auto client = Connect();
  client->Write("POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\n0123456789");
  EXPECT_EQ(client->ReadToEnd(), "");
  EXPECT_TRUE(Eventually([&] { return reports.Count("body") == 1; }));
  EXPECT_EQ(reports.Count("headers"), 0);
  EXPECT_EQ(calls.load(), 0);
}

TEST_P(HttpServerTest, IdleAndHeaderDeadlinesAreSeparate) {
  Reports reports;
  StartServer(Echo, [&](HttpServerOptions& o) {
    o.header_timeout = std::chrono::milliseconds(200);
    o.idle_timeout = std::chrono::hours(1);
    reports.Watch(o);
  });
  auto client = Connect();
  ASSERT_TRUE(Served(*client));
  // Quiet for longer than the header deadline: a kept-alive connection waits on the idle one.
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  EXPECT_TRUE(Served(*client, "/after-a-pause"));
  // A request that starts and does not finish meets the header deadline.
  client->Write("GET /half HTTP/1.1\r\nHost: h\r\n");
  EXPECT_EQ(client->ReadToEnd(), "");
  EXPECT_TRUE(Eventually([&] { return reports.Count("headers") == 1; }));
  EXPECT_EQ(reports.Count("idle"), 0);
}

TEST_P(HttpServerTest, IdleKeepAliveConnectionsReportTheIdleDeadline) {
  Reports reports;
  StartServer(Echo, [&](HttpServerOptions& o) {
    o.idle_timeout = std::chrono::milliseconds(200);
    o.header_timeout = std::chrono::hours(1);
    reports.Watch(o);
  });
  auto client = Connect();
  ASSERT_TRUE(Served(*client));
  EXPECT_EQ(client->ReadToEnd(), "");
  EXPECT_TRUE(Eventually([&] { return reports.Count("idle") == 1; }));
}

TEST_P(HttpServerTest, AClientThatNeverReadsItsResponseIsCutOffAtTheWriteDeadline) {
  Reports reports;
  const std::string big(64 << 20, 'b');  // beyond what loopback socket buffers take
  StartServer(
      [&](HttpRequest req, std::shared_ptr<ResponseWriter> writer) {
        if (req.path != "/big") return Echo(std::move(req), std::move(writer));
        writer->Send(Text(big));
      },
      [&](HttpServerOptions& o) {
        o.write_timeout = std::chrono::milliseconds(300);
        reports.Watch(o);
      });
  auto client = Connect();
  client->Write(Get("/big"));  // ...and never reads.
  EXPECT_TRUE(Eventually([&] { return reports.Count("write") == 1; }));
  EXPECT_TRUE(Eventually([&] { return server_->open_connections() == 0u; }));
  auto other = Connect();
  EXPECT_TRUE(Served(*other));
}

TEST_P(HttpServerTest, AStreamWhoseReaderStopsIsDroppedAtTheWriteDeadline) {
  Reports reports;
  std::atomic<int> dropped{0};
  std::promise<std::shared_ptr<ResponseWriter>> parked;
  StartServer(
      [&](HttpRequest, std::shared_ptr<ResponseWriter> writer) {
        writer->StartStream({});
        parked.set_value(writer);
      },
      [&](HttpServerOptions& o) {
        o.write_timeout = std::chrono::milliseconds(300);
        o.max_stream_buffer_bytes = size_t{256} << 20;  // the deadline, not the cap, ends it
        o.on_stream_dropped = [&dropped] { ++dropped; };
        reports.Watch(o);
      });
  auto client = Connect();
  client->Write(Get("/v1/events"));  // ...and never reads.
  auto writer = parked.get_future().get();
  const std::string chunk(64 << 10, 'e');
  // 16 MiB: more than the kernel's buffers hold, far less than the cap; then nothing more.
  for (int i = 0; i < 256 && writer->IsOpen(); ++i) writer->WriteEvent("fill", chunk);
  EXPECT_TRUE(Eventually([&] { return !writer->IsOpen(); }));
  EXPECT_EQ(reports.Count("write"), 1);
  EXPECT_EQ(dropped.load(), 1);
}

TEST(HttpServerEnumTest, ReasonsHaveTheirMetricLabels) {
  EXPECT_EQ(ToString(Refusal::kConnectionLimit), "connection_limit");
  EXPECT_EQ(ToString(Refusal::kPerSourceLimit), "per_source_limit");
  EXPECT_EQ(ToString(Deadline::kHandshake), "handshake");
  EXPECT_EQ(ToString(Deadline::kHeaders), "headers");
  EXPECT_EQ(ToString(Deadline::kBody), "body");
  EXPECT_EQ(ToString(Deadline::kIdle), "idle");
  EXPECT_EQ(ToString(Deadline::kWrite), "write");
}

TEST(ConnectionSourceTest, Ipv4ByAddressIpv6ByItsSlash64) {
  EXPECT_EQ(internal::ConnectionSource("10.1.2.3"), "10.1.2.3");
  EXPECT_EQ(internal::ConnectionSource("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::/64");
  EXPECT_EQ(internal::ConnectionSource("2001:db8:1:2::1"),
            internal::ConnectionSource("2001:db8:1:2:ffff::9"));
  EXPECT_NE(internal::ConnectionSource("2001:db8:1:2::1"),
            internal::ConnectionSource("2001:db8:1:3::1"));
  EXPECT_EQ(internal::ConnectionSource("::ffff:10.1.2.3"), "10.1.2.3");
  EXPECT_EQ(internal::ConnectionSource("not an address"), "not an address");
}

}  // namespace
}  // namespace bg::http
