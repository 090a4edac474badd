// Bearer tokens (auth/token.h): the Authorization header the API reads on every call.
//
// Invariants: an accepted header yields a well-formed token that the header text contains, with
// one canonical encoding (base64url of 32 bytes that encodes back to the same text); any other
// header is Unauthenticated with a message that repeats none of it (no 20 bytes of the header
// without a space: the fixed texts have a space at least every 20 characters, a token none).
#include "auth/token.h"

#include <string>

#include "fuzz/fuzz.h"
#include "util/encoding.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view header = bg::fuzz::AsText(data, size);
  auto token = bg::auth::ParseAuthorizationHeader(header);
  if (!token) {
    bg::fuzz::CheckError(token.error());
    BG_FUZZ_CHECK(token.error().code() == bg::ErrorCode::kUnauthenticated);
    const std::string& message = token.error().message();
    for (size_t i = 0; i + 20 <= header.size(); ++i) {
      const std::string_view window = header.substr(i, 20);
      if (window.find_first_of(" \t") != std::string_view::npos) continue;
      BG_FUZZ_CHECK(message.find(window) == std::string::npos);
    }
    return 0;
  }
  const std::string_view text = token->Reveal();
  BG_FUZZ_CHECK(bg::auth::IsWellFormedToken(text));
  BG_FUZZ_CHECK(text.size() == bg::auth::kTokenLength);
  BG_FUZZ_CHECK(header.size() >= text.size() && header.substr(header.size() - text.size()) == text);
  auto raw = bg::Base64UrlDecode(text.substr(bg::auth::kTokenPrefix.size()));
  BG_FUZZ_CHECK(raw.has_value() && raw->size() == bg::auth::kTokenRandomBytes);
  BG_FUZZ_CHECK(std::string(bg::auth::kTokenPrefix) + bg::Base64UrlEncode(*raw) == text);
  // The same token under the scheme's other spellings.
  BG_FUZZ_CHECK(bg::auth::ParseAuthorizationHeader("bearer " + std::string(text)).has_value());
  BG_FUZZ_CHECK(bg::auth::ParseAuthorizationHeader("BEARER  " + std::string(text)).has_value());
  return 0;
}
