#include "service/request_cache.h"

namespace bg::service {

std::shared_ptr<const core::Request> RequestCache::Get(const RequestId& id, int64_t now_us) const {
  std::lock_guard lock(mu_);
  auto it = items_.find(id.value());
  if (it == items_.end() || now_us - it->second.at >= ttl_) return nullptr;
  return it->second.request;
}

std::shared_ptr<const core::Request> RequestCache::Put(core::Request r, int64_t now_us) {
  auto shared = std::make_shared<const core::Request>(std::move(r));
  const std::string& id = shared->id.value();
  std::lock_guard lock(mu_);
  auto it = items_.find(id);
  if (it != items_.end()) {
    if (it->second.request->version <= shared->version) it->second = Entry{shared, now_us};
    return shared;
  }
  if (items_.size() >= max_) items_.clear();  // simple bound; refills from the store
  items_.emplace(id, Entry{shared, now_us});
  return shared;
}

}  // namespace bg::service
