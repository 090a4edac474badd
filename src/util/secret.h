// bg::Secret owns secret bytes (passwords, tokens, keys, TOTP seeds).
//
// It zeroes its bytes on destruction (sodium_memzero), compares in constant time, has no
// operator<< and no fmt::formatter: logging or auditing one does not compile. Read the bytes
// with Reveal() only where they are used. Movable, copyable (copies are zeroed too).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace bg {

class Secret {
 public:
  Secret() = default;
  explicit Secret(std::string_view bytes);
  explicit Secret(std::vector<uint8_t> bytes);
  Secret(const Secret& other);
  Secret& operator=(const Secret& other);
  Secret(Secret&& other) noexcept;
  Secret& operator=(Secret&& other) noexcept;
  ~Secret();

  std::string_view Reveal() const {
    return {reinterpret_cast<const char*>(bytes_.data()), bytes_.size()};
  }
  const uint8_t* data() const { return bytes_.data(); }
  size_t size() const { return bytes_.size(); }
  bool empty() const { return bytes_.empty(); }

  // Constant time in the length of the shorter operand; different lengths never match.
  bool Equals(const Secret& other) const;
  bool Equals(std::string_view other) const;

 private:
  void Wipe();
  std::vector<uint8_t> bytes_;
};

// Constant-time comparison of two byte strings (lengths are not secret).
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace bg
