// Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing past U+10FFFF. One decoder
// for everything that must refuse or escape what is not text: request paths and queries,
// metric label values, text printed to a terminal, kit manifests and records.
#pragma once

#include <cstddef>
#include <string_view>

namespace bg {

// The length (1 to 4 bytes) of the valid UTF-8 sequence `s` starts with, and its code point in
// `*cp` when given; 0 when `s` is empty or does not start with a valid sequence.
size_t DecodeUtf8(std::string_view s, char32_t* cp = nullptr);

bool IsValidUtf8(std::string_view s);

}  // namespace bg
