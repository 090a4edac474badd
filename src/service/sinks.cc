#include "service/sinks.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <functional>
#include <nlohmann/json.hpp>

#include "metrics/metrics.h"
#include "audit/event.h"
#include "notify/http_sinks.h"
#include "notify/smtp_sink.h"
#include "notify/syslog_sink.h"
#include "service/notices.h"
#include "util/fs.h"
#include "service/audit_log.h"
#include "store/store.h"

namespace bg::service {

namespace {

// What a factory may use: the configuration (paths resolve against it) and the router that
// turns leaves into messages.
struct SinkInputs {
  const ServerConfig& config;
  std::shared_ptr<const NoticeRouter> router;
};

using Options = nlohmann::json;

std::string Str(const Options& o, const std::string& key) {
  const auto it = o.find(key);
  return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::vector<std::string> Strs(const Options& o, const std::string& key) {
  std::vector<std::string> out;
  const auto it = o.find(key);
  if (it == o.end() || !it->is_array()) return out;
  for (const auto& v : *it) {
    if (v.is_string()) out.push_back(v.get<std::string>());
  }
  return out;
}

Result<std::string> Required(const Options& o, const std::string& field, const std::string& key) {
  std::string v = Str(o, key);
  if (v.empty()) return Error::InvalidArgument(field + "." + key, "is required and not empty");
  return v;
}

Status CheckUrl(const std::string& field, const std::string& url,
                std::initializer_list<std::string_view> schemes) {
  for (std::string_view scheme : schemes) {
    if (url.rfind(std::string(scheme) + "://", 0) == 0 && url.size() > scheme.size() + 3) {
      return Ok();
    }
  }
  return Error::InvalidArgument(field, fmt::format("'{}' is not a {} URL", notify::RedactUrl(url),
                                                   fmt::join(schemes, " or ")));
}

Result<Secret> SecretFrom(const SinkInputs& in, const std::string& field, const std::string& path,
                          fs::SecretEnd end) {
  auto secret = fs::ReadSecretFile(in.config.Resolve(path), field, end);
  if (!secret) return Error(secret.error().code(), secret.error().message(), field);
  return secret;
}

Result<NoticeFilter> FilterOf(const Options& o, const std::string& field) {
  NoticeFilter f{Strs(o, "events"), Strs(o, "audience")};
  for (const auto& e : f.events) BG_TRY(CheckEvent(field + ".events", e));
  for (const auto& a : f.audience) BG_TRY(CheckAudience(field + ".audience", a));
  return f;
}

using Made = Result<std::unique_ptr<notify::Sink>>;

Made Routed(const SinkInputs& in, const Options& o, const std::string& field,
            std::unique_ptr<notify::MessageSink> sink) {
  BG_ASSIGN_OR_RETURN(auto filter, FilterOf(o, field));
  return std::unique_ptr<notify::Sink>(
      std::make_unique<RoutedSink>(in.router, std::move(filter), std::move(sink)));
}

// `cacert`: the resolved path of the CA to trust for tls:// (empty: the system store); refused
// for udp:// and tcp://, which have no certificate to check.
Made MakeSyslog(const std::string& field, const std::string& url, const std::string& cacert = "") {
  auto target = notify::ParseSyslogUrl(url);
  if (!target) return Error::InvalidArgument(field, target.error().message());
  if (!cacert.empty() && !target->tls) {
    return Error::InvalidArgument(field, "cacert is for tls:// syslog only");
  }
  target->cacert = cacert;
  return std::unique_ptr<notify::Sink>(std::make_unique<notify::SyslogSink>(*target));
}

std::string SyslogCacert(const ServerConfig& config, const Options& o) {
  return Str(o, "cacert").empty() ? "" : config.Resolve(Str(o, "cacert"));
}

Result<std::unique_ptr<notify::MessageSink>> MakeHttp(const SinkInputs& in, const Options& o,
                                                      const std::string& field,
                                                      notify::HttpFormat format) {
  notify::HttpSinkOptions h;
  h.format = format;
  h.cacert = Str(o, "cacert").empty() ? "" : in.config.Resolve(Str(o, "cacert"));
  if (format == notify::HttpFormat::kPagerDuty) {
    h.url = Str(o, "url").empty() ? "https://events.pagerduty.com/v2/enqueue" : Str(o, "url");
    BG_ASSIGN_OR_RETURN(auto path, Required(o, field, "routing_key_file"));
    BG_ASSIGN_OR_RETURN(h.key, SecretFrom(in, field + ".routing_key_file", path,
                                          fs::SecretEnd::kTrimNewlines));
  } else {
    BG_ASSIGN_OR_RETURN(h.url, Required(o, field, "url"));
  }
  BG_TRY(CheckUrl(field + ".url", h.url, {"http", "https"}));
  if (format == notify::HttpFormat::kWebhook) {
    BG_ASSIGN_OR_RETURN(auto path, Required(o, field, "secret_file"));
    BG_ASSIGN_OR_RETURN(h.key, SecretFrom(in, field + ".secret_file", path,
                                          fs::SecretEnd::kOneNewline));
  }
  return notify::MakeHttpSink(std::move(h));
}

Result<std::unique_ptr<notify::MessageSink>> MakeSmtp(const SinkInputs& in, const Options& o,
                                                      const std::string& field) {
  notify::SmtpOptions m;
  BG_ASSIGN_OR_RETURN(m.url, Required(o, field, "url"));
  BG_TRY(CheckUrl(field + ".url", m.url, {"smtp", "smtps"}));
  BG_ASSIGN_OR_RETURN(m.from, Required(o, field, "from"));
  if (!notify::IsMailAddress(m.from)) {
    return Error::InvalidArgument(field + ".from", fmt::format("'{}' is not an address", m.from));
  }
  m.to = Strs(o, "to");
  for (const auto& t : m.to) {
    if (!notify::IsMailAddress(t)) {
      return Error::InvalidArgument(field + ".to", fmt::format("'{}' is not an address", t));
    }
  }
  m.username = Str(o, "username");
  if (const std::string pw = Str(o, "password_file"); !pw.empty()) {
    BG_ASSIGN_OR_RETURN(m.password, SecretFrom(in, field + ".password_file", pw,
                                               fs::SecretEnd::kTrimNewlines));
  }
  if (!Str(o, "cacert").empty()) m.cacert = in.config.Resolve(Str(o, "cacert"));
  return notify::MakeSmtpSink(std::move(m));
}

// A message sink of a kind other than syslog, for sending and for `notify test`.
Result<std::unique_ptr<notify::MessageSink>> MakeMessageSink(const SinkInputs& in,
                                                             const std::string& kind,
                                                             const Options& o,
                                                             const std::string& field) {
  if (kind == "webhook") return MakeHttp(in, o, field, notify::HttpFormat::kWebhook);
  if (kind == "slack") return MakeHttp(in, o, field, notify::HttpFormat::kSlack);
  if (kind == "pagerduty") return MakeHttp(in, o, field, notify::HttpFormat::kPagerDuty);
  if (kind == "smtp") return MakeSmtp(in, o, field);
  return Error::InvalidArgument(field + ".kind", fmt::format("kind '{}' is not built", kind));
}

struct SinkKind {
  std::string_view kind;
  std::function<Made(const std::string& field, const Options& o, const SinkInputs& in)> make;
};

const std::vector<SinkKind>& SinkKinds() {
  static const std::vector<SinkKind> kKinds = [] {
    std::vector<SinkKind> kinds = {
        {"syslog", [](const std::string& field, const Options& o, const SinkInputs& in) -> Made {
           BG_ASSIGN_OR_RETURN(auto url, Required(o, field, "url"));
           return MakeSyslog(field + ".url", url, SyslogCacert(in.config, o));
         }}};
    for (std::string_view k : {"webhook", "slack", "smtp", "pagerduty"}) {
      kinds.push_back({k, [k](const std::string& field, const Options& o,
                              const SinkInputs& in) -> Made {
                         BG_ASSIGN_OR_RETURN(auto sink,
                                             MakeMessageSink(in, std::string(k), o, field));
                         return Routed(in, o, field, std::move(sink));
                       }});
    }
    return kinds;
  }();
  return kKinds;
}

Options OptionsOf(const PluginConfig& pc) {
  auto options = nlohmann::json::parse(pc.options_json, nullptr, false);
  return options.is_object() ? options : nlohmann::json::object();
}

std::string OriginOf(const ServerConfig& config) {
  return config.audit_origin.empty() ? "breakglass" : config.audit_origin;
}

std::string CursorKey(const std::string& sink) { return "notify/" + sink + "/next"; }

}  // namespace

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
                                             metrics::Registry* metrics, PolicySource policy,
                                             SinkFailing on_failing) {
  std::unique_ptr<Sinks> sinks(new Sinks(std::make_unique<StoreLog>(store)));
  const SinkInputs inputs{config, std::make_shared<NoticeRouter>(store, std::move(policy),
                                                                 config.public_url,
                                                                 OriginOf(config))};
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
    if (on_failing) {
      retry.on_failing = [on_failing, name, target = sink->Describe()](const std::string& error) {
        on_failing(name, target, error);
      };
    }
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
    BG_ASSIGN_OR_RETURN(auto sink, kind->make("notify." + name, OptionsOf(pc), inputs));
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

Result<std::string> Sinks::SendTest(const ServerConfig& config, const std::string& name,
                                    Timestamp now) {
  const std::string at = FormatRfc3339(now);
  // A syslog sink is sent one leaf of a "notify.test" event (it forwards leaves, not messages).
  auto test_syslog = [&](const std::string& field, const std::string& url,
                         const std::string& cacert) -> Result<std::string> {
    BG_ASSIGN_OR_RETURN(auto sink, MakeSyslog(field, url, cacert));
    core::AuditEvent ev{"notify.test", std::string(core::kSystemActor), RequestId(),
                        {{"sink", name}}};
    BG_TRY(sink->Deliver(-1, audit::EncodeLeaf(ev, now)));
    return sink->Describe();
  };
  if (name == "syslog" && !config.syslog.empty() && config.notify.count("syslog") == 0) {
    return test_syslog("syslog", config.syslog, "");
  }
  const auto it = config.notify.find(name);
  if (it == config.notify.end()) {
    return Error(ErrorCode::kNotFound,
                 fmt::format("no notification sink '{}' is configured", name), "sink");
  }
  const std::string field = "notify." + name;
  const Options o = OptionsOf(it->second);
  if (it->second.kind == "syslog") {
    BG_ASSIGN_OR_RETURN(auto url, Required(o, field, "url"));
    return test_syslog(field + ".url", url, SyslogCacert(config, o));
  }
  const SinkInputs inputs{config, nullptr};
  BG_ASSIGN_OR_RETURN(auto sink, MakeMessageSink(inputs, it->second.kind, o, field));
  BG_TRY(FilterOf(o, field));
  notify::Message m = TestMessage(name, config.public_url, at);
  m.id = fmt::format("{}/test/{}/{}", OriginOf(config), name, at);
  BG_TRY(sink->Send(m));
  return sink->Describe();
}

std::vector<Sinks::Entry> Sinks::Stats() const {
  std::vector<Entry> out;
  for (const auto& r : runners_) out.push_back({r->name(), r->Describe(), r->stats()});
  return out;
}

}  // namespace bg::service
