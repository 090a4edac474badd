#include "service/request_cache.h"

namespace bg::service {

std::shared_ptr<const core::Request> RequestCache::Get(const RequestId& id, int64_t now_us) const {
  std::lock_guard lock(mu_);
  auto it = items_.find(id.value());
  if (it == items_.end() || now_us - it->second.at >= ttl_) return nullptr;
  return it->second.request;
}

void RequestCache::Put(const core::Request& r, int64_t now_us) {
  auto shared = std::make_shared<const core::Request>(r);
  std::lock_guard lock(mu_);
  auto it = items_.find(r.id.value());
  if (it != items_.end()) {
    if (it->second.request->version <= r.version) it->second = Entry{std::move(shared), now_us};
    return;
  }
  if (items_.size() >= max_) items_.clear();  // simple bound; refills from the store
  items_.emplace(r.id.value(), Entry{std::move(shared), now_us});
}

}  // namespace bg::service
