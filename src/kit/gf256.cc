#include "kit/gf256.h"

namespace bg::kit {
namespace {

// 0xFF when bit is 1, 0x00 when it is 0, without a branch.
inline uint8_t MaskFromBit(uint8_t bit) { return static_cast<uint8_t>(-static_cast<int>(bit & 1)); }

}  // namespace

uint8_t GfMul(uint8_t a, uint8_t b) {
  uint8_t product = 0;
  for (int i = 0; i < 8; ++i) {
    product ^= a & MaskFromBit(b);
    const uint8_t carry = MaskFromBit(a >> 7);
    a = static_cast<uint8_t>((a << 1) ^ (0x1B & carry));
    b >>= 1;
  }
  return product;
}

uint8_t GfInv(uint8_t a) {
  // a^254 = a^(11111110b): square-and-multiply with a fixed sequence of operations.
  uint8_t result = a;  // a^1
  for (int i = 0; i < 6; ++i) {
    result = GfMul(result, result);
    result = GfMul(result, a);  // a^(2^(i+2) - 1)
  }
  return GfMul(result, result);  // a^254
}

uint8_t Gf32Mul(uint8_t a, uint8_t b) {
  a &= 0x1F;
  b &= 0x1F;
  uint8_t product = 0;
  for (int i = 0; i < 5; ++i) {
    product ^= a & MaskFromBit(b);
    const uint8_t carry = MaskFromBit(a >> 4);
    a = static_cast<uint8_t>(((a << 1) ^ (0x25 & carry)) & 0x1F);
    b >>= 1;
  }
  return product;
}

}  // namespace bg::kit
