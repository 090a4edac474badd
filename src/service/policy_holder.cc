#include "service/policy_holder.h"

#include "service/config.h"
#include "service/local_time.h"
#include "util/encoding.h"
#include "util/fs.h"
#include "util/sha256.h"

namespace bg::service {

PolicyHolder::PolicyHolder(std::string path, Check check)
    : path_(std::move(path)), check_(std::move(check)) {}

Status PolicyHolder::Load(Attempt* attempt) {
  std::string text;
  const std::string path = path_.empty() ? "<embedded demo policy>" : path_;
  if (path_.empty()) {
    text = std::string(DemoPolicyText());
  } else {
    BG_ASSIGN_OR_RETURN(text, fs::ReadWholeFile(path_, "policy"));
  }
  const std::string digest = HexEncode(AsBytes(Sha256(text)));
  if (attempt != nullptr) *attempt = {path, digest};
  core::PolicyParseResult parsed = core::ParsePolicy(text, path);
  std::vector<std::string> problems;
  for (const auto& p : parsed.problems) problems.push_back(p.ToString());
  if (parsed.policy) {
    if (auto tz = CheckTimeZone(parsed.policy->settings.timezone); !tz) {
      problems = {path + ": " + tz.error().message()};
    }
    if (check_) {
      for (auto& p : check_(*parsed.policy, path)) problems.push_back(std::move(p));
    }
  }
  if (!problems.empty() || !parsed.policy) {
    std::string joined;
    for (const auto& p : problems) joined += (joined.empty() ? "" : "\n") + p;
    return Error::InvalidArgument("policy", joined.empty() ? path + ": no policy" : joined);
  }
  std::lock_guard lock(mu_);
  file_policy_ = std::make_shared<const core::Policy>(std::move(*parsed.policy));
  sha256_ = digest;
  Recompute();
  return Ok();
}

void PolicyHolder::Recompute() {
  if (!file_policy_) return;
  policy_ = removals_.empty() ? file_policy_
                              : std::make_shared<const core::Policy>(
                                    core::WithoutRemoved(*file_policy_, removals_));
}

void PolicyHolder::SetRemovals(std::vector<core::Removal> removals) {
  std::lock_guard lock(mu_);
  removals_ = std::move(removals);
  Recompute();
}

std::shared_ptr<const core::Policy> PolicyHolder::current() const {
  std::lock_guard lock(mu_);
  return policy_;
}

std::shared_ptr<const core::Policy> PolicyHolder::file_policy() const {
  std::lock_guard lock(mu_);
  return file_policy_;
}

std::string PolicyHolder::sha256() const {
  std::lock_guard lock(mu_);
  return sha256_;
}

}  // namespace bg::service
