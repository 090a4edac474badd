#include "kit/gf256.h"

#include <gtest/gtest.h>

#include <array>

namespace bg::kit {
namespace {

// Textbook multiplication with branches, used only to build the reference tables.
uint8_t SlowMul(uint8_t a, uint8_t b, unsigned poly, int bits) {
  unsigned product = 0;
  unsigned x = a;
  for (int i = 0; i < bits; ++i) {
    if (b & (1u << i)) product ^= x;
    x <<= 1;
    if (x & (1u << bits)) x ^= poly;
  }
  return static_cast<uint8_t>(product);
}

// Log/exp tables over the generator 3, the classic table implementation.
struct Tables {
  std::array<uint8_t, 256> log{};
  std::array<uint8_t, 510> exp{};
  Tables() {
    uint8_t v = 1;
    for (int i = 0; i < 255; ++i) {
      exp[i] = exp[i + 255] = v;
      log[v] = static_cast<uint8_t>(i);
      v = SlowMul(v, 3, 0x11B, 8);
    }
  }
  uint8_t Mul(uint8_t a, uint8_t b) const {
    if (a == 0 || b == 0) return 0;
    return exp[log[a] + log[b]];
  }
  uint8_t Inv(uint8_t a) const { return a == 0 ? 0 : exp[255 - log[a]]; }
};

TEST(Gf256Test, MultiplicationMatchesTablesForAllPairs) {
  const Tables t;
  for (int a = 0; a < 256; ++a) {
    for (int b = 0; b < 256; ++b) {
      ASSERT_EQ(GfMul(static_cast<uint8_t>(a), static_cast<uint8_t>(b)),
                t.Mul(static_cast<uint8_t>(a), static_cast<uint8_t>(b)))
          << a << " * " << b;
    }
  }
}

TEST(Gf256Test, InverseMatchesTablesAndIsAnInverse) {
  const Tables t;
  EXPECT_EQ(GfInv(0), 0);
  for (int a = 1; a < 256; ++a) {
    const auto x = static_cast<uint8_t>(a);
    ASSERT_EQ(GfInv(x), t.Inv(x)) << a;
    ASSERT_EQ(GfMul(x, GfInv(x)), 1) << a;
  }
}

TEST(Gf256Test, KnownAnswerFromFips197) {
  EXPECT_EQ(GfMul(0x57, 0x83), 0xC1);  // FIPS 197, section 4.2
  EXPECT_EQ(GfMul(0x57, 0x13), 0xFE);
}

TEST(Gf32Test, MultiplicationMatchesSchoolbookForAllPairs) {
  for (int a = 0; a < 32; ++a) {
    for (int b = 0; b < 32; ++b) {
      ASSERT_EQ(Gf32Mul(static_cast<uint8_t>(a), static_cast<uint8_t>(b)),
                SlowMul(static_cast<uint8_t>(a), static_cast<uint8_t>(b), 0x25, 5))
          << a << " * " << b;
    }
  }
}

TEST(Gf32Test, EveryNonZeroElementHasAnInverse) {
  for (int a = 1; a < 32; ++a) {
    int found = 0;
    for (int b = 1; b < 32; ++b)
      found += Gf32Mul(static_cast<uint8_t>(a), static_cast<uint8_t>(b)) == 1;
    EXPECT_EQ(found, 1) << a;
  }
}

}  // namespace
}  // namespace bg::kit
