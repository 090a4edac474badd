#include "service/request_cache.h"

namespace bg::service {

std::optional<core::Request> RequestCache::Get(const RequestId& id, int64_t now_us) const {
  std::lock_guard lock(mu_);
  auto it = items_.find(id.value());
  if (it == items_.end() || now_us - it->second.at >= ttl_) return std::nullopt;
  return it->second.request;
}

void RequestCache::Put(const core::Request& r, int64_t now_us) {
  std::lock_guard lock(mu_);
  auto it = items_.find(r.id.value());
  if (it != items_.end()) {
    if (it->second.request.version <= r.version) it->second = Entry{r, now_us};
    return;
  }
  if (items_.size() >= max_) items_.clear();  // simple bound; refills from the store
  items_.emplace(r.id.value(), Entry{r, now_us});
}

}  // namespace bg::service
