// What the service asks of a target system: the connector interface, its declared capabilities,
// the narrow context a connector is made with, and the registry that makes them by kind from
// the configuration (one small factory table). Implementations live in src/connectors/; the
// service implements the context's state store (service/connector_state.h).
//
// This library depends on the core's types and util only: a connector sees the clock, a
// source of randomness, its own state and the configuration's path resolution, never the
// store, the master key or the server's configuration.
//
// Every call is idempotent by request id: a retried Grant or Revoke must be harmless.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "connector/plugin_config.h"
#include "core/request.h"
#include "util/random.h"
#include "util/result.h"
#include "util/secret.h"
#include "util/time.h"

namespace bg::connector {

// One connector instance's persisted state: values under names it chooses, apart from every
// other instance's, plain or sealed under the server's master key. A sealed value is bound to
// the instance and the name it was sealed for: moved to another name or instance, it does not
// open. Thread-safe; each call is one read or one atomic commit.
class StateStore {
 public:
  virtual ~StateStore() = default;
  virtual Result<std::optional<std::string>> Get(std::string_view what) const = 0;
  // Writes every pair in one atomic commit.
  virtual Status Put(const std::vector<std::pair<std::string, std::string>>& values) const = 0;
  virtual std::string Seal(std::string_view what, const Secret& value) const = 0;
  virtual Result<Secret> Open(std::string_view what, std::string_view sealed) const = 0;
};

// What one connector instance is made with.
struct ConnectorContext {
  const Clock& clock;
  Random& random;
  std::shared_ptr<const StateStore> state;  // this instance's own
  // A path from the configuration made absolute (relative paths are relative to data_dir).
  std::function<std::string(const std::string&)> resolve_path;
};

// What the server offers every instance; the registry makes each instance's context from it.
struct ConnectorHost {
  const Clock& clock;
  Random& random;
  std::function<std::shared_ptr<const StateStore>(const std::string& instance)> state_for;
  std::function<std::string(const std::string&)> resolve_path;

  ConnectorContext For(const std::string& instance) const {
    return ConnectorContext{clock, random, state_for(instance), resolve_path};
  }
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

// What a drill used and saw (service/drills.h).
struct DrillUse {
  std::string detail;    // what was run: "ssh drill@127.0.0.1 -p 2222 true", "select 1 on app"
  std::string host_key;  // ssh: the host key's SHA-256 fingerprint, when accepted on first use
};

// A credential made or taken for a drill's use: the drill audits it before it is used (every
// credential issued is in the log).
struct DrillCredential {
  enum class Kind { kSshCertificate, kTaken };
  Kind kind = Kind::kTaken;
  std::string public_key_line;  // kSshCertificate: the key it certifies
  IssuedCertificate certificate;
  std::vector<std::string> principals;
};

// Capability: proves an active drill grant (core::Request::drill_id) works by using it on its
// drill target, as a person would: an SSH login running `true` (ssh_ca), a database login
// running `select 1` (postgres_role), the resource's check program (exec). `issued` is called
// with each credential made or taken for the use before it is used; its error stops the use.
// Unavailable (saying what failed) when the use fails; FailedPrecondition when `grant` is no
// active drill grant. The credential never leaves the server: it is used here and dropped.
class DrillUser {
 public:
  virtual ~DrillUser() = default;
  using Issued = std::function<Status(const DrillCredential&)>;
  virtual Result<DrillUse> UseDrillGrant(const core::Request& grant, const Issued& issued) = 0;
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
  virtual DrillUser* AsDrillUser() { return nullptr; }
};

using ConnectorFactory = std::function<Result<std::unique_ptr<Connector>>(
    const PluginConfig& config, const ConnectorContext& context)>;

class ConnectorRegistry {
 public:
  // Registers the built-in kinds ("none").
  ConnectorRegistry();
  void RegisterKind(std::string kind, ConnectorFactory factory);
  // Instantiates every configured connector; an unknown kind names the instance.
  Status Configure(const std::map<std::string, PluginConfig>& configs, const ConnectorHost& host);
  Connector* Find(const std::string& name) const;
  bool Has(const std::string& name) const { return Find(name) != nullptr; }

 private:
  std::map<std::string, ConnectorFactory> kinds_;
  std::map<std::string, std::unique_ptr<Connector>> instances_;
};

}  // namespace bg::connector
