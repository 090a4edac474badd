// Deterministic bg::Random implementations for tests. Not for production: every one of them
// is predictable by design. One home for all of them, so a test picks the one whose byte
// sequence it needs instead of writing its own.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "util/random.h"
#include "util/sha256.h"

namespace bg::testing {

// 0, 1, 2, ... (from `start`, wrapping at 256), continuing across calls.
class CountingRandom final : public Random {
 public:
  explicit CountingRandom(uint8_t start = 0) : next_(start) {}
  void Fill(uint8_t* out, size_t n) override {
    for (size_t i = 0; i < n; ++i) out[i] = next_++;
  }

 private:
  uint8_t next_;
};

// The bytes of `pattern` over and over, continuing across calls. A one-byte pattern gives
// a constant: RepeatingRandom(std::string(1, '\0')) yields only zeros.
class RepeatingRandom final : public Random {
 public:
  explicit RepeatingRandom(std::string pattern) : pattern_(std::move(pattern)) {
    if (pattern_.empty()) throw std::invalid_argument("RepeatingRandom: empty pattern");
  }
  static RepeatingRandom Byte(uint8_t byte) { return RepeatingRandom(std::string(1, static_cast<char>(byte))); }
  void Fill(uint8_t* out, size_t n) override {
    for (size_t i = 0; i < n; ++i, ++pos_) out[i] = static_cast<uint8_t>(pattern_[pos_ % pattern_.size()]);
  }

 private:
  std::string pattern_;
  size_t pos_ = 0;
};

// Exactly these bytes, in order; asking for more than were given throws (the test is wrong
// about how much randomness the code under test draws).
class ScriptedRandom final : public Random {
 public:
  explicit ScriptedRandom(std::vector<uint8_t> bytes) : bytes_(std::move(bytes)) {}
  void Fill(uint8_t* out, size_t n) override {
    for (size_t i = 0; i < n; ++i) out[i] = bytes_.at(pos_++);
  }

 private:
  std::vector<uint8_t> bytes_;
  size_t pos_ = 0;
};

// A stream that looks random but is fixed by `seed`: SHA-256(seed "/" counter) blocks.
// For code that rejects degenerate input (keys, Shamir coefficients).
class SeededRandom final : public Random {
 public:
  explicit SeededRandom(std::string seed) : seed_(std::move(seed)) {}
  void Fill(uint8_t* out, size_t n) override {
    while (n > 0) {
      if (used_ == block_.size()) {
        const std::string counter = std::to_string(counter_++);
        block_ = Sha256Parts({seed_, "/", counter});
        used_ = 0;
      }
      const size_t take = std::min(n, block_.size() - used_);
      std::memcpy(out, block_.data() + used_, take);
      used_ += take;
      out += take;
      n -= take;
    }
  }

 private:
  std::string seed_;
  uint64_t counter_ = 0;
  Digest block_{};
  size_t used_ = 32;
};

}  // namespace bg::testing
