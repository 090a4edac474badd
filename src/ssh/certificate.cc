#include "ssh/certificate.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>

#include "util/encoding.h"

namespace bg::ssh {
namespace {

struct ExtensionName {
  Extension extension;
  std::string_view name;
};
constexpr std::array<ExtensionName, 5> kExtensions = {{
    {Extension::kPermitX11Forwarding, "permit-X11-forwarding"},
    {Extension::kPermitAgentForwarding, "permit-agent-forwarding"},
    {Extension::kPermitPortForwarding, "permit-port-forwarding"},
    {Extension::kPermitPty, "permit-pty"},
    {Extension::kPermitUserRc, "permit-user-rc"},
}};

constexpr std::string_view kForceCommand = "force-command";
constexpr std::string_view kSourceAddress = "source-address";

bool IsPrintableAscii(char c) { return c >= 0x20 && c <= 0x7e; }

Status ValidateKeyId(std::string_view key_id) {
  if (key_id.empty()) return Error::InvalidArgument("key_id", "key id must not be empty");
  if (!std::all_of(key_id.begin(), key_id.end(), IsPrintableAscii)) {
    return Error::InvalidArgument("key_id", "key id must be printable ASCII");
  }
  return Ok();
}

Status ValidatePrincipals(const std::vector<std::string>& principals) {
  if (principals.empty()) {
    return Error::InvalidArgument("principals",
                                  "at least one principal is required (none means any user)");
  }
  std::set<std::string_view> seen;
  for (const std::string& p : principals) {
    const bool ok = !p.empty() && std::all_of(p.begin(), p.end(), [](char c) {
      return IsPrintableAscii(c) && c != ' ' && c != ',';
    });
    if (!ok) {
      return Error::InvalidArgument(
          "principals",
          fmt::format("principal \"{}\" must be non-empty printable ASCII without spaces or ','",
                      p.substr(0, 64)));
    }
    if (!seen.insert(p).second) {
      return Error::InvalidArgument("principals", fmt::format("principal \"{}\" is repeated", p));
    }
  }
  return Ok();
}

// True when the bits of `addr` (big-endian bytes) after the first `prefix` bits are all zero.
bool HostBitsZero(const unsigned char* addr, size_t len, int prefix) {
  for (size_t i = 0; i < len; ++i) {
    const int keep = std::clamp(prefix - static_cast<int>(i * 8), 0, 8);
    const auto mask = static_cast<unsigned char>(keep == 8 ? 0 : (0xff >> keep));
    if ((addr[i] & mask) != 0) return false;
  }
  return true;
}

// One "address" or "address/bits" as sshd's addr_pton_cidr accepts it: a valid prefix length
// and no host bits set below the prefix.
bool ValidCidr(std::string_view entry) {
  const size_t slash = entry.find('/');
  std::string addr(entry.substr(0, slash));
  std::array<unsigned char, 16> buf{};
  size_t len = 0;
  if (inet_pton(AF_INET, addr.c_str(), buf.data()) == 1) {
    len = 4;
  } else if (inet_pton(AF_INET6, addr.c_str(), buf.data()) == 1) {
    len = 16;
  } else {
    return false;
  }
  const int max_bits = static_cast<int>(len * 8);
  int bits = max_bits;
  if (slash != std::string_view::npos) {
    std::string_view digits = entry.substr(slash + 1);
    if (digits.empty() || digits.size() > 3) return false;
    auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), bits);
    if (ec != std::errc() || ptr != digits.data() + digits.size()) return false;
    if (bits < 0 || bits > max_bits) return false;
  }
  return HostBitsZero(buf.data(), len, bits);
}

Status ValidateSourceAddress(std::string_view list) {
  if (list.empty()) return Error::InvalidArgument("source_address", "source-address is empty");
  size_t start = 0;
  while (true) {
    const size_t comma = list.find(',', start);
    std::string_view entry =
        list.substr(start, comma == std::string_view::npos ? list.npos : comma - start);
    if (!ValidCidr(entry)) {
      return Error::InvalidArgument(
          "source_address",
          fmt::format("\"{}\" is not an IPv4/IPv6 address or CIDR block with zero host bits",
                      entry.substr(0, 64)));
    }
    if (comma == std::string_view::npos) return Ok();
    start = comma + 1;
  }
}

// Writes (name, data) tuples sorted by name, as PROTOCOL.certkeys requires.
std::string EncodeOptions(std::vector<std::pair<std::string, std::string>> options) {
  std::sort(options.begin(), options.end());
  WireWriter w;
  for (const auto& [name, data] : options) {
    w.String(name);
    w.String(data);
  }
  return w.Take();
}

std::string StringData(std::string_view value) {
  WireWriter w;
  w.String(value);
  return w.Take();
}

Result<std::vector<std::pair<std::string, std::string>>> DecodeOptions(std::string_view data,
                                                                       std::string_view what) {
  WireReader r(data, what);
  std::vector<std::pair<std::string, std::string>> out;
  while (!r.empty()) {
    BG_ASSIGN_OR_RETURN(std::string_view name, r.String("name"));
    BG_ASSIGN_OR_RETURN(std::string_view value, r.String("data"));
    if (!out.empty() && !(out.back().first < name)) {
      return Error::InvalidArgument(
          std::string(what),
          fmt::format("{} are not sorted by name or repeat \"{}\"", what, name.substr(0, 64)));
    }
    out.emplace_back(name, value);
  }
  return out;
}

Result<KeyType> ParseCertificateType(std::string_view name) {
  for (KeyType t : {KeyType::kEd25519, KeyType::kEcdsaNistp256, KeyType::kEcdsaNistp384,
                    KeyType::kEcdsaNistp521, KeyType::kRsa}) {
    if (CertificateTypeName(t) == name) return t;
  }
  return Error::InvalidArgument(
      "certificate", fmt::format("unsupported certificate type \"{}\"", name.substr(0, 64)));
}

}  // namespace

std::string_view ToString(Extension extension) {
  for (const auto& e : kExtensions) {
    if (e.extension == extension) return e.name;
  }
  return "";
}

Result<Extension> ParseExtension(std::string_view name) {
  for (const auto& e : kExtensions) {
    if (e.name == name) return e.extension;
  }
  return Error::InvalidArgument(
      "extensions", fmt::format("unknown extension \"{}\"; known: permit-X11-forwarding, "
                                "permit-agent-forwarding, permit-port-forwarding, permit-pty, "
                                "permit-user-rc",
                                name.substr(0, 64)));
}

std::optional<std::string> Certificate::CriticalOption(std::string_view name) const {
  for (const auto& [n, data] : critical_options) {
    if (n != name) continue;
    WireReader r(data, "critical option");
    Result<std::string_view> value = r.String("value");
    if (!value || !r.ExpectEnd()) return std::nullopt;
    return std::string(*value);
  }
  return std::nullopt;
}

bool Certificate::HasExtension(std::string_view name) const {
  return std::any_of(extensions.begin(), extensions.end(),
                     [&](const auto& e) { return e.first == name; });
}

std::string Certificate::ToLine() const {
  std::string line =
      fmt::format("{} {}", CertificateTypeName(public_key.type()), Base64Encode(blob));
  if (!comment.empty()) line += " " + comment;
  return line;
}

Status ValidateCertificateSpec(const CertificateSpec& spec) {
  if (spec.serial == 0) {
    return Error::InvalidArgument("serial", "serial must be non-zero (0 cannot be revoked)");
  }
  BG_TRY(ValidateKeyId(spec.key_id));
  BG_TRY(ValidatePrincipals(spec.principals));
  if (ToUnixSeconds(spec.valid_after) < 0) {
    return Error::InvalidArgument("valid_after", "valid_after is before 1970");
  }
  if (!(spec.valid_after < spec.valid_before)) {
    return Error::InvalidArgument("valid_before", "valid_before must be after valid_after");
  }
  if (spec.force_command) {
    if (spec.force_command->empty() || spec.force_command->find('\0') != std::string::npos) {
      return Error::InvalidArgument("force_command", "force-command must be non-empty, no NUL");
    }
  }
  if (spec.source_address) BG_TRY(ValidateSourceAddress(*spec.source_address));
  return Ok();
}

std::string PrintableKeyId(std::string_view raw) {
  std::string out;
  for (unsigned char c : raw) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
  }
  return out;
}

Result<std::string> SignCertificate(const CertificateSpec& spec, const Ed25519PrivateKey& ca,
                                    Random& random) {
  BG_TRY(ValidateCertificateSpec(spec));
  std::vector<std::pair<std::string, std::string>> critical;
  if (spec.force_command) critical.emplace_back(kForceCommand, StringData(*spec.force_command));
  if (spec.source_address) critical.emplace_back(kSourceAddress, StringData(*spec.source_address));
  std::vector<std::pair<std::string, std::string>> extensions;
  for (Extension e : spec.extensions) extensions.emplace_back(ToString(e), "");

  WireWriter principals;
  for (const std::string& p : spec.principals) principals.String(p);

  const KeyType type = spec.public_key.type();
  WireWriter w;
  w.String(CertificateTypeName(type));
  w.String(random.Bytes(kNonceSize));
  w.Raw(spec.public_key.fields());
  w.U64(spec.serial);
  w.U32(kUserCertificate);
  w.String(spec.key_id);
  w.String(principals.data());
  w.U64(static_cast<uint64_t>(ToUnixSeconds(spec.valid_after)));
  w.U64(static_cast<uint64_t>(ToUnixSeconds(spec.valid_before)));
  w.String(EncodeOptions(std::move(critical)));
  w.String(EncodeOptions(std::move(extensions)));
  w.String("");  // reserved
  w.String(ca.public_key().blob());
  w.String(ca.Sign(w.data()));
  return fmt::format("{} {} {}", CertificateTypeName(type), Base64Encode(w.data()), spec.key_id);
}

namespace {

Result<Certificate> ParseCertificateUnlabelled(std::string_view input,
                                               const PublicKey* expected_ca) {
  std::string blob;
  std::string comment;
  std::string_view line_type;
  if (!input.empty() && IsPrintableAscii(input[0])) {
    while (!input.empty() && (input.back() == '\n' || input.back() == '\r')) input.remove_suffix(1);
    const size_t sp = input.find(' ');
    if (sp == input.npos) return Error::InvalidArgument("certificate", "expected \"type base64\"");
    line_type = input.substr(0, sp);
    BG_TRY(ParseCertificateType(line_type));
    std::string_view rest = input.substr(sp + 1);
    const size_t sp2 = rest.find(' ');
    std::optional<std::string> decoded = Base64Decode(rest.substr(0, sp2));
    if (!decoded) return Error::InvalidArgument("certificate", "certificate is not valid base64");
    blob = std::move(*decoded);
    if (sp2 != rest.npos) comment = std::string(rest.substr(sp2 + 1));
  } else {
    blob = std::string(input);
  }

  WireReader r(blob, "certificate");
  BG_ASSIGN_OR_RETURN(std::string_view type_name, r.String("certificate type"));
  BG_ASSIGN_OR_RETURN(KeyType key_type, ParseCertificateType(type_name));
  if (!line_type.empty() && line_type != type_name) {
    return Error::InvalidArgument("certificate", "line type and certificate type differ");
  }
  BG_ASSIGN_OR_RETURN(std::string_view nonce, r.String("nonce"));
  BG_ASSIGN_OR_RETURN(PublicKey key, PublicKey::ReadFields(key_type, r));
  BG_ASSIGN_OR_RETURN(uint64_t serial, r.U64("serial"));
  BG_ASSIGN_OR_RETURN(uint32_t cert_type, r.U32("type"));
  if (cert_type != kUserCertificate && cert_type != kHostCertificate) {
    return Error::InvalidArgument("certificate",
                                  fmt::format("unknown certificate type {}", cert_type));
  }
  BG_ASSIGN_OR_RETURN(std::string_view key_id, r.String("key id"));
  BG_ASSIGN_OR_RETURN(std::string_view principals_data, r.String("valid principals"));
  BG_ASSIGN_OR_RETURN(uint64_t valid_after, r.U64("valid after"));
  BG_ASSIGN_OR_RETURN(uint64_t valid_before, r.U64("valid before"));
  BG_ASSIGN_OR_RETURN(std::string_view critical_data, r.String("critical options"));
  BG_ASSIGN_OR_RETURN(std::string_view extensions_data, r.String("extensions"));
  BG_ASSIGN_OR_RETURN(std::string_view reserved, r.String("reserved"));
  (void)reserved;
  BG_ASSIGN_OR_RETURN(std::string_view ca_blob, r.String("signature key"));
  std::string_view signed_part = r.consumed();
  BG_ASSIGN_OR_RETURN(std::string_view signature, r.String("signature"));
  BG_TRY(r.ExpectEnd());

  BG_ASSIGN_OR_RETURN(PublicKey ca, PublicKey::FromBlob(ca_blob));
  if (expected_ca != nullptr && !(ca == *expected_ca)) {
    return Error::PermissionDenied("certificate is signed by another CA (" + ca.Fingerprint() +
                                   ")");
  }
  BG_TRY(VerifyEd25519Signature(ca, signed_part, signature));

  std::vector<std::string> principals;
  WireReader pr(principals_data, "valid principals");
  while (!pr.empty()) {
    BG_ASSIGN_OR_RETURN(std::string_view p, pr.String("principal"));
    principals.emplace_back(p);
  }
  BG_ASSIGN_OR_RETURN(auto critical, DecodeOptions(critical_data, "critical options"));
  BG_ASSIGN_OR_RETURN(auto extensions, DecodeOptions(extensions_data, "extensions"));

  Certificate cert{.public_key = std::move(key), .signature_key = std::move(ca)};
  cert.nonce = std::string(nonce);
  cert.serial = serial;
  cert.type = cert_type;
  cert.key_id = std::string(key_id);
  cert.principals = std::move(principals);
  cert.valid_after = valid_after;
  cert.valid_before = valid_before;
  cert.critical_options = std::move(critical);
  cert.extensions = std::move(extensions);
  cert.blob = std::move(blob);  // last: the views above point into it
  cert.comment = std::move(comment);
  return cert;
}

}  // namespace

Result<Certificate> ParseCertificate(std::string_view line_or_blob, const PublicKey* expected_ca) {
  Result<Certificate> cert = ParseCertificateUnlabelled(line_or_blob, expected_ca);
  if (!cert.has_value()) return WithField(cert.error(), "certificate");
  return cert;
}

}  // namespace bg::ssh
