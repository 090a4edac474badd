#include "util/secret.h"

#include <sodium.h>

namespace bg {

Secret::Secret(std::string_view bytes) : bytes_(bytes.begin(), bytes.end()) {}
Secret::Secret(std::vector<uint8_t> bytes) : bytes_(std::move(bytes)) {}
Secret::Secret(const Secret& other) : bytes_(other.bytes_) {}
Secret& Secret::operator=(const Secret& other) {
  if (this != &other) {
    Wipe();
    bytes_ = other.bytes_;
  }
  return *this;
}
Secret::Secret(Secret&& other) noexcept : bytes_(std::move(other.bytes_)) { other.bytes_.clear(); }
Secret& Secret::operator=(Secret&& other) noexcept {
  if (this != &other) {
    Wipe();
    bytes_ = std::move(other.bytes_);
    other.bytes_.clear();
  }
  return *this;
}
Secret::~Secret() { Wipe(); }

void Secret::Wipe() {
  if (!bytes_.empty()) sodium_memzero(bytes_.data(), bytes_.size());
  bytes_.clear();
}

bool Secret::Equals(const Secret& other) const { return ConstantTimeEquals(Reveal(), other.Reveal()); }
bool Secret::Equals(std::string_view other) const { return ConstantTimeEquals(Reveal(), other); }

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace bg
