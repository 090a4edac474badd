// Recently read or written requests, so a hot authenticated read does not go to SQLite and
// decode JSON each time. This process's writer puts every version it commits here; reads fill
// it. An entry is replaced only by a newer (or the same) version, so a read racing a commit
// cannot put an old version back. An entry is served for `ttl` (default 1 s) after it was put:
// a change another process made to the store (a `breakglass user disable` beside the server
// revoking a grant) is seen within that time. Bounded; thread-safe.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "core/request.h"

namespace bg::service {

class RequestCache {
 public:
  explicit RequestCache(size_t max_entries = 20'000, int64_t ttl_micros = 1'000'000)
      : max_(max_entries), ttl_(ttl_micros) {}
  // Null when absent or older than the ttl. Shared, not copied: the hot read path renders or
  // checks it and copies nothing.
  std::shared_ptr<const core::Request> Get(const RequestId& id, int64_t now_us) const;
  // Caches `r` (unless a newer version is there); returns `r`, shared.
  std::shared_ptr<const core::Request> Put(core::Request r, int64_t now_us);

 private:
  struct Entry {
    std::shared_ptr<const core::Request> request;
    int64_t at;
  };
  mutable std::mutex mu_;
  size_t max_;
  int64_t ttl_;
  std::unordered_map<std::string, Entry> items_;
};

}  // namespace bg::service
