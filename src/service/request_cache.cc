#include "service/request_cache.h"

namespace bg::service {

std::optional<core::Request> RequestCache::Get(const RequestId& id) const {
  std::lock_guard lock(mu_);
  auto it = items_.find(id.value());
  if (it == items_.end()) return std::nullopt;
  return it->second;
}

void RequestCache::Put(const core::Request& r) {
  std::lock_guard lock(mu_);
  auto it = items_.find(r.id.value());
  if (it != items_.end()) {
    if (it->second.version <= r.version) it->second = r;
    return;
  }
  if (items_.size() >= max_) items_.clear();  // simple bound; refills from the store
  items_.emplace(r.id.value(), r);
}

}  // namespace bg::service
