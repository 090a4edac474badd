// The `ssh_ca` connector: an Ed25519 OpenSSH user CA whose certificates are the grant.
//
// The CA key is created at first use and kept in the store's meta table sealed under the master
// key. Grant() only makes sure the CA works (the certificate is issued later, for the
// requester's own public key, by IssueCertificate). Revoke() puts every serial issued for the
// grant that is still within its validity into the revoked set and bumps the KRL version; a
// certificate is never issued for a grant once it was revoked. Serials come from a persisted
// counter (unique per CA), reserved per grant in blocks of 256 that are stored before a
// certificate from them leaves (revocation covers the whole block). Thread-safe.
//
// A drill grant (core::Request::drill_id) is certified for the drill target's principal only,
// without force_command (the drill's login runs `true`, not a recorded session), and
// UseDrillGrant logs in with it: a fresh key in a private temporary directory, ssh-keygen and
// ssh from OpenSSH on the server's PATH.
//
// Options ([connectors.NAME], all optional):
//   extensions     = ["permit-pty", ...]   OpenSSH extensions; default none
//   force_command  = "cmd --grant %g"      critical option; %g is replaced by the request id
//   source_address = "10.0.0.0/8,..."      critical option
//   backdate       = "2m"                  valid-after lies this far before the grant start
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "connectors/common/state.h"
#include "ssh/certificate.h"
#include "ssh/keys.h"
#include "connector/connector.h"

namespace bg::connectors {

using connector::IssuedCertificate;

class SshCaConnector final : public connector::Connector,
                             public connector::SshCertificateIssuer,
                             public connector::DrillUser {
 public:
  // `create_ca`: make the CA when there is none yet (the server); local readers pass false and
  // get FailedPrecondition instead.
  static Result<std::unique_ptr<SshCaConnector>> Create(const connector::PluginConfig& config,
                                                        const connector::ConnectorContext& context,
                                                        bool create_ca = true);

  Status Grant(const core::Request& grant) override;
  Status Revoke(const core::Request& grant) override;
  Status Probe() override;
  connector::SshCertificateIssuer* AsSshIssuer() override { return this; }
  connector::DrillUser* AsDrillUser() override { return this; }
  Result<connector::DrillUse> UseDrillGrant(const core::Request& grant,
                                            const Issued& issued) override;

  // Signs `public_key_line` (an authorized_keys-style line) for the active grant: window = the
  // grant window (valid-after back-dated by `backdate`), principal = the privilege, key id
  // "breakglass:<request id>:<requester>". FailedPrecondition unless the grant is active and
  // unrevoked; InvalidArgument (field "public_key") for an unusable key.
  Result<IssuedCertificate> IssueCertificate(const core::Request& grant,
                                             std::string_view public_key_line) override;

  // Puts one certificate serial into the revoked set until `valid_before` (after that sshd
  // refuses the certificate anyway) and bumps the KRL version: for certificates issued outside
  // a grant, such as an emergency certificate signed from an offline kit (kit ssh-cert).
  // Revoking a serial again is harmless; InvalidArgument for serial 0.
  Status RevokeSerial(uint64_t serial, Timestamp valid_before) override;

  // "ssh-ed25519 AAAA... breakglass-ca:<instance>" for TrustedUserCAKeys.
  std::string PublicKeyLine() const override;
  // The CA private key, for `breakglass ssh-ca kit` only (splits it into an offline kit). The
  // server never calls this.
  const ssh::Ed25519PrivateKey& CaKeyForKit() const { return ca_; }
  const std::string& instance() const override { return state_.instance(); }
  // The current KRL (PROTOCOL.krl, binary) of the revoked serials still within validity.
  Result<std::string> Krl() override;
  uint64_t krl_version() override;

 private:
  struct Revoked;
  SshCaConnector(ConnectorState state, const Clock& clock, Random& random,
                 ssh::Ed25519PrivateKey ca);
  Status LoadRevoked();
  // Stores `next_revoked` (without expired entries) with `writes` in one commit, bumping the
  // KRL version when it changed. mu_ held.
  Status CommitRevoked(std::map<uint64_t, int64_t> next_revoked, bool changed,
                       std::vector<std::pair<std::string, std::string>> writes);

  ConnectorState state_;
  const Clock& clock_;
  Random& random_;
  ssh::Ed25519PrivateKey ca_;
  std::set<ssh::Extension> extensions_;
  std::optional<std::string> force_command_;
  std::optional<std::string> source_address_;
  Seconds backdate_{120};

  std::mutex mu_;  // serial allocation, grant records, the revoked set
  uint64_t next_serial_ = 1;
  // Per grant in this process: the serial block in use and the valid-before it is stored with.
  struct Cursor {
    uint64_t next = 1, last = 0;  // next > last: no block yet
    int64_t until = 0;
    bool revoked = false;
  };
  static constexpr uint64_t kSerialBlock = 256;
  std::map<std::string, Cursor> cursors_;
  // serial -> valid_before (seconds) of revoked certificates.
  std::map<uint64_t, int64_t> revoked_;
  uint64_t krl_version_ = 0;
};

// The key id of a grant's certificates: printable ASCII only (other bytes as \xNN).
std::string CertificateKeyId(const core::Request& grant);

}  // namespace bg::connectors
