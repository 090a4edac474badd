// TOTP (RFC 6238) as authenticator apps use it: HMAC-SHA-1, 30-second steps from the Unix
// epoch, 6 digits. Codes are computed with liboath; time is always passed in.
//
// Replay: VerifyTotp returns the step it accepted; the caller stores it and passes it back as
// `last_accepted_step`, and any code for that step or an earlier one is refused from then on.
// All functions are thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "util/random.h"
#include "util/result.h"
#include "util/secret.h"
#include "util/time.h"

namespace bg::auth {

inline constexpr int64_t kTotpStepSeconds = 30;
inline constexpr int kTotpDigits = 6;
inline constexpr size_t kTotpSecretBytes = 20;
// Pass as last_accepted_step for an account that has never used a code.
inline constexpr int64_t kNoTotpStepYet = -1;

// 20 random bytes (160 bits, the RFC 4226 recommended length for SHA-1).
Secret GenerateTotpSecret(Random& random = SystemRandom::Get());

// RFC 4648 base32 (A-Z2-7), upper case, no padding: the form otpauth URIs and apps use.
std::string Base32Encode(std::string_view bytes);
// Accepts upper or lower case, optional trailing '=' padding, no other characters; refuses
// leftover bits that are not zero. InvalidArgument (field "secret") otherwise.
Result<Secret> Base32Decode(std::string_view text);

// "otpauth://totp/ISSUER:ACCOUNT?secret=BASE32&issuer=ISSUER&algorithm=SHA1&digits=6&period=30"
// with issuer and account percent-encoded (RFC 3986 unreserved characters are kept).
// The result contains the secret: treat it as one.
Secret OtpauthUri(std::string_view account, const Secret& secret,
                  std::string_view issuer = "breakglass");

// The step number of `t`: floor(unix seconds / 30).
int64_t TotpStep(Timestamp t);

// The code for `now` with `digits` digits (6..8), zero-padded. InvalidArgument for other digit
// counts or an empty secret; Internal if liboath fails.
Result<std::string> TotpCode(const Secret& secret, Timestamp now, int digits = kTotpDigits);

// Checks a 6-digit `code` against the steps of now-30s, now and now+30s and returns the step it
// matched. Refuses:
//   - anything but exactly 6 ASCII digits: InvalidArgument, field "totp";
//   - a code that matches none of the three steps: Unauthenticated;
//   - a code whose step is <= last_accepted_step (used before, or older than one that was):
//     Unauthenticated.
// All three candidates are computed and compared in constant time, whatever the input.
Result<int64_t> VerifyTotp(const Secret& secret, std::string_view code, Timestamp now,
                           int64_t last_accepted_step);

// True for VerifyTotp's refusal of a right code that was already used (or is older than one
// that was), false for every other error.
bool IsReplayedTotp(const Error& e);

}  // namespace bg::auth
