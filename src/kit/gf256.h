// Constant-time arithmetic in GF(2^8) (the AES field, x^8 + x^4 + x^3 + x + 1) and in GF(2^5)
// (x^5 + x^2 + 1, used by the share-line group checks).
//
// No tables and no branches on the operands: multiplication is shift-and-add with masks,
// inversion is exponentiation (a^254 in GF(256), a^30 in GF(32)) by a fixed ladder. The
// operands of Shamir's scheme are secret bytes, so a table lookup indexed by them would leak
// through the cache. Inverse(0) is defined as 0. All functions are pure and thread-safe.
#pragma once

#include <cstdint>

namespace bg::kit {

inline uint8_t GfAdd(uint8_t a, uint8_t b) { return a ^ b; }
uint8_t GfMul(uint8_t a, uint8_t b);
uint8_t GfInv(uint8_t a);

// GF(32): operands and results are in [0, 31]; higher bits of the inputs are ignored.
uint8_t Gf32Mul(uint8_t a, uint8_t b);

}  // namespace bg::kit
