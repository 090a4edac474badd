// Text the CLI prints that it did not write itself: other people's words (reasons, tickets,
// comments, names), connector errors, anything a server sent.
//
// TerminalSafe makes such text harmless on a terminal: control characters (C0, DEL, C1, the
// ESC that starts every terminal control sequence), the bidirectional overrides that reorder
// what is shown (U+202A-U+202E, U+2066-U+2069), U+2028/U+2029 and bytes that are not UTF-8 are
// shown as escapes (\n \r \t \xNN \uNNNN) instead of being sent to the terminal. Everything
// else, including any valid UTF-8 text, is unchanged. Use it for every such field, in every
// human (non --json) output. Pure, thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace bg::cli {

std::string TerminalSafe(std::string_view text);

// An RFC 3339 UTC time for people: the time itself and, when `local` and the local time zone
// (TZ) is not UTC, the local time beside it: "2026-11-24T22:49:56Z (23:49:56 CET)". Text that
// is not such a time comes back through TerminalSafe.
std::string HumanTime(std::string_view rfc3339, bool local);

// Whether stdout is a terminal (the human conveniences: local times, spinners).
bool StdoutIsTerminal();

}  // namespace bg::cli
