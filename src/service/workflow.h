// The request workflow: create, approve, deny, cancel, revoke, extend, the timers (approval
// windows, expiry, warnings) and what a connector's answer means. Each command is one writer
// transaction that reads the request, asks the pure core (core/request.h) for the transition
// and stages it with its effects (Effects); a refusal by the rules is audited with its reason
// code. Reads (Get, List) show only what the caller may see (core::CanView).
//
// Thread-safe. The commands return at once; the callback runs on the writer thread after the
// commit.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "auth/webauthn.h"
#include "core/commands.h"
#include "core/request.h"
#include "service/effects.h"
#include "store/store.h"
#include "util/result.h"
#include "util/time.h"

namespace bg::service {

class People;
class RequestCache;
class Tx;
class Writer;
struct ServiceMetrics;

template <typename T>
using Callback = std::function<void(Result<T>)>;

class RequestWorkflow {
 public:
  // `metrics` may be null (no counting).
  RequestWorkflow(store::Store& store, Writer& writer, const Clock& clock, Effects& effects,
                  People& people, RequestCache& requests, ServiceMetrics* metrics);

  void Create(const core::Actor& actor, core::CreateCommand cmd, Callback<core::Request> cb);
  // With `totp`, the code is verified (People::StepUpInTx) in the same transaction as the
  // decision and the request's visibility.
  // With `passkey`, an assertion made for this decision (People::PasskeyStepUpInTx), likewise.
  void Approve(const core::Actor& actor, RequestId id, std::string comment,
               Callback<core::Request> cb, std::string totp = "",
               std::optional<auth::webauthn::Assertion> passkey = std::nullopt);
  void Deny(const core::Actor& actor, RequestId id, std::string reason, Callback<core::Request> cb,
            std::string totp = "", std::optional<auth::webauthn::Assertion> passkey = std::nullopt);
  void Cancel(const core::Actor& actor, RequestId id, Callback<core::Request> cb);
  void Revoke(const core::Actor& actor, RequestId id, std::string reason,
              Callback<core::Request> cb);
  void Extend(const core::Actor& actor, RequestId id, Seconds duration, std::string reason,
              Callback<core::Request> cb);
  Result<core::Request> Get(const core::Actor& actor, const RequestId& id);
  // The same, shared with the request cache instead of copied (the hot read path).
  Result<std::shared_ptr<const core::Request>> GetShared(const core::Actor& actor,
                                                         const RequestId& id);
  Result<std::vector<core::Request>> List(const core::Actor& actor, store::RequestFilter filter,
                                          bool mine);

  // A durable timer came due: its transition (core::OnTimer), and the timer goes. When that
  // cannot be stored (the store is full or failing) the timer stays in the store and `failed`
  // runs on the writer thread, so that the caller fires it again (Scheduler::Retry).
  void OnTimerFired(const store::TimerRecord& t, std::function<void()> failed = nullptr);
  // What a connector's answer to `job` means (core::OnJobOutcome), staged in `tx` with its
  // audit event, the job's retry or removal, and the transition (GrantRunner's record).
  Status RecordJobOutcome(Tx& tx, const store::OutboxJob& job, core::JobKind kind,
                          const core::JobOutcome& outcome);

 private:
  using Step = std::function<Result<core::Transition>(const core::Policy&, const core::Request&,
                                                      Timestamp)>;
  // Runs a core transition on the request `id` inside the writer.
  void Transact(RequestId id, Step step, Callback<core::Request> cb);
  // A decision (approve, deny) of `actor` as one writer transaction: the request must be
  // visible to them (else NotFound, and a code is not spent), a `totp` code is verified and
  // its use recorded, then `step` runs with the actor it freshened. A refusal by the rules is
  // audited as "approval.refused" with its reason code, then reported to `cb`.
  using DecisionStep = std::function<Result<core::Transition>(
      const core::Policy&, const core::Request&, const core::Actor&, Timestamp)>;
  void Decide(const core::Actor& actor, RequestId id, std::string decision, std::string totp,
              std::optional<auth::webauthn::Assertion> passkey, DecisionStep step,
              Callback<core::Request> cb);

  store::Store& store_;
  Writer& writer_;
  const Clock& clock_;
  Effects& effects_;
  People& people_;
  RequestCache& requests_;
  ServiceMetrics* metrics_;
};

}  // namespace bg::service
