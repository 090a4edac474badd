#include "kit/share_line.h"

#include <fmt/format.h>
#include <sodium.h>

#include "kit/gf256.h"

namespace bg::kit {
namespace {

constexpr std::string_view kAlphabet = "0123456789abcdefghjkmnpqrstvwxyz";
constexpr std::string_view kChecksumDomain = "bgk1";
constexpr std::string_view kCommitmentDomain{"breakglass-kit-share-commitment/1\0", 34};
constexpr size_t kGroupData = 4;
constexpr size_t kHeaderBytes = kKitIdBytes + 2 + kSaltBytes;
constexpr size_t kMinBlobBytes = kHeaderBytes + 1 + kChecksumBytes;

// 0xFF if a == b else 0x00, without a branch.
uint8_t EqualMask(uint8_t a, uint8_t b) {
  const unsigned diff = static_cast<unsigned>(a ^ b);
  return static_cast<uint8_t>(((diff - 1) >> 8) & 0xFF);
}

// Share characters are secret, so both directions scan the whole alphabet instead of indexing.
char EncodeChar(uint8_t value) {
  uint8_t out = 0;
  for (size_t i = 0; i < kAlphabet.size(); ++i) {
    out |= static_cast<uint8_t>(kAlphabet[i]) & EqualMask(static_cast<uint8_t>(i), value);
  }
  return static_cast<char>(out);
}

// Returns false when `c` (already lower case) is not in the alphabet.
bool DecodeChar(char c, uint8_t* value) {
  uint8_t out = 0;
  uint8_t found = 0;
  for (size_t i = 0; i < kAlphabet.size(); ++i) {
    const uint8_t m = EqualMask(static_cast<uint8_t>(kAlphabet[i]), static_cast<uint8_t>(c));
    out |= static_cast<uint8_t>(i) & m;
    found |= m;
  }
  *value = out;
  return found != 0;
}

// Bytes to 5-bit values, most significant bit first, the last value zero-padded.
std::vector<uint8_t> ToFiveBit(const uint8_t* bytes, size_t n) {
  std::vector<uint8_t> out;
  out.reserve((n * 8 + 4) / 5);
  uint32_t buffer = 0;
  int bits = 0;
  for (size_t i = 0; i < n; ++i) {
    buffer = (buffer << 8) | bytes[i];
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out.push_back(static_cast<uint8_t>((buffer >> bits) & 31));
    }
  }
  if (bits > 0) out.push_back(static_cast<uint8_t>((buffer << (5 - bits)) & 31));
  sodium_memzero(&buffer, sizeof buffer);
  return out;
}

// The inverse of ToFiveBit; false unless `values` is exactly what ToFiveBit would produce.
bool FromFiveBit(const std::vector<uint8_t>& values, std::vector<uint8_t>* out) {
  const size_t n = values.size() * 5 / 8;
  if ((n * 8 + 4) / 5 != values.size()) return false;
  out->clear();
  out->reserve(n);
  uint32_t buffer = 0;
  int bits = 0;
  for (uint8_t v : values) {
    buffer = (buffer << 5) | v;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<uint8_t>((buffer >> bits) & 0xFF));
    }
  }
  const bool padding_is_zero = (buffer & ((1u << bits) - 1)) == 0;
  sodium_memzero(&buffer, sizeof buffer);
  return padding_is_zero;
}

std::array<uint8_t, kKitIdBytes> KitIdBytes(std::string_view kit_id) {
  std::array<uint8_t, kKitIdBytes> out{};
  std::vector<uint8_t> values;
  for (char c : kit_id) {
    uint8_t v = 0;
    DecodeChar(c, &v);
    values.push_back(v);
  }
  std::vector<uint8_t> bytes;
  if (FromFiveBit(values, &bytes) && bytes.size() == kKitIdBytes) {
    std::copy(bytes.begin(), bytes.end(), out.begin());
  }
  return out;
}

std::string_view View(const uint8_t* p, size_t n) { return {reinterpret_cast<const char*>(p), n}; }

std::array<uint8_t, kChecksumBytes> Checksum(const uint8_t* blob, size_t n) {
  const Digest d = Sha256Parts({kChecksumDomain, View(blob, n)});
  std::array<uint8_t, kChecksumBytes> out{};
  std::copy(d.begin(), d.begin() + kChecksumBytes, out.begin());
  return out;
}

bool IsSeparator(char c) { return c == '-' || c == ' ' || c == '\t'; }
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// Wipes a buffer of secret bytes when it goes out of scope.
template <typename Container>
class Wiper {
 public:
  explicit Wiper(Container& c) : c_(c) {}
  ~Wiper() { sodium_memzero(c_.data(), c_.size() * sizeof(c_[0])); }
  Wiper(const Wiper&) = delete;
  Wiper& operator=(const Wiper&) = delete;

 private:
  Container& c_;
};

Error ShareError(std::string message, ShareDiagnostic* diagnostic, int column) {
  if (diagnostic != nullptr) diagnostic->column = column;
  return Error::InvalidArgument("share", std::move(message));
}

struct Group {
  size_t begin = 0;  // offset in the input
  size_t end = 0;
};

}  // namespace

uint8_t GroupCheckValue(const uint8_t* values, size_t count, size_t group_number) {
  uint8_t check = static_cast<uint8_t>(group_number & 31);
  uint8_t weight = 2;  // x^1, x^2, x^3, x^4 in GF(32): 2, 4, 8, 16
  for (size_t i = 0; i < count; ++i) {
    check ^= Gf32Mul(weight, values[i]);
    weight = Gf32Mul(weight, 2);
  }
  return check;
}

std::string NewKitId(Random& random) {
  std::array<uint8_t, kKitIdBytes> bytes{};
  random.Fill(bytes.data(), bytes.size());
  std::string out;
  for (uint8_t v : ToFiveBit(bytes.data(), bytes.size())) out += EncodeChar(v);
  return out;
}

bool IsValidKitId(std::string_view kit_id) {
  if (kit_id.size() != 8) return false;
  std::vector<uint8_t> values;
  for (char c : kit_id) {
    uint8_t v = 0;
    if (!DecodeChar(c, &v)) return false;
    values.push_back(v);
  }
  std::vector<uint8_t> bytes;
  return FromFiveBit(values, &bytes) && bytes.size() == kKitIdBytes;
}

Secret FormatShareLine(const Share& share) {
  std::vector<uint8_t> blob;
  Wiper blob_wiper(blob);
  const auto kit = KitIdBytes(share.kit_id);
  blob.insert(blob.end(), kit.begin(), kit.end());
  blob.push_back(static_cast<uint8_t>(share.index));
  blob.push_back(static_cast<uint8_t>(share.threshold));
  blob.insert(blob.end(), share.salt.begin(), share.salt.end());
  blob.insert(blob.end(), share.payload.data(), share.payload.data() + share.payload.size());
  const auto checksum = Checksum(blob.data(), blob.size());
  blob.insert(blob.end(), checksum.begin(), checksum.end());

  std::vector<uint8_t> values = ToFiveBit(blob.data(), blob.size());
  Wiper values_wiper(values);
  std::string line(kSharePrefix);
  Wiper line_wiper(line);
  for (size_t start = 0, group = 1; start < values.size(); start += kGroupData, ++group) {
    const size_t count = std::min(kGroupData, values.size() - start);
    if (group > 1) line += '-';
    for (size_t i = 0; i < count; ++i) line += EncodeChar(values[start + i]);
    line += EncodeChar(GroupCheckValue(&values[start], count, group));
  }
  return Secret(std::string_view(line));
}

Result<Share> ParseShareLine(std::string_view line, ShareDiagnostic* diagnostic) {
  size_t begin = 0;
  size_t end = line.size();
  while (begin < end && IsSpace(line[begin])) ++begin;
  while (end > begin && IsSpace(line[end - 1])) --end;
  const auto column = [](size_t offset) { return static_cast<int>(offset) + 1; };
  if (begin == end) return ShareError("empty share line", diagnostic, 0);

  // The prefix: "bgk" + version digit + separator.
  std::string prefix;
  for (size_t i = begin; i < end && i < begin + kSharePrefix.size(); ++i) prefix += Lower(line[i]);
  const bool versioned = prefix.size() == 5 && prefix.compare(0, 3, "bgk") == 0 &&
                         prefix[3] >= '0' && prefix[3] <= '9' && IsSeparator(prefix[4]);
  if (versioned && prefix[3] != '1') {
    return ShareError(
        fmt::format("unsupported share format version {} (this tool reads bgk1)", prefix[3]),
        diagnostic, column(begin + 3));
  }
  if (!versioned) {
    return ShareError("not a breakglass kit share: it must start with \"bgk1-\"", diagnostic,
                      column(begin));
  }

  // Characters first, so that a stray one is named at its own column.
  for (size_t i = begin + kSharePrefix.size(); i < end; ++i) {
    uint8_t unused = 0;
    const char c = Lower(line[i]);
    if (IsSeparator(c) || DecodeChar(c, &unused)) continue;
    const bool printable = c >= 0x21 && c <= 0x7e;
    return ShareError(
        fmt::format("corrupted share: invalid character {} at column {} (share lines use 0-9 "
                    "and a-z without i, l, o, u)",
                    printable ? fmt::format("'{}'", line[i])
                              : fmt::format("0x{:02x}", static_cast<uint8_t>(c)),
                    column(i)),
        diagnostic, column(i));
  }

  // Groups, separated by runs of dashes or spaces.
  std::vector<Group> groups;
  for (size_t i = begin + kSharePrefix.size(); i < end;) {
    while (i < end && IsSeparator(line[i])) ++i;
    if (i == end) break;
    Group g{i, i};
    while (g.end < end && !IsSeparator(line[g.end])) ++g.end;
    groups.push_back(g);
    i = g.end;
  }
  if (groups.empty()) return ShareError("the share has no groups after \"bgk1-\"", diagnostic, 0);

  std::vector<uint8_t> values;
  Wiper values_wiper(values);
  std::vector<int> bad_groups;
  int first_bad_column = 0;
  for (size_t g = 0; g < groups.size(); ++g) {
    const Group& group = groups[g];
    const size_t length = group.end - group.begin;
    const bool last = g + 1 == groups.size();
    if (length > kGroupData + 1 || (!last && length != kGroupData + 1) || length < 2) {
      return ShareError(
          fmt::format("corrupted share: group {} at column {} has {} characters, expected {}: "
                      "a character is missing or extra",
                      g + 1, column(group.begin), length, last ? "2 to 5" : "5"),
          diagnostic, column(group.begin));
    }
    uint8_t chars[kGroupData + 1];
    for (size_t i = 0; i < length; ++i) DecodeChar(Lower(line[group.begin + i]), &chars[i]);
    if (GroupCheckValue(chars, length - 1, g + 1) != chars[length - 1]) {
      bad_groups.push_back(static_cast<int>(g + 1));
      if (first_bad_column == 0) first_bad_column = column(group.begin);
    }
    values.insert(values.end(), chars, chars + length - 1);
    sodium_memzero(chars, sizeof chars);
  }
  if (!bad_groups.empty()) {
    if (diagnostic != nullptr) diagnostic->bad_groups = bad_groups;
    std::string where;
    for (int g : bad_groups) {
      const Group& group = groups[static_cast<size_t>(g - 1)];
      if (!where.empty()) where += ", ";
      where += fmt::format("group {} (columns {}-{}{})", g, column(group.begin),
                           column(group.end - 1), g <= 2 ? ", part of the kit id" : "");
    }
    return ShareError(fmt::format("corrupted share: typo in {}", where), diagnostic,
                      first_bad_column);
  }

  std::vector<uint8_t> blob;
  Wiper blob_wiper(blob);
  if (!FromFiveBit(values, &blob) || blob.size() < kMinBlobBytes ||
      blob.size() > kMinBlobBytes - 1 + kMaxSecretBytes) {
    return ShareError("corrupted share: wrong length (a whole group missing or extra?)", diagnostic,
                      0);
  }
  const size_t body = blob.size() - kChecksumBytes;
  const auto checksum = Checksum(blob.data(), body);
  if (sodium_memcmp(checksum.data(), blob.data() + body, kChecksumBytes) != 0) {
    return ShareError(
        "corrupted share: checksum mismatch although every group checks out (groups swapped, "
        "or several typos in one group?)",
        diagnostic, 0);
  }

  Share share;
  std::vector<uint8_t> kit_values = ToFiveBit(blob.data(), kKitIdBytes);
  for (uint8_t v : kit_values) share.kit_id += EncodeChar(v);
  share.index = blob[kKitIdBytes];
  share.threshold = blob[kKitIdBytes + 1];
  if (share.index == 0) return ShareError("invalid share: index 0", diagnostic, 0);
  if (share.threshold < 2) {
    return ShareError(fmt::format("invalid share: threshold {}", share.threshold), diagnostic, 0);
  }
  std::copy(blob.begin() + kKitIdBytes + 2, blob.begin() + kHeaderBytes, share.salt.begin());
  share.payload = Secret(std::vector<uint8_t>(blob.begin() + kHeaderBytes, blob.begin() + body));
  return share;
}

Digest ShareCommitment(const Share& share) {
  const auto kit = KitIdBytes(share.kit_id);
  const uint8_t index_and_threshold[2] = {static_cast<uint8_t>(share.index),
                                          static_cast<uint8_t>(share.threshold)};
  return Sha256Parts({kCommitmentDomain, View(kit.data(), kit.size()), View(index_and_threshold, 2),
                      View(share.salt.data(), share.salt.size()), share.payload.Reveal()});
}

}  // namespace bg::kit
