#include "metrics/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <memory>
#include <thread>

namespace bg::metrics {
namespace {

TEST(MetricsTest, CounterWithoutLabelsRendersZeroBeforeFirstIncrement) {
  Registry registry;
  ASSERT_TRUE(registry.AddCounter("bg_logins_total", "Login attempts.").has_value());
  EXPECT_EQ(registry.Render(),
            "# HELP bg_logins_total Login attempts.\n"
            "# TYPE bg_logins_total counter\n"
            "bg_logins_total 0\n");
}

TEST(MetricsTest, CounterWithLabelsRendersOneLinePerSeriesSorted) {
  Registry registry;
  auto counter =
      registry.AddCounter("http_requests_total", "HTTP requests.", {"method", "route", "status"});
  ASSERT_TRUE(counter.has_value());
  (*counter)->Inc({"POST", "/v1/requests", "201"});
  (*counter)->Inc({"GET", "/v1/requests/{id}", "200"}, 2);
  (*counter)->Inc({"GET", "/v1/requests/{id}", "200"});
  (*counter)->Inc({"GET", "/v1/requests/{id}", "200"}, -5);  // Ignored: counters only go up.
  EXPECT_EQ((*counter)->Value({"GET", "/v1/requests/{id}", "200"}), 3);
  EXPECT_EQ(registry.Render(),
            "# HELP http_requests_total HTTP requests.\n"
            "# TYPE http_requests_total counter\n"
            "http_requests_total{method=\"GET\",route=\"/v1/requests/{id}\",status=\"200\"} 3\n"
            "http_requests_total{method=\"POST\",route=\"/v1/requests\",status=\"201\"} 1\n");
}

TEST(MetricsTest, LabelFamilyWithoutSeriesRendersOnlyHelpAndType) {
  Registry registry;
  ASSERT_TRUE(registry.AddGauge("bg_queue", "Queue depth.", {"queue"}).has_value());
  EXPECT_EQ(registry.Render(),
            "# HELP bg_queue Queue depth.\n"
            "# TYPE bg_queue gauge\n");
}

TEST(MetricsTest, GaugeSetsAndAdds) {
  Registry registry;
  auto gauge = registry.AddGauge("bg_sessions", "Open sessions.");
  ASSERT_TRUE(gauge.has_value());
  (*gauge)->Set(5);
  (*gauge)->Add(-2);
  (*gauge)->Add(0.5);
  EXPECT_EQ((*gauge)->Value(), 3.5);
  EXPECT_EQ(registry.Render(),
            "# HELP bg_sessions Open sessions.\n"
            "# TYPE bg_sessions gauge\n"
            "bg_sessions 3.5\n");
}

TEST(MetricsTest, HistogramBucketsAreCumulativeWithInfSumAndCount) {
  Registry registry;
  auto histogram = registry.AddHistogram("bg_expiry_lag_seconds", "Expiry lag.", {0.1, 0.5, 1});
  ASSERT_TRUE(histogram.has_value());
  for (double v : {0.05, 0.1, 0.3, 0.7, 2.0}) (*histogram)->Observe(v);
  EXPECT_EQ((*histogram)->Count(), 5u);
  EXPECT_DOUBLE_EQ((*histogram)->Sum(), 3.15);
  EXPECT_EQ(registry.Render(),
            "# HELP bg_expiry_lag_seconds Expiry lag.\n"
            "# TYPE bg_expiry_lag_seconds histogram\n"
            "bg_expiry_lag_seconds_bucket{le=\"0.1\"} 2\n"
            "bg_expiry_lag_seconds_bucket{le=\"0.5\"} 3\n"
            "bg_expiry_lag_seconds_bucket{le=\"1\"} 4\n"
            "bg_expiry_lag_seconds_bucket{le=\"+Inf\"} 5\n"
            "bg_expiry_lag_seconds_sum 3.15\n"
            "bg_expiry_lag_seconds_count 5\n");
}

TEST(MetricsTest, EmptyHistogramWithoutLabelsRendersZeros) {
  Registry registry;
  ASSERT_TRUE(registry.AddHistogram("bg_h", "H.", {1}).has_value());
  EXPECT_EQ(registry.Render(),
            "# HELP bg_h H.\n"
            "# TYPE bg_h histogram\n"
            "bg_h_bucket{le=\"1\"} 0\n"
            "bg_h_bucket{le=\"+Inf\"} 0\n"
            "bg_h_sum 0\n"
            "bg_h_count 0\n");
}

TEST(MetricsTest, HistogramWithLabelsPutsLeLast) {
  Registry registry;
  auto histogram =
      registry.AddHistogram("http_request_duration_seconds", "Latency.", {0.01}, {"route"});
  ASSERT_TRUE(histogram.has_value());
  (*histogram)->Observe(0.002, {"/healthz"});
  EXPECT_EQ(registry.Render(),
            "# HELP http_request_duration_seconds Latency.\n"
            "# TYPE http_request_duration_seconds histogram\n"
            "http_request_duration_seconds_bucket{route=\"/healthz\",le=\"0.01\"} 1\n"
            "http_request_duration_seconds_bucket{route=\"/healthz\",le=\"+Inf\"} 1\n"
            "http_request_duration_seconds_sum{route=\"/healthz\"} 0.002\n"
            "http_request_duration_seconds_count{route=\"/healthz\"} 1\n");
}

TEST(MetricsTest, ObservationOnABoundFallsInThatBucket) {
  Registry registry;
  auto histogram = registry.AddHistogram("bg_h", "H.", {1, 2});
  ASSERT_TRUE(histogram.has_value());
  (*histogram)->Observe(1);
  (*histogram)->Observe(std::numeric_limits<double>::infinity());
  (*histogram)->Observe(std::nan(""));  // Ignored.
  EXPECT_NE(registry.Render().find("bg_h_bucket{le=\"1\"} 1\nbg_h_bucket{le=\"2\"} 1\n"
                                   "bg_h_bucket{le=\"+Inf\"} 2\n"),
            std::string::npos);
  EXPECT_EQ((*histogram)->Count(), 2u);
}

TEST(MetricsTest, CallbackGaugesAreEvaluatedAtRenderTime) {
  Registry registry;
  double active = 1;
  ASSERT_TRUE(
      registry.AddGaugeCallback("bg_grants_active", "Active grants.", [&active] { return active; })
          .has_value());
  ASSERT_TRUE(
      registry
          .AddGaugeCallback(
              "bg_requests", "Requests by state.", {"state"},
              [] {
                return std::vector<Sample>{{{"pending"}, 4}, {{"active"}, 2}, {{"too", "many"}, 9}};
              })
          .has_value());
  active = 7;
  EXPECT_EQ(registry.Render(),
            "# HELP bg_grants_active Active grants.\n"
            "# TYPE bg_grants_active gauge\n"
            "bg_grants_active 7\n"
            "# HELP bg_requests Requests by state.\n"
            "# TYPE bg_requests gauge\n"
            "bg_requests{state=\"active\"} 2\n"
            "bg_requests{state=\"pending\"} 4\n");
}

TEST(MetricsTest, LabelValuesAndHelpAreEscaped) {
  Registry registry;
  auto counter = registry.AddCounter("bg_x_total", "Line one\nback\\slash \"quoted\".", {"v"});
  ASSERT_TRUE(counter.has_value());
  (*counter)->Inc({"a\"b\\c\nd"});
  EXPECT_EQ(registry.Render(),
            "# HELP bg_x_total Line one\\nback\\\\slash \"quoted\".\n"
            "# TYPE bg_x_total counter\n"
            "bg_x_total{v=\"a\\\"b\\\\c\\nd\"} 1\n");
}

// 13.26: label values are always valid UTF-8 (a scrape with invalid UTF-8 fails promtool).
TEST(MetricsTest, LabelValuesAreAlwaysValidUtf8) {
  EXPECT_EQ(internal::EscapeLabelValue("/v1/x/\xff"), "/v1/x/\xef\xbf\xbd");
  EXPECT_EQ(internal::EscapeLabelValue("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91"),
            "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91");
  // Truncated, overlong, surrogate and out-of-range sequences.
  EXPECT_EQ(internal::EscapeLabelValue("\xc3"), "\xef\xbf\xbd");
  EXPECT_EQ(internal::EscapeLabelValue("\xc0\xaf"), "\xef\xbf\xbd\xef\xbf\xbd");
  EXPECT_EQ(internal::EscapeLabelValue("\xed\xa0\x80"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
  EXPECT_EQ(internal::EscapeLabelValue("\xf4\x90\x80\x80").size(), 12u);
}

TEST(MetricsTest, ValuesFormatAsPrometheusFloats) {
  struct Case {
    double value;
    const char* text;
  };
  const Case kCases[] = {
      {0, "0"},
      {3, "3"},
      {-2.5, "-2.5"},
      {0.005, "0.005"},
      {1e21, "1e+21"},
      {std::numeric_limits<double>::infinity(), "+Inf"},
      {-std::numeric_limits<double>::infinity(), "-Inf"},
      {std::nan(""), "NaN"},
  };
  for (const auto& c : kCases) EXPECT_EQ(internal::FormatValue(c.value), c.text) << c.text;
}

TEST(MetricsTest, RegistrationRefusesInvalidNamesDuplicatesAndBadBuckets) {
  Registry registry;
  ASSERT_TRUE(registry.AddCounter("ok_total", "ok").has_value());
  auto check = [](const char* what, const Status& status, const char* field) {
    ASSERT_FALSE(status.has_value()) << what;
    EXPECT_EQ(status.error().code(), ErrorCode::kInvalidArgument) << what;
    EXPECT_EQ(status.error().field(), field) << what;
  };
  auto status = [](auto result) -> Status {
    if (!result.has_value()) return result.error();
    return Ok();
  };
  check("duplicate", status(registry.AddGauge("ok_total", "x")), "name");
  check("empty name", status(registry.AddCounter("", "x")), "name");
  check("digit first", status(registry.AddCounter("1abc", "x")), "name");
  check("dash", status(registry.AddCounter("a-b", "x")), "name");
  check("bad label", status(registry.AddCounter("a", "x", {"a b"})), "labels");
  check("reserved label", status(registry.AddCounter("b", "x", {"__name"})), "labels");
  check("duplicate label", status(registry.AddCounter("c", "x", {"l", "l"})), "labels");
  check("le on histogram", status(registry.AddHistogram("d", "x", {1}, {"le"})), "labels");
  check("no buckets", status(registry.AddHistogram("e", "x", {})), "bounds");
  check("unsorted", status(registry.AddHistogram("f", "x", {2, 1})), "bounds");
  check("repeated bound", status(registry.AddHistogram("g", "x", {1, 1})), "bounds");
  check("infinite bound",
        status(registry.AddHistogram("h", "x", {1, std::numeric_limits<double>::infinity()})),
        "bounds");
  EXPECT_TRUE(registry.AddGauge("colon:name_1", "x").has_value());
}

TEST(MetricsTest, ConcurrentUpdatesAreAllCounted) {
  Registry registry;
  auto counter = registry.AddCounter("bg_c_total", "c", {"k"});
  auto histogram = registry.AddHistogram("bg_h", "h", {0.5}, {"k"});
  ASSERT_TRUE(counter.has_value() && histogram.has_value());
  constexpr int kThreads = 4;
  constexpr int kPerThread = 10000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        (*counter)->Inc({i % 2 == 0 ? "even" : "odd"});
        (*histogram)->Observe(t % 2 == 0 ? 0.25 : 1.0, {"x"});
        if (i % 1000 == 0) (void)registry.Render();
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ((*counter)->Value({"even"}) + (*counter)->Value({"odd"}), kThreads * kPerThread);
  EXPECT_EQ((*histogram)->Count({"x"}), static_cast<uint64_t>(kThreads * kPerThread));
  EXPECT_DOUBLE_EQ((*histogram)->Sum({"x"}), 2 * kPerThread * 0.25 + 2 * kPerThread * 1.0);
}

TEST(MetricsTest, SeriesHandlesCountIntoTheirLabelledSeries) {
  Registry registry;
  auto counter = registry.AddCounter("bg_c_total", "c", {"k"});
  auto histogram = registry.AddHistogram("bg_h", "h", {0.5}, {"k"});
  ASSERT_TRUE(counter.has_value() && histogram.has_value());
  CounterSeries a = (*counter)->For({"a"});
  HistogramSeries x = (*histogram)->For({"x"});
  ASSERT_TRUE(a && x);
  a.Inc();
  a.Inc(2);
  a.Inc(-1);  // a counter never goes down
  (*counter)->Inc({"a"});
  x.Observe(0.25);
  x.Observe(std::nan(""));  // ignored, as Observe with labels ignores it
  (*histogram)->Observe(1.0, {"x"});
  EXPECT_EQ((*counter)->Value({"a"}), 4);
  EXPECT_EQ((*histogram)->Count({"x"}), 2u);
  EXPECT_DOUBLE_EQ((*histogram)->Sum({"x"}), 1.25);
  // A default handle counts nothing.
  CounterSeries none;
  EXPECT_FALSE(none);
  none.Inc();
  EXPECT_EQ((*counter)->Value({"a"}), 4);
}

TEST(MetricsTest, ASeriesTableMakesEachKeysHandleOnceAndRefusesPastItsSize) {
  Registry registry;
  auto counter = registry.AddCounter("bg_t_total", "t", {"k"});
  ASSERT_TRUE(counter.has_value());
  auto table = std::make_unique<SeriesTable<CounterSeries>>();
  int made = 0;
  auto make = [&](uint64_t key) {
    return [&, key] {
      ++made;
      return (*counter)->For({std::to_string(key)});
    };
  };
  for (int round = 0; round < 3; ++round) {
    for (uint64_t key = 0; key < 100; ++key) table->Find(key, make(key)).Inc();
  }
  EXPECT_EQ(made, 100);
  EXPECT_EQ((*counter)->Value({"7"}), 3);
  // Full: a new key gets an empty handle (the caller then counts by labels).
  for (uint64_t key = 100; key < SeriesTable<CounterSeries>::kSlots; ++key) {
    EXPECT_TRUE(table->Find(key, make(key)));
  }
  EXPECT_FALSE(table->Find(SeriesTable<CounterSeries>::kSlots, make(0)));
  EXPECT_TRUE(table->Find(5, make(5)));
}

TEST(MetricsTest, ASeriesTableFilledFromManyThreadsHoldsOneHandlePerKey) {
  Registry registry;
  auto counter = registry.AddCounter("bg_u_total", "u", {"k"});
  ASSERT_TRUE(counter.has_value());
  auto table = std::make_unique<SeriesTable<CounterSeries>>();
  std::atomic<int> made{0};
  constexpr int kThreads = 4;
  constexpr int kKeys = 300;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int round = 0; round < 10; ++round) {
        for (uint64_t key = 0; key < kKeys; ++key) {
          table
              ->Find(key,
                     [&, key] {
                       ++made;
                       return (*counter)->For({std::to_string(key)});
                     })
              .Inc();
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(made.load(), kKeys);
  for (uint64_t key = 0; key < kKeys; ++key) {
    EXPECT_EQ((*counter)->Value({std::to_string(key)}), kThreads * 10);
  }
}

}  // namespace
}  // namespace bg::metrics
