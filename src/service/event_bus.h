// The service's event bus: what changed, for whoever listens in this process. Two streams:
//   - state events (a request changed, an alert was raised), published after the commit that
//     made them; the API's /v1/events streams subscribe here;
//   - audit leaves, in log order (SubscribeAudit), which the notification sinks follow.
// Publishing never waits for a subscriber to be added or removed; subscribers must not block.
// Thread-safe; audit subscribers are added before the service starts.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "core/request.h"

namespace bg::service {

// A change a subscriber may see (SSE).
struct StateEvent {
  std::string type;  // "request", "alert" or "review"
  core::Request request;
  std::string alert_kind;
  std::vector<std::string> recipients;
  std::string message;
  // "review": the review that opened or changed, and its state ("open", "done").
  std::string review_id = {};
  std::string review_state = {};
};

class EventBus {
 public:
  using Subscriber = std::function<void(const StateEvent&)>;
  using AuditSubscriber = std::function<void(int64_t index, const std::string& leaf)>;

  uint64_t Subscribe(Subscriber s);
  void Unsubscribe(uint64_t id);
  // Calls every subscriber (outside the lock, so one may unsubscribe itself).
  void Publish(const StateEvent& e) const;

  // Not thread-safe with PublishLeaf: add them before the leaves start to flow.
  void SubscribeAudit(AuditSubscriber s);
  void PublishLeaf(int64_t index, const std::string& leaf) const;

  size_t subscribers() const;

 private:
  mutable std::mutex mu_;
  std::map<uint64_t, Subscriber> subs_;
  uint64_t next_ = 1;
  std::vector<AuditSubscriber> audit_subs_;
};

}  // namespace bg::service
