#include "auth/token.h"

#include <sodium.h>

#include <array>
#include <cstdint>

#include "util/encoding.h"
#include "util/sha256.h"

namespace bg::auth {
namespace {

// Each byte's base64url value (0..63), or -1.
constexpr std::array<int8_t, 256> kBase64UrlValue = [] {
  std::array<int8_t, 256> t{};
  t.fill(-1);
  constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  for (size_t i = 0; i < kAlphabet.size(); ++i) {
    t[static_cast<unsigned char>(kAlphabet[i])] = static_cast<int8_t>(i);
  }
  return t;
}();

int Base64UrlValue(char c) { return kBase64UrlValue[static_cast<unsigned char>(c)]; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

}  // namespace

Secret NewBearerToken(Random& random) {
  std::string raw = random.Bytes(kTokenRandomBytes);
  std::string text = std::string(kTokenPrefix) + Base64UrlEncode(raw);
  Secret token(text);
  sodium_memzero(raw.data(), raw.size());
  sodium_memzero(text.data(), text.size());
  return token;
}

std::string TokenHash(std::string_view token) { return HexEncode(AsBytes(Sha256(token))); }

bool IsWellFormedToken(std::string_view token) {
  if (token.size() != kTokenLength || token.substr(0, kTokenPrefix.size()) != kTokenPrefix) {
    return false;
  }
  // 43 characters carry 258 bits for 256: the last one must leave its 2 spare bits zero, so
  // that one token has one text (what decoding to exactly 32 bytes checks, without copying
  // the secret into a buffer that must then be wiped: every request pays for this check).
  const std::string_view body = token.substr(kTokenPrefix.size());
  for (char c : body) {
    if (Base64UrlValue(c) < 0) return false;
  }
  return Base64UrlValue(body.back()) % 4 == 0;
}

Result<std::string_view> BearerToken(std::string_view header) {
  if (header.empty()) return Error::Unauthenticated("missing Authorization header");
  size_t space = header.find(' ');
  std::string_view scheme = header.substr(0, space);
  if (!EqualsIgnoreCase(scheme, "Bearer")) {
    return Error::Unauthenticated("Authorization header must use the Bearer scheme");
  }
  if (space == std::string_view::npos) {
    return Error::Unauthenticated("Authorization header has no token after 'Bearer'");
  }
  std::string_view rest = header.substr(space);
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  if (rest.empty()) {
    return Error::Unauthenticated("Authorization header has no token after 'Bearer'");
  }
  if (IsWellFormedToken(rest)) return rest;  // has no blank: the usual case looks once
  if (rest.find_first_of(" \t") != std::string_view::npos) {
    return Error::Unauthenticated("Authorization header has text after the token");
  }
  return Error::Unauthenticated(
      "bearer token is malformed (expected bgt_ and 43 base64url characters)");
}

Result<Secret> ParseAuthorizationHeader(std::string_view header) {
  BG_ASSIGN_OR_RETURN(std::string_view token, BearerToken(header));
  return Secret(token);
}

}  // namespace bg::auth
