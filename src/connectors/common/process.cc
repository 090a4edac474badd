#include "connectors/common/process.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

extern char** environ;

namespace bg::connectors {
namespace {

struct Fd {
  int fd = -1;
  ~Fd() { Close(); }
  void Close() {
    if (fd >= 0) close(fd);
    fd = -1;
  }
};

}  // namespace

Result<ProcessResult> RunProcess(const std::vector<std::string>& argv, std::string_view input,
                                 std::chrono::milliseconds timeout) {
  if (argv.empty()) return Error::InvalidArgument("argv", "no program given");
  int in_pipe[2], out_pipe[2], err_pipe[2];
  // stdin is a socket pair so that writing to a program that exited early gives EPIPE
  // (MSG_NOSIGNAL) instead of a SIGPIPE for the whole server.
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in_pipe) != 0) {
    return Error::Unavailable("socketpair failed");
  }
  Fd in_r{in_pipe[0]}, in_w{in_pipe[1]};
  if (pipe2(out_pipe, O_CLOEXEC) != 0) return Error::Unavailable("pipe failed");
  Fd out_r{out_pipe[0]}, out_w{out_pipe[1]};
  if (pipe2(err_pipe, O_CLOEXEC) != 0) return Error::Unavailable("pipe failed");
  Fd err_r{err_pipe[0]}, err_w{err_pipe[1]};

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in_r.fd, 0);
  posix_spawn_file_actions_adddup2(&fa, out_w.fd, 1);
  posix_spawn_file_actions_adddup2(&fa, err_w.fd, 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setpgroup(&attr, 0);  // its own group: a timeout kills its children too
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, args[0], &fa, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    return Error::Unavailable(fmt::format("cannot run {}: {}", argv[0], std::strerror(rc)));
  }
  in_r.Close();
  out_w.Close();
  err_w.Close();
  fcntl(in_w.fd, F_SETFL, O_NONBLOCK);

  ProcessResult result;
  size_t written = 0;
  if (input.empty()) in_w.Close();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (out_r.fd >= 0 || err_r.fd >= 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      result.timed_out = true;
      break;
    }
    pollfd fds[3];
    int n = 0;
    Fd* owners[3];
    for (Fd* f : {&out_r, &err_r}) {
      if (f->fd >= 0) {
        fds[n] = {f->fd, POLLIN, 0};
        owners[n++] = f;
      }
    }
    if (in_w.fd >= 0) {
      fds[n] = {in_w.fd, POLLOUT, 0};
      owners[n++] = &in_w;
    }
    int ready = poll(fds, n, static_cast<int>(std::min<int64_t>(left.count(), 1000)));
    if (ready < 0 && errno != EINTR) break;
    for (int i = 0; i < n; ++i) {
      if (fds[i].revents == 0) continue;
      if (owners[i] == &in_w) {
        ssize_t w = send(in_w.fd, input.data() + written, input.size() - written, MSG_NOSIGNAL);
        if (w > 0) written += static_cast<size_t>(w);
        if (w < 0 && errno != EAGAIN) in_w.Close();  // the program does not read: fine
        if (written == input.size()) {
          shutdown(in_w.fd, SHUT_WR);
          in_w.Close();
        }
        continue;
      }
      char buf[4096];
      ssize_t r = read(owners[i]->fd, buf, sizeof buf);
      if (r <= 0) {
        if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        owners[i]->Close();
        continue;
      }
      std::string& dst = owners[i] == &out_r ? result.out : result.err;
      if (dst.size() < kMaxProcessOutput) {
        dst.append(buf, std::min(static_cast<size_t>(r), kMaxProcessOutput - dst.size()));
      }
    }
  }
  if (in_w.fd >= 0) shutdown(in_w.fd, SHUT_WR);
  in_w.Close();
  if (result.timed_out) kill(-pid, SIGKILL);
  int status = 0;
  // After the pipes closed the program is (nearly) done; a grandchild that kept them open
  // was killed with the group on timeout.
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && !result.timed_out) result.exit_code = WEXITSTATUS(status);
  return result;
}

}  // namespace bg::connectors
