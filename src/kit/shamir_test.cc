#include "kit/shamir.h"

#include <gtest/gtest.h>

#include <map>

#include "test/fakes/fake_random.h"

namespace bg::kit {
namespace {

using bg::testing::ScriptedRandom;
using bg::testing::SeededRandom;

// Hands out fixed bytes, so a test can choose every coefficient.
std::vector<ShamirPoint> Subset(const std::vector<ShamirPoint>& all, unsigned mask) {
  std::vector<ShamirPoint> out;
  for (size_t i = 0; i < all.size(); ++i) {
    if (mask & (1u << i)) out.push_back(all[i]);
  }
  return out;
}

TEST(ShamirTest, EveryThresholdSubsetRestoresTheSecret) {
  SeededRandom random("every-subset");
  for (size_t length : {1, 17, 32}) {
    const Secret secret(random.Bytes(length));
    for (int n = 2; n <= 8; ++n) {
      for (int m = 2; m <= n; ++m) {
        auto points = ShamirSplit(secret, m, n, random);
        ASSERT_TRUE(points.has_value());
        ASSERT_EQ(points->size(), static_cast<size_t>(n));
        for (unsigned mask = 0; mask < (1u << n); ++mask) {
          if (__builtin_popcount(mask) != m) continue;
          auto restored = ShamirCombine(Subset(*points, mask));
          ASSERT_TRUE(restored.has_value());
          ASSERT_TRUE(restored->Equals(secret)) << "n=" << n << " m=" << m << " mask=" << mask;
        }
      }
    }
  }
}

TEST(ShamirTest, MoreThanThresholdSharesAlsoRestore) {
  SeededRandom random("more");
  const Secret secret(random.Bytes(32));
  auto points = ShamirSplit(secret, 3, 7, random);
  ASSERT_TRUE(points.has_value());
  auto restored = ShamirCombine(*points);
  ASSERT_TRUE(restored.has_value());
  EXPECT_TRUE(restored->Equals(secret));
}

TEST(ShamirTest, MaximumKitOf255Shares) {
  SeededRandom random("max");
  const Secret secret(random.Bytes(2));
  auto points = ShamirSplit(secret, 255, 255, random);
  ASSERT_TRUE(points.has_value());
  auto restored = ShamirCombine(*points);
  ASSERT_TRUE(restored.has_value());
  EXPECT_TRUE(restored->Equals(secret));
}

TEST(ShamirTest, RefusesBadParameters) {
  SeededRandom random("bad");
  const Secret secret("s");
  struct Case {
    int m;
    int n;
  };
  for (auto c : {Case{1, 3}, Case{0, 3}, Case{4, 3}, Case{2, 256}, Case{256, 256}, Case{-1, 2}}) {
    auto r = ShamirSplit(secret, c.m, c.n, random);
    ASSERT_FALSE(r.has_value()) << c.m << " of " << c.n;
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  }
  EXPECT_FALSE(ShamirSplit(Secret(), 2, 3, random).has_value());
}

TEST(ShamirTest, CombineRefusesDuplicateZeroAndUnevenPoints) {
  EXPECT_FALSE(ShamirCombine({}).has_value());
  EXPECT_FALSE(ShamirCombine({{1, Secret("a")}, {1, Secret("b")}}).has_value());
  EXPECT_FALSE(ShamirCombine({{0, Secret("a")}, {1, Secret("b")}}).has_value());
  EXPECT_FALSE(ShamirCombine({{1, Secret("a")}, {2, Secret("bb")}}).has_value());
}

// Exact: with a 1-byte secret and threshold m, run the split once for every possible choice
// of the m-1 coefficients; every tuple of m-1 share values must then occur exactly once,
// whatever the secret. So m-1 shares carry no information about it.
TEST(ShamirTest, FewerThanThresholdSharesAreUniformForEverySecretExactly) {
  for (int secret_value : {0x00, 0x01, 0x5A, 0xFF}) {
    const Secret secret(std::string(1, static_cast<char>(secret_value)));
    // m = 2: any one share.
    for (int x = 1; x <= 5; ++x) {
      std::vector<int> count(256, 0);
      for (int a1 = 0; a1 < 256; ++a1) {
        ScriptedRandom fixed({static_cast<uint8_t>(a1)});
        auto points = ShamirSplit(secret, 2, 5, fixed);
        ASSERT_TRUE(points.has_value());
        ++count[(*points)[x - 1].y.data()[0]];
      }
      for (int v = 0; v < 256; ++v) ASSERT_EQ(count[v], 1) << "x=" << x << " v=" << v;
    }
    // m = 3: the pair of shares 2 and 5.
    std::vector<int> count(65536, 0);
    for (int c = 0; c < 65536; ++c) {
      ScriptedRandom fixed({static_cast<uint8_t>(c & 0xFF), static_cast<uint8_t>(c >> 8)});
      auto points = ShamirSplit(secret, 3, 5, fixed);
      ASSERT_TRUE(points.has_value());
      ++count[(*points)[1].y.data()[0] | ((*points)[4].y.data()[0] << 8)];
    }
    for (int v = 0; v < 65536; ++v) ASSERT_EQ(count[v], 1) << "pair " << v;
  }
}

// Statistical, with the production CSPRNG: the value of one share of a 2-of-3 kit looks the
// same for secret 0x00 and 0xA5 (chi-square against uniform; df = 255, 400 is p < 1e-9).
TEST(ShamirTest, OneShareOfTwoIsUniformWithTheSystemRandom) {
  InitCrypto();
  constexpr int kRuns = 256 * 100;
  for (int secret_value : {0x00, 0xA5}) {
    const Secret secret(std::string(1, static_cast<char>(secret_value)));
    std::vector<int> count(256, 0);
    for (int run = 0; run < kRuns; ++run) {
      auto points = ShamirSplit(secret, 2, 3, SystemRandom::Get());
      ASSERT_TRUE(points.has_value());
      ++count[(*points)[0].y.data()[0]];
    }
    double chi2 = 0;
    const double expected = kRuns / 256.0;
    for (int c : count) chi2 += (c - expected) * (c - expected) / expected;
    EXPECT_LT(chi2, 400.0) << "secret " << secret_value;
  }
}

}  // namespace
}  // namespace bg::kit
