#include "service/sinks.h"

#include <fmt/format.h>

#include <charconv>
#include <functional>
#include <nlohmann/json.hpp>

#include "metrics/metrics.h"
#include "notify/syslog_sink.h"
#include "service/audit_log.h"
#include "store/store.h"

namespace bg::service {

namespace {

using SinkFactory = std::function<Result<std::unique_ptr<notify::Sink>>(
    const std::string& field, const nlohmann::json& options)>;

Result<std::unique_ptr<notify::Sink>> MakeSyslog(const std::string& field, const std::string& url) {
  auto target = notify::ParseSyslogUrl(url);
  if (!target) return Error::InvalidArgument(field, target.error().message());
  return std::unique_ptr<notify::Sink>(std::make_unique<notify::SyslogSink>(*target));
}

struct SinkKind {
  std::string_view kind;
  SinkFactory make;
};

const std::vector<SinkKind>& SinkKinds() {
  static const std::vector<SinkKind> kKinds = {
      {"syslog", [](const std::string& field, const nlohmann::json& o) {
         const auto url = o.find("url");
         if (url == o.end() || !url->is_string()) {
           return Result<std::unique_ptr<notify::Sink>>(
               Error::InvalidArgument(field + ".url", "a syslog sink needs url"));
         }
         return MakeSyslog(field + ".url", url->get<std::string>());
       }}};
  return kKinds;
}

std::string CursorKey(const std::string& sink) { return "notify/" + sink + "/next"; }

}  // namespace

bool IsBuiltSinkKind(const std::string& kind) {
  for (const auto& k : SinkKinds()) {
    if (k.kind == kind) return true;
  }
  return false;
}

// The store's audit log, and each sink's cursor in its meta table.
class Sinks::StoreLog final : public notify::SinkLog {
 public:
  explicit StoreLog(store::Store& store) : store_(store) {}
  Result<int64_t> Size() override { return store_.AuditSize(); }
  Result<std::vector<std::string>> Leaves(int64_t start, int64_t end) override {
    return store_.AuditLeaves(start, end);
  }
  Result<std::optional<int64_t>> LoadCursor(const std::string& sink) override {
    BG_ASSIGN_OR_RETURN(auto text, store_.GetMeta(CursorKey(sink)));
    if (!text && sink == "syslog") {
      // Installations from before sinks kept syslog's place as the audit follower's mark.
      BG_ASSIGN_OR_RETURN(text, store_.GetMeta(AuditFollower::kForwardedMeta));
    }
    if (!text) return std::optional<int64_t>();
    int64_t next = 0;
    auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), next);
    if (ec != std::errc() || end != text->data() + text->size() || next < 0) {
      return Error::Internal(fmt::format("meta {} is not an index: {}", CursorKey(sink), *text));
    }
    return std::optional<int64_t>(next);
  }
  Status SaveCursor(const std::string& sink, int64_t next) override {
    store::WriteBatch batch;
    batch.meta.emplace_back(CursorKey(sink), std::to_string(next));
    return store_.Commit(batch);
  }

 private:
  store::Store& store_;
};

Sinks::Sinks(std::unique_ptr<StoreLog> log) : log_(std::move(log)) {}

Sinks::~Sinks() { Stop(); }

Result<std::unique_ptr<Sinks>> Sinks::Create(const ServerConfig& config, store::Store& store,
                                             metrics::Registry* metrics) {
  std::unique_ptr<Sinks> sinks(new Sinks(std::make_unique<StoreLog>(store)));
  metrics::Counter* attempts = nullptr;
  if (metrics != nullptr) {
    if (auto c = metrics->AddCounter("breakglass_notify_deliveries_total",
                                     "Delivery attempts of audit events to notification sinks.",
                                     {"sink", "outcome"})) {
      attempts = *c;
    }
  }
  auto add = [&](const std::string& name, std::unique_ptr<notify::Sink> sink) {
    notify::SinkRetry retry;
    if (attempts != nullptr) {
      retry.on_attempt = [attempts, name](bool ok) {
        attempts->Inc({name, ok ? "delivered" : "failed"});
      };
    }
    sinks->runners_.push_back(
        std::make_unique<notify::SinkRunner>(name, std::move(sink), *sinks->log_, retry));
  };
  if (!config.syslog.empty()) {
    if (config.notify.count("syslog") != 0) {
      return Error::InvalidArgument(
          "syslog", "both `syslog = ...` and a [notify.syslog] table: name the table otherwise");
    }
    BG_ASSIGN_OR_RETURN(auto sink, MakeSyslog("syslog", config.syslog));
    add("syslog", std::move(sink));
  }
  for (const auto& [name, pc] : config.notify) {
    const SinkKind* kind = nullptr;
    for (const auto& k : SinkKinds()) {
      if (k.kind == pc.kind) kind = &k;
    }
    if (kind == nullptr) continue;  // not built: the configuration check warned about it
    auto options = nlohmann::json::parse(pc.options_json, nullptr, false);
    if (!options.is_object()) options = nlohmann::json::object();
    BG_ASSIGN_OR_RETURN(auto sink, kind->make("notify." + name, options));
    add(name, std::move(sink));
  }
  if (metrics != nullptr && !sinks->runners_.empty()) {
    Sinks* self = sinks.get();
    auto samples = [self](auto value) {
      std::vector<metrics::Sample> out;
      for (const auto& e : self->Stats()) out.push_back({{e.name}, value(e.stats)});
      return out;
    };
    (void)metrics->AddGaugeCallback(
        "breakglass_notify_backlog", "Audit events not yet delivered to a sink.", {"sink"},
        [samples] {
          return samples([](const notify::SinkStats& s) { return static_cast<double>(s.backlog); });
        });
    (void)metrics->AddGaugeCallback(
        "breakglass_notify_sink_failing",
        "1 while a sink has failed several deliveries in a row.", {"sink"}, [samples] {
          return samples([](const notify::SinkStats& s) { return s.failing ? 1.0 : 0.0; });
        });
  }
  return sinks;
}

void Sinks::Start() {
  for (auto& r : runners_) r->Start();
}

void Sinks::Wake() {
  for (auto& r : runners_) r->Wake();
}

void Sinks::Stop() {
  for (auto& r : runners_) r->Stop();
}

std::vector<Sinks::Entry> Sinks::Stats() const {
  std::vector<Entry> out;
  for (const auto& r : runners_) out.push_back({r->name(), r->Describe(), r->stats()});
  return out;
}

}  // namespace bg::service
