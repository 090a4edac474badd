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

// The mode the parameterised tests run in (set by the fixture).
TerminalMode g_mode = TerminalMode::kAuto;

class RecorderTest : public ::testing::TestWithParam<TerminalMode> {
 protected:
  void SetUp() override { g_mode = GetParam(); }
};

RecorderOptions Options(const Pipes& p, std::vector<std::string> argv) {
  RecorderOptions o;
  o.terminal = g_mode;
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

TEST_P(RecorderTest, InputAndOutputAreRecordedInOrderWithTheExitCode) {
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

TEST_P(RecorderTest, TheSshOriginalCommandRunsThroughTheShellAndIsRecorded) {
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

TEST_P(RecorderTest, ExpiryEndsTheSessionAndTheRecordingSaysSo) {
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

TEST_P(RecorderTest, RevocationEndsTheSessionAndAProgramIgnoringHangupIsKilled) {
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

TEST_P(RecorderTest, AProcessThatEscapesTheSessionWithSetsidEndsWithIt) {
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

TEST_P(RecorderTest, RevocationAlsoEndsProcessesOutsideTheProcessGroup) {
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

INSTANTIATE_TEST_SUITE_P(PtyAndPipes, RecorderTest,
                         ::testing::Values(TerminalMode::kPty, TerminalMode::kPipes),
                         [](const auto& p) {
                           return p.param == TerminalMode::kPty ? "Pty" : "Pipes";
                         });

// ---- Without a terminal: pipes, byte for byte -------------------------------------------------

std::string ReadAll(int fd) {
  std::string s;
  char buf[65536];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n > 0) {
      s.append(buf, static_cast<size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      return s;
    }
  }
}

// A session whose stdin, stdout and stderr are pipes (as sshd gives a command without -t).
struct PipeSession {
  int in[2], out[2], err[2];
  PipeSession() {
    EXPECT_EQ(pipe(in), 0);
    EXPECT_EQ(pipe(out), 0);
    EXPECT_EQ(pipe(err), 0);
  }
  ~PipeSession() {
    for (int* p : {in, out, err}) {
      for (int i : {0, 1}) {
        if (p[i] >= 0) close(p[i]);
      }
    }
  }
  RecorderOptions Options(std::vector<std::string> argv) {
    RecorderOptions o;
    o.argv = std::move(argv);
    o.in_fd = in[0];
    o.out_fd = out[1];
    o.err_fd = err[1];
    o.header.session_id = "ses_p";
    o.header.request_id = "req_p";
    o.chunk_bytes = 4096;
    o.chunk_interval = std::chrono::milliseconds(50);
    o.shell = "/bin/sh";
    return o;
  }
  // Runs the recorder while other threads feed `input` and collect stdout and stderr.
  Result<RecorderResult> Run(const RecorderOptions& o, ChunkSink& sink, const std::string& input,
                             GrantState* grant = nullptr) {
    std::thread writer([&] {
      std::string_view rest = input;
      while (!rest.empty()) {
        ssize_t n = write(in[1], rest.data(), rest.size());
        if (n <= 0) break;  // the recorder stopped reading (EPIPE once it closed its end)
        rest.remove_prefix(static_cast<size_t>(n));
      }
      close(in[1]);
      in[1] = -1;
    });
    std::thread out_reader([&] { stdout_text = ReadAll(out[0]); });
    std::thread err_reader([&] { stderr_text = ReadAll(err[0]); });
    auto r = RunRecorder(o, sink, grant);
    close(in[0]);  // unblocks a writer whose input the program did not take
    in[0] = -1;
    close(out[1]);
    out[1] = -1;
    close(err[1]);
    err[1] = -1;
    writer.join();
    out_reader.join();
    err_reader.join();
    return r;
  }
  std::string stdout_text, stderr_text;
};

std::string AllBytes(size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i) s.push_back(static_cast<char>((i * 7 + i / 256) & 0xff));
  return s + "line one\r\nline two\n\x04" "after eof char\n";
}

TEST(RecorderPipesTest, AutoUsesPipesUnlessBothEndsAreTerminals) {
  PipeSession s;
  RecorderOptions o = s.Options({"true"});
  EXPECT_FALSE(UsePty(o));
  o.terminal = TerminalMode::kPty;
  EXPECT_TRUE(UsePty(o));
}

TEST(RecorderPipesTest, StdinAndStdoutPassByteForByteAndStderrStaysApart) {
  signal(SIGPIPE, SIG_IGN);
  PipeSession s;
  MemorySink sink;
  const std::string input = AllBytes(300'000);
  auto r = s.Run(s.Options({"/bin/sh", "-c", "cat; echo to-stderr >&2; exit 4"}), sink, input);
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->exit_code, 4);
  EXPECT_TRUE(s.stdout_text == input) << "stdout differs: " << s.stdout_text.size() << " bytes of "
                                      << input.size();
  EXPECT_EQ(s.stderr_text, "to-stderr\n");
  auto h = ParseHeader(sink.header);
  ASSERT_TRUE(h.has_value());
  EXPECT_FALSE(h->pty);
  EXPECT_NE(sink.header.find("\"pty\":false"), std::string::npos) << sink.header;
  // Recorded: the input as "i", stdout and stderr as "o" (invalid UTF-8 as U+FFFD).
  std::string in_text, out_text;
  for (const auto& e : sink.Events()) (e.code == 'i' ? in_text : out_text) += e.data;
  EXPECT_NE(in_text.find("line one\r\nline two\n"), std::string::npos);
  EXPECT_NE(out_text.find("line one\r\nline two\n"), std::string::npos);
  EXPECT_NE(out_text.find("to-stderr\n"), std::string::npos);
  EXPECT_EQ(out_text.find("line one\r\r\n"), std::string::npos);
}

TEST(RecorderPipesTest, BinaryDataKeepsEveryChunkUnderTheServersLimit) {
  signal(SIGPIPE, SIG_IGN);
  PipeSession s;
  MemorySink sink;
  RecorderOptions o = s.Options({"cat"});
  o.chunk_bytes = 128 * 1024;  // the default
  o.chunk_interval = std::chrono::seconds(10);
  const std::string input(3'000'000, '\0');  // each byte is six in JSON ("\u0000"), twice
  auto r = s.Run(o, sink, input);
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_TRUE(s.stdout_text == input) << s.stdout_text.size() << " bytes";
  size_t largest = 0;
  for (const auto& c : sink.chunks) largest = std::max(largest, c.data.size());
  EXPECT_LE(largest, size_t{512 * 1024}) << "the server refuses chunks over 512 KiB";
}

TEST(RecorderPipesTest, TheRecordersNoticesGoToStderrNotStdout) {
  signal(SIGPIPE, SIG_IGN);
  PipeSession s;
  MemorySink sink;
  RecorderOptions o = s.Options({"/bin/sh", "-c", "echo out-line; sleep 30"});
  o.warn_before_seconds = 1;
  o.grace = std::chrono::milliseconds(300);
  GrantState grant;
  grant.SetEndsAt(static_cast<int64_t>(time(nullptr)) + 2);
  auto r = s.Run(o, sink, "", &grant);
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->end_reason, "expired");
  EXPECT_EQ(s.stdout_text, "out-line\n");
  EXPECT_NE(s.stderr_text.find("[breakglass] the grant for request req_p has expired"),
            std::string::npos)
      << s.stderr_text;
  EXPECT_EQ(s.stderr_text.find('\r'), std::string::npos) << s.stderr_text;
}

TEST(RecorderPipesTest, AProgramThatStopsReadingEndsNormally) {
  signal(SIGPIPE, SIG_IGN);
  PipeSession s;
  MemorySink sink;
  auto r = s.Run(s.Options({"head", "-c", "10"}), sink, std::string(2'000'000, 'x'));
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_TRUE(s.stdout_text == std::string(10, 'x')) << s.stdout_text.size() << " bytes";
}

TEST(RecorderPipesTest, AReaderThatClosesStdoutGivesTheProgramSigpipe) {
  signal(SIGPIPE, SIG_IGN);
  PipeSession s;
  close(s.out[0]);  // like `ssh host yes | head -1` once head is done
  s.out[0] = -1;
  MemorySink sink;
  RecorderOptions o = s.Options({"yes"});
  o.record_input = false;
  std::thread err_reader([&] { s.stderr_text = ReadAll(s.err[0]); });
  close(s.in[1]);
  s.in[1] = -1;
  auto r = RunRecorder(o, sink, nullptr);
  close(s.err[1]);
  s.err[1] = -1;
  err_reader.join();
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->exit_code, 128 + SIGPIPE);
  EXPECT_EQ(r->end_reason, "exit");
}

}  // namespace
}  // namespace bg::session
