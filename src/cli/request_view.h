// The human (non --json) view of one request, as `status`, `request`, `approve`, ... print it.
// Every field that came from a person or the server goes through TerminalSafe; times are shown
// with the local time beside them when `local_times` (stdout is a terminal).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace bg::cli {

std::string HumanRequest(const nlohmann::json& r, bool local_times);

}  // namespace bg::cli
