#include "connector/connector.h"

#include <fmt/format.h>

namespace bg::connector {
namespace {

// "none": record-only. The grant is tracked, audited, reviewed and expires, but no credential
// is issued on a target: for resources whose access is enforced elsewhere (or the demo).
class RecordOnlyConnector final : public Connector {
 public:
  Status Grant(const core::Request&) override { return Ok(); }
  Status Revoke(const core::Request&) override { return Ok(); }
  Status Probe() override { return Ok(); }
};

}  // namespace

ConnectorRegistry::ConnectorRegistry() {
  RegisterKind("none", [](const PluginConfig& c,
                          const ConnectorContext&) -> Result<std::unique_ptr<Connector>> {
    if (c.options_json != "{}") {
      return Error::InvalidArgument("connectors." + c.name,
                                    "a connector of kind 'none' takes no options");
    }
    return std::unique_ptr<Connector>(new RecordOnlyConnector());
  });
}

void ConnectorRegistry::RegisterKind(std::string kind, ConnectorFactory factory) {
  kinds_[std::move(kind)] = std::move(factory);
}

Status ConnectorRegistry::Configure(const std::map<std::string, PluginConfig>& configs,
                                     const ConnectorHost& host) {
  std::map<std::string, std::unique_ptr<Connector>> made;
  for (const auto& [name, cfg] : configs) {
    auto kind = kinds_.find(cfg.kind);
    if (kind == kinds_.end()) {
      std::string known;
      for (const auto& [k, f] : kinds_) known += (known.empty() ? "" : ", ") + k;
      return Error::InvalidArgument(
          "connectors." + name,
          fmt::format("unknown connector kind '{}' (this build knows: {})", cfg.kind, known));
    }
    ConnectorContext context = host.For(name);
    BG_ASSIGN_OR_RETURN(made[name], kind->second(cfg, context));
  }
  instances_ = std::move(made);
  return Ok();
}

Connector* ConnectorRegistry::Find(const std::string& name) const {
  auto it = instances_.find(name);
  return it == instances_.end() ? nullptr : it->second.get();
}

}  // namespace bg::connector
