// A short-lived cache of bearer tokens and accounts for Service::Authenticate, so the hot path
// of every authenticated call does not read SQLite twice. Entries live `ttl` (default 1 s):
// changes made by this process invalidate at once; changes by another process (a `breakglass
// user disable` beside the server) take effect within the ttl. Thread-safe.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "store/store.h"
#include "util/time.h"

namespace bg::service {

class AuthCache {
 public:
  explicit AuthCache(int64_t ttl_micros = 1'000'000, size_t max_entries = 50'000)
      : ttl_(ttl_micros), max_(max_entries) {}

  // Null when absent or expired. Shared, not copied: a lookup on every authenticated call
  // should not copy an account's password hash, TOTP seed and passkeys around.
  std::shared_ptr<const store::TokenRecord> Token(const std::string& hash, int64_t now_us);
  // Put: caches the record and returns it as Token/User would.
  std::shared_ptr<const store::TokenRecord> PutToken(store::TokenRecord t, int64_t now_us);
  std::shared_ptr<const store::UserRecord> User(const std::string& name, int64_t now_us);
  std::shared_ptr<const store::UserRecord> PutUser(store::UserRecord u, int64_t now_us);
  void ForgetToken(const std::string& hash);
  void ForgetUser(const std::string& name);

 private:
  template <typename T>
  struct Entry {
    std::shared_ptr<const T> value;
    int64_t at;
  };
  std::mutex mu_;
  int64_t ttl_;
  size_t max_;
  std::unordered_map<std::string, Entry<store::TokenRecord>> tokens_;
  std::unordered_map<std::string, Entry<store::UserRecord>> users_;
};

// Forgets one cached entry when it goes out of scope, i.e. after the write that changed it has
// committed, so that no concurrent lookup can re-cache the old record.
class ForgetOnExit {
 public:
  enum class Kind { kUser, kToken };
  ForgetOnExit(AuthCache& cache, Kind kind, std::string key)
      : cache_(cache), kind_(kind), key_(std::move(key)) {}
  ~ForgetOnExit() {
    if (kind_ == Kind::kUser) {
      cache_.ForgetUser(key_);
    } else {
      cache_.ForgetToken(key_);
    }
  }
  ForgetOnExit(const ForgetOnExit&) = delete;
  ForgetOnExit& operator=(const ForgetOnExit&) = delete;

 private:
  AuthCache& cache_;
  Kind kind_;
  std::string key_;
};

}  // namespace bg::service
