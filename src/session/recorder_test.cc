// The recorder with real programs under a pseudo-terminal (labelled integration).
#include "session/recorder.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <functional>
#include <cstdio>
#include <mutex>
#include <thread>

namespace bg::session {
namespace {

class MemorySink : public ChunkSink {
 public:
  void Begin(const std::string& header_line) override { header = header_line; }
  void Put(Chunk c) override {
    std::lock_guard lock(mu);
    chunks.push_back(std::move(c));
  }
  std::string Data() {
    std::string out;
    for (const auto& c : chunks) out += c.data;
    return out;
  }
  std::vector<Event> Events() {
    auto e = ParseEvents(Data());
    EXPECT_TRUE(e.has_value()) << e.error().ToString();
    return e.has_value() ? *e : std::vector<Event>{};
  }
  std::string Output() {
    std::string out;
    for (const auto& e : Events()) {
      if (e.code == 'o') out += e.data;
    }
    return out;
  }
  std::mutex mu;
  std::string header;
  std::vector<Chunk> chunks;
};

struct Pipes {
  int in[2];
  int out[2];
  Pipes() {
    EXPECT_EQ(pipe(in), 0);
    EXPECT_EQ(pipe(out), 0);
    fcntl(out[0], F_SETFL, O_NONBLOCK);
  }
  ~Pipes() {
    for (int fd : {in[0], in[1], out[0], out[1]}) {
      if (fd >= 0) close(fd);
    }
  }
  std::string Drain() {
    std::string s;
    char buf[4096];
    ssize_t n;
    while ((n = read(out[0], buf, sizeof buf)) > 0) s.append(buf, static_cast<size_t>(n));
    return s;
  }
};

RecorderOptions Options(const Pipes& p, std::vector<std::string> argv) {
  RecorderOptions o;
  o.argv = std::move(argv);
  o.in_fd = p.in[0];
  o.out_fd = p.out[1];
  o.header.session_id = "ses_t";
  o.header.request_id = "req_t";
  o.header.user = "alice";
  o.chunk_bytes = 64;  // many small chunks
  o.chunk_interval = std::chrono::milliseconds(50);
  o.shell = "/bin/sh";
  return o;
}

// Runs the recorder with a grant that is revoked once `ready` returns (on another thread),
// with a short grace period before SIGKILL.
Result<RecorderResult> RunAndRevoke(RecorderOptions o, MemorySink& sink,
                                    const std::function<void()>& ready) {
  o.grace = std::chrono::milliseconds(300);
  GrantState grant;
  std::thread revoker([&] {
    ready();
    grant.End("revoked");
  });
  auto r = RunRecorder(o, sink, &grant);
  revoker.join();
  return r;
}

TEST(RecorderTest, InputAndOutputAreRecordedInOrderWithTheExitCode) {
  Pipes p;
  auto o = Options(p, {"/bin/sh", "-c", "echo ready; read line; echo \"got:$line\"; exit 3"});
  o.child_env["BREAKGLASS_SESSION"] = "ses_t";
  const std::string input = "hello\n";
  ASSERT_EQ(write(p.in[1], input.data(), input.size()), static_cast<ssize_t>(input.size()));
  close(p.in[1]);
  p.in[1] = -1;
  MemorySink sink;
  auto r = RunRecorder(o, sink, nullptr);
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_EQ(r->end_reason, "exit");
  auto h = ParseHeader(sink.header);
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->request_id, "req_t");
  EXPECT_EQ(h->command, "/bin/sh -c echo ready; read line; echo \"got:$line\"; exit 3");
  ASSERT_FALSE(sink.chunks.empty());
  for (size_t i = 0; i < sink.chunks.size(); ++i) EXPECT_EQ(sink.chunks[i].seq, static_cast<int64_t>(i));
  EXPECT_TRUE(sink.chunks.back().final);
  EXPECT_EQ(sink.chunks.back().end_reason, "exit");
  auto events = sink.Events();
  // The input event comes before the output it caused.
  int64_t input_at = -1, got_at = -1;
  for (size_t i = 0; i < events.size(); ++i) {
    if (events[i].code == 'i' && events[i].data.find("hello") != std::string::npos) input_at = i;
    if (events[i].code == 'o' && events[i].data.find("got:hello") != std::string::npos) got_at = i;
  }
  EXPECT_GE(input_at, 0);
  EXPECT_GT(got_at, input_at);
  EXPECT_NE(sink.Output().find("ready"), std::string::npos);
  // What the person saw is what was recorded.
  EXPECT_EQ(p.Drain(), sink.Output());
}

TEST(RecorderTest, TheSshOriginalCommandRunsThroughTheShellAndIsRecorded) {
  Pipes p;
  auto o = Options(p, {});
  o.ssh_original_command = "echo $((6*7))";
  close(p.in[1]);
  p.in[1] = -1;
  MemorySink sink;
  auto r = RunRecorder(o, sink, nullptr);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_NE(sink.Output().find("42"), std::string::npos);
  auto h = ParseHeader(sink.header);
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->ssh_original_command, "echo $((6*7))");
  EXPECT_EQ(h->command, "echo $((6*7))");
}

TEST(RecorderTest, ExpiryEndsTheSessionAndTheRecordingSaysSo) {
  Pipes p;
  auto o = Options(p, {"/bin/sh", "-c", "echo started; sleep 30"});
  o.warn_before_seconds = 1;
  GrantState grant;
  grant.SetEndsAt(static_cast<int64_t>(time(nullptr)) + 2);
  MemorySink sink;
  const auto t0 = std::chrono::steady_clock::now();
  auto r = RunRecorder(o, sink, &grant);
  ASSERT_TRUE(r.has_value());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
  EXPECT_EQ(r->end_reason, "expired");
  EXPECT_EQ(r->exit_code, 128 + SIGHUP);
  const std::string out = sink.Output();
  EXPECT_NE(out.find("ends in 1s"), std::string::npos) << out;
  EXPECT_NE(out.find("the grant for request req_t has expired; ending this session."),
            std::string::npos)
      << out;
  EXPECT_EQ(sink.chunks.back().end_reason, "expired");
  bool marker = false;
  for (const auto& e : sink.Events()) marker = marker || (e.code == 'm' && e.data == "session ended: expired");
  EXPECT_TRUE(marker);
}

TEST(RecorderTest, RevocationEndsTheSessionAndAProgramIgnoringHangupIsKilled) {
  Pipes p;
  auto o = Options(p, {"/bin/sh", "-c", "trap '' HUP; echo started; while :; do sleep 1; done"});
  MemorySink sink;
  auto r = RunAndRevoke(o, sink, [] { std::this_thread::sleep_for(std::chrono::milliseconds(500)); });
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->end_reason, "revoked");
  EXPECT_EQ(r->exit_code, 128 + SIGKILL);
  EXPECT_NE(sink.Output().find("was revoked; ending this session."), std::string::npos);
}

// The pid a program wrote into `path` (waits for the file: the program writes it soon).
pid_t PidFrom(const std::string& path) {
  for (int i = 0; i < 500; ++i) {
    FILE* f = fopen(path.c_str(), "r");
    if (f != nullptr) {
      long pid = 0;
      const int got = fscanf(f, "%ld", &pid);
      fclose(f);
      if (got == 1 && pid > 0) return static_cast<pid_t>(pid);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return 0;
}

bool Gone(pid_t pid) { return kill(pid, 0) != 0 && errno == ESRCH; }

TEST(RecorderTest, AProcessThatEscapesTheSessionWithSetsidEndsWithIt) {
  const std::string dir = ::testing::TempDir();
  const std::string pidfile = dir + "/escapee-" + std::to_string(getpid()) + ".pid";
  unlink(pidfile.c_str());
  Pipes p;
  // setsid leaves the process group, the inner & and exit double-fork it away from the shell:
  // without a subreaper it would belong to init and keep running after the session.
  auto o = Options(p, {"/bin/sh", "-c",
                       "setsid /bin/sh -c '/bin/sh -c \"echo \\$\\$ > " + pidfile +
                           "; exec sleep 300\" & exit' & "
                           "while [ ! -s " + pidfile + " ]; do sleep 0.05; done; echo done"});
  MemorySink sink;
  auto r = RunRecorder(o, sink, nullptr);
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->exit_code, 0);
  const pid_t escapee = PidFrom(pidfile);
  ASSERT_GT(escapee, 0);
  EXPECT_TRUE(Gone(escapee)) << "pid " << escapee << " outlived the session";
  unlink(pidfile.c_str());
}

TEST(RecorderTest, RevocationAlsoEndsProcessesOutsideTheProcessGroup) {
  const std::string pidfile =
      ::testing::TempDir() + "/escapee-rev-" + std::to_string(getpid()) + ".pid";
  unlink(pidfile.c_str());
  Pipes p;
  auto o = Options(p, {"/bin/sh", "-c",
                       "setsid /bin/sh -c \"trap '' HUP; echo \\$\\$ > " + pidfile +
                           "; while :; do sleep 1; done\" & echo started; sleep 300"});
  MemorySink sink;
  auto r = RunAndRevoke(o, sink, [&] { PidFrom(pidfile); });
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->end_reason, "revoked");
  const pid_t escapee = PidFrom(pidfile);
  ASSERT_GT(escapee, 0);
  EXPECT_TRUE(Gone(escapee)) << "pid " << escapee << " outlived the revocation";
  unlink(pidfile.c_str());
}

}  // namespace
}  // namespace bg::session
