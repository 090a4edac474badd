// Text the CLI prints that it did not write itself: other people's words (reasons, tickets,
// comments, names), connector errors, anything a server sent.
//
// TerminalSafe (util/utf8.h) makes such text harmless on a terminal; use it for every such
// field, in every human (non --json) output. Pure, thread-safe.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>

#include "util/utf8.h"

namespace bg::cli {

using bg::TerminalSafe;

// An RFC 3339 UTC time for people: the time itself and, when `local` and the local time zone
// (TZ) is not UTC, the local time beside it: "2026-11-24T22:49:56Z (23:49:56 CET)". Text that
// is not such a time comes back through TerminalSafe.
std::string HumanTime(std::string_view rfc3339, bool local);

// The string field `key` of a server's JSON object, made TerminalSafe; `missing` when `j` is no
// object or the field is absent or not a string.
std::string SafeField(const nlohmann::json& j, const char* key, std::string_view missing = "");

// Whether stdout is a terminal (the human conveniences: local times, spinners).
bool StdoutIsTerminal();

}  // namespace bg::cli
