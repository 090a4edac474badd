// A Clock for tests: time moves only when the test says so. Thread-safe.
#pragma once

#include <atomic>

#include "util/time.h"

namespace bg::testing {

class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t unix_seconds = 1'795'000'000) : micros_(unix_seconds * 1'000'000) {}
  Timestamp Now() const override { return FromUnixSeconds(micros_.load() / 1'000'000); }
  int64_t NowMicros() const override { return micros_.load(); }
  void Advance(Seconds d) { micros_ += d.count() * 1'000'000; }
  void Set(Timestamp t) { micros_ = ToUnixSeconds(t) * 1'000'000; }

 private:
  std::atomic<int64_t> micros_;
};

}  // namespace bg::testing
