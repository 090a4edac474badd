#include "auth/token.h"

#include <gtest/gtest.h>

#include <random>
#include <set>
#include <string>

#include "util/encoding.h"
#include "util/sha256.h"
#include "test/fakes/fake_random.h"

namespace bg::auth {
namespace {

TEST(TokenTest, HasPrefixAndBase64UrlOf32Bytes) {
  auto zeros = bg::testing::RepeatingRandom::Byte(0);
  Secret token = NewBearerToken(zeros);
  EXPECT_EQ(token.Reveal(), "bgt_" + std::string(43, 'A'));
  auto ones = bg::testing::RepeatingRandom::Byte(0xff);
  EXPECT_EQ(NewBearerToken(ones).Reveal(), "bgt_" + std::string(42, '_') + "8");
  Secret real = NewBearerToken();
  EXPECT_EQ(real.size(), kTokenLength);
  EXPECT_TRUE(IsWellFormedToken(real.Reveal()));
  auto raw = Base64UrlDecode(real.Reveal().substr(4));
  ASSERT_TRUE(raw.has_value());
  EXPECT_EQ(raw->size(), 32u);
}

TEST(TokenTest, TokensAreDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) seen.insert(std::string(NewBearerToken().Reveal()));
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(TokenTest, HashIsHexSha256OfTheText) {
  Secret token("bgt_" + std::string(43, 'A'));
  std::string hash = TokenHash(token);
  EXPECT_EQ(hash.size(), 64u);
  EXPECT_EQ(hash, HexEncode(AsBytes(Sha256("bgt_" + std::string(43, 'A')))));
  EXPECT_NE(hash, TokenHash(Secret("bgt_" + std::string(42, 'A') + "E")));
  // Known answer: SHA-256("abc").
  EXPECT_EQ(TokenHash(Secret("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(TokenTest, WellFormedRefusesOtherShapes) {
  const std::string good = "bgt_" + std::string(43, 'A');
  ASSERT_TRUE(IsWellFormedToken(good));
  for (const std::string& bad :
       {std::string(), std::string("bgt_"), good.substr(0, 46), good + "A",
        "BGT_" + std::string(43, 'A'), "bgx_" + std::string(43, 'A'),
        "bgt_" + std::string(42, 'A') + "=", "bgt_" + std::string(42, 'A') + "+",
        "bgt_" + std::string(42, 'A') + "B",  // spare bits not zero: not canonical
        "bgt_" + std::string(42, 'A') + std::string(1, '\0')}) {
    EXPECT_FALSE(IsWellFormedToken(bad)) << bad;
  }
}

// The check reads the characters without decoding them: it must agree with decoding (43
// base64url characters that decode to exactly 32 bytes) for every byte at every position.
TEST(TokenTest, WellFormedAgreesWithDecodingForEveryByte) {
  const std::string good = "bgt_" + std::string(43, 'A');
  for (size_t pos = kTokenPrefix.size(); pos < kTokenLength; ++pos) {
    for (int b = 0; b < 256; ++b) {
      std::string t = good;
      t[pos] = static_cast<char>(b);
      const std::string body = t.substr(kTokenPrefix.size());
      const bool alphabet =
          body.find_first_not_of(
              "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
          std::string::npos;
      auto decoded = Base64UrlDecode(body);
      const bool expected = alphabet && decoded.has_value() && decoded->size() == kTokenRandomBytes;
      EXPECT_EQ(IsWellFormedToken(t), expected) << "position " << pos << " byte " << b;
    }
  }
}

TEST(AuthorizationHeaderTest, ParsesBearerToken) {
  const std::string token = "bgt_" + std::string(42, 'x') + "A";
  for (const std::string& header :
       {"Bearer " + token, "bearer " + token, "BEARER " + token, "Bearer   " + token}) {
    auto parsed = ParseAuthorizationHeader(header);
    ASSERT_TRUE(parsed.has_value()) << header << ": " << parsed.error().ToString();
    EXPECT_EQ(parsed->Reveal(), token);
  }
}

TEST(AuthorizationHeaderTest, RefusesMalformedHeadersWithoutEchoingThem) {
  const std::string token = "bgt_" + std::string(42, 'x') + "A";
  for (const std::string& header :
       {std::string(), std::string("Bearer"), std::string("Bearer "), "Basic " + token,
        "Bearer" + token, "Bearer\t" + token, "Bearer " + token + " ", "Bearer " + token + " x",
        " Bearer " + token, "Bearer " + token + "\r\n", std::string("Bearer bgt_short"),
        "Token " + token, "Bearer " + token.substr(4)}) {
    auto parsed = ParseAuthorizationHeader(header);
    ASSERT_FALSE(parsed.has_value()) << header;
    EXPECT_EQ(parsed.error().code(), ErrorCode::kUnauthenticated);
    EXPECT_FALSE(parsed.error().message().empty());
    EXPECT_EQ(parsed.error().message().find("xxxx"), std::string::npos) << header;
  }
}

TEST(AuthorizationHeaderTest, SaysWhetherTheTokenIsFollowedByTextOrMalformed) {
  const std::string token = "bgt_" + std::string(42, 'x') + "A";
  for (const std::string& header :
       {"Bearer " + token + " x", "Bearer " + token + "\tx", "Bearer " + token + " "}) {
    auto parsed = BearerToken(header);
    ASSERT_FALSE(parsed.has_value()) << header;
    EXPECT_EQ(parsed.error().message(), "Authorization header has text after the token");
  }
  for (const std::string& header : {std::string("Bearer bgt_short"), "Bearer " + token + "!"}) {
    auto parsed = BearerToken(header);
    ASSERT_FALSE(parsed.has_value()) << header;
    EXPECT_NE(parsed.error().message().find("malformed"), std::string::npos) << header;
  }
}

TEST(AuthorizationHeaderPropertyTest, MutatedHeadersNeverParseToAnotherToken) {
  std::mt19937 rng(6750);
  const std::string token = std::string(NewBearerToken().Reveal());
  const std::string header = "Bearer " + token;
  std::uniform_int_distribution<size_t> pos(0, header.size() - 1);
  std::uniform_int_distribution<int> byte(0, 255), op(0, 2);
  for (int i = 0; i < 5000; ++i) {
    std::string h = header;
    switch (op(rng)) {
      case 0:
        h[pos(rng)] = static_cast<char>(byte(rng));
        break;
      case 1:
        h.erase(pos(rng), 1);
        break;
      default:
        h.insert(pos(rng), 1, static_cast<char>(byte(rng)));
        break;
    }
    auto parsed = ParseAuthorizationHeader(h);
    if (parsed.has_value()) {
      EXPECT_TRUE(IsWellFormedToken(parsed->Reveal())) << h;
    } else {
      EXPECT_EQ(parsed.error().code(), ErrorCode::kUnauthenticated);
    }
  }
}

}  // namespace
}  // namespace bg::auth
