// SHA-256 and HMAC-SHA256 via OpenSSL (hardware accelerated where the CPU allows).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace bg {

using Digest = std::array<uint8_t, 32>;

Digest Sha256(std::string_view data);
// SHA-256 of the concatenation of parts, without copying them together.
Digest Sha256Parts(std::initializer_list<std::string_view> parts);
Digest HmacSha256(std::string_view key, std::string_view data);
inline std::string_view AsBytes(const Digest& d) {
  return {reinterpret_cast<const char*>(d.data()), d.size()};
}

}  // namespace bg
