#include "service/data_dir.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>

#include "store/store.h"

namespace bg::service {
namespace {

bool Exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// mkdir -p with mode 0700 for every component it creates.
Status MakeDirs(const std::string& dir) {
  for (size_t i = 1; i <= dir.size(); ++i) {
    if (i != dir.size() && dir[i] != '/') continue;
    const std::string part = dir.substr(0, i);
    if (::mkdir(part.c_str(), 0700) != 0 && errno != EEXIST) {
      return Error::InvalidArgument(
          "data-dir", fmt::format("cannot create {}: {}", part, std::strerror(errno)));
    }
  }
  return Ok();
}

struct Holder {
  pid_t pid = 0;
  std::string command;
};

// What the holder wrote into the lock file: "<pid> <command>\n". The holder writes it just
// after it got the lock, so an empty file is read again for a moment.
Holder ReadHolder(int fd) {
  Holder h;
  for (int attempt = 0; attempt < 50; ++attempt) {
    char buf[256] = {0};
    ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
    if (n > 0) {
      std::string text(buf, static_cast<size_t>(n));
      size_t space = text.find(' ');
      h.pid = static_cast<pid_t>(std::atol(text.substr(0, space).c_str()));
      if (space != std::string::npos) {
        h.command = text.substr(space + 1);
        while (!h.command.empty() && (h.command.back() == '\n' || h.command.back() == '\r')) {
          h.command.pop_back();
        }
      }
      if (h.pid > 0) return h;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return h;
}

Result<std::unique_ptr<DataDirLock>> TakeLock(const std::string& dir, const DataDirClaim& claim) {
  const std::string path = dir + "/" + kLockFileName;
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    return Error::Unavailable(fmt::format("cannot open the lock file {}: {}", path,
                                          std::strerror(errno)));
  }
  (void)::fchmod(fd, 0600);
  if (::flock(fd, LOCK_EX | LOCK_NB) == 0) {
    const std::string me = fmt::format("{} {}\n", ::getpid(), claim.command);
    if (::ftruncate(fd, 0) != 0 ||
        ::pwrite(fd, me.data(), me.size(), 0) != static_cast<ssize_t>(me.size())) {
      ::close(fd);
      return Error::Unavailable(fmt::format("cannot write the lock file {}: {}", path,
                                            std::strerror(errno)));
    }
    return std::make_unique<DataDirLock>(fd, 0);
  }
  if (errno != EWOULDBLOCK) {
    int e = errno;
    ::close(fd);
    return Error::Unavailable(fmt::format("cannot lock {}: {}", path, std::strerror(e)));
  }
  Holder h = ReadHolder(fd);
  ::close(fd);
  if (claim.beside_server && h.command == "serve" && h.pid > 0) {
    return std::make_unique<DataDirLock>(-1, h.pid);
  }
  const std::string who = h.pid > 0 ? fmt::format("`breakglass {}` (pid {})",
                                                  h.command.empty() ? "?" : h.command, h.pid)
                                    : std::string("another process (pid unknown)");
  return Error::Conflict(fmt::format(
      "data directory {} is in use by {}; wait for it to finish or stop it, or use another "
      "data directory",
      dir, who));
}

}  // namespace

DataDirLock::~DataDirLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the flock
}

std::string DatabasePath(const ServerConfig& config) {
  const std::string& s = config.storage;
  if (s == "sqlite") return config.data_dir + "/breakglass.db";
  if (s.rfind("sqlite:", 0) == 0) {
    std::filesystem::path p(s.substr(7));
    if (p.is_relative() && !config.data_dir.empty()) p = std::filesystem::path(config.data_dir) / p;
    return p.string();
  }
  return "";
}

Result<std::unique_ptr<DataDirLock>> ClaimDataDir(const ServerConfig& config,
                                                  const DataDirClaim& claim) {
  const std::string& dir = config.data_dir;
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    if (claim.use != DataDirUse::kCreate || !claim.create_missing) {
      const bool may_init = claim.use == DataDirUse::kCreate;
      return Error::InvalidArgument(
          "data-dir",
          fmt::format("data directory {} does not exist{}", dir,
                      may_init ? "; check the path, or give --init to create a new one"
                               : "; check the path (nothing was created)"));
    }
    BG_TRY(MakeDirs(dir));
  } else if (!S_ISDIR(st.st_mode)) {
    return Error::InvalidArgument("data-dir", fmt::format("{} is not a directory", dir));
  }
  const std::string db = DatabasePath(config);
  if (claim.use != DataDirUse::kCreate && !db.empty() && !Exists(db)) {
    return Error::NotFound(fmt::format(
        "data directory {} holds no database ({} is missing); check the path (nothing was "
        "created)",
        dir, db));
  }
  if (claim.use == DataDirUse::kRead) {
    return std::make_unique<DataDirLock>(-1, 0);
  }
  if (db.empty() && claim.command == "serve") {
    // A database server (postgres): the directory holds only key material, which the replicas
    // of one installation may share; which server serves is the store's serve lease
    // (PgStore::HoldServeLease), not a lock here.
    return std::make_unique<DataDirLock>(-1, 0);
  }
  return TakeLock(dir, claim);
}

OfflineStore::OfflineStore() = default;
OfflineStore::~OfflineStore() = default;  // the store closes before the lock is released
OfflineStore::OfflineStore(OfflineStore&&) noexcept = default;
OfflineStore& OfflineStore::operator=(OfflineStore&&) noexcept = default;

Result<OfflineStore> OpenOfflineStore(const ServerConfig& config, const DataDirClaim& claim) {
  OfflineStore out;
  BG_ASSIGN_OR_RETURN(out.lock, ClaimDataDir(config, claim));
  BG_ASSIGN_OR_RETURN(out.store, store::OpenStore(config.storage, config.data_dir));
  return out;
}

}  // namespace bg::service
