// Distinct id types so a request id cannot be passed where a user name is expected.
// Ids are opaque strings; the API shows exactly value().
#pragma once

#include <compare>
#include <string>
#include <utility>

namespace bg {

template <typename Tag>
class StrongId {
 public:
  StrongId() = default;
  explicit StrongId(std::string v) : value_(std::move(v)) {}
  const std::string& value() const { return value_; }
  bool empty() const { return value_.empty(); }
  auto operator<=>(const StrongId&) const = default;

 private:
  std::string value_;
};

using RequestId = StrongId<struct RequestIdTag>;
using SessionId = StrongId<struct SessionIdTag>;
// A person's account name ("alice"), as written in the policy.
using UserName = StrongId<struct UserNameTag>;

}  // namespace bg
