#include "session/recorder.h"

#include <errno.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <pty.h>
#include <pwd.h>
#include <signal.h>
#include <dirent.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <vector>

#include "util/time.h"

namespace bg::session {
namespace {

int g_signal_pipe[2] = {-1, -1};

void OnSignal(int sig) {
  const int saved = errno;
  const unsigned char c = static_cast<unsigned char>(sig);
  (void)!write(g_signal_pipe[1], &c, 1);
  errno = saved;
}

int64_t MonoMicros() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
}

int64_t UnixNow() { return static_cast<int64_t>(time(nullptr)); }

// Every live process below this one: the session's, including those that left its process
// group with setsid() and double-forked (the recorder is their subreaper, so they are
// re-parented here instead of to init). Zombies are left out; `zombies` gets them.
std::vector<pid_t> Descendants(std::vector<pid_t>* zombies = nullptr) {
  std::multimap<pid_t, pid_t> children;  // parent -> child
  std::map<pid_t, char> state;
  if (DIR* d = opendir("/proc")) {
    while (dirent* e = readdir(d)) {
      char* end = nullptr;
      const long pid = std::strtol(e->d_name, &end, 10);
      if (pid <= 0 || *end != '\0') continue;
      std::ifstream in(std::string("/proc/") + e->d_name + "/stat");
      std::string stat;
      std::getline(in, stat);
      // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
      const size_t close = stat.rfind(')');
      if (close == std::string::npos || close + 4 >= stat.size()) continue;
      std::istringstream rest(stat.substr(close + 2));
      char st = 0;
      long ppid = 0;
      if (!(rest >> st >> ppid)) continue;
      children.emplace(static_cast<pid_t>(ppid), static_cast<pid_t>(pid));
      state[static_cast<pid_t>(pid)] = st;
    }
    closedir(d);
  }
  std::vector<pid_t> out, todo = {getpid()};
  while (!todo.empty()) {
    const pid_t p = todo.back();
    todo.pop_back();
    auto [lo, hi] = children.equal_range(p);
    for (auto it = lo; it != hi; ++it) {
      todo.push_back(it->second);
      if (state[it->second] == 'Z') {
        if (zombies) zombies->push_back(it->second);
      } else {
        out.push_back(it->second);
      }
    }
  }
  return out;
}

void SignalDescendants(int sig) {
  for (pid_t p : Descendants()) kill(p, sig);
}

// Writes everything, waiting on a non-blocking descriptor when it is full.
bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = write(fd, data.data(), data.size());
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd, POLLOUT, 0};
      (void)poll(&p, 1, 1000);
      continue;
    }
    return false;
  }
  return true;
}

// Groups events into chunks by size and age.
class Chunker {
 public:
  Chunker(ChunkSink& sink, size_t max_bytes, std::chrono::milliseconds interval)
      : sink_(sink), max_bytes_(max_bytes), interval_us_(interval.count() * 1000) {}

  // An event that would take the open chunk past the size goes into the next one, so a chunk
  // stays under the server's limit even for binary data (escaped up to six times its size).
  void Add(int64_t t_us, char code, std::string_view data, int64_t now_mono) {
    if (data.empty()) return;
    event_.clear();
    AppendEvent(event_, t_us, code, data);
    if (!buf_.empty() && buf_.size() + event_.size() > max_bytes_) Seal(false, 0, "");
    if (buf_.empty()) first_at_ = now_mono;
    buf_.append(event_);
    if (buf_.size() >= max_bytes_) Seal(false, 0, "");
  }
  void MaybeSeal(int64_t now_mono) {
    if (!buf_.empty() && now_mono - first_at_ >= interval_us_) Seal(false, 0, "");
  }
  // Microseconds until the open chunk is due, or -1.
  int64_t Due(int64_t now_mono) const {
    if (buf_.empty()) return -1;
    return std::max<int64_t>(0, first_at_ + interval_us_ - now_mono);
  }
  void Final(int64_t ended_at, const std::string& reason) { Seal(true, ended_at, reason); }
  // Seals the open chunk now.
  void SealNow() { Seal(false, 0, ""); }
  int64_t sealed() const { return next_seq_; }

 private:
  void Seal(bool final, int64_t ended_at, const std::string& reason) {
    Chunk c;
    c.seq = next_seq_++;
    c.data.swap(buf_);
    c.final = final;
    c.ended_at = ended_at;
    c.end_reason = reason;
    buf_.reserve(max_bytes_ + 4096);
    sink_.Put(std::move(c));
  }

  ChunkSink& sink_;
  const size_t max_bytes_;
  const int64_t interval_us_;
  std::string buf_;
  std::string event_;
  int64_t first_at_ = 0;
  int64_t next_seq_ = 0;
};

std::string UserShell(const RecorderOptions& o) {
  if (!o.shell.empty()) return o.shell;
  if (const char* s = getenv("SHELL"); s && *s) return s;
  if (passwd* pw = getpwuid(getuid()); pw && pw->pw_shell && *pw->pw_shell) return pw->pw_shell;
  return "/bin/sh";
}

std::string Basename(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// In the child, after forkpty: never returns.
[[noreturn]] void ExecChild(const RecorderOptions& o, const std::string& shell, const char* eol) {
  signal(SIGPIPE, SIG_DFL);
  // Nothing of the recorder's (its sockets, the spool, the caller's other descriptors) is
  // handed to the program: a stray copy of a pipe's write end would also keep its reader
  // from ever seeing end-of-file.
  close_range(3, ~0U, 0);
  for (const auto& [k, v] : o.child_env) setenv(k.c_str(), v.c_str(), 1);
  if (!o.argv.empty()) {
    std::vector<char*> args;
    for (const auto& a : o.argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
  } else if (!o.ssh_original_command.empty()) {
    execl(shell.c_str(), Basename(shell).c_str(), "-c", o.ssh_original_command.c_str(),
          static_cast<char*>(nullptr));
  } else {
    const std::string argv0 = "-" + Basename(shell);  // a login shell
    execl(shell.c_str(), argv0.c_str(), static_cast<char*>(nullptr));
  }
  const std::string what = o.argv.empty() ? shell : o.argv[0];
  dprintf(2, "breakglass record: cannot run %s: %s%s", what.c_str(), std::strerror(errno), eol);
  _exit(127);
}

std::string CommandText(const RecorderOptions& o, const std::string& shell) {
  if (!o.argv.empty()) {
    std::string out;
    for (const auto& a : o.argv) out += (out.empty() ? "" : " ") + a;
    return out;
  }
  if (!o.ssh_original_command.empty()) return o.ssh_original_command;
  return shell;
}

// Restores the terminal and the signal dispositions however Run leaves.
class Restorer {
 public:
  ~Restorer() {
    if (tty_saved) tcsetattr(in_fd, TCSANOW, &tty);
    for (auto& [sig, act] : old_actions) sigaction(sig, &act, nullptr);
    for (int fd : g_signal_pipe) {
      if (fd >= 0) close(fd);
    }
    g_signal_pipe[0] = g_signal_pipe[1] = -1;
    if (master >= 0) close(master);
    for (int fd : fds) close(fd);
  }
  void Forget(int fd) { fds.erase(std::remove(fds.begin(), fds.end(), fd), fds.end()); }
  int in_fd = 0;
  bool tty_saved = false;
  termios tty{};
  std::vector<std::pair<int, struct sigaction>> old_actions;
  int master = -1;
  std::vector<int> fds;  // the program's pipes, while open
};

std::string EndText(const std::string& reason, const std::string& request) {
  if (reason == "expired") {
    return fmt::format("the grant for request {} has expired", request);
  }
  if (reason == "revoked") return fmt::format("the grant for request {} was revoked", request);
  if (reason == "hangup") return "the connection was closed";
  return fmt::format("the grant for request {} ended ({})", request, reason);
}

}  // namespace

bool UsePty(const RecorderOptions& o) {
  switch (o.terminal) {
    case TerminalMode::kPty:
      return true;
    case TerminalMode::kPipes:
      return false;
    case TerminalMode::kAuto:
      break;
  }
  return isatty(o.in_fd) == 1 && isatty(o.out_fd) == 1;
}

Result<RecorderResult> RunRecorder(const RecorderOptions& o, ChunkSink& sink, GrantState* grant) {
  Restorer restore;
  restore.in_fd = o.in_fd;
  const bool use_pty = UsePty(o);
  const bool tty = use_pty && isatty(o.in_fd) == 1;
  winsize ws{};
  ws.ws_col = 80;
  ws.ws_row = 24;
  termios orig{};
  if (tty) {
    if (tcgetattr(o.in_fd, &orig) != 0) return Error::Internal("tcgetattr failed");
    winsize real{};
    if (ioctl(o.in_fd, TIOCGWINSZ, &real) == 0 && real.ws_col > 0 && real.ws_row > 0) ws = real;
  }
  if (pipe2(g_signal_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
    return Error::Internal(std::string("pipe: ") + std::strerror(errno));
  }
  for (int sig : {SIGWINCH, SIGCHLD, SIGTERM, SIGHUP, SIGINT, SIGQUIT, SIGPIPE}) {
    struct sigaction act {}, old{};
    act.sa_handler = sig == SIGPIPE ? SIG_IGN : OnSignal;
    sigemptyset(&act.sa_mask);
    act.sa_flags = SA_RESTART;
    sigaction(sig, &act, &old);
    restore.old_actions.emplace_back(sig, old);
  }

  const std::string shell = UserShell(o);
  Header header = o.header;
  header.width = ws.ws_col;
  header.height = ws.ws_row;
  header.timestamp = UnixNow();
  header.command = CommandText(o, shell);
  header.ssh_original_command = o.ssh_original_command;
  header.pty = use_pty;
  if (const char* term = getenv("TERM")) header.env["TERM"] = term;
  header.env["SHELL"] = shell;

  // The recording starts before the program does: under a start gate (recording required),
  // a first chunk (the header and a marker) must have reached the server before anything runs.
  sink.Begin(HeaderLine(header));
  Chunker chunker(sink, o.chunk_bytes, o.chunk_interval);
  if (o.start_gate) {
    chunker.Add(0, 'm', "recording committed before the session starts", MonoMicros());
    chunker.SealNow();
    BG_TRY(o.start_gate());
  }

  // Processes that escape the session's process group (setsid, double fork) come back to the
  // recorder when orphaned, so they end with the session instead of outliving the grant.
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  // The program's side. Under a terminal: one descriptor (the PTY master) for input and
  // output. Without one: three pipes, so bytes pass unchanged and stderr stays stderr.
  int master = -1;
  int child_in = -1;
  struct Output {
    int fd = -1;      // ours: the program writes into the other end
    int to_fd = -1;   // where it goes: the person's stdout or stderr
    Utf8Carry carry;  // both are recorded as "o" (asciicast has no stderr stream)
  };
  std::vector<Output> outputs;
  pid_t child = -1;
  if (use_pty) {
    child = forkpty(&master, nullptr, tty ? &orig : nullptr, &ws);
    if (child < 0) return Error::Internal(std::string("forkpty: ") + std::strerror(errno));
    if (child == 0) ExecChild(o, shell, "\r\n");
    restore.master = master;
    fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK);
    fcntl(master, F_SETFD, FD_CLOEXEC);
    child_in = master;
    outputs.push_back({master, o.out_fd, {}});
  } else {
    int in_p[2], out_p[2], err_p[2];
    if (pipe2(in_p, O_CLOEXEC) != 0 || pipe2(out_p, O_CLOEXEC) != 0 ||
        pipe2(err_p, O_CLOEXEC) != 0) {
      return Error::Internal(std::string("pipe: ") + std::strerror(errno));
    }
    child = fork();
    if (child < 0) return Error::Internal(std::string("fork: ") + std::strerror(errno));
    if (child == 0) {
      setsid();  // its own process group (and no terminal), as under forkpty
      dup2(in_p[0], 0);
      dup2(out_p[1], 1);
      dup2(err_p[1], 2);
      ExecChild(o, shell, "\n");
    }
    for (int fd : {in_p[0], out_p[1], err_p[1]}) close(fd);
    child_in = in_p[1];
    for (int fd : {in_p[1], out_p[0], err_p[0]}) {
      fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
      restore.fds.push_back(fd);
    }
    outputs.push_back({out_p[0], o.out_fd, {}});
    outputs.push_back({err_p[0], o.err_fd, {}});
  }
  if (tty) {
    restore.tty = orig;
    restore.tty_saved = true;
    termios raw = orig;
    cfmakeraw(&raw);
    tcsetattr(o.in_fd, TCSANOW, &raw);
  }

  const int64_t start = MonoMicros();
  Utf8Carry in_carry;
  GrantTimer timer(o.warn_before_seconds);
  const std::string request = header.request_id;

  bool child_alive = true;
  int status = 0;
  bool in_open = true;
  std::string pending_in;
  std::string ending;  // the reason, once the session is being ended
  int64_t kill_at = 0, exited_at = 0, last_data = 0;
  std::vector<char> buf(64 * 1024);

  auto now_t = [&] { return MonoMicros() - start; };
  // The recorder's own lines: into the terminal when there is one, else to stderr (never into
  // the program's stdout), and into the recording.
  auto notice = [&](const std::string& text) {
    const std::string line =
        use_pty ? "\r\n[breakglass] " + text + "\r\n" : "[breakglass] " + text + "\n";
    WriteAll(use_pty ? o.out_fd : o.err_fd, line);
    chunker.Add(now_t(), 'o', line, MonoMicros());
  };
  auto foreground = [&]() -> pid_t { return master >= 0 ? tcgetpgrp(master) : -1; };
  auto begin_end = [&](const std::string& reason) {
    if (!ending.empty()) return;
    ending = reason;
    notice(EndText(reason, request) + "; ending this session.");
    chunker.Add(now_t(), 'm', "session ended: " + reason, MonoMicros());
    if (child_alive) {
      kill(-child, SIGHUP);
      pid_t fg = foreground();
      if (fg > 0 && fg != child) kill(-fg, SIGHUP);
    }
    SignalDescendants(SIGHUP);  // also those outside the process group
    kill_at = MonoMicros() + std::chrono::duration_cast<std::chrono::microseconds>(o.grace).count();
  };
  // Reaps the session's program and every orphan re-parented to the recorder.
  auto reap = [&] {
    int st = 0;
    pid_t r;
    while ((r = waitpid(-1, &st, WNOHANG)) > 0) {
      if (r == child) {
        child_alive = false;
        status = st;
        exited_at = MonoMicros();
      }
    }
  };
  auto close_output = [&](Output& out) {
    if (out.fd < 0) return;
    if (out.fd != master) close(out.fd);
    restore.Forget(out.fd);
    out.fd = -1;
  };
  auto outputs_open = [&] {
    return std::any_of(outputs.begin(), outputs.end(), [](const Output& x) { return x.fd >= 0; });
  };
  // No more input for the program: under a terminal it sees end-of-file (VEOF) at the start of
  // a line; through a pipe, the pipe closes once what is pending has gone in.
  auto end_input = [&] {
    in_open = false;
    if (use_pty && !tty) pending_in.append("\x04");
  };
  auto close_child_in = [&] {
    if (child_in < 0 || child_in == master) return;
    close(child_in);
    restore.Forget(child_in);
    child_in = -1;
  };
  auto feed = [&] {
    if (child_in >= 0 && !pending_in.empty()) {
      ssize_t put = write(child_in, pending_in.data(), pending_in.size());
      if (put > 0) {
        pending_in.erase(0, static_cast<size_t>(put));
      } else if (put < 0 && errno != EAGAIN && errno != EINTR && !use_pty) {
        pending_in.clear();  // the program closed its stdin (EPIPE): nothing more goes in
        in_open = false;
      }
    }
    if (!use_pty && !in_open && pending_in.empty()) close_child_in();
  };

  for (;;) {
    const int64_t mono = MonoMicros();
    if (grant && ending.empty()) {
      if (auto reason = grant->ended()) {
        begin_end(*reason);
      } else {
        auto act = timer.Check(UnixNow(), grant->ends_at());
        if (act.kind == GrantTimer::Action::kWarn) {
          notice(fmt::format("your access under request {} ends in {} (at {}); this session "
                             "will be closed then.",
                             request, Remaining(act.remaining),
                             FormatRfc3339(FromUnixSeconds(grant->ends_at()))));
        } else if (act.kind == GrantTimer::Action::kEnd) {
          begin_end("expired");
        }
      }
    }
    if (kill_at && mono >= kill_at) {
      if (child_alive) {
        kill(-child, SIGKILL);
        pid_t fg = foreground();
        if (fg > 0) kill(-fg, SIGKILL);
      }
      SignalDescendants(SIGKILL);
      kill_at = 0;
    }
    if (!child_alive) {
      const int64_t quiet = mono - std::max(exited_at, last_data);
      if (!outputs_open() || quiet > 200'000 || mono - exited_at > 2'000'000) break;
    }

    int64_t timeout_us = 1'000'000;
    if (int64_t d = chunker.Due(mono); d >= 0) timeout_us = std::min(timeout_us, d);
    if (kill_at) timeout_us = std::min(timeout_us, std::max<int64_t>(0, kill_at - mono));
    if (!child_alive) timeout_us = std::min<int64_t>(timeout_us, 50'000);
    if (grant && grant->ends_at() > 0) {
      int64_t due = timer.NextDue(UnixNow(), grant->ends_at());
      if (due >= 0 && due < 1) timeout_us = std::min<int64_t>(timeout_us, 100'000);
    }

    // A descriptor may appear twice (the PTY master: once for output, once for input).
    pollfd fds[6];
    int n = 0;
    fds[n++] = {g_signal_pipe[0], POLLIN, 0};
    int out_i[2] = {-1, -1};
    for (size_t k = 0; k < outputs.size(); ++k) {
      if (outputs[k].fd >= 0) {
        out_i[k] = n;
        fds[n++] = {outputs[k].fd, POLLIN, 0};
      }
    }
    const bool program_reads = child_in >= 0 && (child_in != master || outputs[0].fd >= 0);
    const int feed_i = program_reads && !pending_in.empty() ? n : -1;
    if (feed_i >= 0) fds[n++] = {child_in, POLLOUT, 0};
    const int in_i = in_open && program_reads && pending_in.size() < 64 * 1024 ? n : -1;
    if (in_i >= 0) fds[n++] = {o.in_fd, POLLIN, 0};
    const int grant_i = grant && grant->wake_fd() >= 0 ? n : -1;
    if (grant_i >= 0) fds[n++] = {grant->wake_fd(), POLLIN, 0};
    int ready = poll(fds, static_cast<nfds_t>(n), static_cast<int>((timeout_us + 999) / 1000));
    if (ready < 0 && errno != EINTR) return Error::Internal(std::string("poll: ") + std::strerror(errno));

    if (ready > 0 && (fds[0].revents & POLLIN)) {
      unsigned char sigs[64];
      ssize_t got;
      while ((got = read(g_signal_pipe[0], sigs, sizeof sigs)) > 0) {
        for (ssize_t i = 0; i < got; ++i) {
          const int sig = sigs[i];
          if (sig == SIGCHLD) {
            reap();
          } else if (sig == SIGWINCH && tty) {
            winsize w{};
            if (ioctl(o.in_fd, TIOCGWINSZ, &w) == 0 && w.ws_col > 0 && w.ws_row > 0) {
              ioctl(master, TIOCSWINSZ, &w);
              chunker.Add(now_t(), 'r', fmt::format("{}x{}", w.ws_col, w.ws_row), MonoMicros());
            }
          } else if (sig == SIGTERM || sig == SIGHUP || sig == SIGINT || sig == SIGQUIT) {
            begin_end("hangup");
          }
        }
      }
    }
    if (grant_i >= 0 && (fds[grant_i].revents & POLLIN)) grant->Drained();
    for (size_t k = 0; k < outputs.size(); ++k) {
      if (out_i[k] < 0 || fds[out_i[k]].revents == 0) continue;
      Output& out = outputs[k];
      const short ev = fds[out_i[k]].revents;
      if (ev & POLLIN) {
        // Take what the program has written so far (a terminal hands out at most 4 KiB per
        // read): one write to the person's side and one event for all of it.
        size_t have = 0;
        ssize_t got = 0;
        while (have < buf.size() && (got = read(out.fd, buf.data() + have, buf.size() - have)) > 0) {
          have += static_cast<size_t>(got);
          if (got < 4000) break;  // the buffer was not full: nothing more waits
        }
        if (have > 0) {
          std::string_view data(buf.data(), have);
          if (!WriteAll(out.to_fd, data)) {
            // Under a terminal the person is gone. Through a pipe the reader closed it: the
            // program gets SIGPIPE on its next write, as it would without the recorder.
            if (use_pty) {
              begin_end("hangup");
            } else {
              close_output(out);
            }
          }
          chunker.Add(now_t(), 'o', out.carry.Take(data), MonoMicros());
          last_data = MonoMicros();
        } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
          close_output(out);  // EOF, or EIO: every holder of the terminal's other end is gone
        }
      } else if (ev & (POLLHUP | POLLERR | POLLNVAL)) {
        close_output(out);
      }
    }
    if (feed_i >= 0 && (fds[feed_i].revents & (POLLOUT | POLLERR | POLLHUP))) feed();
    if (in_i >= 0 && fds[in_i].revents) {
      ssize_t got = read(o.in_fd, buf.data(), buf.size());
      if (got > 0) {
        std::string_view data(buf.data(), static_cast<size_t>(got));
        if (o.record_input) chunker.Add(now_t(), 'i', in_carry.Take(data), MonoMicros());
        pending_in.append(data);
        feed();
      } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
        end_input();
        feed();
      }
    }
    chunker.MaybeSeal(MonoMicros());
  }

  if (child_alive) {
    kill(-child, SIGKILL);
    waitpid(child, &status, 0);
  }
  // Whatever is left of the session goes with it: its process group, and every process that
  // escaped it (re-parented here). A few rounds: a process may fork while being killed.
  kill(-child, SIGKILL);
  for (int round = 0; round < 50; ++round) {
    std::vector<pid_t> zombies;
    const std::vector<pid_t> left = Descendants(&zombies);
    for (pid_t p : zombies) waitpid(p, nullptr, WNOHANG);
    if (left.empty()) break;
    for (pid_t p : left) kill(p, SIGKILL);
    usleep(10'000);
    int st = 0;
    while (waitpid(-1, &st, WNOHANG) > 0) {
    }
  }
  for (auto& out : outputs) chunker.Add(now_t(), 'o', out.carry.Flush(), MonoMicros());
  RecorderResult result;
  result.end_reason = ending.empty() ? "exit" : ending;
  chunker.Final(UnixNow(), result.end_reason);
  result.chunks = chunker.sealed();
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status)
                     : WIFSIGNALED(status) ? 128 + WTERMSIG(status)
                                           : 1;
  return result;
}

}  // namespace bg::session
