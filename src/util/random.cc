#include "util/random.h"

#include <sodium.h>

#include <cstdlib>

namespace bg {

std::string Random::Bytes(size_t n) {
  std::string out(n, '\0');
  Fill(reinterpret_cast<uint8_t*>(out.data()), n);
  return out;
}

void SystemRandom::Fill(uint8_t* out, size_t n) { randombytes_buf(out, n); }

SystemRandom& SystemRandom::Get() {
  static SystemRandom r;
  InitCrypto();
  return r;
}

void InitCrypto() {
  static const bool ok = sodium_init() >= 0;
  if (!ok) std::abort();  // no CSPRNG: nothing here is safe to run
}

std::string NewId(std::string_view prefix, Random& random) {
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
  uint8_t buf[20];
  random.Fill(buf, sizeof buf);
  std::string out(prefix);
  out += '_';
  for (uint8_t b : buf) out += kAlphabet[b & 31];
  return out;
}

}  // namespace bg
