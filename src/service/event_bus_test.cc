#include "service/event_bus.h"

#include <gtest/gtest.h>

namespace bg::service {
namespace {

StateEvent Event(std::string type) {
  StateEvent e;
  e.type = std::move(type);
  return e;
}

TEST(EventBus, EverySubscriberSeesEachEventUntilItUnsubscribes) {
  EventBus bus;
  std::vector<std::string> a, b;
  const uint64_t ida = bus.Subscribe([&a](const StateEvent& e) { a.push_back(e.type); });
  const uint64_t idb = bus.Subscribe([&b](const StateEvent& e) { b.push_back(e.type); });
  EXPECT_NE(ida, idb);
  bus.Publish(Event("request"));
  bus.Unsubscribe(ida);
  bus.Publish(Event("alert"));
  EXPECT_EQ(a, (std::vector<std::string>{"request"}));
  EXPECT_EQ(b, (std::vector<std::string>{"request", "alert"}));
  EXPECT_EQ(bus.subscribers(), 1u);
  bus.Unsubscribe(ida);  // twice: harmless
  bus.Unsubscribe(idb);
  EXPECT_EQ(bus.subscribers(), 0u);
}

TEST(EventBus, ASubscriberMayUnsubscribeOrSubscribeFromItsOwnCallback) {
  EventBus bus;
  int calls = 0;
  uint64_t id = 0;
  id = bus.Subscribe([&](const StateEvent&) {
    ++calls;
    bus.Unsubscribe(id);                     // would deadlock if called under the bus's lock
    bus.Subscribe([](const StateEvent&) {});  // likewise
  });
  bus.Publish(Event("request"));
  bus.Publish(Event("request"));
  EXPECT_EQ(calls, 1);
}

TEST(EventBus, AuditLeavesReachEverySubscriberInOrder) {
  EventBus bus;
  std::vector<int64_t> first, second;
  bus.SubscribeAudit([&first](int64_t i, const std::string&) { first.push_back(i); });
  bus.SubscribeAudit([&second](int64_t i, const std::string& leaf) {
    second.push_back(i);
    EXPECT_EQ(leaf, "leaf" + std::to_string(i));
  });
  for (int64_t i = 0; i < 3; ++i) bus.PublishLeaf(i, "leaf" + std::to_string(i));
  EXPECT_EQ(first, (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(second, first);
}

}  // namespace
}  // namespace bg::service
