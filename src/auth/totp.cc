#include "auth/totp.h"

#include <liboath/oath.h>
#include <sodium.h>

#include <array>
#include <cstdlib>
#include <mutex>
#include <utility>
#include <vector>

namespace bg::auth {
namespace {

constexpr char kBase32Alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

void InitOath() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (oath_init() != OATH_OK) std::abort();  // liboath cannot hash: nothing here can work
  });
}

int Base32Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a';
  if (c >= '2' && c <= '7') return c - '2' + 26;
  return -1;
}

bool IsUnreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

std::string PercentEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (IsUnreserved(c)) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

bool IsSixDigits(std::string_view code) {
  if (code.size() != static_cast<size_t>(kTotpDigits)) return false;
  for (char c : code) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

}  // namespace

Secret GenerateTotpSecret(Random& random) { return Secret(random.Bytes(kTotpSecretBytes)); }

std::string Base32Encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() * 8 + 4) / 5);
  uint32_t buffer = 0;
  int bits = 0;
  for (unsigned char b : bytes) {
    buffer = (buffer << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += kBase32Alphabet[(buffer >> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += kBase32Alphabet[(buffer << (5 - bits)) & 31];
  return out;
}

Result<Secret> Base32Decode(std::string_view text) {
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  // Lengths 1, 3 and 6 (mod 8) cannot come from whole bytes.
  size_t rem = text.size() % 8;
  if (rem == 1 || rem == 3 || rem == 6) {
    return Error::InvalidArgument("secret", "base32 text has an impossible length");
  }
  std::vector<uint8_t> out;
  out.reserve(text.size() * 5 / 8);
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    int v = Base32Value(c);
    if (v < 0)
      return Error::InvalidArgument("secret", "base32 text has a character outside A-Z2-7");
    buffer = ((buffer << 5) | static_cast<uint32_t>(v)) & 0xFFF;  // at most 12 live bits
    bits += 5;
    if (bits >= 8) {
      out.push_back(static_cast<uint8_t>(buffer >> (bits - 8)));
      bits -= 8;
    }
  }
  if ((buffer & ((1u << bits) - 1)) != 0) {
    return Error::InvalidArgument("secret", "base32 text has non-zero trailing bits");
  }
  Secret secret(std::move(out));
  return secret;
}

Secret OtpauthUri(std::string_view account, const Secret& secret, std::string_view issuer) {
  std::string issuer_enc = PercentEncode(issuer);
  std::string uri = "otpauth://totp/" + issuer_enc + ":" + PercentEncode(account) +
                    "?secret=" + Base32Encode(secret.Reveal()) + "&issuer=" + issuer_enc +
                    "&algorithm=SHA1&digits=" + std::to_string(kTotpDigits) +
                    "&period=" + std::to_string(kTotpStepSeconds);
  Secret out(uri);
  sodium_memzero(uri.data(), uri.size());
  return out;
}

int64_t TotpStep(Timestamp t) {
  int64_t s = ToUnixSeconds(t);
  int64_t q = s / kTotpStepSeconds;
  if (s % kTotpStepSeconds < 0) --q;  // floor for times before the epoch
  return q;
}

Result<std::string> TotpCode(const Secret& secret, Timestamp now, int digits) {
  if (digits < 6 || digits > 8) {
    return Error::InvalidArgument("digits", "TOTP codes have 6, 7 or 8 digits");
  }
  if (secret.empty()) return Error::InvalidArgument("secret", "TOTP secret is empty");
  InitOath();
  std::array<char, 16> buf{};
  int rc = oath_totp_generate2(
      secret.Reveal().data(), secret.size(), static_cast<time_t>(ToUnixSeconds(now)),
      static_cast<unsigned>(kTotpStepSeconds), OATH_TOTP_DEFAULT_START_TIME,
      static_cast<unsigned>(digits), /*flags=SHA-1*/ 0, buf.data());
  if (rc != OATH_OK) {
    return Error::Internal(std::string("TOTP computation failed: ") + oath_strerror(rc));
  }
  std::string code(buf.data());
  sodium_memzero(buf.data(), buf.size());
  return code;
}

namespace {
constexpr std::string_view kReplayedMessage = "TOTP code was already used; wait for the next one";
}  // namespace

Result<int64_t> VerifyTotp(const Secret& secret, std::string_view code, Timestamp now,
                           int64_t last_accepted_step) {
  if (!IsSixDigits(code)) {
    return Error::InvalidArgument("totp", "must be exactly 6 digits");
  }
  const int64_t current = TotpStep(now);
  // Compute and compare every candidate before deciding, so the time taken does not depend on
  // which step (if any) matched. Steps before the epoch have no code.
  bool matched[3] = {false, false, false};
  for (int i = 0; i < 3; ++i) {
    const int64_t step = current - 1 + i;
    if (step < 0) continue;
    BG_ASSIGN_OR_RETURN(std::string expected,
                        TotpCode(secret, FromUnixSeconds(step * kTotpStepSeconds)));
    matched[i] = ConstantTimeEquals(expected, code);
    sodium_memzero(expected.data(), expected.size());
  }
  bool any_match = false;
  int64_t accepted = kNoTotpStepYet;
  for (int i = 2; i >= 0; --i) {
    if (!matched[i]) continue;
    any_match = true;
    const int64_t step = current - 1 + i;
    if (step > last_accepted_step) {
      accepted = step;
      break;
    }
  }
  if (!any_match) return Error::Unauthenticated("TOTP code is not valid");
  if (accepted == kNoTotpStepYet) return Error::Unauthenticated(std::string(kReplayedMessage));
  return accepted;
}

bool IsReplayedTotp(const Error& e) {
  return e.code() == ErrorCode::kUnauthenticated && e.message() == kReplayedMessage;
}

}  // namespace bg::auth
