#include "auth/password.h"

#include <gtest/gtest.h>

#include <string>

namespace bg::auth {
namespace {

const PasswordHashParams kFast = PasswordHashParams::ForTests();

TEST(PasswordTest, HashThenVerifyRoundTrips) {
  Secret pw("correct horse battery staple");
  auto hash = HashPassword(pw, kFast);
  ASSERT_TRUE(hash.has_value()) << hash.error().ToString();
  EXPECT_TRUE(VerifyPassword(*hash, pw));
}

TEST(PasswordTest, WrongPasswordIsRefused) {
  auto hash = HashPassword(Secret("correct horse battery staple"), kFast);
  ASSERT_TRUE(hash.has_value());
  for (const char* wrong : {"correct horse battery stapl", "correct horse battery staple ",
                            "Correct horse battery staple", "", "x"}) {
    EXPECT_FALSE(VerifyPassword(*hash, Secret(wrong))) << wrong;
  }
}

TEST(PasswordTest, DefaultHashIsArgon2idWithInteractiveCost) {
  auto hash = HashPassword(Secret("a long enough password"));
  ASSERT_TRUE(hash.has_value());
  EXPECT_EQ(hash->rfind("$argon2id$", 0), 0u) << *hash;
  EXPECT_TRUE(VerifyPassword(*hash, Secret("a long enough password")));
  EXPECT_FALSE(NeedsRehash(*hash));
}

TEST(PasswordTest, SameValueHashesDifferentlyEachTime) {
  Secret pw("the same password twice");
  auto a = HashPassword(pw, kFast);
  auto b = HashPassword(pw, kFast);
  ASSERT_TRUE(a.has_value() && b.has_value());
  EXPECT_NE(*a, *b);  // fresh salt
}

TEST(PasswordTest, NeedsRehashWhenParametersDifferOrHashIsForeign) {
  auto cheap = HashPassword(Secret("a long enough password"), kFast);
  ASSERT_TRUE(cheap.has_value());
  EXPECT_TRUE(NeedsRehash(*cheap));          // against the interactive default
  EXPECT_FALSE(NeedsRehash(*cheap, kFast));  // against its own parameters
  EXPECT_TRUE(NeedsRehash("not a hash"));
  EXPECT_TRUE(NeedsRehash(""));
  // An Argon2i hash verifies but must be upgraded to Argon2id.
  std::string argon2i = *cheap;
  argon2i.replace(0, 10, "$argon2i$");
  EXPECT_TRUE(NeedsRehash(argon2i, kFast));
}

TEST(PasswordTest, MalformedStoredHashNeverVerifies) {
  Secret pw("a long enough password");
  auto hash = HashPassword(pw, kFast);
  ASSERT_TRUE(hash.has_value());
  std::string with_nul = *hash + std::string(1, '\0');
  std::string truncated = hash->substr(0, hash->size() - 5);
  std::string flipped = *hash;
  flipped[flipped.size() - 3] = flipped[flipped.size() - 3] == 'A' ? 'B' : 'A';
  for (const std::string& bad : {std::string(), std::string("$argon2id$"), with_nul, truncated,
                                 flipped, std::string(1000, 'a')}) {
    EXPECT_FALSE(VerifyPassword(bad, pw)) << bad;
  }
}

TEST(PasswordTest, DummyVerifyNeverSucceeds) {
  EXPECT_FALSE(DummyVerify(Secret("a long enough password"), kFast));
  EXPECT_FALSE(DummyVerify(Secret(""), kFast));
}

TEST(PasswordPolicyTest, AcceptsTwelveCharactersUpTo1024Bytes) {
  for (const std::string& ok :
       {std::string(12, 'a'), std::string(1024, 'b'), std::string("pässwörd-äöü"),
        std::string("\xE2\x82\xAC\xE2\x82\xAC\xE2\x82\xAC\xE2\x82\xAC\xE2\x82\xAC\xE2\x82\xAC"
                    "\xE2\x82\xAC\xE2\x82\xAC\xE2\x82\xAC\xE2\x82\xAC\xE2\x82\xAC\xE2\x82\xAC")}) {
    EXPECT_TRUE(CheckPasswordPolicy(Secret(ok)).has_value()) << ok;
  }
}

TEST(PasswordPolicyTest, RefusesTooShortOrTooLongWithFieldPassword) {
  // "ééééé" is 10 bytes but 5 characters: length counts characters.
  for (const std::string& bad : {std::string(), std::string(11, 'a'), std::string(1025, 'a'),
                                 std::string("\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9xxxxxx")}) {
    auto st = CheckPasswordPolicy(Secret(bad));
    ASSERT_FALSE(st.has_value()) << bad.size();
    EXPECT_EQ(st.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(st.error().field(), "password");
  }
}

TEST(PasswordPolicyTest, HashPasswordAppliesThePolicy) {
  auto hash = HashPassword(Secret("short"), kFast);
  ASSERT_FALSE(hash.has_value());
  EXPECT_EQ(hash.error().field(), "password");
}

}  // namespace
}  // namespace bg::auth
