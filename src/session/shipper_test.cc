#include "session/shipper.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>

#include "util/encoding.h"
#include "util/sha256.h"

namespace bg::session {
namespace {

using nlohmann::json;

// A server that stores chunk bodies in order, can be down, and can refuse one seq.
class FakeServer : public Transport {
 public:
  std::atomic<bool> down{false};
  int64_t refuse_seq = -1;
  Result<std::string> Call(const std::string& method, const std::string& path,
                           const std::string& body) override {
    if (down) return Error::Unavailable("connection refused");
    std::lock_guard lock(mu);
    json j = json::parse(body);
    const int64_t seq = j["seq"];
    if (seq == refuse_seq) return Error::Conflict("no");
    if (seq != static_cast<int64_t>(bodies.size())) return Error::Conflict("out of order");
    paths.push_back(method + " " + path);
    bodies.push_back(j);
    return std::string("{}");
  }
  std::mutex mu;
  std::vector<std::string> paths;
  std::vector<json> bodies;
};

class ShipperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "bg_spool_XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(root_); }
  std::unique_ptr<Shipper> Start() {
    ShipperOptions o;
    o.session_id = "ses_1";
    o.request_id = "req_1";
    o.spool_dir = root_ + "/ses_1";
    o.min_backoff = std::chrono::milliseconds(5);
    o.max_backoff = std::chrono::milliseconds(20);
    auto s = Shipper::Start(server_, o, [this](const std::string& n) {
      std::lock_guard lock(notices_mu_);
      notices_.push_back(n);
    });
    EXPECT_TRUE(s.has_value());
    return s.has_value() ? std::move(*s) : nullptr;
  }
  size_t Files() {
    if (!std::filesystem::exists(root_ + "/ses_1")) return 0;
    size_t n = 0;
    for (const auto& e : std::filesystem::directory_iterator(root_ + "/ses_1")) {
      (void)e;
      ++n;
    }
    return n;
  }
  static Chunk C(int64_t seq, std::string data, bool final = false) {
    Chunk c;
    c.seq = seq;
    c.data = std::move(data);
    c.final = final;
    if (final) {
      c.ended_at = 1800000000;
      c.end_reason = "expired";
    }
    return c;
  }

  std::string root_;
  FakeServer server_;
  std::mutex notices_mu_;
  std::vector<std::string> notices_;
};

TEST_F(ShipperTest, ChunksAreUploadedInOrderAndTheSpoolEmptied) {
  auto s = Start();
  s->Begin("{\"version\":2}");
  s->Put(C(0, "[0.1, \"o\", \"a\"]\n"));
  s->Put(C(1, "[0.2, \"o\", \"b\"]\n"));
  s->Put(C(2, "", true));
  ASSERT_TRUE(s->Drain(std::chrono::seconds(10)));
  ASSERT_EQ(server_.bodies.size(), 3u);
  EXPECT_EQ(server_.paths[0], "POST /v1/sessions/ses_1/chunks");
  const json& first = server_.bodies[0];
  EXPECT_EQ(first["request_id"], "req_1");
  EXPECT_EQ(first["header"], "{\"version\":2}");
  EXPECT_EQ(first["sha256"], HexEncode(AsBytes(Sha256("[0.1, \"o\", \"a\"]\n"))));
  EXPECT_FALSE(server_.bodies[1].contains("header"));
  EXPECT_FALSE(server_.bodies[1].contains("final"));
  EXPECT_EQ(server_.bodies[2]["final"], true);
  EXPECT_EQ(server_.bodies[2]["ended_at"], "2027-01-15T08:00:00Z");
  EXPECT_EQ(server_.bodies[2]["end_reason"], "expired");
  EXPECT_EQ(Files(), 0u);
  EXPECT_EQ(s->stats().uploaded, 3);
}

TEST_F(ShipperTest, TheSpoolOutlivesEveryUploadUntilTheFinalChunk) {
  auto s = Start();
  s->Begin("{}");
  s->Put(C(0, "[0, \"o\", \"x\"]\n"));
  ASSERT_TRUE(s->Drain(std::chrono::seconds(10)));
  s->Put(C(1, "[1, \"o\", \"y\"]\n"));
  ASSERT_TRUE(s->Drain(std::chrono::seconds(10)));
  EXPECT_TRUE(std::filesystem::exists(root_ + "/ses_1"));
  s->Put(C(2, "", true));
  ASSERT_TRUE(s->Drain(std::chrono::seconds(10)));
  EXPECT_EQ(server_.bodies.size(), 3u);
  EXPECT_FALSE(std::filesystem::exists(root_ + "/ses_1"));
  std::lock_guard lock(notices_mu_);
  EXPECT_TRUE(notices_.empty());
}

TEST_F(ShipperTest, WhileTheServerIsDownChunksWaitOnDiskThenArrive) {
  server_.down = true;
  auto s = Start();
  s->Begin("{}");
  for (int i = 0; i < 5; ++i) s->Put(C(i, "[0, \"o\", \"x\"]\n"));
  EXPECT_FALSE(s->Drain(std::chrono::milliseconds(200)));
  EXPECT_EQ(Files(), 5u);
  EXPECT_TRUE(server_.bodies.empty());
  server_.down = false;
  s->Put(C(5, "", true));
  ASSERT_TRUE(s->Drain(std::chrono::seconds(10)));
  ASSERT_EQ(server_.bodies.size(), 6u);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(server_.bodies[i]["seq"], i);
  std::lock_guard lock(notices_mu_);
  ASSERT_EQ(notices_.size(), 2u);
  EXPECT_NE(notices_[0].find("cannot upload"), std::string::npos);
  EXPECT_NE(notices_[1].find("caught up"), std::string::npos);
}

TEST_F(ShipperTest, ARecorderThatExitsWhileDownLeavesTheSpoolForLater) {
  server_.down = true;
  {
    auto s = Start();
    s->Begin("{}");
    s->Put(C(0, "[0, \"o\", \"x\"]\n"));
    s->Put(C(1, "", true));
    EXPECT_FALSE(s->Drain(std::chrono::milliseconds(100)));
  }
  EXPECT_EQ(Files(), 2u);
  EXPECT_EQ(UploadSpool(server_, root_).error().code(), ErrorCode::kUnavailable);
  server_.down = false;
  auto report = UploadSpool(server_, root_);
  ASSERT_TRUE(report.has_value()) << report.error().ToString();
  EXPECT_EQ(report->uploaded, 2);
  EXPECT_EQ(report->pending, 0);
  EXPECT_EQ(server_.bodies.size(), 2u);
  EXPECT_FALSE(std::filesystem::exists(root_ + "/ses_1"));
}

TEST_F(ShipperTest, ARefusedChunkStopsUploadingAndIsKept) {
  server_.refuse_seq = 1;
  auto s = Start();
  s->Begin("{}");
  for (int i = 0; i < 3; ++i) s->Put(C(i, "[0, \"o\", \"x\"]\n"));
  EXPECT_FALSE(s->Drain(std::chrono::seconds(10)));
  EXPECT_TRUE(s->stats().refused);
  EXPECT_EQ(server_.bodies.size(), 1u);
  EXPECT_TRUE(std::filesystem::exists(root_ + "/ses_1/0000000001.rejected"));
  EXPECT_TRUE(std::filesystem::exists(root_ + "/ses_1/0000000002.json"));
}

TEST_F(ShipperTest, ASpoolRemovedFromOutsideIsReportedAsLostNotRetriedForever) {
  server_.down = true;
  auto s = Start();
  s->Begin("{}");
  for (int i = 0; i < 3; ++i) s->Put(C(i, "[0, \"o\", \"x\"]\n"));
  // Until all three are on disk (no deadline: a loaded machine may take its time; a hang is the
  // test runner's timeout). The server is down, so none goes up.
  while (s->stats().spooled < 3) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_FALSE(s->Drain(std::chrono::milliseconds(0)));
  ASSERT_EQ(Files(), 3u);
  std::filesystem::remove_all(root_ + "/ses_1");
  server_.down = false;
  // Before the fix the shipper found nothing to upload, reset its backoff and tried again at
  // once, forever (a recorder seen at 25% CPU for an hour); now it stops and says what is lost.
  while (s->stats().lost == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_FALSE(s->Drain(std::chrono::milliseconds(0)));
  EXPECT_EQ(s->stats().lost, 3);
  EXPECT_EQ(s->stats().uploaded, 0);
  std::lock_guard lock(notices_mu_);
  ASSERT_FALSE(notices_.empty());
  EXPECT_NE(notices_.back().find("3 chunk(s) of the recording were lost"), std::string::npos)
      << notices_.back();
}

TEST_F(ShipperTest, ACastFileHoldsTheHeaderAndEveryChunk) {
  const std::string path = root_ + "/x.cast";
  auto f = CastFile::Open(path);
  ASSERT_TRUE(f.has_value());
  (*f)->Begin("{\"version\":2}");
  (*f)->Put(C(0, "a\n"));
  (*f)->Put(C(1, "b\n", true));
  f->reset();
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_EQ(ss.str(), "{\"version\":2}\na\nb\n");
  EXPECT_EQ(CastFile::Open(root_ + "/no/such/dir/x.cast").error().field(), "output");
}

// A spool left behind goes up by itself once the server is back: retried with doubling pauses.
TEST_F(ShipperTest, ALeftSpoolIsRetriedWithBackoffUntilTheServerIsBack) {
  auto spool = Spool::Open(root_ + "/ses_9");
  ASSERT_TRUE(spool);
  for (int64_t seq : {0, 1}) {
    Chunk c;
    c.seq = seq;
    c.data = "[0.1, \"o\", \"x\"]\n";
    c.final = seq == 1;
    c.ended_at = 1;
    ASSERT_TRUE(spool->Write(seq, ChunkBody(c, "req_9", "{\"version\":2}")));
  }
  server_.down = true;
  std::vector<int64_t> pauses;
  RetryOptions retry;
  retry.retry_for = std::chrono::seconds(60);
  auto r = UploadSessionUntilDone(server_, root_ + "/ses_9", retry, [&](auto d) {
    pauses.push_back(d.count());
    if (pauses.size() == 4) server_.down = false;  // back after the fourth pause
  });
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->uploaded, 2);
  EXPECT_EQ(r->pending, 0);
  EXPECT_EQ(pauses, (std::vector<int64_t>{1000, 2000, 4000, 8000}));
  EXPECT_EQ(server_.bodies.size(), 2u);
  EXPECT_FALSE(std::filesystem::exists(root_ + "/ses_9")) << "the uploaded session's directory stays";
}

TEST_F(ShipperTest, RetryingStopsAfterItsTimeAndKeepsTheSpool) {
  auto spool = Spool::Open(root_ + "/ses_8");
  ASSERT_TRUE(spool);
  Chunk c;
  c.data = "[0.1, \"o\", \"x\"]\n";
  ASSERT_TRUE(spool->Write(0, ChunkBody(c, "req_8", "{\"version\":2}")));
  server_.down = true;
  std::chrono::milliseconds slept{0};
  RetryOptions retry;
  retry.retry_for = std::chrono::seconds(100);
  auto r = UploadSessionUntilDone(server_, root_ + "/ses_8", retry, [&](auto d) { slept += d; });
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->pending, 1);
  EXPECT_EQ(slept, std::chrono::seconds(100));
  EXPECT_TRUE(std::filesystem::exists(root_ + "/ses_8/0000000000.json"));
}

}  // namespace
}  // namespace bg::session
