#include "util/fs.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace bg::fs {

namespace {

// Closes on every path out.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  // Closes now; the errno of a failed close, else 0.
  int Close() {
    const int rc = ::close(fd_);
    fd_ = -1;
    return rc == 0 ? 0 : errno;
  }

 private:
  int fd_;
};

// Reads all of `fd` into `out`, wiping the bounce buffer; the errno of a failed read, else 0.
int ReadAll(int fd, std::string& out, size_t limit) {
  char buf[4096];
  int err = 0;
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      err = errno;
      break;
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > limit) {
      err = EFBIG;
      break;
    }
  }
  sodium_memzero(buf, sizeof buf);
  return err;
}

void Wipe(std::string& s) { sodium_memzero(s.data(), s.size()); }

}  // namespace

Error OsError(std::string_view what, const std::string& path, int err, std::string field) {
  std::string message = fmt::format("cannot {} {}: {}", what, path, std::strerror(err));
  switch (err) {
    case ENOENT:
    case ENOTDIR: return Error(ErrorCode::kNotFound, std::move(message), std::move(field));
    case EEXIST: return Error(ErrorCode::kConflict, std::move(message), std::move(field));
    case EACCES:
    case EPERM:
    case EROFS: return Error(ErrorCode::kPermissionDenied, std::move(message), std::move(field));
    default: return Error(ErrorCode::kUnavailable, std::move(message), std::move(field));
  }
}

Result<std::string> ReadWholeFile(const std::string& path, std::string field) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return OsError("read", path, errno, std::move(field));
  std::string out;
  if (const int err = ReadAll(fd.get(), out, std::string().max_size()); err != 0) {
    Wipe(out);
    return OsError("read", path, err, std::move(field));
  }
  return out;
}

Status WriteNewFile(const std::string& path, std::string_view bytes, mode_t mode) {
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
  if (fd.get() < 0) return OsError("create", path, errno);
  auto fail = [&](int err) {
    ::unlink(path.c_str());
    return OsError("write", path, err);
  };
  // The mode as asked, whatever the umask.
  if (::fchmod(fd.get(), mode) != 0) return fail(errno);
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd.get(), bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(errno);
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd.get()) != 0) return fail(errno);
  if (const int err = fd.Close(); err != 0) return fail(err);
  return Ok();
}

Status ReplaceFile(const std::string& path, std::string_view bytes, mode_t mode) {
  const std::string tmp = fmt::format("{}.tmp.{}", path, ::getpid());
  ::unlink(tmp.c_str());
  BG_TRY(WriteNewFile(tmp, bytes, mode));
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return OsError("replace", path, err);
  }
  return Ok();
}

Status SyncDir(const std::string& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return OsError("open", dir, errno);
  if (::fsync(fd.get()) != 0) return OsError("sync", dir, errno);
  return Ok();
}

Status MakeDir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return OsError("create directory", dir, errno);
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Error::Unavailable(fmt::format("{} is not a directory", dir));
  }
  return Ok();
}

Result<Secret> ReadSecretFile(const std::string& path, const std::string& field,
                              SecretEnd trim) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (fd.get() < 0) return OsError("open", path, errno, field);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return Error::InvalidArgument(field, fmt::format("{} is not a regular file", path));
  }
  if ((st.st_mode & 077) != 0) {
    return Error(ErrorCode::kFailedPrecondition,
                 fmt::format("{}: {} may be read by group or others (chmod 600 it)", field, path),
                 field);
  }
  std::string data;
  if (const int err = ReadAll(fd.get(), data, 64 << 10); err != 0) {
    Wipe(data);
    if (err == EFBIG) {
      return Error::InvalidArgument(field, fmt::format("{} is larger than 64 KiB", path));
    }
    return OsError("read", path, err, field);
  }
  size_t end = data.size();
  if (trim == SecretEnd::kOneNewline) {
    if (end > 0 && data[end - 1] == '\n') --end;
  } else {
    while (end > 0 && (data[end - 1] == '\n' || data[end - 1] == '\r')) --end;
  }
  Secret secret(std::string_view(data).substr(0, end));
  Wipe(data);
  if (secret.empty()) return Error::InvalidArgument(field, fmt::format("{} is empty", path));
  return secret;
}

}  // namespace bg::fs
