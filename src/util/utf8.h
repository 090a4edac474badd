// Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing past U+10FFFF. One decoder
// for everything that must refuse or escape what is not text: request paths and queries,
// metric label values, text printed to a terminal, kit manifests and records.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace bg {

// The length (1 to 4 bytes) of the valid UTF-8 sequence `s` starts with, and its code point in
// `*cp` when given; 0 when `s` is empty or does not start with a valid sequence.
size_t DecodeUtf8(std::string_view s, char32_t* cp = nullptr);

bool IsValidUtf8(std::string_view s);

// `text` made harmless on a terminal and kept on one line: control characters (C0, DEL, C1,
// the ESC that starts every terminal control sequence), the bidirectional overrides that
// reorder what is shown (U+202A-U+202E, U+2066-U+2069), U+2028/U+2029 and bytes that are not
// UTF-8 are shown as escapes (\n \r \t \xNN \uNNNN). Everything else, including any valid
// UTF-8 text, is unchanged. For text a program did not write itself (other people's words,
// input quoted in a message). Pure, thread-safe.
std::string TerminalSafe(std::string_view text);

}  // namespace bg
