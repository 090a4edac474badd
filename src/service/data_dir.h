// A command's claim on a data directory: whether the directory may be created or initialised
// (so a mistyped --data-dir never silently becomes a new database and master key), and the
// exclusive lock that keeps two servers (or a server and an offline writer) off one directory.
//
// The lock is flock(2) on <data_dir>/breakglass.lock (mode 0600), which holds the holder's pid
// and command, so a refusal can name them; the kernel releases it when the holder exits, even
// on SIGKILL, so a stale file never blocks anybody.
//
// Who takes what (docs/accounts.md):
//   serve                      exclusive, for its whole run; refused while anyone holds it
//   an account or kit command  exclusive while it runs; beside a running `serve` it works
//                              without the lock (the store and the log are made for that: the
//                              server picks the change up), refused while another offline
//                              writer holds it
//   a reading command          no lock
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include "service/config.h"
#include "util/result.h"

namespace bg::store {
class Store;
}

namespace bg::service {

enum class DataDirUse {
  kRead,    // reads an existing database: never creates anything, takes no lock
  kModify,  // changes an existing database (user disable, ...): lock; never creates anything
  kCreate,  // may initialise (serve, user add): lock; an existing directory without a
            // database is initialised, a missing one is created only with `create_missing`
};

struct DataDirClaim {
  DataDirUse use = DataDirUse::kRead;
  bool create_missing = false;  // --init, or the demo's own ./breakglass-data
  bool beside_server = false;   // a writer that may run beside a running `serve`
  std::string command;          // "serve", "user add", ... (written into the lock file)
};

// Held while a command uses its data directory; releases the lock when destroyed.
class DataDirLock {
 public:
  // `fd` is the locked file (-1: no lock held); `server_pid` the server worked beside, or 0.
  DataDirLock(int fd, pid_t server_pid) : fd_(fd), server_pid_(server_pid) {}
  ~DataDirLock();
  DataDirLock(const DataDirLock&) = delete;
  DataDirLock& operator=(const DataDirLock&) = delete;
  bool held() const { return fd_ >= 0; }
  // The running server this command works beside (held() is false then), or 0.
  pid_t server_pid() const { return server_pid_; }

 private:
  int fd_;
  pid_t server_pid_;
};

inline constexpr const char kLockFileName[] = "breakglass.lock";

// The SQLite database file of `config` ("" for a storage that is not a file).
std::string DatabasePath(const ServerConfig& config);

// Checks `config.data_dir` against `claim` and takes the lock it needs. Errors, each naming the
// directory: InvalidArgument (field "data-dir") when it does not exist and may not be created,
// or is not a directory; NotFound when a reading or modifying command finds no database in it;
// Conflict when the lock is held, naming the holder's command and pid. A directory this
// creates is mode 0700.
Result<std::unique_ptr<DataDirLock>> ClaimDataDir(const ServerConfig& config,
                                                  const DataDirClaim& claim);

// The store of a data directory for a command that works on it offline, without a Service
// (audit verify of a data directory, kit seal-master, unsealing from shares, the ssh CA
// commands): claims the directory (ClaimDataDir: a reader never creates anything, a writer
// holds the lock), then opens its store. The CLI opens a store only through this or Service.
struct OfflineStore {
  std::unique_ptr<DataDirLock> lock;
  std::unique_ptr<store::Store> store;
  OfflineStore();
  ~OfflineStore();
  OfflineStore(OfflineStore&&) noexcept;
  OfflineStore& operator=(OfflineStore&&) noexcept;
};
Result<OfflineStore> OpenOfflineStore(const ServerConfig& config, const DataDirClaim& claim);

}  // namespace bg::service
