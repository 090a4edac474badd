// The `postgres_role` connector: one fresh PostgreSQL login role per grant.
//
// Grant creates (or, when it exists, alters) the role <role_prefix><person>_<request id> with a
// random password, VALID UNTIL the grant's end, INHERIT, member of the granted privilege role
// only, and nothing else (NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS). The
// password is kept sealed under the master key until the requester fetches it once
// (TakeCredential). Revoke sets NOLOGIN, terminates the role's backends, then drops the role;
// objects it owns are reassigned to the admin role and dropped ("reassign") or make the revoke
// fail and stay queued with the role locked out ("refuse", the default). Probe connects and
// checks the admin may create roles. Every identifier goes through PQescapeIdentifier and every
// literal through PQescapeLiteral or a bound parameter. Thread-safe (one connection per call).
//
// A drill grant (core::Request::drill_id) gets a login role that is a member of no role, for the
// drill target's database; UseDrillGrant takes its one-time credential and logs in with it to
// that database on the admin DSN's host and port, running `select 1`.
//
// Options: dsn (libpq connection string of the admin role, required), password_file (the
// admin's password, mode 0600; read at start, kept sealed in memory), owned_objects
// ("refuse" | "reassign"), role_prefix (default "bg_"), connect_timeout (default "10s").
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "connectors/common/state.h"
#include "connector/connector.h"

namespace bg::connectors {

// The login role name for a grant: `prefix`, the person's name and the request id, each folded
// to [a-z0-9_] (anything else becomes '_'), at most 63 bytes (PostgreSQL's NAMEDATALEN - 1).
// The request id is always kept whole, so names of different grants differ.
std::string DerivePostgresRoleName(std::string_view prefix, std::string_view person,
                                   const RequestId& id);

class PostgresRoleConnector final : public connector::Connector,
                                    public connector::CredentialSource,
                                    public connector::DrillUser {
 public:
  static Result<std::unique_ptr<PostgresRoleConnector>> Create(
      const connector::PluginConfig& config, const connector::ConnectorContext& context);
  ~PostgresRoleConnector() override;

  Status Grant(const core::Request& grant) override;
  Status Revoke(const core::Request& grant) override;
  Status Probe() override;
  connector::CredentialSource* AsCredentialSource() override { return this; }
  // {"username","password","host","port","dbname"}, once per grant.
  Result<Secret> TakeCredential(const core::Request& grant) override;
  connector::DrillUser* AsDrillUser() override { return this; }
  Result<connector::DrillUse> UseDrillGrant(const core::Request& grant,
                                            const Issued& issued) override;

 private:
  class Conn;
  PostgresRoleConnector(ConnectorState state, const Clock& clock, Random& random);
  Result<std::unique_ptr<Conn>> Connect() const;

  ConnectorState state_;
  const Clock& clock_;
  Random& random_;
  std::string dsn_;
  std::string sealed_password_;  // the admin password, sealed; empty when the DSN carries it
  bool reassign_owned_ = false;
  std::string role_prefix_ = "bg_";
  int connect_timeout_ = 10;
  std::string host_, port_, dbname_;  // for the credential shown to the requester
  std::mutex mu_;  // one grant/revoke at a time per instance
};

}  // namespace bg::connectors
