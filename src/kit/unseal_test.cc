#include "kit/unseal.h"

#include <gtest/gtest.h>

#include "test/fakes/fake_random.h"

namespace bg::kit {
namespace {

using bg::testing::SeededRandom;

const Timestamp kNow = FromUnixSeconds(1767225600);

struct Fixture {
  Kit kit;
  std::vector<std::string> lines;
};

Fixture Make(const std::string& seed, const Secret& secret, int m, int n) {
  SeededRandom random(seed);
  auto kit = SplitSecret(secret, {m, n, "master"}, kNow, random);
  EXPECT_TRUE(kit.has_value());
  Fixture f{std::move(kit).value(), {}};
  for (const Share& s : f.kit.shares) f.lines.emplace_back(FormatShareLine(s).Reveal());
  return f;
}

Unsealer::Verify Expect(const Secret& want) {
  return [want](const Secret& got) -> Status {
    if (got.Equals(want)) return Ok();
    return Error::PermissionDenied("wrong key");
  };
}

TEST(UnsealerTest, ThresholdValidSharesRestoreTheSecretOnce) {
  const Secret secret(std::string(32, '\x5a'));
  Fixture f = Make("a", secret, 3, 5);
  Unsealer u(f.kit.manifest, Expect(secret));
  auto p = u.Submit(f.lines[4]);
  ASSERT_TRUE(p.has_value()) << p.error().message();
  EXPECT_EQ(p->received, 1);
  EXPECT_EQ(p->index, 5);
  EXPECT_FALSE(p->unsealed);
  EXPECT_FALSE(u.TakeSecret().has_value());
  ASSERT_TRUE(u.Submit(f.lines[0]).has_value());
  p = u.Submit(f.lines[2]);
  ASSERT_TRUE(p.has_value()) << p.error().message();
  EXPECT_TRUE(p->unsealed);
  EXPECT_TRUE(u.unsealed());
  auto got = u.TakeSecret();
  ASSERT_TRUE(got.has_value());
  EXPECT_TRUE(got->Equals(secret));
  EXPECT_FALSE(u.TakeSecret().has_value());
  auto again = u.Submit(f.lines[1]);
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code(), ErrorCode::kFailedPrecondition);
}

TEST(UnsealerTest, RefusedSharesDoNotCount) {
  const Secret secret(std::string(32, '\x11'));
  Fixture f = Make("b", secret, 2, 3);
  Fixture other = Make("c", secret, 2, 3);
  Unsealer u(f.kit.manifest, Expect(secret));
  ASSERT_TRUE(u.Submit(f.lines[0]).has_value());

  struct Case {
    const char* name;
    std::string line;
    ErrorCode code;
  };
  std::string typo = f.lines[1];
  typo[typo.size() / 2] = typo[typo.size() / 2] == 'A' ? 'B' : 'A';
  const std::vector<Case> cases = {
      {"duplicate index", f.lines[0], ErrorCode::kConflict},
      {"another kit's share", other.lines[1], ErrorCode::kInvalidArgument},
      {"a typo", typo, ErrorCode::kInvalidArgument},
      {"not a share", "hello", ErrorCode::kInvalidArgument},
  };
  for (const Case& c : cases) {
    auto r = u.Submit(c.line);
    ASSERT_FALSE(r.has_value()) << c.name;
    EXPECT_EQ(r.error().code(), c.code) << c.name << ": " << r.error().message();
    EXPECT_EQ(r.error().field(), "share") << c.name;
    EXPECT_EQ(u.received(), 1) << c.name;
    EXPECT_FALSE(u.unsealed()) << c.name;
  }
  ASSERT_TRUE(u.Submit(f.lines[2]).has_value());
  EXPECT_TRUE(u.unsealed());
}

TEST(UnsealerTest, AKeyThatFailsVerificationDropsEveryShare) {
  const Secret secret(std::string(32, '\x22'));
  Fixture f = Make("d", secret, 2, 2);
  Unsealer u(f.kit.manifest, Expect(Secret(std::string(32, '\x23'))));
  ASSERT_TRUE(u.Submit(f.lines[0]).has_value());
  auto r = u.Submit(f.lines[1]);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(u.received(), 0);
  EXPECT_FALSE(u.unsealed());
  EXPECT_FALSE(u.TakeSecret().has_value());
  // The same share is accepted again: collection started over.
  EXPECT_TRUE(u.Submit(f.lines[0]).has_value());
}

}  // namespace
}  // namespace bg::kit
