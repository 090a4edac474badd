// Which sessions a grant's credential can open outside the recorder, for the checks of issue 13
// (items 3 and 15): an ssh_ca connector forces the recorder when its force_command runs
// `breakglass record --grant %g`; sshd then runs every session of the certificate through it,
// and revocation or expiry ends them. Without one, sshd checks the certificate only at login,
// so nothing on the target ends a session that is already open. Pure functions.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/policy.h"
#include "service/config.h"

namespace bg::service {

// True when `force_command` runs the recorder for the grant: a program named `breakglass` (any
// directory) with the subcommand `record` and `--grant %g` (or `--grant=%g`).
bool RunsRecorder(std::string_view force_command);

// How a connector's sessions are recorded: "forced" (ssh_ca whose force_command runs the
// recorder), "not_forced" (ssh_ca without: revocation cannot end open sessions), "none" (a kind
// that opens no session through the recorder: postgres_role, exec, webhook), "recorded_shell"
// (`none`: only `breakglass shell` sessions, which are recorded).
std::string SessionRecording(const PluginConfig& connector);

// One warning per ssh_ca connector that does not force the recorder.
std::vector<std::string> RecorderWarnings(const std::map<std::string, PluginConfig>& connectors);

// One problem ("PATH: ...") per rule with recording = "required" whose resource's connector
// cannot force its sessions through the recorder. Connectors missing from `connectors` are
// left to the check that names them.
std::vector<std::string> RecordingProblems(const core::Policy& policy,
                                           const std::map<std::string, PluginConfig>& connectors,
                                           const std::string& path);

}  // namespace bg::service
