// The policy in force. Load() reads the policy file (or the embedded demo policy when no path
// is configured), parses it, runs the server's own checks on it (its time zone, that every
// resource names a configured connector, the recording rules), and only then swaps it in
// atomically. A policy with any problem is refused and the last good one stays in force.
// Readers take a snapshot (current()) that stays valid however often the policy is reloaded.
// Thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/attestation.h"
#include "core/policy.h"
#include "util/result.h"

namespace bg::service {

class PolicyHolder {
 public:
  // Problems of a parsed policy that only the server can see (one text line each).
  using Check = std::function<std::vector<std::string>(const core::Policy&, const std::string& path)>;
  // What a Load() tried: the path ("<embedded demo policy>" without one) and the file's SHA-256.
  struct Attempt {
    std::string path;
    std::string sha256;
  };

  // `path` empty: the embedded demo policy.
  PolicyHolder(std::string path, Check check);

  // Loads and, when it has no problem, puts it in force. InvalidArgument (field "policy") with
  // every problem, one per line, otherwise; an unreadable file is the file's own error.
  // `attempt` (optional) says what was tried, also on failure.
  Status Load(Attempt* attempt = nullptr);

  // The policy in force (null before the first successful Load): the file's, without what
  // attestation campaigns removed (SetRemovals). sha256() is the file's.
  std::shared_ptr<const core::Policy> current() const;
  // The file's policy as parsed, removals not applied (what a new campaign asks about).
  std::shared_ptr<const core::Policy> file_policy() const;
  std::string sha256() const;
  // What attestation campaigns took out of the policy (core::RemovalsOf); applied to the policy
  // in force now and after every later Load.
  void SetRemovals(std::vector<core::Removal> removals);

 private:
  const std::string path_;
  const Check check_;
  mutable std::mutex mu_;
  void Recompute();  // mu_ held
  std::shared_ptr<const core::Policy> file_policy_;
  std::shared_ptr<const core::Policy> policy_;
  std::vector<core::Removal> removals_;
  std::string sha256_;
};

}  // namespace bg::service
