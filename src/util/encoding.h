// Byte-string encodings: hex, base64 (RFC 4648 standard, padded) and base64url (unpadded).
// Decoders refuse anything that is not exactly canonical input for their alphabet.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace bg {

std::string HexEncode(std::string_view bytes);
std::optional<std::string> HexDecode(std::string_view hex);
std::string Base64Encode(std::string_view bytes);
std::optional<std::string> Base64Decode(std::string_view b64);
std::string Base64UrlEncode(std::string_view bytes);
std::optional<std::string> Base64UrlDecode(std::string_view b64);

}  // namespace bg
