// The `webhook` connector: the grant, revoke and probe calls are HTTP POSTs of the same JSON the
// exec connector writes on stdin, signed with HMAC-SHA256.
//
// Headers: Content-Type: application/json; X-Breakglass-Timestamp: <unix seconds>;
// X-Breakglass-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>. A receiver
// recomputes the HMAC over the exact bytes, compares in constant time and refuses stale
// timestamps. A 2xx status means done; for "grant", a JSON object body is the credential (kept
// sealed until fetched once). Anything else, a connection failure or the timeout is a failure.
// Receivers must be idempotent by grant_id and answer 2xx to a revoke of an unknown grant.
//
// Options: url (required; https, or http on a loopback address), secret_file (required, mode
// 0600; read at start, kept sealed in memory), timeout (default "10s"), cacert (PEM file).
#pragma once

#include <memory>
#include <string>

#include "connectors/common/state.h"
#include "connector/connector.h"

namespace bg::connectors {

class WebhookConnector final : public connector::Connector, public connector::CredentialSource {
 public:
  static Result<std::unique_ptr<WebhookConnector>> Create(const connector::PluginConfig& config,
                                                          const connector::ConnectorContext& context);
  Status Grant(const core::Request& grant) override;
  Status Revoke(const core::Request& grant) override;
  Status Probe() override;
  connector::CredentialSource* AsCredentialSource() override { return this; }
  Result<Secret> TakeCredential(const core::Request& grant) override;

 private:
  WebhookConnector(ConnectorState state, const Clock& clock)
      : state_(std::move(state)), clock_(clock) {}
  Result<std::string> Post(std::string_view action, const std::string& body);

  ConnectorState state_;
  const Clock& clock_;
  std::string url_, cacert_;
  std::string sealed_secret_;
  Seconds timeout_{10};
};

// "sha256=" + hex HMAC-SHA256(secret, timestamp + "." + body).
std::string WebhookSignature(std::string_view secret, std::string_view timestamp,
                             std::string_view body);

}  // namespace bg::connectors
