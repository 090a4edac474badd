#include "service/recording_check.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <sstream>

namespace bg::service {

bool RunsRecorder(std::string_view force_command) {
  std::istringstream in{std::string(force_command)};
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  for (size_t i = 0; i + 1 < words.size(); ++i) {
    const std::string& prog = words[i];
    const size_t slash = prog.rfind('/');
    const std::string base = slash == std::string::npos ? prog : prog.substr(slash + 1);
    if (base != "breakglass" || words[i + 1] != "record") continue;
    for (size_t j = i + 2; j < words.size(); ++j) {
      if (words[j] == "--grant=%g" || (words[j] == "--grant" && j + 1 < words.size() &&
                                       words[j + 1] == "%g")) {
        return true;
      }
    }
  }
  return false;
}

std::string SessionRecording(const PluginConfig& c) {
  if (c.kind == "none") return "recorded_shell";
  if (c.kind != "ssh_ca") return "none";
  auto j = nlohmann::json::parse(c.options_json, nullptr, false);
  if (j.is_object() && j.contains("force_command") && j["force_command"].is_string() &&
      RunsRecorder(j["force_command"].get<std::string>())) {
    return "forced";
  }
  return "not_forced";
}

std::vector<std::string> RecorderWarnings(const std::map<std::string, PluginConfig>& connectors) {
  std::vector<std::string> out;
  for (const auto& [name, c] : connectors) {
    if (SessionRecording(c) != "not_forced") continue;
    out.push_back(fmt::format(
        "connectors.{}: ssh_ca without a forced recorder (force_command = \"breakglass record "
        "--grant %g --server URL\"): its SSH sessions are not recorded, and revoking a grant "
        "does not end a session already open (sshd checks the certificate only at login)",
        name));
  }
  return out;
}

std::vector<std::string> RecordingProblems(const core::Policy& policy,
                                           const std::map<std::string, PluginConfig>& connectors,
                                           const std::string& path) {
  std::vector<std::string> out;
  for (const auto& rule : policy.rules) {
    if (rule.recording != core::Recording::kRequired) continue;
    const core::Resource* res = policy.FindResource(rule.resource);
    if (res == nullptr) continue;
    auto it = connectors.find(res->connector);
    if (it == connectors.end()) continue;
    const std::string how = SessionRecording(it->second);
    if (how == "forced" || how == "recorded_shell") continue;
    out.push_back(fmt::format(
        "{}:{}: the rule for resource '{}' has recording = \"required\", but its connector '{}' "
        "({}) {}",
        path, rule.line, rule.resource, res->connector, it->second.kind,
        how == "not_forced"
            ? "does not force the recorder (force_command = \"breakglass record --grant %g "
              "--server URL\")"
            : "opens sessions the recorder cannot see"));
  }
  return out;
}

}  // namespace bg::service
