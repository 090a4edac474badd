#include "service/event_bus.h"

namespace bg::service {

uint64_t EventBus::Subscribe(Subscriber s) {
  std::lock_guard lock(mu_);
  const uint64_t id = next_++;
  subs_[id] = std::move(s);
  return id;
}

void EventBus::Unsubscribe(uint64_t id) {
  std::lock_guard lock(mu_);
  subs_.erase(id);
}

void EventBus::Publish(const StateEvent& e) const {
  std::vector<Subscriber> subs;
  {
    std::lock_guard lock(mu_);
    subs.reserve(subs_.size());
    for (const auto& [id, s] : subs_) subs.push_back(s);
  }
  for (const auto& s : subs) s(e);
}

void EventBus::SubscribeAudit(AuditSubscriber s) { audit_subs_.push_back(std::move(s)); }

void EventBus::PublishLeaf(int64_t index, const std::string& leaf) const {
  for (const auto& s : audit_subs_) s(index, leaf);
}

size_t EventBus::subscribers() const {
  std::lock_guard lock(mu_);
  return subs_.size();
}

}  // namespace bg::service
