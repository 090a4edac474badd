// A deterministic bg::Random for tests: SHA-256(seed | counter) blocks. Not for production.
#pragma once

#include <cstring>
#include <string>

#include "util/random.h"
#include "util/sha256.h"

namespace bg::kit::testing {

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

}  // namespace bg::kit::testing
