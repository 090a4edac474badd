#include "connectors/builtin.h"

#include "connectors/exec/exec_connector.h"
#include "connectors/postgres_role/postgres_role.h"
#include "connectors/ssh_ca/ssh_ca_connector.h"
#include "connectors/webhook/webhook_connector.h"

namespace bg::connectors {
namespace {

template <typename T>
connector::ConnectorFactory Factory() {
  return [](const connector::PluginConfig& config,
            const connector::ConnectorContext& context) -> Result<std::unique_ptr<connector::Connector>> {
    BG_ASSIGN_OR_RETURN(auto c, T::Create(config, context));
    return std::unique_ptr<connector::Connector>(std::move(c));
  };
}

}  // namespace

void RegisterBuiltinConnectors(connector::ConnectorRegistry& registry) {
  registry.RegisterKind("ssh_ca", Factory<SshCaConnector>());
  registry.RegisterKind("postgres_role", Factory<PostgresRoleConnector>());
  registry.RegisterKind("exec", Factory<ExecConnector>());
  registry.RegisterKind("webhook", Factory<WebhookConnector>());
}

}  // namespace bg::connectors
