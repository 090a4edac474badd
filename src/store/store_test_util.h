// For the store backends' own tests: rows written the way an older schema left them.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "store/store.h"

namespace bg::store::store_test {

// One active request and one active drill request ("req_real", "req_drill"), to be stored and
// then taken back to schema version 10 (before requests said whether they are a drill's).
inline WriteBatch RealAndDrillRequests() {
  WriteBatch b;
  core::Request real, drill;
  real.id = RequestId("req_real");
  drill.id = RequestId("req_drill");
  drill.drill_id = "drill-7";
  for (core::Request* r : {&real, &drill}) {
    r->requester = "alice";
    r->state = core::RequestState::kActive;
    b.requests.push_back({*r, 0});
  }
  return b;
}

// After migration 11: the two requests of RealAndDrillRequests() are counted apart.
inline void ExpectRealAndDrillCountedApart(Store& s) {
  auto real = s.CountRequestsByState(false), drills = s.CountRequestsByState(true);
  ASSERT_TRUE(real.has_value() && drills.has_value());
  std::map<std::string, int64_t> r(real->begin(), real->end()), d(drills->begin(), drills->end());
  EXPECT_EQ(r["active"], 1);
  EXPECT_EQ(d["active"], 1);
}

}  // namespace bg::store::store_test
