#include "notify/sink_runner.h"

#include <gtest/gtest.h>

#include <map>
#include <mutex>

namespace bg::notify {
namespace {

using namespace std::chrono_literals;
using Clock = SinkRunner::Clock;

class FakeLog final : public SinkLog {
 public:
  void Append(std::string leaf) {
    std::lock_guard lock(mu_);
    leaves_.push_back(std::move(leaf));
  }
  Result<int64_t> Size() override {
    std::lock_guard lock(mu_);
    return static_cast<int64_t>(leaves_.size());
  }
  Result<std::vector<std::string>> Leaves(int64_t start, int64_t end) override {
    std::lock_guard lock(mu_);
    ++reads;
    end = std::min<int64_t>(end, static_cast<int64_t>(leaves_.size()));
    return std::vector<std::string>(leaves_.begin() + start, leaves_.begin() + end);
  }
  Result<std::optional<int64_t>> LoadCursor(const std::string& sink) override {
    std::lock_guard lock(mu_);
    auto it = cursors.find(sink);
    if (it == cursors.end()) return std::optional<int64_t>();
    return std::optional<int64_t>(it->second);
  }
  Status SaveCursor(const std::string& sink, int64_t next) override {
    std::lock_guard lock(mu_);
    cursors[sink] = next;
    return Ok();
  }
  std::map<std::string, int64_t> cursors;
  int reads = 0;

 private:
  std::mutex mu_;
  std::vector<std::string> leaves_;
};

// Records what it was given; refuses while `down` calls remain.
class FakeSink final : public Sink {
 public:
  struct Seen {
    std::mutex mu;
    std::vector<std::pair<int64_t, std::string>> delivered;
    int attempts = 0;
    int down = 0;
  };
  explicit FakeSink(Seen& seen) : seen_(seen) {}
  std::string Describe() const override { return "fake://"; }
  Status Deliver(int64_t index, std::string_view leaf) override {
    std::lock_guard lock(seen_.mu);
    ++seen_.attempts;
    if (seen_.down > 0) {
      --seen_.down;
      return Error::Unavailable("receiver down");
    }
    seen_.delivered.emplace_back(index, std::string(leaf));
    return Ok();
  }

 private:
  Seen& seen_;
};

std::vector<int64_t> Indices(FakeSink::Seen& seen) {
  std::lock_guard lock(seen.mu);
  std::vector<int64_t> out;
  for (const auto& [i, leaf] : seen.delivered) out.push_back(i);
  return out;
}

TEST(SinkRunner, ANewSinkStartsAtTheEndOfTheLogThenGetsEachNewEventInOrder) {
  FakeLog log;
  for (int i = 0; i < 3; ++i) log.Append("old" + std::to_string(i));
  FakeSink::Seen seen;
  SinkRunner runner("siem", std::make_unique<FakeSink>(seen), log);
  const auto t0 = Clock::now();
  EXPECT_EQ(*runner.Step(t0), 0);
  EXPECT_EQ(log.cursors["siem"], 3);  // the history is not sent
  log.Append("a");
  log.Append("b");
  EXPECT_EQ(*runner.Step(t0), 2);
  EXPECT_EQ(Indices(seen), (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(seen.delivered[1].second, "b");
  EXPECT_EQ(log.cursors["siem"], 5);
  EXPECT_EQ(*runner.Step(t0), 0);  // nothing new, nothing sent twice
  EXPECT_EQ(runner.stats().delivered, 2u);
  EXPECT_EQ(runner.stats().backlog, 0);
}

TEST(SinkRunner, ASinkThatIsDownGetsEveryEventInOrderAfterBackoffWhenItReturns) {
  FakeLog log;
  FakeSink::Seen seen;
  std::vector<std::string> alerts;  // each time it becomes failing
  SinkRunner runner("hook", std::make_unique<FakeSink>(seen), log,
                    SinkRetry{1000ms, 4000ms, 3, nullptr,
                              [&](const std::string& error) { alerts.push_back(error); }});
  const auto t0 = Clock::now();
  ASSERT_EQ(*runner.Step(t0), 0);
  for (int i = 0; i < 5; ++i) log.Append("e" + std::to_string(i));
  seen.down = 4;
  // Failures at t0, t0+1s, t0+3s, t0+7s (waits 1, 2, 4, then 4 s: capped).
  EXPECT_EQ(*runner.Step(t0), 0);
  EXPECT_EQ(seen.attempts, 1);  // stopped at the first event: later ones never overtake it
  EXPECT_EQ(*runner.Step(t0 + 999ms), 0);
  EXPECT_EQ(seen.attempts, 1);  // still backing off
  EXPECT_EQ(*runner.Step(t0 + 1s), 0);
  EXPECT_EQ(*runner.Step(t0 + 2999ms), 0);
  EXPECT_EQ(seen.attempts, 2);
  EXPECT_EQ(*runner.Step(t0 + 3s), 0);
  EXPECT_TRUE(runner.stats().failing);  // three in a row
  EXPECT_EQ(alerts, (std::vector<std::string>{"receiver down"}));
  EXPECT_EQ(runner.stats().backlog, 5);
  EXPECT_EQ(runner.stats().last_error, "receiver down");
  EXPECT_EQ(*runner.Step(t0 + 7s), 0);
  EXPECT_EQ(*runner.Step(t0 + 10999ms), 0);  // the wait stays at the 4 s cap
  EXPECT_EQ(seen.attempts, 4);
  EXPECT_EQ(*runner.Step(t0 + 11s), 5);
  EXPECT_EQ(Indices(seen), (std::vector<int64_t>{0, 1, 2, 3, 4}));
  EXPECT_FALSE(runner.stats().failing);
  EXPECT_EQ(runner.stats().failures, 4u);
  EXPECT_EQ(alerts.size(), 1u);  // once per outage, not once per failed attempt
  EXPECT_EQ(log.cursors["hook"], 5);
}

TEST(SinkRunner, AFailureMidPageSavesTheCursorAtTheFailedEvent) {
  class FailOnce final : public Sink {
   public:
    std::string Describe() const override { return "x"; }
    Status Deliver(int64_t index, std::string_view) override {
      if (index == 5 && !failed_) {
        failed_ = true;
        return Error::Unavailable("once");
      }
      got.push_back(index);
      return Ok();
    }
    bool failed_ = false;
    std::vector<int64_t> got;
  };
  FakeLog log;
  for (int i = 0; i < 7; ++i) log.Append("e");
  log.cursors["t"] = 4;  // as a restarted runner finds it
  auto owned = std::make_unique<FailOnce>();
  FailOnce* sink = owned.get();
  SinkRunner runner("t", std::move(owned), log);
  const auto t0 = Clock::now();
  EXPECT_EQ(*runner.Step(t0), 1);     // 4 goes, 5 fails
  EXPECT_EQ(log.cursors["t"], 5);     // saved where it stopped
  EXPECT_EQ(*runner.Step(t0 + 1s), 2);  // 5 and 6 after the backoff
  EXPECT_EQ(sink->got, (std::vector<int64_t>{4, 5, 6}));
  EXPECT_EQ(log.cursors["t"], 7);
}

TEST(SinkRunner, ARestartedRunnerResumesFromTheSavedCursor) {
  FakeLog log;
  FakeSink::Seen seen;
  const auto t0 = Clock::now();
  {
    SinkRunner first("siem", std::make_unique<FakeSink>(seen), log);
    ASSERT_EQ(*first.Step(t0), 0);
    log.Append("a");
    ASSERT_EQ(*first.Step(t0), 1);
  }
  log.Append("b");  // while the server was down (another process appended)
  log.Append("c");
  SinkRunner second("siem", std::make_unique<FakeSink>(seen), log);
  EXPECT_EQ(*second.Step(t0), 2);
  EXPECT_EQ(Indices(seen), (std::vector<int64_t>{0, 1, 2}));
}

TEST(SinkRunner, ItsThreadDeliversWhatIsAppendedAndStopDeliversTheRest) {
  FakeLog log;
  FakeSink::Seen seen;
  SinkRunner runner("live", std::make_unique<FakeSink>(seen), log);
  log.cursors["live"] = 0;
  runner.Start();
  log.Append("one");
  runner.Wake();
  for (int i = 0; i < 600 && Indices(seen).size() < 1; ++i) std::this_thread::sleep_for(50ms);
  EXPECT_EQ(Indices(seen), (std::vector<int64_t>{0}));
  log.Append("two");
  runner.Stop();  // the last attempt on stop sends it, woken or not
  EXPECT_EQ(Indices(seen), (std::vector<int64_t>{0, 1}));
}

}  // namespace
}  // namespace bg::notify
