// The text form of one share ("share line", format bgk1) and its manifest commitment.
//
//   bgk1-xxxxc-xxxxc-...-xxc
//
// After the prefix come groups of up to four data characters and one check character, in
// Crockford's base32 alphabet (0-9, a-z without i, l, o, u; upper case is accepted). The data
// characters encode kit_id(5) | index(1) | threshold(1) | salt(16) | payload | checksum(4),
// where checksum = SHA-256("bgk1" | everything before it)[0..4). Each group's check character
// is  (group number mod 32) + sum of x^(i+1) * data[i]  in GF(32), so every single-character
// substitution is detected and named by its group; the checksum catches what the group checks
// miss. docs/kit-share-format.md is the full specification. Pure functions, thread-safe.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "util/random.h"
#include "util/result.h"
#include "util/secret.h"
#include "util/sha256.h"

namespace bg::kit {

inline constexpr std::string_view kSharePrefix = "bgk1-";
inline constexpr size_t kKitIdBytes = 5;  // 8 base32 characters
inline constexpr size_t kSaltBytes = 16;  // blinds the manifest commitment
inline constexpr size_t kChecksumBytes = 4;
inline constexpr size_t kMaxSecretBytes = 1024;

struct Share {
  std::string kit_id;  // 8 characters of the share alphabet
  int index = 0;       // x coordinate, 1..255
  int threshold = 0;   // shares needed, 2..255
  std::array<uint8_t, kSaltBytes> salt{};
  Secret payload;  // the y values, as long as the secret
};

// Where ParseShareLine found a share line wrong. Columns count from 1 in the text given.
struct ShareDiagnostic {
  std::vector<int> bad_groups;  // groups (1 = first after the prefix) whose check failed
  int column = 0;               // first column of the first problem; 0 when not located
};

// The line is as secret as the share; callers print it with Reveal().
Secret FormatShareLine(const Share& share);

// Accepts surrounding white space, upper case, and spaces instead of dashes. Every error is
// kInvalidArgument with field "share" and a message that says what and where; `diagnostic`,
// when given, receives the location in machine-readable form.
Result<Share> ParseShareLine(std::string_view line, ShareDiagnostic* diagnostic = nullptr);

// SHA-256("breakglass-kit-share-commitment/1" 0x00 | kit_id(5) | index | threshold | salt |
// payload). The 16-byte salt exists only in the share line, so the published commitment can't
// be searched even for a one-byte secret.
Digest ShareCommitment(const Share& share);

// A fresh kit id: 5 random bytes as 8 share-alphabet characters.
std::string NewKitId(Random& random);
bool IsValidKitId(std::string_view kit_id);

// Exposed for tests: the check character value of one group.
uint8_t GroupCheckValue(const uint8_t* values, size_t count, size_t group_number);

}  // namespace bg::kit
