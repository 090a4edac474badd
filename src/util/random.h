// Randomness from libsodium (the OS CSPRNG). bg::Random is the seam for tests that need
// determinism; production code uses SystemRandom.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace bg {

class Random {
 public:
  virtual ~Random() = default;
  virtual void Fill(uint8_t* out, size_t n) = 0;
  std::string Bytes(size_t n);
};

class SystemRandom final : public Random {
 public:
  void Fill(uint8_t* out, size_t n) override;
  static SystemRandom& Get();
};

// Calls sodium_init() once; every binary calls it at start (idempotent, thread-safe).
void InitCrypto();

// An opaque id: prefix + "_" + 20 random base32 characters (100 bits), e.g. "req_3f7k...".
std::string NewId(std::string_view prefix, Random& random = SystemRandom::Get());

}  // namespace bg
