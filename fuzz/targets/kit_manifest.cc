// Manifests of the offline kit (kit/kit.h): the public manifest.json a keyholder checks a share
// against.
//
// Invariants: an accepted manifest is consistent (threshold 2..share_count, one commitment per
// share in order, retired_at with replaced_by) and FormatManifest writes text that parses to
// the same manifest and is written again byte for byte; a refusal names its field.
#include <string>

#include "fuzz/fuzz.h"
#include "kit/kit.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto manifest = bg::kit::ParseManifest(bg::fuzz::AsText(data, size));
  if (!manifest) {
    bg::fuzz::CheckError(manifest.error());
    return 0;
  }
  BG_FUZZ_CHECK(bg::kit::IsValidKitId(manifest->kit_id));
  BG_FUZZ_CHECK(manifest->threshold >= 2 && manifest->threshold <= manifest->share_count);
  BG_FUZZ_CHECK(manifest->commitments.size() == static_cast<size_t>(manifest->share_count));
  for (size_t i = 0; i < manifest->commitments.size(); ++i) {
    BG_FUZZ_CHECK(manifest->commitments[i].index == static_cast<int>(i) + 1);
  }
  BG_FUZZ_CHECK(manifest->retired_at.has_value() == !manifest->replaced_by.empty());

  const std::string written = bg::kit::FormatManifest(*manifest);
  auto again = bg::kit::ParseManifest(written);
  BG_FUZZ_CHECK(again.has_value());
  BG_FUZZ_CHECK(bg::kit::ManifestToJson(*again) == bg::kit::ManifestToJson(*manifest));
  BG_FUZZ_CHECK(bg::kit::FormatManifest(*again) == written);
  return 0;
}
