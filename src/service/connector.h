// What the service asks of a target system. Implementations live in connectors/ and are chosen
// by kind from the configuration through ConnectorRegistry (one small factory table).
// Every call is idempotent by request id: a retried Grant or Revoke must be harmless.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "core/request.h"
#include "service/config.h"
#include "util/result.h"
#include "util/secret.h"
#include "util/time.h"

namespace bg::auth {
class MasterKey;
}
namespace bg::store {
class Store;
}

namespace bg::service {

// What a connector factory may use: the master key (to seal its secrets at rest, e.g. in the
// store's meta table) and the store.
struct ConnectorContext {
  const auth::MasterKey& master_key;
  store::Store& store;
  const ServerConfig& config;
};

struct IssuedCertificate {
  std::string certificate;  // "ssh-ed25519-cert-v01@openssh.com AAAA... key_id"
  uint64_t serial = 0;
  Timestamp valid_after;
  Timestamp valid_before;
};

// Capability: an OpenSSH user CA whose certificates are the grant (ssh_ca). What the API's
// /v1/ssh/* and /v1/requests/{id}/ssh-cert routes use.
class SshCertificateIssuer {
 public:
  virtual ~SshCertificateIssuer() = default;
  // Signs `public_key_line` for the active, unrevoked grant. FailedPrecondition unless the
  // grant is active and unrevoked; InvalidArgument (field "public_key") for an unusable key.
  virtual Result<IssuedCertificate> IssueCertificate(const core::Request& grant,
                                                     std::string_view public_key_line) = 0;
  // Puts one serial into the revoked set until `valid_before` and bumps the KRL version.
  virtual Status RevokeSerial(uint64_t serial, Timestamp valid_before) = 0;
  // "ssh-ed25519 AAAA... breakglass-ca:<instance>" for TrustedUserCAKeys.
  virtual std::string PublicKeyLine() const = 0;
  // The current KRL (PROTOCOL.krl, binary) and its version.
  virtual Result<std::string> Krl() = 0;
  virtual uint64_t krl_version() = 0;
  virtual const std::string& instance() const = 0;
};

// Capability: hands a credential to the requester once (postgres_role, exec, webhook): what
// GET /v1/requests/{id}/credentials returns.
class CredentialSource {
 public:
  virtual ~CredentialSource() = default;
  // The credential as a JSON object text, once. NotFound when none is waiting.
  virtual Result<Secret> TakeCredential(const core::Request& grant) = 0;
};

class Connector {
 public:
  virtual ~Connector() = default;
  // Issues (or re-issues for an extended window) the credential for the grant.
  virtual Status Grant(const core::Request& grant) = 0;
  virtual Status Revoke(const core::Request& grant) = 0;
  virtual Status Probe() = 0;

  // The capabilities beyond Grant/Revoke/Probe, declared by the connector: nullptr when it has
  // none of that kind. The pointer lives as long as the connector.
  virtual SshCertificateIssuer* AsSshIssuer() { return nullptr; }
  virtual CredentialSource* AsCredentialSource() { return nullptr; }
};

using ConnectorFactory = std::function<Result<std::unique_ptr<Connector>>(
    const PluginConfig& config, ConnectorContext& context)>;

class ConnectorRegistry {
 public:
  // Registers the built-in kinds ("none").
  ConnectorRegistry();
  void RegisterKind(std::string kind, ConnectorFactory factory);
  // Instantiates every configured connector; an unknown kind names the instance.
  Status Configure(const std::map<std::string, PluginConfig>& configs, ConnectorContext& context);
  Connector* Find(const std::string& name) const;
  bool Has(const std::string& name) const { return Find(name) != nullptr; }

 private:
  std::map<std::string, ConnectorFactory> kinds_;
  std::map<std::string, std::unique_ptr<Connector>> instances_;
};

}  // namespace bg::service
