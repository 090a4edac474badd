// Collects the shares of a sealed secret one at a time (the keyholders of `breakglass unseal`)
// and restores it when enough valid ones have arrived.
//
// Every share is checked on arrival against the kit's manifest (kit::CheckShare), so a wrong,
// corrupted or foreign share is refused at once and never counts. When the threshold is
// reached the secret is combined and handed to `verify` (for the server: does it open the
// sealed audit key?); if that fails, every collected share is dropped and collection starts
// over. Pure: no I/O, no clock. Thread-safe (one mutex).
#pragma once

#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kit/kit.h"
#include "util/result.h"
#include "util/secret.h"

namespace bg::kit {

struct UnsealProgress {
  std::string kit_id;
  int index = 0;      // of the share just accepted
  int received = 0;   // distinct valid shares held (0 again once unsealed)
  int threshold = 0;
  bool unsealed = false;
};

class Unsealer {
 public:
  using Verify = std::function<Status(const Secret&)>;
  Unsealer(KitManifest manifest, Verify verify);

  // Adds one share line. Errors, each with field "share" and the share left uncounted:
  //   kInvalidArgument     malformed line, another kit's share, a share not in the manifest
  //   kConflict            a share with an index already received
  //   kFailedPrecondition  already unsealed
  //   kPermissionDenied    the threshold was reached but the restored secret failed `verify`
  //                        (every share held is then dropped)
  Result<UnsealProgress> Submit(std::string_view line);

  // The restored secret, once; empty before the threshold is reached and after the first call.
  std::optional<Secret> TakeSecret();

  int received() const;
  int threshold() const { return manifest_.threshold; }
  bool unsealed() const;
  const KitManifest& manifest() const { return manifest_; }

 private:
  const KitManifest manifest_;
  const Verify verify_;
  mutable std::mutex mu_;
  std::vector<SourcedShare> shares_;
  bool unsealed_ = false;
  std::optional<Secret> secret_;
};

}  // namespace bg::kit
