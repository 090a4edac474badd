// The offline emergency kit: split a secret into share lines plus a public manifest, combine
// share lines back into the secret, check one share against the manifest, retire a manifest.
//
// The manifest is public: it names the kit (id, label, threshold, share count, creation time)
// and holds one salted commitment per share (kit/share_line.h), enough for a keyholder to
// confirm their share without any other share and without learning anything about the
// secret. Time and randomness are injected; nothing here reads a file or a clock. Pure
// functions over values, thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kit/share_line.h"
#include "util/random.h"
#include "util/result.h"
#include "util/secret.h"
#include "util/time.h"

namespace bg::kit {

inline constexpr std::string_view kManifestFormat = "breakglass-kit-manifest/1";

struct ShareCommitmentEntry {
  int index = 0;
  std::string sha256;  // lower-case hex of ShareCommitment()
};

// What a kit restores, when it is one the service made (absent for `kit split` kits, whose
// secret the label describes). "master-key": the server's master key (`kit seal-master`).
// "ssh-ca": the Ed25519 key of the ssh_ca connector `connector`, whose public key line
// ("ssh-ed25519 AAAA...", no comment) is `public_key`; `kit ssh-cert` checks the restored key
// against it before signing anything.
inline constexpr std::string_view kProtectsMasterKey = "master-key";
inline constexpr std::string_view kProtectsSshCa = "ssh-ca";
struct KitProtects {
  std::string kind;
  std::string connector;   // ssh-ca only
  std::string public_key;  // ssh-ca only
};

struct KitManifest {
  std::string kit_id;
  std::string label;
  int threshold = 0;
  int share_count = 0;
  Timestamp created_at{};
  std::vector<ShareCommitmentEntry> commitments;  // one per share, by index 1..share_count
  std::optional<Timestamp> retired_at;            // set together with replaced_by
  std::string replaced_by;                        // kit id of the successor
  std::optional<KitProtects> protects;
};

// {"format", "kit_id", "label", "threshold", "share_count", "created_at", "share_format",
//  "commitments": [{"index", "sha256"}], ["retired_at", "replaced_by"],
//  ["protects": {"kind", ["connector", "public_key"]}]}.
nlohmann::json ManifestToJson(const KitManifest& manifest);
// Rejects unknown fields, wrong types and inconsistent values, naming the field.
Result<KitManifest> ManifestFromJson(const nlohmann::json& json);
// Pretty JSON with a trailing newline, as written to manifest.json.
std::string FormatManifest(const KitManifest& manifest);
Result<KitManifest> ParseManifest(std::string_view text);

struct SplitOptions {
  int threshold = 0;  // 2..shares
  int shares = 0;     // threshold..255
  std::string label;
  std::optional<KitProtects> protects = std::nullopt;
};

struct Kit {
  KitManifest manifest;
  std::vector<Share> shares;  // index 1..N in order
};

// A new kit with a fresh id. The secret is 1..kMaxSecretBytes bytes.
Result<Kit> SplitSecret(const Secret& secret, const SplitOptions& options, Timestamp now,
                        Random& random);

// A share and where it came from ("line 3", "share-2.txt"), for error messages.
struct SourcedShare {
  std::string source;
  Share share;
};

struct Combined {
  Secret secret;
  std::string kit_id;
  int threshold = 0;
  std::vector<int> indices;  // of the shares used, ascending
};

// Restores the secret from at least `threshold` shares of one kit. Extra shares must agree
// with the polynomial of the first `threshold` ones. With a manifest, every share must also
// match its commitment. Errors (each names the sources involved):
//   kInvalidArgument     no shares; mixed kits; duplicate share index; shares that disagree
//                        (threshold, length, polynomial); share not matching the manifest
//   kFailedPrecondition  too few shares
Result<Combined> CombineShares(const std::vector<SourcedShare>& shares,
                               const KitManifest* manifest = nullptr);

// Ok when `share` is intact and was issued for `manifest`'s kit; kInvalidArgument naming the
// reason otherwise. A retired manifest does not make a share fail (callers report it).
Status CheckShare(const Share& share, const KitManifest& manifest);

// Marks `manifest` retired at `now`, replaced by `successor_kit_id`. kFailedPrecondition if it
// is already retired; kInvalidArgument for a malformed or identical successor id.
Status RetireManifest(KitManifest& manifest, std::string_view successor_kit_id, Timestamp now);

}  // namespace bg::kit
