#include "ssh/krl.h"

#include <fmt/format.h>

#include "ssh/ssh_wire.h"

namespace bg::ssh {
namespace {

enum : uint8_t {
  kSectionCertificates = 1,
  kSectionExplicitKey = 2,
  kSectionFingerprintSha1 = 3,
  kSectionSignature = 4,
  kSectionFingerprintSha256 = 5,
  kSectionExtension = 255,
};
enum : uint8_t {
  kCertSerialList = 0x20,
  kCertSerialRange = 0x21,
  kCertSerialBitmap = 0x22,
  kCertKeyId = 0x23,
  kCertExtension = 0x39,
};
// A range entry costs 21 bytes on the wire; a list entry costs 8, so a run of three or more is
// cheaper as a range.
constexpr uint64_t kMinRangeRun = 3;

Error KrlError(std::string message) { return Error::InvalidArgument("krl", std::move(message)); }

Status SkipExtension(std::string_view data, std::string_view what) {
  WireReader r(data, what);
  BG_ASSIGN_OR_RETURN(std::string_view name, r.String("extension name"));
  BG_ASSIGN_OR_RETURN(bool critical, r.Bool("extension is_critical"));
  BG_ASSIGN_OR_RETURN(std::string_view contents, r.String("extension contents"));
  (void)contents;
  BG_TRY(r.ExpectEnd());
  if (critical) {
    return KrlError(fmt::format("unsupported critical {} \"{}\"", what, name.substr(0, 64)));
  }
  return Ok();
}

Result<Krl::CertificateSection> ParseCertificateSection(std::string_view data) {
  WireReader r(data, "KRL certificate section");
  Krl::CertificateSection section;
  BG_ASSIGN_OR_RETURN(std::string_view ca, r.String("ca key"));
  if (!ca.empty()) BG_TRY(PublicKey::FromBlob(ca));
  section.ca_key_blob = std::string(ca);
  BG_ASSIGN_OR_RETURN(std::string_view reserved, r.String("reserved"));
  (void)reserved;
  while (!r.empty()) {
    BG_ASSIGN_OR_RETURN(uint8_t type, r.U8("certificate subsection type"));
    BG_ASSIGN_OR_RETURN(std::string_view body, r.String("certificate subsection"));
    WireReader s(body, "KRL certificate subsection");
    switch (type) {
      case kCertSerialList:
        while (!s.empty()) {
          BG_ASSIGN_OR_RETURN(uint64_t serial, s.U64("serial"));
          section.serials.push_back(serial);
        }
        break;
      case kCertSerialRange: {
        BG_ASSIGN_OR_RETURN(uint64_t lo, s.U64("serial_min"));
        BG_ASSIGN_OR_RETURN(uint64_t hi, s.U64("serial_max"));
        BG_TRY(s.ExpectEnd());
        if (lo > hi) return KrlError("serial range has serial_min > serial_max");
        section.serial_ranges.emplace_back(lo, hi);
        break;
      }
      case kCertSerialBitmap: {
        BG_ASSIGN_OR_RETURN(uint64_t offset, s.U64("serial_offset"));
        BG_ASSIGN_OR_RETURN(std::string_view bitmap, s.PositiveMpint("revoked_keys_bitmap"));
        BG_TRY(s.ExpectEnd());
        section.serial_bitmaps.emplace_back(offset, std::string(bitmap));
        break;
      }
      case kCertKeyId:
        while (!s.empty()) {
          BG_ASSIGN_OR_RETURN(std::string_view key_id, s.String("key_id"));
          section.key_ids.emplace_back(key_id);
        }
        break;
      case kCertExtension:
        BG_TRY(SkipExtension(body, "certificate section extension"));
        break;
      default:
        return KrlError(fmt::format("unknown certificate subsection type 0x{:02x}", type));
    }
  }
  return section;
}

Result<std::vector<std::string>> ParseBlobList(std::string_view data, std::string_view what) {
  WireReader r(data, what);
  std::vector<std::string> out;
  while (!r.empty()) {
    BG_ASSIGN_OR_RETURN(std::string_view blob, r.String("entry"));
    out.emplace_back(blob);
  }
  if (out.empty()) return KrlError(fmt::format("{} is empty", what));
  return out;
}

bool BitmapHas(const std::string& bitmap, uint64_t offset, uint64_t serial) {
  if (serial < offset) return false;
  const uint64_t bit = serial - offset;
  if (bit / 8 >= bitmap.size()) return false;
  const auto byte = static_cast<uint8_t>(bitmap[bitmap.size() - 1 - bit / 8]);
  return (byte >> (bit % 8)) & 1;
}

}  // namespace

Result<std::string> BuildKrl(const KrlSpec& spec) {
  if (spec.revoked_serials.count(0) != 0) {
    return Error::InvalidArgument("serial", "serial 0 cannot be revoked");
  }
  if (ToUnixSeconds(spec.generated_at) < 0) {
    return Error::InvalidArgument("generated_at", "generated_at is before 1970");
  }
  WireWriter w;
  w.Raw(kKrlMagic);
  w.U32(kKrlFormatVersion);
  w.U64(spec.krl_version);
  w.U64(static_cast<uint64_t>(ToUnixSeconds(spec.generated_at)));
  w.U64(0);      // flags
  w.String("");  // reserved
  w.String(spec.comment);
  if (spec.revoked_serials.empty()) return w.Take();

  WireWriter subsections;
  WireWriter singles;
  for (auto it = spec.revoked_serials.begin(); it != spec.revoked_serials.end();) {
    const uint64_t lo = *it;
    uint64_t hi = lo;
    auto next = std::next(it);
    while (next != spec.revoked_serials.end() && hi != UINT64_MAX && *next == hi + 1) {
      hi = *next;
      ++next;
    }
    if (hi - lo + 1 >= kMinRangeRun) {
      WireWriter range;
      range.U64(lo);
      range.U64(hi);
      subsections.U8(kCertSerialRange);
      subsections.String(range.data());
    } else {
      for (auto s = it; s != next; ++s) singles.U64(*s);
    }
    it = next;
  }
  if (singles.size() > 0) {
    subsections.U8(kCertSerialList);
    subsections.String(singles.data());
  }
  WireWriter section;
  section.String(spec.ca_key.blob());
  section.String("");  // reserved
  section.Raw(subsections.data());
  w.U8(kSectionCertificates);
  w.String(section.data());
  return w.Take();
}

namespace {

Result<Krl> ParseKrlUnlabelled(std::string_view data) {
  WireReader r(data, "KRL");
  BG_ASSIGN_OR_RETURN(std::string_view magic, r.Raw(kKrlMagic.size(), "magic"));
  if (magic != kKrlMagic) return KrlError("not a KRL (bad magic)");
  BG_ASSIGN_OR_RETURN(uint32_t version, r.U32("format version"));
  if (version != kKrlFormatVersion) {
    return KrlError(fmt::format("unsupported KRL format version {}", version));
  }
  Krl krl;
  BG_ASSIGN_OR_RETURN(krl.krl_version, r.U64("krl_version"));
  BG_ASSIGN_OR_RETURN(krl.generated_date, r.U64("generated_date"));
  BG_ASSIGN_OR_RETURN(krl.flags, r.U64("flags"));
  BG_ASSIGN_OR_RETURN(std::string_view reserved, r.String("reserved"));
  (void)reserved;
  BG_ASSIGN_OR_RETURN(std::string_view comment, r.String("comment"));
  krl.comment = std::string(comment);
  while (!r.empty()) {
    BG_ASSIGN_OR_RETURN(uint8_t type, r.U8("section type"));
    if (type == kSectionSignature) return KrlError("signed KRLs are not supported");
    BG_ASSIGN_OR_RETURN(std::string_view body, r.String("section"));
    switch (type) {
      case kSectionCertificates: {
        BG_ASSIGN_OR_RETURN(auto section, ParseCertificateSection(body));
        krl.certificate_sections.push_back(std::move(section));
        break;
      }
      case kSectionExplicitKey: {
        BG_ASSIGN_OR_RETURN(auto blobs, ParseBlobList(body, "explicit key section"));
        for (auto& b : blobs) krl.revoked_key_blobs.push_back(std::move(b));
        break;
      }
      case kSectionFingerprintSha1: {
        BG_ASSIGN_OR_RETURN(auto hashes, ParseBlobList(body, "SHA1 fingerprint section"));
        for (auto& h : hashes) krl.revoked_sha1_hashes.push_back(std::move(h));
        break;
      }
      case kSectionFingerprintSha256: {
        BG_ASSIGN_OR_RETURN(auto hashes, ParseBlobList(body, "SHA256 fingerprint section"));
        for (auto& h : hashes) krl.revoked_sha256_hashes.push_back(std::move(h));
        break;
      }
      case kSectionExtension:
        BG_TRY(SkipExtension(body, "KRL extension"));
        break;
      default:
        return KrlError(fmt::format("unknown KRL section type {}", type));
    }
  }
  return krl;
}

}  // namespace

Result<Krl> ParseKrl(std::string_view data) {
  Result<Krl> krl = ParseKrlUnlabelled(data);
  if (!krl.has_value()) return WithField(krl.error(), "krl");
  return krl;
}

bool Krl::IsRevoked(const PublicKey& ca, uint64_t serial, std::string_view key_id) const {
  for (const CertificateSection& s : certificate_sections) {
    if (!s.ca_key_blob.empty() && s.ca_key_blob != ca.blob()) continue;
    for (uint64_t r : s.serials) {
      if (r == serial) return true;
    }
    for (const auto& [lo, hi] : s.serial_ranges) {
      if (lo <= serial && serial <= hi) return true;
    }
    for (const auto& [offset, bitmap] : s.serial_bitmaps) {
      if (BitmapHas(bitmap, offset, serial)) return true;
    }
    for (const std::string& id : s.key_ids) {
      if (id == key_id) return true;
    }
  }
  return false;
}

}  // namespace bg::ssh
