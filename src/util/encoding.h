// Byte-string encodings: hex, base64 (RFC 4648 standard, padded) and base64url (unpadded).
// Decoders refuse anything that is not exactly canonical input for their alphabet.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace bg {

std::string HexEncode(std::string_view bytes);
std::optional<std::string> HexDecode(std::string_view hex);
std::string Base64Encode(std::string_view bytes);
// Appends Base64Encode(bytes) to `out`, by table lookups: for public bytes in bulk (hashes and
// leaves of proofs). Not constant-time, unlike Base64Encode (libsodium's): never for secrets.
void Base64EncodeAppend(std::string_view bytes, std::string& out);
// A uint64 written in canonical decimal (digits only, no sign, no leading zero, at most
// 18446744073709551615): certificate serials travel as such strings in JSON.
std::optional<uint64_t> ParseDecimalU64(std::string_view text);
// Whether `text` is an IPv4 or IPv6 address in text form (inet_pton), not a host name.
bool IsIpAddress(std::string_view text);

// Standard base64 exactly as Base64Encode writes it (padded, no white space, unused bits
// zero); anything else is refused, so every byte string has one accepted encoding.
std::optional<std::string> Base64Decode(std::string_view b64);
// The same into a caller's buffer (reused across calls by the log verifier); false on refusal.
// Long inputs are decoded 32 characters at a time with AVX2 where the CPU has it (not by
// AVX-512: its 512-bit multiplies slowed the SHA-256 run next to them, bench/RESULTS.md).
bool Base64DecodeInto(std::string_view b64, std::string& out);
// The same from out[offset] on (offset <= out.size()): out's first `offset` bytes are kept and
// its size becomes offset + the decoded size. False on refusal, leaving out's bytes from
// `offset` on unspecified.
bool Base64DecodeInto(std::string_view b64, std::string& out, size_t offset);
// Standard base64 of exactly 32 bytes (44 characters, the last '=') into `out`, accepting what
// Base64Decode accepts for those: false for anything else, leaving `out` unspecified. Two
// overlapping AVX2 steps where the CPU has it, for the verifier's stored leaf hashes.
bool Base64Decode32(std::string_view b64, std::array<uint8_t, 32>& out);
std::string Base64UrlEncode(std::string_view bytes);
std::optional<std::string> Base64UrlDecode(std::string_view b64);

namespace internal {
// For tests: whether the CPU has AVX2 (Base64DecodeInto then takes SIMD steps), and the
// decoder without them.
bool CpuHasAvx2();
bool Base64DecodeIntoPortable(std::string_view b64, std::string& out, size_t offset);
bool Base64Decode32Portable(std::string_view b64, std::array<uint8_t, 32>& out);
}  // namespace internal

}  // namespace bg
