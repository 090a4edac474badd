// Recorder overhead (issue 6), against the real `breakglass record`:
//  1. throughput: `cat` of a large file through a pseudo-terminal, directly and through the
//     recorder (writing its recording to a local .cast file), in the same run;
//  2. keystroke latency: one byte written to the terminal until its echo comes back, directly
//     (the terminal's own echo) and through the recorder (our relay, the inner terminal's echo,
//     our relay back), p50/p99.
// usage: recorder_bench BREAKGLASS [MiB=100] [KEYSTROKES=3000]
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

// Starts argv on a new terminal; returns the master side.
pid_t Spawn(const std::vector<std::string>& argv, int* master) {
  winsize ws{};
  ws.ws_col = 120;
  ws.ws_row = 40;
  pid_t pid = forkpty(master, nullptr, nullptr, &ws);
  if (pid == 0) {
    std::vector<char*> a;
    for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
    a.push_back(nullptr);
    execvp(a[0], a.data());
    _exit(127);
  }
  return pid;
}

// Reads the master until the child is gone; returns bytes read.
size_t DrainAll(int master) {
  std::vector<char> buf(1 << 16);
  size_t total = 0;
  for (;;) {
    ssize_t n = read(master, buf.data(), buf.size());
    if (n > 0) {
      total += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return total;  // EIO: the other side is closed
  }
}

double RunCat(const std::vector<std::string>& argv, size_t* bytes) {
  int master = -1;
  auto t0 = Clock::now();
  pid_t pid = Spawn(argv, &master);
  *bytes = DrainAll(master);
  int st = 0;
  waitpid(pid, &st, 0);
  double s = std::chrono::duration<double>(Clock::now() - t0).count();
  close(master);
  return s;
}

bool ReadUntil(int fd, char want, int timeout_ms) {
  char buf[4096];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) <= 0) return false;
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) return false;
    for (ssize_t i = 0; i < n; ++i) {
      if (buf[i] == want) return true;
    }
  }
}

void Settle(int fd) {
  char buf[4096];
  pollfd p{fd, POLLIN, 0};
  while (poll(&p, 1, 50) > 0 && read(fd, buf, sizeof buf) > 0) {
  }
}

std::vector<double> Keystrokes(const std::vector<std::string>& argv, int count) {
  int master = -1;
  pid_t pid = Spawn(argv, &master);
  Settle(master);  // the recorder's banner, the program's start
  std::vector<double> us;
  for (int i = 0; i < count; ++i) {
    if (i % 64 == 63) {  // end the line so the terminal's line buffer never fills
      (void)!write(master, "\n", 1);
      ReadUntil(master, '\n', 2000);
      ReadUntil(master, '\n', 2000);
      Settle(master);
      continue;
    }
    auto t0 = Clock::now();
    (void)!write(master, "x", 1);
    if (!ReadUntil(master, 'x', 2000)) {
      std::fprintf(stderr, "no echo\n");
      break;
    }
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  (void)!write(master, "\x04", 1);
  kill(pid, SIGHUP);
  Settle(master);
  waitpid(pid, nullptr, 0);
  close(master);
  std::sort(us.begin(), us.end());
  return us;
}

double Pct(const std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s BREAKGLASS [MiB] [KEYSTROKES]\n", argv[0]);
    return 2;
  }
  const std::string bg = argv[1];
  const size_t mib = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 100;
  const int keys = argc > 3 ? std::atoi(argv[3]) : 3000;
  char dir[] = "/tmp/bg-recbench-XXXXXX";
  if (!mkdtemp(dir)) return 1;
  const std::string file = std::string(dir) + "/data.txt";
  const std::string cast = std::string(dir) + "/out.cast";
  {
    // Printable text in 100-character lines: what a log or a query result looks like.
    std::string line;
    for (int i = 0; i < 99; ++i) line += static_cast<char>('!' + (i * 7) % 90);
    line += '\n';
    FILE* f = std::fopen(file.c_str(), "w");
    for (size_t written = 0; written < mib << 20; written += line.size()) {
      std::fwrite(line.data(), 1, line.size(), f);
    }
    std::fclose(f);
  }
  size_t direct_bytes = 0, rec_bytes = 0;
  const std::vector<std::string> direct = {"cat", file};
  const std::vector<std::string> recorded = {bg, "record", "--output", cast, "--", "cat", file};
  (void)RunCat(direct, &direct_bytes);  // warm the page cache
  double best_direct = 1e9, best_rec = 1e9;
  for (int round = 0; round < 3; ++round) {
    best_direct = std::min(best_direct, RunCat(direct, &direct_bytes));
    best_rec = std::min(best_rec, RunCat(recorded, &rec_bytes));
  }
  const double mb = static_cast<double>(mib);
  std::printf("throughput: cat of %zu MiB through a terminal\n", mib);
  std::printf("  direct:   %.3f s  %.1f MiB/s  (%zu bytes seen)\n", best_direct, mb / best_direct,
              direct_bytes);
  std::printf("  recorded: %.3f s  %.1f MiB/s  (%zu bytes seen)\n", best_rec, mb / best_rec,
              rec_bytes);
  std::printf("  ratio recorded/direct: %.2f (target >= 0.5)\n", best_direct / best_rec);

  auto d = Keystrokes({"cat"}, keys);
  auto r = Keystrokes({bg, "record", "--output", cast, "--", "cat"}, keys);
  std::printf("keystroke echo latency over %zu/%zu keystrokes (microseconds)\n", d.size(), r.size());
  std::printf("  direct:   p50 %.1f  p99 %.1f\n", Pct(d, 0.5), Pct(d, 0.99));
  std::printf("  recorded: p50 %.1f  p99 %.1f\n", Pct(r, 0.5), Pct(r, 0.99));
  std::printf("  added p99: %.1f us (target < 1000)\n", Pct(r, 0.99) - Pct(d, 0.99));
  std::string cleanup = std::string("rm -rf ") + dir;
  return std::system(cleanup.c_str()) == 0 ? 0 : 1;
}
