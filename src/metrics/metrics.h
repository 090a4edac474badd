// A small Prometheus registry: counters, gauges, histograms with fixed buckets, each a family
// with an optional list of label names, plus gauges evaluated by a callback at render time.
// Registry::Render() writes the text exposition format 0.0.4.
//
// Thread-safety: every method of every type here may be called from any thread. Updates to
// an existing series are lock-free (atomics); the first update of a new label combination
// takes the family's mutex once. Metric objects are owned by their Registry and live as
// long as it does, so the pointers Add* return may be kept.
//
// Label values are passed in the order of the family's label names. Passing the wrong
// number of values is a programming error: it asserts in debug builds and the update is
// dropped in release builds.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.h"

namespace bg::metrics {

using LabelValues = std::vector<std::string>;

// One sample of a callback gauge: label values (one per label name) and the value.
struct Sample {
  LabelValues labels;
  double value = 0;
};

// Default buckets for latencies in seconds (the Prometheus client defaults).
const std::vector<double>& DefaultLatencyBuckets();

// The common part of every metric family.
class Family {
 public:
  virtual ~Family() = default;
  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  // Appends this family's # HELP, # TYPE and sample lines to `out`.
  virtual void Render(std::string& out) const = 0;

 protected:
  Family(std::string name, std::string help, std::vector<std::string> label_names)
      : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)) {}
  bool LabelsMatch(const LabelValues& values) const;

 private:
  std::string name_;
  std::string help_;
  std::vector<std::string> label_names_;
};

class Counter;
class Histogram;

// One series of a counter (one label combination), found once: Inc takes no lock and looks
// nothing up. Valid as long as its counter (series are never removed). Default: counts nothing.
class CounterSeries {
 public:
  CounterSeries() = default;
  void Inc(double amount = 1.0) const;
  explicit operator bool() const { return value_ != nullptr; }

 private:
  friend class Counter;
  explicit CounterSeries(std::atomic<double>* value) : value_(value) {}
  std::atomic<double>* value_ = nullptr;
};

// One series of a histogram, the same way.
class HistogramSeries {
 public:
  HistogramSeries() = default;
  void Observe(double value) const;
  explicit operator bool() const { return series_ != nullptr; }

 private:
  friend class Histogram;
  struct Data;
  HistogramSeries(const Histogram* histogram, Data* series)
      : histogram_(histogram), series_(series) {}
  const Histogram* histogram_ = nullptr;
  Data* series_ = nullptr;
};

struct HistogramSeries::Data {
  explicit Data(size_t buckets) : counts(buckets + 1) {}
  std::vector<std::atomic<uint64_t>> counts;  // Per bucket, not cumulative; last is +Inf.
  std::atomic<double> sum{0};
};

// Series handles by a key the caller numbers, for a hot path whose label values come from sets
// it can number (route × method × status): a lookup takes no lock and allocates nothing. Holds
// at most kSlots keys; past that Find makes nothing and returns an empty handle, and the caller
// takes the labelled path. Thread-safe.
template <typename Handle>
class SeriesTable {
 public:
  static constexpr size_t kSlots = 4096;
  // The handle stored for `key`, or the one `make()` returns, stored for the next time.
  template <typename Make>
  Handle Find(uint64_t key, Make&& make) {
    const size_t start = static_cast<size_t>((key * 0x9E3779B97F4A7C15ULL) >> 52);  // 12 bits
    for (size_t n = 0; n < kSlots; ++n) {
      Slot& slot = slots_[(start + n) % kSlots];
      const uint64_t stored = slot.key.load(std::memory_order_acquire);
      if (stored == key + 1) return slot.handle;
      if (stored != 0) continue;
      // An empty slot: the key is not in the table. Add it under the lock (another thread
      // may be adding it, or another key, at this very slot).
      std::lock_guard lock(mu_);
      for (; n < kSlots; ++n) {
        Slot& free = slots_[(start + n) % kSlots];
        const uint64_t now = free.key.load(std::memory_order_relaxed);
        if (now == key + 1) return free.handle;
        if (now != 0) continue;
        free.handle = make();
        free.key.store(key + 1, std::memory_order_release);  // publishes the handle
        return free.handle;
      }
      break;
    }
    return Handle();
  }

 private:
  struct Slot {
    std::atomic<uint64_t> key{0};  // key + 1; 0: empty
    Handle handle;                 // written once, before key
  };
  std::array<Slot, kSlots> slots_;
  std::mutex mu_;
};

// A monotonically increasing value per label combination.
class Counter final : public Family {
 public:
  Counter(std::string name, std::string help, std::vector<std::string> label_names)
      : Family(std::move(name), std::move(help), std::move(label_names)) {}
  // Adds `amount` (negative amounts are ignored: a counter never goes down).
  void Inc(const LabelValues& labels = {}, double amount = 1.0);
  // The series of `labels`, created at zero if new. Labels that do not fit the family are a
  // bug: an assertion in debug builds, an empty handle otherwise (as Inc ignores them).
  CounterSeries For(const LabelValues& labels);
  double Value(const LabelValues& labels = {}) const;
  void Render(std::string& out) const override;

 private:
  std::atomic<double>* Series(const LabelValues& labels);
  mutable std::mutex mu_;
  std::map<LabelValues, std::unique_ptr<std::atomic<double>>> series_;
};

// A value that may go up and down, set by the program.
class Gauge final : public Family {
 public:
  Gauge(std::string name, std::string help, std::vector<std::string> label_names)
      : Family(std::move(name), std::move(help), std::move(label_names)) {}
  void Set(double value, const LabelValues& labels = {});
  void Add(double delta, const LabelValues& labels = {});
  double Value(const LabelValues& labels = {}) const;
  void Render(std::string& out) const override;

 private:
  std::atomic<double>* Series(const LabelValues& labels);
  mutable std::mutex mu_;
  std::map<LabelValues, std::unique_ptr<std::atomic<double>>> series_;
};

// A gauge whose samples come from a function called at every Render() (e.g. "grants
// active", read from the store). The function runs on the rendering thread and must not
// call back into the Registry.
class CallbackGauge final : public Family {
 public:
  CallbackGauge(std::string name, std::string help, std::vector<std::string> label_names,
                std::function<std::vector<Sample>()> callback)
      : Family(std::move(name), std::move(help), std::move(label_names)),
        callback_(std::move(callback)) {}
  void Render(std::string& out) const override;

 private:
  std::function<std::vector<Sample>()> callback_;
};

// Observations counted into fixed buckets (upper bounds, strictly increasing, +Inf implied).
class Histogram final : public Family {
 public:
  Histogram(std::string name, std::string help, std::vector<std::string> label_names,
            std::vector<double> bounds)
      : Family(std::move(name), std::move(help), std::move(label_names)),
        bounds_(std::move(bounds)) {}
  void Observe(double value, const LabelValues& labels = {});
  // The series of `labels`, created empty if new; labels that do not fit: as Counter::For.
  HistogramSeries For(const LabelValues& labels);
  // Number of observations and their sum for one label combination (0, 0 if none).
  uint64_t Count(const LabelValues& labels = {}) const;
  double Sum(const LabelValues& labels = {}) const;
  const std::vector<double>& bounds() const { return bounds_; }
  void Render(std::string& out) const override;

 private:
  friend class HistogramSeries;
  using Series = HistogramSeries::Data;
  void Observe(double value, Series& series) const;
  Series* FindOrAdd(const LabelValues& labels);
  const Series* Find(const LabelValues& labels) const;

  std::vector<double> bounds_;
  mutable std::mutex mu_;
  std::map<LabelValues, std::unique_ptr<Series>> series_;
};

// Owns metric families and renders them, sorted by name.
class Registry {
 public:
  // Each Add* refuses (InvalidArgument, field "name" or "labels") a name that is not a valid
  // Prometheus metric name, a name already registered, an invalid or duplicated label name,
  // and for histograms bounds that are empty, not finite or not strictly increasing.
  Result<Counter*> AddCounter(std::string name, std::string help,
                              std::vector<std::string> label_names = {});
  Result<Gauge*> AddGauge(std::string name, std::string help,
                          std::vector<std::string> label_names = {});
  Result<Histogram*> AddHistogram(std::string name, std::string help, std::vector<double> bounds,
                                  std::vector<std::string> label_names = {});
  // A gauge without labels whose value is `callback()` at render time.
  Result<CallbackGauge*> AddGaugeCallback(std::string name, std::string help,
                                          std::function<double()> callback);
  // A gauge with labels whose samples are `callback()` at render time; samples whose label
  // count does not match `label_names` are skipped.
  Result<CallbackGauge*> AddGaugeCallback(std::string name, std::string help,
                                          std::vector<std::string> label_names,
                                          std::function<std::vector<Sample>()> callback);

  // The whole registry in Prometheus text format 0.0.4 (Content-Type: kContentType).
  std::string Render() const;
  static constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

 private:
  Status Validate(const std::string& name, const std::vector<std::string>& label_names,
                  bool histogram) const;
  template <typename T>
  T* Insert(std::unique_ptr<T> family);

  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Family>> families_;
};

// Exposed for tests: the value formatting and escaping Render() uses.
namespace internal {
std::string FormatValue(double value);
std::string EscapeLabelValue(std::string_view value);
std::string EscapeHelp(std::string_view help);
}  // namespace internal

}  // namespace bg::metrics
