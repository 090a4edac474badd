#include "audit/checkpoint.h"

#include <sodium.h>

#include <charconv>
#include <utility>

#include <fmt/format.h>

#include "audit/merkle.h"
#include "util/encoding.h"
#include "util/sha256.h"

namespace bg::audit {
namespace {

constexpr uint8_t kAlgEd25519 = 0x01;
constexpr std::string_view kSigPrefix = "\xE2\x80\x94 ";  // U+2014 EM DASH, then a space
constexpr int kMaxSignatures = 100;

// Decodes one UTF-8 code point at s[*pos]; false on an invalid or overlong sequence.
bool NextRune(std::string_view s, size_t* pos, char32_t* out) {
  const auto b0 = static_cast<unsigned char>(s[*pos]);
  int len = 0;
  char32_t cp = 0;
  if (b0 < 0x80) {
    *out = b0;
    ++*pos;
    return true;
  } else if ((b0 & 0xE0) == 0xC0) {
    len = 2, cp = b0 & 0x1F;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3, cp = b0 & 0x0F;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4, cp = b0 & 0x07;
  } else {
    return false;
  }
  if (*pos + len > s.size()) return false;
  for (int i = 1; i < len; ++i) {
    const auto b = static_cast<unsigned char>(s[*pos + i]);
    if ((b & 0xC0) != 0x80) return false;
    cp = (cp << 6) | (b & 0x3F);
  }
  static constexpr char32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
  *out = cp;
  *pos += len;
  return true;
}

// Go's unicode.IsSpace.
bool IsUnicodeSpace(char32_t c) {
  switch (c) {
    case '\t': case '\n': case '\v': case '\f': case '\r': case ' ':
    case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F:
    case 0x3000:
      return true;
    default:
      return c >= 0x2000 && c <= 0x200A;
  }
}

// Valid UTF-8 with no control character below U+0020 other than (when allowed) '\n'.
bool IsNoteText(std::string_view s, bool allow_newline) {
  size_t pos = 0;
  while (pos < s.size()) {
    char32_t c = 0;
    if (!NextRune(s, &pos, &c)) return false;
    if (c < 0x20 && !(allow_newline && c == '\n')) return false;
  }
  return true;
}

std::string BigEndian32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

Error Malformed(std::string message) {
  return Error::InvalidArgument("checkpoint", std::move(message));
}

Error KeyError(std::string message) { return Error::InvalidArgument("key", std::move(message)); }

// Parses a strictly formatted uint32 of exactly eight lowercase or uppercase hex digits.
bool ParseHex8(std::string_view s, uint32_t* out) {
  if (s.size() != 8) return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out, 16);
  return ec == std::errc() && ptr == s.data() + s.size();
}

// Splits at the first `sep`: ("a", "b+c") for "a+b+c"; (s, "") without one.
std::pair<std::string_view, std::string_view> Chop(std::string_view s, char sep) {
  const size_t i = s.find(sep);
  if (i == std::string_view::npos) return {s, {}};
  return {s.substr(0, i), s.substr(i + 1)};
}

Result<Checkpoint> ParseBody(std::string_view text) {
  // text ends with '\n' (the note split guarantees it); every line must be non-empty.
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start < text.size()) {
    const size_t nl = text.find('\n', start);
    lines.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  if (lines.size() < 3) return Malformed("body has fewer than 3 lines");
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].empty()) return Malformed(fmt::format("body line {} is empty", i + 1));
  }
  Checkpoint cp;
  cp.origin = std::string(lines[0]);
  const std::string_view size = lines[1];
  // Digits only, as Go's tlog requires (from_chars alone would take "-0").
  if (size.find_first_not_of("0123456789") != std::string_view::npos) {
    return Malformed("tree size is not a decimal number");
  }
  if (size.size() > 1 && size[0] == '0') return Malformed("tree size has a leading zero");
  auto [ptr, ec] = std::from_chars(size.data(), size.data() + size.size(), cp.size);
  if (ec != std::errc() || ptr != size.data() + size.size() || cp.size < 0) {
    return Malformed("tree size is not a decimal number");
  }
  auto root = Base64Decode(lines[2]);
  if (!root.has_value() || root->size() != kHashSize) {
    return Malformed("root hash is not base64 of 32 bytes");
  }
  cp.root = std::move(*root);
  for (size_t i = 3; i < lines.size(); ++i) cp.extensions.emplace_back(lines[i]);
  return cp;
}

}  // namespace

uint32_t NoteKeyId(std::string_view name, std::string_view public_key) {
  const char alg = static_cast<char>(kAlgEd25519);
  const Digest d = Sha256Parts({name, "\n", std::string_view(&alg, 1), public_key});
  return uint32_t{d[0]} << 24 | uint32_t{d[1]} << 16 | uint32_t{d[2]} << 8 | uint32_t{d[3]};
}

bool IsValidKeyName(std::string_view name) {
  if (name.empty()) return false;
  size_t pos = 0;
  while (pos < name.size()) {
    char32_t c = 0;
    if (!NextRune(name, &pos, &c)) return false;
    if (c == '+' || IsUnicodeSpace(c)) return false;
  }
  return true;
}

std::string FormatVerifierKey(std::string_view name, std::string_view public_key) {
  const std::string key = std::string(1, static_cast<char>(kAlgEd25519)) + std::string(public_key);
  return fmt::format("{}+{:08x}+{}", name, NoteKeyId(name, public_key), Base64Encode(key));
}

Result<NoteVerifier> ParseVerifierKey(std::string_view verifier_key) {
  auto [name, rest] = Chop(verifier_key, '+');
  auto [hex, b64] = Chop(rest, '+');
  uint32_t id = 0;
  if (!IsValidKeyName(name)) return KeyError("verifier key has an invalid name");
  if (!ParseHex8(hex, &id)) return KeyError("verifier key id is not 8 hex digits");
  auto key = Base64Decode(b64);
  if (!key.has_value() || key->empty()) return KeyError("verifier key is not base64");
  if (static_cast<uint8_t>((*key)[0]) != kAlgEd25519) {
    return KeyError("verifier key algorithm is not Ed25519 (0x01)");
  }
  if (key->size() != 1 + crypto_sign_PUBLICKEYBYTES) {
    return KeyError("Ed25519 verifier key is not 32 bytes");
  }
  NoteVerifier v{std::string(name), id, key->substr(1)};
  if (NoteKeyId(v.name, v.public_key) != id) return KeyError("verifier key id does not match");
  return v;
}

Result<std::string> CheckpointBody(const Checkpoint& cp) {
  if (cp.origin.empty() || !IsNoteText(cp.origin, false)) {
    return Error::InvalidArgument("origin", "must be non-empty UTF-8 on one line");
  }
  if (cp.size < 0) return Error::InvalidArgument("size", "must not be negative");
  if (cp.root.size() != kHashSize) return Error::InvalidArgument("root", "must be 32 bytes");
  std::string body = fmt::format("{}\n{}\n{}\n", cp.origin, cp.size, Base64Encode(cp.root));
  for (const std::string& ext : cp.extensions) {
    if (ext.empty() || !IsNoteText(ext, false)) {
      return Error::InvalidArgument("extensions", "lines must be non-empty UTF-8 on one line");
    }
    body += ext;
    body += '\n';
  }
  return body;
}

NoteSigner::NoteSigner(std::string name, Secret secret_key, std::string public_key)
    : name_(std::move(name)),
      secret_key_(std::move(secret_key)),
      public_key_(std::move(public_key)),
      key_id_(NoteKeyId(name_, public_key_)) {}

NoteSigner NoteSigner::FromSeed(std::string_view name, const uint8_t* seed) {
  std::vector<uint8_t> sk(crypto_sign_SECRETKEYBYTES);
  std::string pk(crypto_sign_PUBLICKEYBYTES, '\0');
  crypto_sign_seed_keypair(reinterpret_cast<unsigned char*>(pk.data()), sk.data(), seed);
  return NoteSigner(std::string(name), Secret(std::move(sk)), std::move(pk));
}

Result<NoteSigner> NoteSigner::Generate(std::string_view name, Random& random) {
  InitCrypto();
  if (!IsValidKeyName(name)) {
    return Error::InvalidArgument("name", "key name must be non-empty, without spaces or '+'");
  }
  std::vector<uint8_t> seed_bytes(crypto_sign_SEEDBYTES);
  random.Fill(seed_bytes.data(), seed_bytes.size());
  const Secret seed(std::move(seed_bytes));
  return FromSeed(name, seed.data());
}

Result<NoteSigner> NoteSigner::FromSignerKey(const Secret& signer_key) {
  InitCrypto();
  std::string_view text = signer_key.Reveal();
  auto [priv1, r1] = Chop(text, '+');
  auto [priv2, r2] = Chop(r1, '+');
  auto [name, r3] = Chop(r2, '+');
  auto [hex, b64] = Chop(r3, '+');
  uint32_t id = 0;
  if (priv1 != "PRIVATE" || priv2 != "KEY" || !IsValidKeyName(name) || !ParseHex8(hex, &id)) {
    return KeyError("malformed signer key");
  }
  std::optional<std::string> decoded = Base64Decode(b64);
  if (!decoded.has_value()) return KeyError("malformed signer key");
  Secret key(*decoded);
  sodium_memzero(decoded->data(), decoded->size());
  if (key.size() != 1 + crypto_sign_SEEDBYTES || key.data()[0] != kAlgEd25519) {
    return KeyError("signer key is not an Ed25519 seed");
  }
  NoteSigner signer = FromSeed(name, key.data() + 1);
  if (signer.key_id() != id) return KeyError("signer key id does not match the key");
  return signer;
}

std::string NoteSigner::VerifierKey() const { return FormatVerifierKey(name_, public_key_); }

Secret NoteSigner::SignerKey() const {
  std::string raw(1, static_cast<char>(kAlgEd25519));
  raw.append(secret_key_.Reveal().substr(0, crypto_sign_SEEDBYTES));
  std::string b64 = Base64Encode(raw);
  std::string text = fmt::format("PRIVATE+KEY+{}+{:08x}+{}", name_, key_id_, b64);
  Secret out(text);
  sodium_memzero(raw.data(), raw.size());
  sodium_memzero(b64.data(), b64.size());
  sodium_memzero(text.data(), text.size());
  return out;
}

Result<std::string> NoteSigner::Sign(const Checkpoint& checkpoint) const {
  BG_ASSIGN_OR_RETURN(std::string body, CheckpointBody(checkpoint));
  unsigned char sig[crypto_sign_BYTES];
  crypto_sign_detached(sig, nullptr, reinterpret_cast<const unsigned char*>(body.data()),
                       body.size(), secret_key_.data());
  const std::string blob =
      BigEndian32(key_id_) + std::string(reinterpret_cast<const char*>(sig), sizeof sig);
  std::string note = std::move(body);
  note += '\n';
  note += kSigPrefix;
  note += name_;
  note += ' ';
  note += Base64Encode(blob);
  note += '\n';
  return note;
}

Result<Checkpoint> ParseAndVerifyCheckpoint(std::string_view note, std::string_view verifier_key) {
  InitCrypto();
  BG_ASSIGN_OR_RETURN(NoteVerifier verifier, ParseVerifierKey(verifier_key));
  if (!IsNoteText(note, true)) {
    return Malformed("note is not UTF-8 text without control characters");
  }
  const size_t split = note.rfind("\n\n");
  if (split == std::string_view::npos) return Malformed("note has no blank line before signatures");
  const std::string_view text = note.substr(0, split + 1);
  std::string_view sigs = note.substr(split + 2);
  if (sigs.empty() || sigs.back() != '\n') return Malformed("signature block must end in a newline");

  int count = 0;
  bool verified = false;
  while (!sigs.empty()) {
    const size_t nl = sigs.find('\n');
    std::string_view line = sigs.substr(0, nl);
    sigs.remove_prefix(nl + 1);
    if (line.substr(0, kSigPrefix.size()) != kSigPrefix) {
      return Malformed("signature line does not start with an em dash and a space");
    }
    line.remove_prefix(kSigPrefix.size());
    auto [name, b64] = Chop(line, ' ');
    auto blob = Base64Decode(b64);
    if (!IsValidKeyName(name) || b64.empty() || !blob.has_value() || blob->size() < 5) {
      return Malformed("malformed signature line");
    }
    if (++count > kMaxSignatures) return Malformed("more than 100 signatures");
    const auto* b = reinterpret_cast<const unsigned char*>(blob->data());
    const uint32_t id = uint32_t{b[0]} << 24 | uint32_t{b[1]} << 16 | uint32_t{b[2]} << 8 | b[3];
    if (name != verifier.name || id != verifier.key_id) continue;  // someone else's: ignored
    const bool ok =
        blob->size() == 4 + crypto_sign_BYTES &&
        crypto_sign_verify_detached(b + 4, reinterpret_cast<const unsigned char*>(text.data()),
                                    text.size(),
                                    reinterpret_cast<const unsigned char*>(
                                        verifier.public_key.data())) == 0;
    if (!ok) return Malformed("checkpoint signature does not verify");
    verified = true;
  }
  if (!verified) {
    return Malformed(
        fmt::format("checkpoint is not signed by key {}+{:08x}", verifier.name, verifier.key_id));
  }
  return ParseBody(text);
}

}  // namespace bg::audit
