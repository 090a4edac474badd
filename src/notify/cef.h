// ArcSight Common Event Format (CEF) lines for audit leaves, for SIEMs:
//
//   CEF:0|breakglass|breakglass|0.1.0|<type>|<type>|<severity>|rt=<ms> suser=<actor> ...
//
// Header fields escape '\' and '|' with a backslash; extension values escape '\' and '=' and
// write CR and LF as \r and \n (the CEF rules). Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "audit/event.h"

namespace bg::notify {

// Escapes a CEF header field ('\' -> "\\", '|' -> "\|"; CR and LF become spaces: a header
// cannot hold line breaks).
std::string CefEscapeHeader(std::string_view value);
// Escapes a CEF extension value ('\' -> "\\", '=' -> "\=", CR -> "\r", LF -> "\n").
std::string CefEscapeValue(std::string_view value);
// CEF severity 0-10 for an event type: SeverityOf(type).cef (notify/severity.h).
int CefSeverity(std::string_view type);
// One CEF line (no trailing newline) for the leaf at `index`.
std::string FormatCef(int64_t index, const audit::LeafEvent& event);

}  // namespace bg::notify
