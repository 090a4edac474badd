#include "kit/unseal.h"

#include <fmt/format.h>

#include "kit/share_line.h"

namespace bg::kit {

Unsealer::Unsealer(KitManifest manifest, Verify verify)
    : manifest_(std::move(manifest)), verify_(std::move(verify)) {}

Result<UnsealProgress> Unsealer::Submit(std::string_view line) {
  auto parsed = ParseShareLine(line);
  if (!parsed) return Error::InvalidArgument("share", parsed.error().message());
  Share share = std::move(parsed).value();
  if (auto ok = CheckShare(share, manifest_); !ok) {
    return Error::InvalidArgument("share", ok.error().message());
  }
  std::lock_guard lock(mu_);
  if (unsealed_) return Error(ErrorCode::kFailedPrecondition, "already unsealed", "share");
  for (const SourcedShare& s : shares_) {
    if (s.share.index == share.index) {
      return Error(ErrorCode::kConflict,
                   fmt::format("share {} of kit {} was already received", share.index,
                               share.kit_id),
                   "share");
    }
  }
  UnsealProgress progress;
  progress.kit_id = share.kit_id;
  progress.index = share.index;
  progress.threshold = manifest_.threshold;
  shares_.push_back({fmt::format("share {}", share.index), std::move(share)});
  if (static_cast<int>(shares_.size()) < manifest_.threshold) {
    progress.received = static_cast<int>(shares_.size());
    return progress;
  }
  auto combined = CombineShares(shares_, &manifest_);
  shares_.clear();
  if (!combined) {
    return Error(ErrorCode::kPermissionDenied,
                 "the shares did not combine (" + combined.error().message() +
                     "); start again with fresh submissions",
                 "share");
  }
  if (auto ok = verify_(combined->secret); !ok) {
    return Error(ErrorCode::kPermissionDenied,
                 fmt::format("the shares of kit {} combine to a key that does not open this "
                             "server's data ({}); every share was dropped",
                             manifest_.kit_id, ok.error().message()),
                 "share");
  }
  unsealed_ = true;
  secret_ = std::move(combined->secret);
  progress.unsealed = true;
  return progress;
}

std::optional<Secret> Unsealer::TakeSecret() {
  std::lock_guard lock(mu_);
  std::optional<Secret> out = std::move(secret_);
  secret_.reset();
  return out;
}

int Unsealer::received() const {
  std::lock_guard lock(mu_);
  return static_cast<int>(shares_.size());
}

bool Unsealer::unsealed() const {
  std::lock_guard lock(mu_);
  return unsealed_;
}

}  // namespace bg::kit
