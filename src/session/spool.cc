#include "session/spool.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <fstream>
#include <sstream>

#include "session/transport.h"

namespace bg::session {
namespace {

Status MakeDirs(const std::string& dir) {
  for (size_t i = 1; i <= dir.size(); ++i) {
    if (i != dir.size() && dir[i] != '/') continue;
    std::string part = dir.substr(0, i);
    if (mkdir(part.c_str(), 0700) != 0 && errno != EEXIST) {
      return Error::Unavailable(fmt::format("cannot create {}: {}", part, std::strerror(errno)));
    }
  }
  return Ok();
}

std::vector<std::string> List(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = opendir(dir.c_str());
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") out.push_back(n);
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

bool Retryable(const Error& e) {
  return e.code() == ErrorCode::kUnavailable || e.code() == ErrorCode::kInternal ||
         e.code() == ErrorCode::kUnauthenticated;
}

}  // namespace

std::string DefaultSpoolRoot() {
  if (const char* s = std::getenv("BREAKGLASS_SPOOL"); s && *s) return s;
  if (const char* x = std::getenv("XDG_STATE_HOME"); x && *x) {
    return std::string(x) + "/breakglass/spool";
  }
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : "/tmp") + "/.local/state/breakglass/spool";
}

Result<Spool> Spool::Open(const std::string& dir) {
  BG_TRY(MakeDirs(dir));
  return Spool(dir);
}

std::string Spool::Path(int64_t seq, const char* ext) const {
  return fmt::format("{}/{:010}{}", dir_, seq, ext);
}

Status Spool::Write(int64_t seq, const std::string& body) {
  const std::string tmp = Path(seq, ".tmp");
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Error::Unavailable(fmt::format("spool {}: {}", tmp, std::strerror(errno)));
  size_t off = 0;
  bool ok = true;
  while (off < body.size()) {
    ssize_t n = write(fd, body.data() + off, body.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ok = false;
      break;
    }
    off += static_cast<size_t>(n);
  }
  ok = ok && fdatasync(fd) == 0;
  close(fd);
  if (!ok || rename(tmp.c_str(), Path(seq, ".json").c_str()) != 0) {
    unlink(tmp.c_str());
    return Error::Unavailable(fmt::format("spool {}: {}", tmp, std::strerror(errno)));
  }
  return Ok();
}

Result<std::vector<int64_t>> Spool::Pending() const {
  std::vector<int64_t> out;
  for (const auto& n : List(dir_)) {
    if (n.size() != 15 || n.compare(10, 5, ".json") != 0) continue;
    if (!std::all_of(n.begin(), n.begin() + 10, [](char c) { return c >= '0' && c <= '9'; })) {
      continue;
    }
    out.push_back(std::stoll(n.substr(0, 10)));
  }
  return out;
}

Result<std::string> Spool::Read(int64_t seq) const {
  std::ifstream in(Path(seq, ".json"), std::ios::binary);
  if (!in) return Error::NotFound(fmt::format("spool: no chunk {} in {}", seq, dir_));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Status Spool::Remove(int64_t seq) {
  if (unlink(Path(seq, ".json").c_str()) != 0 && errno != ENOENT) {
    return Error::Unavailable(fmt::format("spool: cannot remove chunk {}: {}", seq,
                                          std::strerror(errno)));
  }
  return Ok();
}

Status Spool::Reject(int64_t seq) {
  if (rename(Path(seq, ".json").c_str(), Path(seq, ".rejected").c_str()) != 0) {
    return Error::Unavailable(fmt::format("spool: cannot set chunk {} aside", seq));
  }
  return Ok();
}

void Spool::RemoveIfEmpty() { rmdir(dir_.c_str()); }

Status UploadSession(Transport& transport, Spool& spool, const std::string& session_id,
                     UploadReport& report) {
  BG_ASSIGN_OR_RETURN(auto pending, spool.Pending());
  const std::string path = "/v1/sessions/" + session_id + "/chunks";
  for (size_t i = 0; i < pending.size(); ++i) {
    BG_ASSIGN_OR_RETURN(std::string body, spool.Read(pending[i]));
    auto r = transport.Call("POST", path, body);
    if (!r) {
      report.pending += static_cast<int64_t>(pending.size() - i);
      if (!Retryable(r.error())) {
        (void)spool.Reject(pending[i]);
        report.rejected++;
        report.pending--;
      }
      return r.error();
    }
    BG_TRY(spool.Remove(pending[i]));
    report.uploaded++;
  }
  return Ok();
}

Result<UploadReport> UploadSessionUntilDone(
    Transport& transport, const std::string& session_dir, const RetryOptions& retry,
    const std::function<void(std::chrono::milliseconds)>& sleep) {
  // Gone already (sent by hand, or removed): nothing to do, and nothing is re-created.
  if (access(session_dir.c_str(), F_OK) != 0) return UploadReport{};
  BG_ASSIGN_OR_RETURN(Spool spool, Spool::Open(session_dir));
  const size_t slash = session_dir.find_last_of('/');
  const std::string session_id =
      slash == std::string::npos ? session_dir : session_dir.substr(slash + 1);
  UploadReport total;
  std::chrono::milliseconds waited{0}, backoff = retry.min_backoff;
  for (;;) {
    UploadReport pass;
    Status s = UploadSession(transport, spool, session_id, pass);
    total.uploaded += pass.uploaded;
    total.rejected += pass.rejected;
    total.pending = pass.pending;
    if (s) {
      spool.RemoveIfEmpty();
      return total;
    }
    if (!Retryable(s.error()) || pass.rejected > 0 || waited >= retry.retry_for) return total;
    const auto pause = std::min(backoff, retry.retry_for - waited);
    sleep(pause);
    waited += pause;
    if (access(session_dir.c_str(), F_OK) != 0) return total;
    backoff = std::min(retry.max_backoff, backoff * 2);
  }
}

Result<UploadReport> UploadSpool(Transport& transport, const std::string& root) {
  UploadReport report;
  std::optional<Error> unreachable;
  for (const auto& name : List(root)) {
    BG_ASSIGN_OR_RETURN(Spool spool, Spool::Open(root + "/" + name));
    Status s = UploadSession(transport, spool, name, report);
    if (s) spool.RemoveIfEmpty();
    if (!s && s.error().code() == ErrorCode::kUnavailable) unreachable = s.error();
  }
  if (unreachable && report.uploaded == 0 && report.pending > 0) return *unreachable;
  return report;
}

}  // namespace bg::session
