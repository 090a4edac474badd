// Opaque bearer tokens for the HTTP API.
//
// A token is "bgt_" + base64url(32 random bytes) (47 characters). Only TokenHash(token) is
// stored, so a copy of the database does not yield usable tokens; a presented token is looked
// up by its hash. Thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "util/random.h"
#include "util/result.h"
#include "util/secret.h"

namespace bg::auth {

inline constexpr std::string_view kTokenPrefix = "bgt_";
inline constexpr size_t kTokenRandomBytes = 32;
inline constexpr size_t kTokenLength = 47;  // 4 + 43 base64url characters

Secret NewBearerToken(Random& random = SystemRandom::Get());

// Lower-case hex SHA-256 of the token's text (64 characters): what the store keeps.
std::string TokenHash(std::string_view token);
inline std::string TokenHash(const Secret& token) { return TokenHash(token.Reveal()); }

// True when `token` has exactly the shape NewBearerToken produces.
bool IsWellFormedToken(std::string_view token);

// Parses an HTTP Authorization header value: the scheme "Bearer" (any case), one or more
// spaces, a well-formed token, nothing else. Unauthenticated, with a message saying what is
// wrong, for an empty header, another scheme, a missing or malformed token, or trailing text.
// The message never contains the header's text.
Result<Secret> ParseAuthorizationHeader(std::string_view header);
// The same, the token as a view into `header` (no copy of the secret).
Result<std::string_view> BearerToken(std::string_view header);

}  // namespace bg::auth
