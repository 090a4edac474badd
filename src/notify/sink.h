// Where notifications go. A sink receives audit events one at a time, in log order, each with
// its leaf index, which is the idempotency key: a receiver that sees an index twice saw a retry
// (after a lost answer or a crash between delivery and the saved cursor). Sinks are fed from
// the durable audit log by SinkRunner (notify/sink_runner.h), never from memory, so an event
// reaches every sink once the transaction that made it has committed, and a sink that was down
// gets every event, in order, when it returns.
//
// To add a kind: implement Sink, and register a factory for its `kind` in
// service::SinkRegistry (service/sinks.h) with the [notify.NAME] keys it takes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "util/result.h"

namespace bg::notify {

class Sink {
 public:
  virtual ~Sink() = default;
  // Where it sends, for logs and status ("udp://192.0.2.5:514"); never a secret.
  virtual std::string Describe() const = 0;
  // Sends one audit event (`leaf`: its canonical JSON). An error means "not delivered": the
  // runner tries the same event again after a backoff. Called from one thread at a time.
  virtual Status Deliver(int64_t index, std::string_view leaf) = 0;
};

}  // namespace bg::notify
