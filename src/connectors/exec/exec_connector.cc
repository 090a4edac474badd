#include "connectors/exec/exec_connector.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "connectors/common/process.h"

namespace bg::connectors {

Result<std::string> ParseCredentialAnswer(std::string_view out, std::string_view who) {
  if (out.find_first_not_of(" \t\r\n") == std::string_view::npos) return std::string();
  try {
    auto j = nlohmann::json::parse(out);
    if (!j.is_object()) {
      return Error::Unavailable(fmt::format("{}: the grant answer is not a JSON object", who));
    }
    return j.dump();
  } catch (const nlohmann::json::exception&) {
    return Error::Unavailable(fmt::format("{}: the grant answer is not JSON", who));
  }
}

Result<std::unique_ptr<ExecConnector>> ExecConnector::Create(const connector::PluginConfig& config,
                                                             const connector::ConnectorContext& context) {
  BG_ASSIGN_OR_RETURN(Options opts, Options::Parse(config, {"grant", "revoke", "probe", "timeout"}));
  std::unique_ptr<ExecConnector> c(
      new ExecConnector(ConnectorState(config.name, context.state), context.clock));
  BG_ASSIGN_OR_RETURN(c->grant_, opts.StringArray("grant", {}));
  BG_ASSIGN_OR_RETURN(c->revoke_, opts.StringArray("revoke", {}));
  BG_ASSIGN_OR_RETURN(c->probe_, opts.StringArray("probe", {}));
  for (const auto& [key, argv] : {std::pair{"grant", &c->grant_}, {"revoke", &c->revoke_}}) {
    if (argv->empty()) return Error::InvalidArgument(opts.Field(key), "is required (an argv array)");
  }
  BG_ASSIGN_OR_RETURN(c->timeout_, opts.Duration("timeout", Seconds(30)));
  if (c->timeout_.count() < 1) return Error::InvalidArgument(opts.Field("timeout"), "must be >= 1s");
  return c;
}

Result<std::string> ExecConnector::Run(std::string_view action,
                                       const std::vector<std::string>& argv,
                                       const std::string& input) {
  BG_ASSIGN_OR_RETURN(ProcessResult r, RunProcess(argv, input, timeout_));
  if (r.timed_out) {
    return Error::Unavailable(fmt::format("exec {}: {} timed out after {}", state_.instance(),
                                          action, FormatDuration(timeout_)));
  }
  if (r.exit_code != 0) {
    std::string first = r.err.substr(0, r.err.find('\n')).substr(0, 300);
    return Error::Unavailable(fmt::format("exec {}: {} exited with {}{}{}", state_.instance(),
                                          action,
                                          r.exit_code < 0 ? std::string("a signal")
                                                          : "status " + std::to_string(r.exit_code),
                                          first.empty() ? "" : ": ", first));
  }
  return std::move(r.out);
}

Status ExecConnector::Grant(const core::Request& grant) {
  if (!grant.drill_id.empty()) return Ok();  // a drill reaches its check only
  BG_ASSIGN_OR_RETURN(std::string out, Run("grant", grant_, GrantJson("grant", grant, clock_.Now())));
  BG_ASSIGN_OR_RETURN(std::string cred, ParseCredentialAnswer(out, "exec " + state_.instance()));
  std::fill(out.begin(), out.end(), '\0');
  if (!cred.empty()) {
    Secret s(cred);
    std::fill(cred.begin(), cred.end(), '\0');
    return OneTimeCredentials(state_).Store(grant.id, s);
  }
  return Ok();
}

Status ExecConnector::Revoke(const core::Request& grant) {
  if (!grant.drill_id.empty()) return Ok();
  BG_TRY(Run("revoke", revoke_, GrantJson("revoke", grant, clock_.Now())));
  return OneTimeCredentials(state_).Discard(grant.id);
}

Status ExecConnector::Probe() {
  if (probe_.empty()) return Ok();
  nlohmann::json j = {{"action", "probe"}};
  BG_TRY(Run("probe", probe_, j.dump()));
  return Ok();
}

Result<Secret> ExecConnector::TakeCredential(const core::Request& grant) {
  return OneTimeCredentials(state_).Take(grant.id);
}

Result<connector::DrillUse> ExecConnector::UseDrillGrant(const core::Request& grant,
                                                         const Issued&) {
  if (grant.drill_id.empty() || !grant.drill_target || grant.drill_target->check.empty()) {
    return Error::FailedPrecondition("not a drill grant with a check program");
  }
  BG_TRY(Run("drill check", grant.drill_target->check, GrantJson("drill", grant, clock_.Now())));
  connector::DrillUse use;
  use.detail = fmt::format("{} exited with status 0", grant.drill_target->check.front());
  return use;
}

}  // namespace bg::connectors
