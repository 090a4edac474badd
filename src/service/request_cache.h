// Recently read or written requests, so a hot authenticated read does not go to SQLite and
// decode JSON each time. Every request write goes through this process's writer, which puts
// the committed version here; reads fill it. An entry is replaced only by a newer version, so
// a read racing a commit cannot put an old version back. Bounded; thread-safe.
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "core/request.h"

namespace bg::service {

class RequestCache {
 public:
  explicit RequestCache(size_t max_entries = 20'000) : max_(max_entries) {}
  std::optional<core::Request> Get(const RequestId& id) const;
  void Put(const core::Request& r);

 private:
  mutable std::mutex mu_;
  size_t max_;
  std::unordered_map<std::string, core::Request> items_;
};

}  // namespace bg::service
