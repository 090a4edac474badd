// Strict UTF-8 validation (no overlong forms, no surrogates, at most U+10FFFF) for text that
// goes into JSON which is hashed or signed: nlohmann-json refuses to dump invalid UTF-8.
#pragma once

#include <string_view>

namespace bg::kit {

bool IsValidUtf8(std::string_view text);

}  // namespace bg::kit
