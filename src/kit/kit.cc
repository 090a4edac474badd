#include "kit/kit.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "kit/shamir.h"
#include "util/encoding.h"
#include "util/utf8.h"

namespace bg::kit {
namespace {

using nlohmann::json;

Error ManifestError(std::string field, std::string message) {
  return Error::InvalidArgument(std::move(field), "manifest: " + field + ": " + message);
}

Result<std::string> GetString(const json& j, const char* field) {
  if (!j.contains(field)) return ManifestError(field, "missing");
  if (!j.at(field).is_string()) return ManifestError(field, "must be a string");
  return j.at(field).get<std::string>();
}

Result<int> GetInt(const json& j, const char* field, int min, int max) {
  if (!j.contains(field)) return ManifestError(field, "missing");
  const json& v = j.at(field);
  if (!v.is_number_integer()) return ManifestError(field, "must be an integer");
  const auto n = v.get<int64_t>();
  if (n < min || n > max) return ManifestError(field, fmt::format("must be {}..{}", min, max));
  return static_cast<int>(n);
}

Result<Timestamp> GetTime(const json& j, const char* field) {
  BG_ASSIGN_OR_RETURN(std::string text, GetString(j, field));
  auto t = ParseRfc3339(text, field);
  if (!t) return ManifestError(field, "not an RFC 3339 time");
  return *t;
}

Result<std::vector<ShareCommitmentEntry>> GetCommitments(const json& j, int share_count) {
  if (!j.contains("commitments")) return ManifestError("commitments", "missing");
  const json& list = j.at("commitments");
  if (!list.is_array()) return ManifestError("commitments", "must be an array");
  if (list.size() != static_cast<size_t>(share_count)) {
    return ManifestError("commitments", "must have one entry per share");
  }
  std::vector<ShareCommitmentEntry> out;
  for (size_t i = 0; i < list.size(); ++i) {
    const json& e = list[i];
    const std::string where = fmt::format("commitments[{}]", i);
    if (!e.is_object()) return ManifestError(where, "must be an object");
    for (const auto& [key, value] : e.items()) {
      if (key != "index" && key != "sha256") return ManifestError(where + "." + key, "unknown");
    }
    BG_ASSIGN_OR_RETURN(int index, GetInt(e, "index", 1, share_count));
    if (index != static_cast<int>(i) + 1) {
      return ManifestError(where + ".index", "must list shares 1..share_count in order");
    }
    BG_ASSIGN_OR_RETURN(std::string hex, GetString(e, "sha256"));
    const auto bytes = HexDecode(hex);
    if (!bytes || bytes->size() != 32 || hex != HexEncode(*bytes)) {
      return ManifestError(where + ".sha256", "must be 64 lower-case hex digits");
    }
    out.push_back({index, hex});
  }
  return out;
}

Result<KitProtects> GetProtects(const json& j) {
  const json& p = j.at("protects");
  if (!p.is_object()) return ManifestError("protects", "must be an object");
  for (const auto& [key, value] : p.items()) {
    if (key != "kind" && key != "connector" && key != "public_key") {
      return ManifestError("protects." + key, "unknown field");
    }
  }
  auto str = [&p](const char* field) -> Result<std::string> {
    const std::string name = std::string("protects.") + field;
    if (!p.contains(field)) return ManifestError(name, "missing");
    if (!p.at(field).is_string()) return ManifestError(name, "must be a string");
    return p.at(field).get<std::string>();
  };
  KitProtects out;
  BG_ASSIGN_OR_RETURN(out.kind, str("kind"));
  if (out.kind == kProtectsMasterKey) {
    if (p.contains("connector") || p.contains("public_key")) {
      return ManifestError("protects", "a master-key kit names no connector or public key");
    }
    return out;
  }
  if (out.kind != kProtectsSshCa) {
    return ManifestError("protects.kind", "must be \"master-key\" or \"ssh-ca\"");
  }
  BG_ASSIGN_OR_RETURN(out.connector, str("connector"));
  if (out.connector.empty() || !IsValidUtf8(out.connector)) {
    return ManifestError("protects.connector", "must name the ssh_ca connector");
  }
  BG_ASSIGN_OR_RETURN(out.public_key, str("public_key"));
  if (out.public_key.rfind("ssh-ed25519 ", 0) != 0 ||
      out.public_key.find_first_of(" \t\r\n", 12) != std::string::npos) {
    return ManifestError("protects.public_key",
                         "must be the CA's \"ssh-ed25519 <base64>\" line without a comment");
  }
  return out;
}

}  // namespace

json ManifestToJson(const KitManifest& m) {
  json commitments = json::array();
  for (const auto& c : m.commitments)
    commitments.push_back({{"index", c.index}, {"sha256", c.sha256}});
  json j = {{"format", kManifestFormat},
            {"kit_id", m.kit_id},
            {"label", m.label},
            {"threshold", m.threshold},
            {"share_count", m.share_count},
            {"created_at", FormatRfc3339(m.created_at)},
            {"share_format", "bgk1"},
            {"commitments", commitments}};
  if (m.retired_at) {
    j["retired_at"] = FormatRfc3339(*m.retired_at);
    j["replaced_by"] = m.replaced_by;
  }
  if (m.protects) {
    json p = {{"kind", m.protects->kind}};
    if (!m.protects->connector.empty()) p["connector"] = m.protects->connector;
    if (!m.protects->public_key.empty()) p["public_key"] = m.protects->public_key;
    j["protects"] = p;
  }
  return j;
}

Result<KitManifest> ManifestFromJson(const json& j) {
  if (!j.is_object()) return ManifestError("manifest", "must be a JSON object");
  static const std::set<std::string> kKnown = {
      "format",     "kit_id",       "label",       "threshold",  "share_count",
      "created_at", "share_format", "commitments", "retired_at", "replaced_by",
      "protects"};
  for (const auto& [key, value] : j.items()) {
    if (kKnown.count(key) == 0) return ManifestError(key, "unknown field");
  }
  BG_ASSIGN_OR_RETURN(std::string format, GetString(j, "format"));
  if (format != kManifestFormat) {
    return ManifestError("format", fmt::format("expected \"{}\"", kManifestFormat));
  }
  BG_ASSIGN_OR_RETURN(std::string share_format, GetString(j, "share_format"));
  if (share_format != "bgk1") return ManifestError("share_format", "expected \"bgk1\"");
  KitManifest m;
  BG_ASSIGN_OR_RETURN(m.kit_id, GetString(j, "kit_id"));
  if (!IsValidKitId(m.kit_id)) return ManifestError("kit_id", "not a kit id");
  BG_ASSIGN_OR_RETURN(m.label, GetString(j, "label"));
  BG_ASSIGN_OR_RETURN(m.threshold, GetInt(j, "threshold", kMinThreshold, kMaxShares));
  BG_ASSIGN_OR_RETURN(m.share_count, GetInt(j, "share_count", m.threshold, kMaxShares));
  BG_ASSIGN_OR_RETURN(m.created_at, GetTime(j, "created_at"));
  BG_ASSIGN_OR_RETURN(m.commitments, GetCommitments(j, m.share_count));
  if (j.contains("retired_at") != j.contains("replaced_by")) {
    return ManifestError(j.contains("retired_at") ? "replaced_by" : "retired_at",
                         "retired_at and replaced_by go together");
  }
  if (j.contains("retired_at")) {
    BG_ASSIGN_OR_RETURN(m.retired_at, GetTime(j, "retired_at"));
    BG_ASSIGN_OR_RETURN(m.replaced_by, GetString(j, "replaced_by"));
    if (!IsValidKitId(m.replaced_by)) return ManifestError("replaced_by", "not a kit id");
  }
  if (j.contains("protects")) {
    BG_ASSIGN_OR_RETURN(m.protects, GetProtects(j));
  }
  return m;
}

std::string FormatManifest(const KitManifest& manifest) {
  return ManifestToJson(manifest).dump(2) + "\n";
}

Result<KitManifest> ParseManifest(std::string_view text) {
  json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Error::InvalidArgument("manifest", "manifest: not valid JSON");
  return ManifestFromJson(j);
}

Result<Kit> SplitSecret(const Secret& secret, const SplitOptions& options, Timestamp now,
                        Random& random) {
  if (secret.size() > kMaxSecretBytes) {
    return Error::InvalidArgument(
        "secret", fmt::format("the secret is {} bytes; at most {} fit in a share line",
                              secret.size(), kMaxSecretBytes));
  }
  if (!IsValidUtf8(options.label)) {
    return Error::InvalidArgument("label", "the label is not valid UTF-8");
  }
  BG_ASSIGN_OR_RETURN(auto points, ShamirSplit(secret, options.threshold, options.shares, random));
  Kit kit;
  kit.manifest.kit_id = NewKitId(random);
  kit.manifest.label = options.label;
  kit.manifest.threshold = options.threshold;
  kit.manifest.share_count = options.shares;
  kit.manifest.created_at = now;
  kit.manifest.protects = options.protects;
  for (auto& point : points) {
    Share share;
    share.kit_id = kit.manifest.kit_id;
    share.index = point.x;
    share.threshold = options.threshold;
    random.Fill(share.salt.data(), share.salt.size());
    share.payload = std::move(point.y);
    const Digest commitment = ShareCommitment(share);
    kit.manifest.commitments.push_back({share.index, HexEncode(AsBytes(commitment))});
    kit.shares.push_back(std::move(share));
  }
  // Never hand out a manifest that would not read back (e.g. a malformed protects).
  BG_TRY(ManifestFromJson(ManifestToJson(kit.manifest)));
  return kit;
}

namespace {

std::string Describe(const SourcedShare& s) {
  return fmt::format("{} (share {})", s.source, s.share.index);
}

Status MatchesCommitment(const Share& share, const KitManifest& manifest) {
  const auto& entries = manifest.commitments;
  const auto it = std::find_if(entries.begin(), entries.end(),
                               [&](const auto& e) { return e.index == share.index; });
  if (it == entries.end()) {
    return Error::InvalidArgument(
        "share", fmt::format("share index {} is not in the manifest (kit {} has {} shares)",
                             share.index, manifest.kit_id, manifest.share_count));
  }
  const Digest commitment = ShareCommitment(share);
  if (!ConstantTimeEquals(HexEncode(AsBytes(commitment)), it->sha256)) {
    return Error::InvalidArgument(
        "share", fmt::format("share {} does not match its commitment in the manifest: it is "
                             "not the share that was issued for kit {}",
                             share.index, manifest.kit_id));
  }
  return Ok();
}

}  // namespace

Status CheckShare(const Share& share, const KitManifest& manifest) {
  if (share.kit_id != manifest.kit_id) {
    return Error::InvalidArgument(
        "share", fmt::format("this share belongs to kit {}, but the manifest is for kit {}",
                             share.kit_id, manifest.kit_id));
  }
  if (share.threshold != manifest.threshold) {
    return Error::InvalidArgument(
        "share", fmt::format("the share says threshold {}, the manifest says {}", share.threshold,
                             manifest.threshold));
  }
  return MatchesCommitment(share, manifest);
}

Result<Combined> CombineShares(const std::vector<SourcedShare>& shares,
                               const KitManifest* manifest) {
  if (shares.empty()) return Error::InvalidArgument("shares", "no shares given");
  const SourcedShare& first = shares.front();
  for (size_t i = 1; i < shares.size(); ++i) {
    const SourcedShare& s = shares[i];
    if (s.share.kit_id != first.share.kit_id) {
      return Error::InvalidArgument(
          "shares", fmt::format("mixed kits: {} is from kit {}, but {} is from kit {}",
                                first.source, first.share.kit_id, s.source, s.share.kit_id));
    }
  }
  for (size_t i = 1; i < shares.size(); ++i) {
    const SourcedShare& s = shares[i];
    for (size_t j = 0; j < i; ++j) {
      if (shares[j].share.index != s.share.index) continue;
      const bool same =
          shares[j].share.salt == s.share.salt && shares[j].share.payload.Equals(s.share.payload);
      return Error::InvalidArgument(
          "shares",
          fmt::format("duplicate share index {}: {} and {} {}", s.share.index, shares[j].source,
                      s.source, same ? "are the same share" : "are different shares"));
    }
    if (s.share.threshold != first.share.threshold) {
      return Error::InvalidArgument(
          "shares", fmt::format("shares of kit {} disagree on the threshold: {} says {}, {} "
                                "says {}",
                                first.share.kit_id, first.source, first.share.threshold, s.source,
                                s.share.threshold));
    }
    if (s.share.payload.size() != first.share.payload.size()) {
      return Error::InvalidArgument(
          "shares", fmt::format("shares of kit {} have different lengths: {} and {}",
                                first.share.kit_id, Describe(first), Describe(s)));
    }
  }
  if (manifest != nullptr) {
    if (manifest->kit_id != first.share.kit_id) {
      return Error::InvalidArgument(
          "shares", fmt::format("the shares are from kit {}, but the manifest is for kit {}",
                                first.share.kit_id, manifest->kit_id));
    }
    for (const SourcedShare& s : shares) {
      auto ok = CheckShare(s.share, *manifest);
      if (!ok) return Error::InvalidArgument("shares", s.source + ": " + ok.error().message());
    }
  }
  const auto threshold = static_cast<size_t>(first.share.threshold);
  if (shares.size() < threshold) {
    return Error::FailedPrecondition(fmt::format("too few shares: kit {} needs {}, got {}",
                                                 first.share.kit_id, threshold, shares.size()));
  }
  std::vector<ShamirPoint> points;
  for (size_t i = 0; i < threshold; ++i) {
    points.push_back({static_cast<uint8_t>(shares[i].share.index), shares[i].share.payload});
  }
  for (size_t i = threshold; i < shares.size(); ++i) {
    BG_ASSIGN_OR_RETURN(Secret expected,
                        ShamirInterpolate(points, static_cast<uint8_t>(shares[i].share.index)));
    if (!expected.Equals(shares[i].share.payload)) {
      return Error::InvalidArgument(
          "shares", fmt::format("the shares do not agree: {} does not fit the first {}; one of "
                                "them is not a genuine share of kit {}",
                                Describe(shares[i]), threshold, first.share.kit_id));
    }
  }
  BG_ASSIGN_OR_RETURN(Secret secret, ShamirCombine(points));
  Combined out{std::move(secret), first.share.kit_id, first.share.threshold, {}};
  for (const SourcedShare& s : shares) out.indices.push_back(s.share.index);
  std::sort(out.indices.begin(), out.indices.end());
  return out;
}

Status RetireManifest(KitManifest& manifest, std::string_view successor_kit_id, Timestamp now) {
  if (manifest.retired_at) {
    return Error::FailedPrecondition(
        fmt::format("kit {} was already retired at {} (replaced by {})", manifest.kit_id,
                    FormatRfc3339(*manifest.retired_at), manifest.replaced_by));
  }
  if (!IsValidKitId(successor_kit_id) || successor_kit_id == manifest.kit_id) {
    return Error::InvalidArgument("replaced_by", "the successor must be another kit id");
  }
  manifest.retired_at = now;
  manifest.replaced_by = std::string(successor_kit_id);
  return Ok();
}

}  // namespace bg::kit
