#include "cli/kit_io.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>

#include "kit/qr_png.h"
#include "kit/share_line.h"

namespace bg::cli {
namespace {

// The code says what kind of failure it was (and so the CLI's exit code): a missing file is
// kNotFound, an existing one kConflict, a refused one kPermissionDenied, the rest kUnavailable.
Error OsError(std::string_view what, const std::string& path, int err) {
  std::string message = fmt::format("cannot {} {}: {}", what, path, std::strerror(err));
  switch (err) {
    case ENOENT:
    case ENOTDIR: return Error::NotFound(std::move(message));
    case EEXIST: return Error::Conflict(std::move(message));
    case EACCES:
    case EPERM:
    case EROFS: return Error::PermissionDenied(std::move(message));
    default: return Error::Unavailable(std::move(message));
  }
}

}  // namespace

Result<std::string> ReadWholeFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return OsError("read", path, errno);
  std::string out;
  char buf[4096];
  ssize_t n = 0;
  while ((n = ::read(fd, buf, sizeof buf)) != 0) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  const int err = errno;
  ::close(fd);
  sodium_memzero(buf, sizeof buf);
  if (n < 0) {
    sodium_memzero(out.data(), out.size());
    return OsError("read", path, err);
  }
  return out;
}

Status WriteNewFile(const std::string& path, std::string_view bytes, mode_t mode) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return OsError("create", path, errno);
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      ::unlink(path.c_str());
      return OsError("write", path, err);
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    ::unlink(path.c_str());
    return OsError("write", path, err);
  }
  if (::close(fd) != 0) return OsError("write", path, errno);
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
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return OsError("open", dir, errno);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return OsError("sync", dir, err);
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

std::vector<Secret> KitShareLines(const kit::Kit& kit) {
  std::vector<Secret> lines;
  for (const kit::Share& s : kit.shares) lines.push_back(kit::FormatShareLine(s));
  return lines;
}

Result<std::vector<std::string>> WriteKitFiles(const std::string& dir, const kit::Kit& kit,
                                               const std::vector<Secret>& lines, bool qr) {
  BG_TRY(MakeDir(dir));
  std::vector<std::string> written;
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string base = fmt::format("{}/share-{}", dir, kit.shares[i].index);
    std::string text = std::string(lines[i].Reveal()) + "\n";
    Status wrote = WriteNewFile(base + ".txt", text, 0600);
    sodium_memzero(text.data(), text.size());
    BG_TRY(wrote);
    written.push_back(base + ".txt");
    if (qr) {
      // QR codes carry the upper-case line, which fits the alphanumeric mode.
      std::string upper(lines[i].Reveal());
      for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      auto png = kit::QrPng(upper);
      sodium_memzero(upper.data(), upper.size());
      if (!png) return png.error();
      BG_TRY(WriteNewFile(base + ".png", png->Reveal(), 0600));
      written.push_back(base + ".png");
    }
  }
  const std::string manifest_path = dir + "/manifest.json";
  BG_TRY(WriteNewFile(manifest_path, kit::FormatManifest(kit.manifest), 0644));
  written.push_back(manifest_path);
  BG_TRY(SyncDir(dir));
  return written;
}

nlohmann::json KitJson(const kit::Kit& kit, const std::vector<Secret>& lines) {
  nlohmann::json shares = nlohmann::json::array();
  for (const Secret& line : lines) shares.push_back(std::string(line.Reveal()));
  return {{"kit_id", kit.manifest.kit_id},
          {"shares", shares},
          {"manifest", kit::ManifestToJson(kit.manifest)}};
}

}  // namespace bg::cli
