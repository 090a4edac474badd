// The grant runner: the connector jobs of the outbox (grant, revoke), run off the writer
// thread, at least once, with exponential backoff (Outbox). For each due job it reads the
// request as stored, calls its connector unless core::ShouldCallConnector says the call is
// moot (the request ended meanwhile: skipped, never logged as a success), and hands the
// answer to `record`, run as one writer transaction, where the workflow decides with
// core::OnJobOutcome what the answer means (granted, retried, given up, revoked) and stores it
// with its audit event. RunJobs returns once every outcome committed (or failed to, logged).
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "connector/connector.h"
#include "core/commands.h"
#include "core/request.h"
#include "store/store.h"
#include "util/result.h"
#include "util/time.h"

namespace bg::service {

class Outbox;
class Tx;

class GrantRunner {
 public:
  // Stages the outcome of `job` in the writer's transaction.
  using Record = std::function<Status(Tx&, const store::OutboxJob& job, core::JobKind kind,
                                      const core::JobOutcome& outcome)>;
  // Runs `run` as one writer transaction; `done` gets its outcome.
  using Submit = std::function<void(std::function<Status(Tx&)> run,
                                    std::function<void(Status)> done)>;
  // After each connector call: the job's kind and whether the call succeeded.
  using CountCall = std::function<void(const std::string& kind, bool ok)>;

  GrantRunner(store::Store& store, const connector::ConnectorRegistry& connectors, Submit submit,
              Record record, CountCall count = nullptr);
  ~GrantRunner();

  // Starts the outbox thread (it runs what is due at once: jobs left by a crash included).
  void Start(const Clock& clock);
  // New jobs were committed.
  void Notify();
  void Stop();

  // Runs `jobs` (the outbox's due ones; tests call it directly).
  void RunJobs(const std::vector<store::OutboxJob>& jobs);

 private:
  // What the connector said about the job's request (as stored), or why it was not asked.
  core::JobOutcome Call(const std::optional<core::Request>& request, core::JobKind kind);

  store::Store& store_;
  const connector::ConnectorRegistry& connectors_;
  Submit submit_;
  Record record_;
  CountCall count_;
  std::mutex outbox_mu_;  // Start may run on another thread than Notify's (a replica taking over)
  std::unique_ptr<Outbox> outbox_;
};

}  // namespace bg::service
