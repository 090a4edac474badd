#include "metrics/metrics.h"

#include <fmt/format.h>

#include <cassert>
#include <cmath>
#include <set>

#include "util/utf8.h"

namespace bg::metrics {
namespace {

bool IsNameStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// [a-zA-Z_:][a-zA-Z0-9_:]*
bool ValidMetricName(std::string_view name) {
  if (name.empty() || !(IsNameStart(name[0]) || name[0] == ':')) return false;
  for (char c : name) {
    if (!(IsNameStart(c) || IsDigit(c) || c == ':')) return false;
  }
  return true;
}

// [a-zA-Z_][a-zA-Z0-9_]*, and names starting with "__" are reserved.
bool ValidLabelName(std::string_view name) {
  if (name.empty() || !IsNameStart(name[0]) || name.starts_with("__")) return false;
  for (char c : name) {
    if (!(IsNameStart(c) || IsDigit(c))) return false;
  }
  return true;
}

void AppendLabels(std::string& out, const std::vector<std::string>& names,
                  const LabelValues& values, std::string_view extra_name = {},
                  std::string_view extra_value = {}) {
  if (names.empty() && extra_name.empty()) return;
  out += '{';
  bool first = true;
  for (size_t i = 0; i < names.size(); ++i) {
    if (!first) out += ',';
    first = false;
    out += names[i];
    out += "=\"";
    out += internal::EscapeLabelValue(values[i]);
    out += '"';
  }
  if (!extra_name.empty()) {
    if (!first) out += ',';
    out += extra_name;
    out += "=\"";
    out += extra_value;
    out += '"';
  }
  out += '}';
}

void AppendHeader(std::string& out, const Family& family, std::string_view type) {
  out += "# HELP ";
  out += family.name();
  out += ' ';
  out += internal::EscapeHelp(family.help());
  out += "\n# TYPE ";
  out += family.name();
  out += ' ';
  out += type;
  out += '\n';
}

void AppendSample(std::string& out, std::string_view name, std::string_view suffix,
                  const std::vector<std::string>& label_names, const LabelValues& values,
                  double value) {
  out += name;
  out += suffix;
  AppendLabels(out, label_names, values);
  out += ' ';
  out += internal::FormatValue(value);
  out += '\n';
}

void AtomicAdd(std::atomic<double>& target, double delta) {
  target.fetch_add(delta, std::memory_order_relaxed);
}

}  // namespace

namespace internal {

std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", value);
}

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (size_t i = 0; i < value.size();) {
    // Label values must be UTF-8: a byte that does not start a valid sequence becomes U+FFFD.
    const size_t n = DecodeUtf8(value.substr(i));
    if (n == 0) {
      out += "\xef\xbf\xbd";
      ++i;
      continue;
    }
    if (n > 1) {
      out.append(value.substr(i, n));
      i += n;
      continue;
    }
    const char c = value[i++];
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string EscapeHelp(std::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace internal

const std::vector<double>& DefaultLatencyBuckets() {
  static const std::vector<double> kBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                               0.5,   1,    2.5,   5,    10};
  return kBuckets;
}

bool Family::LabelsMatch(const LabelValues& values) const {
  bool ok = values.size() == label_names_.size();
  assert(ok && "label value count does not match the family's label names");
  return ok;
}

// Counter and Gauge share the series lookup: find under the lock, insert on first use.
namespace {
std::atomic<double>* FindOrAddScalar(
    std::mutex& mu, std::map<LabelValues, std::unique_ptr<std::atomic<double>>>& series,
    const LabelValues& labels) {
  std::lock_guard lock(mu);
  auto& slot = series[labels];
  if (!slot) slot = std::make_unique<std::atomic<double>>(0.0);
  return slot.get();
}

double ReadScalar(std::mutex& mu,
                  const std::map<LabelValues, std::unique_ptr<std::atomic<double>>>& series,
                  const LabelValues& labels) {
  std::lock_guard lock(mu);
  auto it = series.find(labels);
  return it == series.end() ? 0.0 : it->second->load(std::memory_order_relaxed);
}

void RenderScalars(std::string& out, const Family& family, std::string_view type, std::mutex& mu,
                   const std::map<LabelValues, std::unique_ptr<std::atomic<double>>>& series) {
  AppendHeader(out, family, type);
  std::lock_guard lock(mu);
  if (family.label_names().empty() && series.empty()) {
    AppendSample(out, family.name(), "", {}, {}, 0.0);
    return;
  }
  for (const auto& [labels, value] : series) {
    AppendSample(out, family.name(), "", family.label_names(), labels,
                 value->load(std::memory_order_relaxed));
  }
}
}  // namespace

std::atomic<double>* Counter::Series(const LabelValues& labels) {
  return FindOrAddScalar(mu_, series_, labels);
}

void Counter::Inc(const LabelValues& labels, double amount) {
  if (!LabelsMatch(labels) || !(amount >= 0)) return;
  AtomicAdd(*Series(labels), amount);
}

CounterSeries Counter::For(const LabelValues& labels) {
  if (!LabelsMatch(labels)) return CounterSeries();
  return CounterSeries(Series(labels));
}

void CounterSeries::Inc(double amount) const {
  if (value_ == nullptr || !(amount >= 0)) return;
  AtomicAdd(*value_, amount);
}

double Counter::Value(const LabelValues& labels) const { return ReadScalar(mu_, series_, labels); }

void Counter::Render(std::string& out) const { RenderScalars(out, *this, "counter", mu_, series_); }

std::atomic<double>* Gauge::Series(const LabelValues& labels) {
  return FindOrAddScalar(mu_, series_, labels);
}

void Gauge::Set(double value, const LabelValues& labels) {
  if (!LabelsMatch(labels)) return;
  Series(labels)->store(value, std::memory_order_relaxed);
}

void Gauge::Add(double delta, const LabelValues& labels) {
  if (!LabelsMatch(labels)) return;
  AtomicAdd(*Series(labels), delta);
}

double Gauge::Value(const LabelValues& labels) const { return ReadScalar(mu_, series_, labels); }

void Gauge::Render(std::string& out) const { RenderScalars(out, *this, "gauge", mu_, series_); }

void CallbackGauge::Render(std::string& out) const {
  AppendHeader(out, *this, "gauge");
  std::vector<Sample> samples = callback_();
  std::map<LabelValues, double>
      sorted;  // Stable output order; a repeated label set keeps the last.
  for (auto& sample : samples) {
    if (sample.labels.size() != label_names().size()) continue;
    sorted[std::move(sample.labels)] = sample.value;
  }
  for (const auto& [labels, value] : sorted) {
    AppendSample(out, name(), "", label_names(), labels, value);
  }
}

Histogram::Series* Histogram::FindOrAdd(const LabelValues& labels) {
  std::lock_guard lock(mu_);
  auto& slot = series_[labels];
  if (!slot) slot = std::make_unique<Series>(bounds_.size());
  return slot.get();
}

const Histogram::Series* Histogram::Find(const LabelValues& labels) const {
  std::lock_guard lock(mu_);
  auto it = series_.find(labels);
  return it == series_.end() ? nullptr : it->second.get();
}

void Histogram::Observe(double value, const LabelValues& labels) {
  if (!LabelsMatch(labels) || std::isnan(value)) return;
  Observe(value, *FindOrAdd(labels));
}

void Histogram::Observe(double value, Series& series) const {
  if (std::isnan(value)) return;
  // Buckets are few (about ten): a linear scan beats a binary search here.
  size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;
  series.counts[i].fetch_add(1, std::memory_order_relaxed);
  AtomicAdd(series.sum, value);
}

HistogramSeries Histogram::For(const LabelValues& labels) {
  if (!LabelsMatch(labels)) return HistogramSeries();
  return HistogramSeries(this, FindOrAdd(labels));
}

void HistogramSeries::Observe(double value) const {
  if (series_ != nullptr) histogram_->Observe(value, *series_);
}

uint64_t Histogram::Count(const LabelValues& labels) const {
  const Series* series = Find(labels);
  if (series == nullptr) return 0;
  uint64_t total = 0;
  for (const auto& c : series->counts) total += c.load(std::memory_order_relaxed);
  return total;
}

double Histogram::Sum(const LabelValues& labels) const {
  const Series* series = Find(labels);
  return series == nullptr ? 0.0 : series->sum.load(std::memory_order_relaxed);
}

void Histogram::Render(std::string& out) const {
  AppendHeader(out, *this, "histogram");
  std::lock_guard lock(mu_);
  auto render_one = [&](const LabelValues& labels, const Series* series) {
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= bounds_.size(); ++i) {
      if (series != nullptr) cumulative += series->counts[i].load(std::memory_order_relaxed);
      std::string le = i < bounds_.size() ? internal::FormatValue(bounds_[i]) : "+Inf";
      out += name();
      out += "_bucket";
      AppendLabels(out, label_names(), labels, "le", le);
      out += ' ';
      out += fmt::format("{}", cumulative);
      out += '\n';
    }
    // _count is the +Inf bucket by construction, so the two always agree.
    double sum = series == nullptr ? 0.0 : series->sum.load(std::memory_order_relaxed);
    AppendSample(out, name(), "_sum", label_names(), labels, sum);
    out += name();
    out += "_count";
    AppendLabels(out, label_names(), labels);
    out += fmt::format(" {}\n", cumulative);
  };
  if (label_names().empty() && series_.empty()) {
    render_one({}, nullptr);
    return;
  }
  for (const auto& [labels, series] : series_) render_one(labels, series.get());
}

Status Registry::Validate(const std::string& name, const std::vector<std::string>& label_names,
                          bool histogram) const {
  if (!ValidMetricName(name)) {
    return Error::InvalidArgument("name", fmt::format("invalid metric name \"{}\"", name));
  }
  std::set<std::string_view> seen;
  for (const auto& label : label_names) {
    if (!ValidLabelName(label) || (histogram && label == "le")) {
      return Error::InvalidArgument("labels", fmt::format("invalid label name \"{}\"", label));
    }
    if (!seen.insert(label).second) {
      return Error::InvalidArgument("labels", fmt::format("duplicate label name \"{}\"", label));
    }
  }
  std::lock_guard lock(mu_);
  if (families_.contains(name)) {
    return Error::InvalidArgument("name", fmt::format("metric \"{}\" already registered", name));
  }
  return Ok();
}

template <typename T>
T* Registry::Insert(std::unique_ptr<T> family) {
  std::lock_guard lock(mu_);
  T* raw = family.get();
  auto [it, inserted] = families_.emplace(raw->name(), std::move(family));
  return inserted ? raw : nullptr;
}

namespace {
template <typename T>
Result<T*> Registered(T* family, const std::string& name) {
  if (family == nullptr) {
    return Error::InvalidArgument("name", fmt::format("metric \"{}\" already registered", name));
  }
  return family;
}
}  // namespace

Result<Counter*> Registry::AddCounter(std::string name, std::string help,
                                      std::vector<std::string> label_names) {
  BG_TRY(Validate(name, label_names, false));
  return Registered(
      Insert(std::make_unique<Counter>(name, std::move(help), std::move(label_names))), name);
}

Result<Gauge*> Registry::AddGauge(std::string name, std::string help,
                                  std::vector<std::string> label_names) {
  BG_TRY(Validate(name, label_names, false));
  return Registered(Insert(std::make_unique<Gauge>(name, std::move(help), std::move(label_names))),
                    name);
}

Result<Histogram*> Registry::AddHistogram(std::string name, std::string help,
                                          std::vector<double> bounds,
                                          std::vector<std::string> label_names) {
  BG_TRY(Validate(name, label_names, true));
  if (bounds.empty()) return Error::InvalidArgument("bounds", "a histogram needs buckets");
  for (size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1])) {
      return Error::InvalidArgument("bounds", "bucket bounds must be finite and increasing");
    }
  }
  return Registered(Insert(std::make_unique<Histogram>(name, std::move(help),
                                                       std::move(label_names), std::move(bounds))),
                    name);
}

Result<CallbackGauge*> Registry::AddGaugeCallback(std::string name, std::string help,
                                                  std::function<double()> callback) {
  return AddGaugeCallback(std::move(name), std::move(help), {}, [callback = std::move(callback)] {
    return std::vector<Sample>{Sample{{}, callback()}};
  });
}

Result<CallbackGauge*> Registry::AddGaugeCallback(std::string name, std::string help,
                                                  std::vector<std::string> label_names,
                                                  std::function<std::vector<Sample>()> callback) {
  BG_TRY(Validate(name, label_names, false));
  return Registered(Insert(std::make_unique<CallbackGauge>(
                        name, std::move(help), std::move(label_names), std::move(callback))),
                    name);
}

std::string Registry::Render() const {
  std::vector<const Family*> families;
  {
    std::lock_guard lock(mu_);
    families.reserve(families_.size());
    for (const auto& [name, family] : families_) families.push_back(family.get());
  }
  // Families are never removed, so rendering outside the registry lock is safe and lets a
  // callback gauge take as long as it needs without blocking registration.
  std::string out;
  for (const Family* family : families) family->Render(out);
  return out;
}

}  // namespace bg::metrics
