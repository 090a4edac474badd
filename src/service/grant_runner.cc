#include "service/grant_runner.h"

#include <future>

#include "log/json_log.h"
#include "service/background.h"
#include "service/writer.h"

namespace bg::service {

GrantRunner::GrantRunner(store::Store& store, const connector::ConnectorRegistry& connectors, Submit submit,
                         Record record, CountCall count)
    : store_(store),
      connectors_(connectors),
      submit_(std::move(submit)),
      record_(std::move(record)),
      count_(std::move(count)) {}

GrantRunner::~GrantRunner() { Stop(); }

void GrantRunner::Start(const Clock& clock) {
  std::lock_guard lock(outbox_mu_);
  if (outbox_) return;
  outbox_ = std::make_unique<Outbox>(store_, clock, [this](const auto& jobs) { RunJobs(jobs); });
  outbox_->Notify();
}

void GrantRunner::Notify() {
  std::lock_guard lock(outbox_mu_);
  if (outbox_) outbox_->Notify();
}

void GrantRunner::Stop() {
  Outbox* outbox = nullptr;
  {
    std::lock_guard lock(outbox_mu_);
    outbox = outbox_.get();
  }
  if (outbox) outbox->Stop();  // outside the lock: its last jobs may Notify
}

core::JobOutcome GrantRunner::Call(const std::optional<core::Request>& request,
                                   core::JobKind kind) {
  if (!request) return {core::JobOutcome::Kind::kNoRequest, "request no longer exists"};
  if (!core::ShouldCallConnector(kind, *request)) return {core::JobOutcome::Kind::kSkipped, ""};
  connector::Connector* c = connectors_.Find(request->connector);
  if (c == nullptr) {
    return {core::JobOutcome::Kind::kFailed,
            "connector '" + request->connector + "' is not configured"};
  }
  Status s = kind == core::JobKind::kGrant ? c->Grant(*request) : c->Revoke(*request);
  if (!s) return {core::JobOutcome::Kind::kFailed, s.error().message()};
  return {};
}

void GrantRunner::RunJobs(const std::vector<store::OutboxJob>& jobs) {
  std::vector<std::future<Status>> pending;
  for (const auto& job : jobs) {
    const std::optional<core::JobKind> kind = core::ParseJobKind(job.kind);
    if (!kind) continue;  // not a connector job
    auto stored = store_.GetRequest(job.request);
    if (!stored) continue;  // the store is failing: the job stays and is retried
    const core::JobOutcome outcome = Call(*stored, *kind);
    if (count_ && outcome.kind != core::JobOutcome::Kind::kSkipped) {
      count_(job.kind, outcome.kind == core::JobOutcome::Kind::kOk);
    }
    auto p = std::make_shared<std::promise<Status>>();
    pending.push_back(p->get_future());
    submit_([this, job, kind = *kind, outcome](Tx& tx) { return record_(tx, job, kind, outcome); },
            [p](Status s) { p->set_value(std::move(s)); });
  }
  for (auto& f : pending) {
    Status s = f.get();
    if (!s) log::Warn("outbox.outcome_not_stored", {{"error", s.error().ToString()}});
  }
}

}  // namespace bg::service
