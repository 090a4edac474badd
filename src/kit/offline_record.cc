#include "kit/offline_record.h"

#include <fmt/format.h>
#include <sodium.h>

#include <cctype>
#include <set>

#include "kit/share_line.h"
#include "util/encoding.h"
#include "util/utf8.h"

namespace bg::kit {
namespace {

using nlohmann::json;

Error RecordError(std::string field, std::string message) {
  return Error::InvalidArgument(field, "offline record: " + field + ": " + message);
}

json SshCertificateJson(const SshCertificateUse& c) {
  return {{"serial", c.serial},
          {"key_id", c.key_id},
          {"principals", c.principals},
          {"valid_after", FormatRfc3339(c.valid_after)},
          {"valid_before", FormatRfc3339(c.valid_before)},
          {"ca_public_key", c.ca_public_key},
          {"key_fingerprint", c.key_fingerprint}};
}

json UnsignedJson(const OfflineRecord& r) {
  json j = {{"format", kOfflineRecordFormat},
          {"record_id", r.record_id},
          {"kit_id", r.kit_id},
          {"kit_label", r.kit_label},
          {"who", r.who},
          {"when", FormatRfc3339(r.when)},
          {"why", r.why},
          {"ticket", r.ticket},
          {"share_indices", r.share_indices},
          {"public_key", r.public_key}};
  if (r.ssh_certificate) j["ssh_certificate"] = SshCertificateJson(*r.ssh_certificate);
  return j;
}

bool IsPrintableAscii(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

Status ValidateSshCertificate(const SshCertificateUse& c) {
  const std::string f = "ssh_certificate.";
  if (!ParseDecimalU64(c.serial)) {
    return RecordError(f + "serial", "must be a 64-bit unsigned integer in decimal");
  }
  if (c.key_id.empty() || !IsPrintableAscii(c.key_id)) {
    return RecordError(f + "key_id", "must be non-empty printable ASCII");
  }
  if (c.principals.empty()) return RecordError(f + "principals", "must not be empty");
  for (const std::string& p : c.principals) {
    if (p.empty() || !IsPrintableAscii(p) || p.find_first_of(" ,") != std::string::npos) {
      return RecordError(f + "principals", "each must be printable ASCII without spaces or commas");
    }
  }
  if (c.valid_before <= c.valid_after) {
    return RecordError(f + "valid_before", "must be after valid_after");
  }
  if (c.ca_public_key.rfind("ssh-ed25519 ", 0) != 0 || !IsPrintableAscii(c.ca_public_key) ||
      c.ca_public_key.find(' ', 12) != std::string::npos) {
    return RecordError(f + "ca_public_key", "must be \"ssh-ed25519 <base64>\" without a comment");
  }
  if (c.key_fingerprint.rfind("SHA256:", 0) != 0 || !IsPrintableAscii(c.key_fingerprint)) {
    return RecordError(f + "key_fingerprint", "must be \"SHA256:<base64>\"");
  }
  return Ok();
}

Status ValidateFields(const OfflineRecord& r) {
  if (r.record_id.rfind("kor_", 0) != 0 || r.record_id.size() != 24) {
    return RecordError("record_id", "must be \"kor_\" and 20 characters");
  }
  if (!IsValidKitId(r.kit_id)) return RecordError("kit_id", "not a kit id");
  for (const auto& [field, value] :
       {std::pair<const char*, const std::string*>{"kit_label", &r.kit_label},
        {"who", &r.who},
        {"why", &r.why},
        {"ticket", &r.ticket}}) {
    if (!IsValidUtf8(*value)) return RecordError(field, "not valid UTF-8");
  }
  if (r.who.empty()) return RecordError("who", "must say who used the kit");
  if (r.why.empty()) return RecordError("why", "must say why the kit was used");
  if (r.share_indices.empty()) return RecordError("share_indices", "must not be empty");
  for (size_t i = 0; i < r.share_indices.size(); ++i) {
    const int x = r.share_indices[i];
    if (x < 1 || x > 255 || (i > 0 && x <= r.share_indices[i - 1])) {
      return RecordError("share_indices", "must be ascending, unique, 1..255");
    }
  }
  if (r.ssh_certificate) BG_TRY(ValidateSshCertificate(*r.ssh_certificate));
  return Ok();
}

Result<std::string> Str(const json& j, const char* field, bool required = true) {
  if (!j.contains(field)) {
    if (required) return RecordError(field, "missing");
    return std::string();
  }
  if (!j.at(field).is_string()) return RecordError(field, "must be a string");
  return j.at(field).get<std::string>();
}

Result<Timestamp> Time(const json& j, const std::string& prefix, const char* field) {
  if (!j.contains(field)) return RecordError(prefix + field, "missing");
  if (!j.at(field).is_string()) return RecordError(prefix + field, "must be a string");
  auto t = ParseRfc3339(j.at(field).get<std::string>(), field);
  if (!t) return RecordError(prefix + field, "not an RFC 3339 time");
  return *t;
}

Result<SshCertificateUse> SshCertificateFromJson(const json& j) {
  const std::string prefix = "ssh_certificate.";
  if (!j.is_object()) return RecordError("ssh_certificate", "must be an object");
  static const std::set<std::string> kKnown = {"serial",       "key_id",        "principals",
                                               "valid_after",  "valid_before",  "ca_public_key",
                                               "key_fingerprint"};
  for (const auto& [key, value] : j.items()) {
    if (kKnown.count(key) == 0) return RecordError(prefix + key, "unknown field");
  }
  SshCertificateUse c;
  for (const auto& [field, out] : {std::pair<const char*, std::string*>{"serial", &c.serial},
                                   {"key_id", &c.key_id},
                                   {"ca_public_key", &c.ca_public_key},
                                   {"key_fingerprint", &c.key_fingerprint}}) {
    if (!j.contains(field)) return RecordError(prefix + field, "missing");
    if (!j.at(field).is_string()) return RecordError(prefix + field, "must be a string");
    *out = j.at(field).get<std::string>();
  }
  if (!j.contains("principals")) return RecordError(prefix + "principals", "missing");
  if (!j.at("principals").is_array()) return RecordError(prefix + "principals", "must be an array");
  for (const json& p : j.at("principals")) {
    if (!p.is_string()) return RecordError(prefix + "principals", "must hold strings");
    c.principals.push_back(p.get<std::string>());
  }
  BG_ASSIGN_OR_RETURN(c.valid_after, Time(j, prefix, "valid_after"));
  BG_ASSIGN_OR_RETURN(c.valid_before, Time(j, prefix, "valid_before"));
  return c;
}

}  // namespace

SigningKey SigningKey::Generate(Random& random) {
  Secret seed(random.Bytes(crypto_sign_SEEDBYTES));
  auto key = Parse(Base64Encode(seed.Reveal()));
  return std::move(key).value();
}

Result<SigningKey> SigningKey::Parse(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())))
    text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
    text.remove_suffix(1);
  std::optional<std::string> seed = text.size() == 64 ? HexDecode(text) : Base64Decode(text);
  if (!seed || seed->size() != crypto_sign_SEEDBYTES) {
    if (seed) sodium_memzero(seed->data(), seed->size());
    return Error::InvalidArgument("signing_key",
                                  "a signing key is a 32-byte Ed25519 seed in base64 or hex");
  }
  Secret seed_secret(*seed);
  sodium_memzero(seed->data(), seed->size());
  unsigned char pk[crypto_sign_PUBLICKEYBYTES];
  std::vector<uint8_t> sk(crypto_sign_SECRETKEYBYTES);
  crypto_sign_seed_keypair(pk, sk.data(), seed_secret.data());
  Secret secret_key(sk);
  sodium_memzero(sk.data(), sk.size());
  return SigningKey(std::move(seed_secret), std::move(secret_key),
                    Base64Encode(std::string_view(reinterpret_cast<char*>(pk), sizeof pk)));
}

Secret SigningKey::SeedBase64() const { return Secret(Base64Encode(seed_.Reveal())); }

std::string OfflineRecordSigningBytes(const OfflineRecord& record) {
  return std::string(kOfflineRecordFormat) + "\n" + UnsignedJson(record).dump();
}

Status SignOfflineRecord(OfflineRecord& record, const SigningKey& key) {
  record.public_key = key.public_key_;
  BG_TRY(ValidateFields(record));
  const std::string message = OfflineRecordSigningBytes(record);
  unsigned char sig[crypto_sign_BYTES];
  crypto_sign_detached(sig, nullptr, reinterpret_cast<const unsigned char*>(message.data()),
                       message.size(), key.secret_key_.data());
  record.signature = Base64Encode(std::string_view(reinterpret_cast<char*>(sig), sizeof sig));
  return Ok();
}

Status VerifyOfflineRecord(const OfflineRecord& record, std::string_view expected_public_key) {
  BG_TRY(ValidateFields(record));
  const auto pk = Base64Decode(record.public_key);
  if (!pk || pk->size() != crypto_sign_PUBLICKEYBYTES) {
    return RecordError("public_key", "must be 32 bytes of base64");
  }
  const auto sig = Base64Decode(record.signature);
  if (!sig || sig->size() != crypto_sign_BYTES) {
    return RecordError("signature", "must be 64 bytes of base64");
  }
  if (!expected_public_key.empty() && expected_public_key != record.public_key) {
    return Error::PermissionDenied(
        fmt::format("offline record {} is signed by key {}, not the expected {}", record.record_id,
                    record.public_key, expected_public_key));
  }
  const std::string message = OfflineRecordSigningBytes(record);
  if (crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(sig->data()),
                                  reinterpret_cast<const unsigned char*>(message.data()),
                                  message.size(),
                                  reinterpret_cast<const unsigned char*>(pk->data())) != 0) {
    return Error::PermissionDenied(
        fmt::format("offline record {}: the signature does not verify", record.record_id));
  }
  return Ok();
}

json OfflineRecordToJson(const OfflineRecord& record) {
  json j = UnsignedJson(record);
  j["signature"] = record.signature;
  return j;
}

Result<OfflineRecord> OfflineRecordFromJson(const json& j) {
  if (!j.is_object()) return RecordError("record", "must be a JSON object");
  static const std::set<std::string> kKnown = {
      "format", "record_id", "kit_id",        "kit_label",  "who",      "when",
      "why",    "ticket",    "share_indices", "public_key", "signature", "ssh_certificate"};
  for (const auto& [key, value] : j.items()) {
    if (kKnown.count(key) == 0) return RecordError(key, "unknown field");
  }
  BG_ASSIGN_OR_RETURN(std::string format, Str(j, "format"));
  if (format != kOfflineRecordFormat) {
    return RecordError("format", fmt::format("expected \"{}\"", kOfflineRecordFormat));
  }
  OfflineRecord r;
  BG_ASSIGN_OR_RETURN(r.record_id, Str(j, "record_id"));
  BG_ASSIGN_OR_RETURN(r.kit_id, Str(j, "kit_id"));
  BG_ASSIGN_OR_RETURN(r.kit_label, Str(j, "kit_label"));
  BG_ASSIGN_OR_RETURN(r.who, Str(j, "who"));
  BG_ASSIGN_OR_RETURN(std::string when, Str(j, "when"));
  auto t = ParseRfc3339(when, "when");
  if (!t) return RecordError("when", "not an RFC 3339 time");
  r.when = *t;
  BG_ASSIGN_OR_RETURN(r.why, Str(j, "why"));
  BG_ASSIGN_OR_RETURN(r.ticket, Str(j, "ticket"));
  if (!j.contains("share_indices")) return RecordError("share_indices", "missing");
  if (!j.at("share_indices").is_array()) return RecordError("share_indices", "must be an array");
  for (const json& x : j.at("share_indices")) {
    if (!x.is_number_integer()) return RecordError("share_indices", "must hold integers");
    const auto v = x.get<int64_t>();
    if (v < 1 || v > 255) return RecordError("share_indices", "must be 1..255");
    r.share_indices.push_back(static_cast<int>(v));
  }
  if (j.contains("ssh_certificate")) {
    BG_ASSIGN_OR_RETURN(r.ssh_certificate, SshCertificateFromJson(j.at("ssh_certificate")));
  }
  BG_ASSIGN_OR_RETURN(r.public_key, Str(j, "public_key"));
  BG_ASSIGN_OR_RETURN(r.signature, Str(j, "signature"));
  BG_TRY(ValidateFields(r));
  return r;
}

Result<OfflineRecord> ParseOfflineRecord(std::string_view text) {
  json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return RecordError("record", "not valid JSON");
  return OfflineRecordFromJson(j);
}

}  // namespace bg::kit
