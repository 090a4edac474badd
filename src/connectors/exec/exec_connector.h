// The `exec` connector: configured programs do the work (argv, no shell).
//
// Each call runs the action's argv with the grant as JSON on stdin ({"action", "grant_id",
// "request_id", "user", "resource", "privilege", "starts_at", "ends_at"}); exit status 0 means
// done; anything else (or the timeout) is a failure whose message is the first line of stderr.
// For "grant", a JSON object on stdout is the credential, kept sealed until the requester
// fetches it once. The programs must be idempotent by grant_id (a retried call repeats it) and
// treat a revoke of an unknown grant as done. A missing `probe` argv makes Probe() run nothing.
//
// A drill grant (core::Request::drill_id) runs neither the grant nor the revoke program: they
// act on the real target, which a drill must not reach. The drill's use (UseDrillGrant) runs
// the resource's drill check program (`drill = { check = [...] }` in the policy) with the
// drill grant as JSON on stdin ("action": "drill", "drill_id"); exit status 0 proves the path.
//
// Options: grant, revoke (argv arrays, required), probe (argv array), timeout (default "30s").
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "connectors/common/state.h"
#include "connector/connector.h"

namespace bg::connectors {

class ExecConnector final : public connector::Connector,
                            public connector::CredentialSource,
                            public connector::DrillUser {
 public:
  static Result<std::unique_ptr<ExecConnector>> Create(const connector::PluginConfig& config,
                                                       const connector::ConnectorContext& context);
  Status Grant(const core::Request& grant) override;
  Status Revoke(const core::Request& grant) override;
  Status Probe() override;
  connector::CredentialSource* AsCredentialSource() override { return this; }
  Result<Secret> TakeCredential(const core::Request& grant) override;
  connector::DrillUser* AsDrillUser() override { return this; }
  Result<connector::DrillUse> UseDrillGrant(const core::Request& grant,
                                            const Issued& issued) override;

 private:
  ExecConnector(ConnectorState state, const Clock& clock)
      : state_(std::move(state)), clock_(clock) {}
  // Runs `argv` with `input`; returns its stdout.
  Result<std::string> Run(std::string_view action, const std::vector<std::string>& argv,
                          const std::string& input);

  ConnectorState state_;
  const Clock& clock_;
  std::vector<std::string> grant_, revoke_, probe_;
  Seconds timeout_{30};
};

// Checks that `out` (a program's or endpoint's answer to "grant") is empty or one JSON object;
// returns its compact text ("" when empty). Shared by exec and webhook.
Result<std::string> ParseCredentialAnswer(std::string_view out, std::string_view who);

}  // namespace bg::connectors
