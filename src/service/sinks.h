// The configured notification sinks, each fed from the store's audit log by its own
// notify::SinkRunner (durable, in order, retried; see notify/sink_runner.h): the [notify.NAME]
// tables of a built kind, and the `syslog = URL` setting (a sink named "syslog").
//
// Kinds built: "syslog" (key `url`: udp://HOST:PORT or tcp://HOST:PORT; every audit event),
// and the message kinds, fed through service/notices.h (events for people, filtered by the
// table's `events` and `audience`): "webhook" (url, secret_file), "slack" (url), "smtp" (url,
// from, to, username, password_file), "pagerduty" (routing_key_file, url); each may name a
// `cacert`. To add one: a notify::MessageSink, a case in MakeMessageSink (sinks.cc), and its
// keys in config.cc's NotifyKinds.
//
// Metrics: breakglass_notify_deliveries_total{sink,outcome}, breakglass_notify_backlog{sink}
// (events not yet delivered), breakglass_notify_sink_failing{sink}.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "notify/sink_runner.h"
#include "service/config.h"
#include "service/effects.h"
#include "util/time.h"
#include "util/result.h"

namespace bg::metrics {
class Registry;
}
namespace bg::store {
class Store;
}

namespace bg::service {

// Called when sink `name` (at `target`) becomes failing, with its last error.
using SinkFailing = std::function<void(const std::string& name, const std::string& target,
                                       const std::string& error)>;

class Sinks {
 public:
  // Builds every configured sink of a built kind; none is started. Errors name the setting
  // ("syslog", "notify.NAME.url").
  // `policy` is read when a message is routed (who a pool or the security contacts are now).
  static Result<std::unique_ptr<Sinks>> Create(const ServerConfig& config, store::Store& store,
                                               metrics::Registry* metrics,
                                               PolicySource policy = nullptr,
                                               SinkFailing on_failing = nullptr);
  // `breakglass notify test NAME`: builds the sink NAME alone and sends it one test message
  // (event "notify.test", no request) now, without the runner; returns where it went. NotFound
  // (field "sink") for a name that is not configured; the sink's error when it failed.
  static Result<std::string> SendTest(const ServerConfig& config, const std::string& name,
                                      Timestamp now);
  ~Sinks();

  bool empty() const { return runners_.empty(); }
  void Start();
  // A leaf was appended: deliver it soon. Never blocks (the audit writer calls it).
  void Wake();
  // Stops every runner after a last attempt at what is pending.
  void Stop();
  struct Entry {
    std::string name;
    std::string target;
    notify::SinkStats stats;
  };
  std::vector<Entry> Stats() const;

 private:
  class StoreLog;
  Sinks(std::unique_ptr<StoreLog> log);
  std::unique_ptr<StoreLog> log_;
  std::vector<std::unique_ptr<notify::SinkRunner>> runners_;
};

}  // namespace bg::service
