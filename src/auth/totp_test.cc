#include "auth/totp.h"
#include "test/fakes/fake_random.h"

#include <gtest/gtest.h>

#include <cctype>
#include <cstdio>
#include <random>
#include <string>

namespace bg::auth {
namespace {

const Secret kRfcSecret("12345678901234567890");  // RFC 6238 Appendix B, SHA-1 seed

// A deterministic Random for reproducible secrets.
std::string CodeAt(const Secret& secret, int64_t unix_seconds) {
  auto code = TotpCode(secret, FromUnixSeconds(unix_seconds));
  EXPECT_TRUE(code.has_value());
  return code.has_value() ? *code : std::string();
}

TEST(TotpTest, MatchesRfc6238AppendixBSha1Vectors) {
  struct Case {
    int64_t time;
    const char* eight_digits;
  };
  for (auto c : {Case{59, "94287082"}, Case{1111111109, "07081804"}, Case{1111111111, "14050471"},
                 Case{1234567890, "89005924"}, Case{2000000000, "69279037"},
                 Case{20000000000, "65353130"}}) {
    auto eight = TotpCode(kRfcSecret, FromUnixSeconds(c.time), 8);
    ASSERT_TRUE(eight.has_value()) << c.time;
    EXPECT_EQ(*eight, c.eight_digits) << c.time;
    // Truncation is mod 10^digits, so the 6-digit code is the last 6 digits of the 8-digit one.
    auto six = TotpCode(kRfcSecret, FromUnixSeconds(c.time));
    ASSERT_TRUE(six.has_value());
    EXPECT_EQ(*six, std::string(c.eight_digits).substr(2)) << c.time;
  }
}

TEST(TotpTest, CodeIsConstantWithinAStepAndZeroPadded) {
  EXPECT_EQ(CodeAt(kRfcSecret, 1111111080), CodeAt(kRfcSecret, 1111111109));
  EXPECT_EQ(CodeAt(kRfcSecret, 1111111109), "081804");  // leading zero kept
}

TEST(TotpTest, RefusesUnsupportedDigitsAndEmptySecret) {
  EXPECT_FALSE(TotpCode(kRfcSecret, FromUnixSeconds(59), 5).has_value());
  EXPECT_FALSE(TotpCode(kRfcSecret, FromUnixSeconds(59), 9).has_value());
  EXPECT_FALSE(TotpCode(Secret(), FromUnixSeconds(59)).has_value());
}

TEST(TotpTest, StepIsFlooredThirtySeconds) {
  EXPECT_EQ(TotpStep(FromUnixSeconds(0)), 0);
  EXPECT_EQ(TotpStep(FromUnixSeconds(29)), 0);
  EXPECT_EQ(TotpStep(FromUnixSeconds(30)), 1);
  EXPECT_EQ(TotpStep(FromUnixSeconds(59)), 1);
  EXPECT_EQ(TotpStep(FromUnixSeconds(-1)), -1);
}

TEST(Base32Test, EncodesRfc4648VectorsWithoutPadding) {
  struct Case {
    const char* in;
    const char* out;
  };
  for (auto c :
       {Case{"", ""}, Case{"f", "MY"}, Case{"fo", "MZXQ"}, Case{"foo", "MZXW6"},
        Case{"foob", "MZXW6YQ"}, Case{"fooba", "MZXW6YTB"}, Case{"foobar", "MZXW6YTBOI"}}) {
    EXPECT_EQ(Base32Encode(c.in), c.out) << c.in;
    auto back = Base32Decode(c.out);
    ASSERT_TRUE(back.has_value()) << c.out;
    EXPECT_EQ(back->Reveal(), c.in);
  }
  EXPECT_EQ(Base32Encode(kRfcSecret.Reveal()), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
}

TEST(Base32Test, DecodeAcceptsLowerCaseAndPaddingRefusesGarbage) {
  auto lower = Base32Decode("mzxw6ytboi======");
  ASSERT_TRUE(lower.has_value());
  EXPECT_EQ(lower->Reveal(), "foobar");
  // "MZ" decodes to 'f' but leaves two non-zero spare bits: not canonical.
  for (const char* bad : {"M", "MZX", "MZXW6Y", "MZ XQ", "MZXQ1", "MZ=XQ", "MZ", "MZXR"}) {
    auto r = Base32Decode(bad);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().field(), "secret");
  }
}

TEST(Base32Test, RandomBytesRoundTrip) {
  bg::testing::CountingRandom random;
  for (size_t n = 0; n < 40; ++n) {
    std::string bytes = random.Bytes(n);
    auto back = Base32Decode(Base32Encode(bytes));
    ASSERT_TRUE(back.has_value()) << n;
    EXPECT_EQ(back->Reveal(), bytes);
  }
}

TEST(TotpSecretTest, GeneratesTwentyBytesFromTheGivenRandom) {
  bg::testing::CountingRandom random;
  Secret s = GenerateTotpSecret(random);
  ASSERT_EQ(s.size(), 20u);
  EXPECT_EQ(static_cast<int>(s.data()[19]), 19);
  EXPECT_FALSE(GenerateTotpSecret().Equals(GenerateTotpSecret()));
}

TEST(OtpauthUriTest, HasTheFormAppsExpect) {
  Secret uri = OtpauthUri("alice", kRfcSecret);
  EXPECT_EQ(uri.Reveal(),
            "otpauth://totp/breakglass:alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
            "&issuer=breakglass&algorithm=SHA1&digits=6&period=30");
}

TEST(OtpauthUriTest, PercentEncodesLabelAndIssuer) {
  Secret uri = OtpauthUri("bob smith@example.com", Secret("f"), "ACME Ops/EU:1&2");
  EXPECT_EQ(uri.Reveal(),
            "otpauth://totp/ACME%20Ops%2FEU%3A1%262:bob%20smith%40example.com?secret=MY"
            "&issuer=ACME%20Ops%2FEU%3A1%262&algorithm=SHA1&digits=6&period=30");
  Secret utf8 = OtpauthUri("j\xC3\xB6rg", Secret("f"));
  EXPECT_NE(utf8.Reveal().find("breakglass:j%C3%B6rg?"), std::string_view::npos);
}

// Verification around a fixed time T in the middle of step S.
constexpr int64_t kT = 1111111111;
constexpr int64_t kS = kT / 30;

TEST(VerifyTotpTest, AcceptsCurrentAndAdjacentStepsAndReturnsTheStep) {
  for (int64_t delta : {-1, 0, 1}) {
    std::string code = CodeAt(kRfcSecret, (kS + delta) * 30);
    auto step = VerifyTotp(kRfcSecret, code, FromUnixSeconds(kT), kNoTotpStepYet);
    ASSERT_TRUE(step.has_value()) << delta << " " << step.error().ToString();
    EXPECT_EQ(*step, kS + delta);
  }
}

TEST(VerifyTotpTest, RefusesStepsTwoOrMoreAway) {
  for (int64_t delta : {-3, -2, 2, 3}) {
    std::string code = CodeAt(kRfcSecret, (kS + delta) * 30);
    auto step = VerifyTotp(kRfcSecret, code, FromUnixSeconds(kT), kNoTotpStepYet);
    ASSERT_FALSE(step.has_value()) << delta;
    EXPECT_EQ(step.error().code(), ErrorCode::kUnauthenticated);
  }
}

TEST(VerifyTotpTest, RefusesReplayOfTheSameCode) {
  std::string code = CodeAt(kRfcSecret, kT);
  auto first = VerifyTotp(kRfcSecret, code, FromUnixSeconds(kT), kNoTotpStepYet);
  ASSERT_TRUE(first.has_value());
  auto again = VerifyTotp(kRfcSecret, code, FromUnixSeconds(kT + 5), *first);
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code(), ErrorCode::kUnauthenticated);
  // Still refused in the next step, while the code is within the ±1 window.
  EXPECT_FALSE(VerifyTotp(kRfcSecret, code, FromUnixSeconds(kT + 30), *first).has_value());
}

TEST(VerifyTotpTest, RefusesAnOlderCodeAfterANewerWasUsed) {
  std::string newer = CodeAt(kRfcSecret, (kS + 1) * 30);
  std::string older = CodeAt(kRfcSecret, kS * 30);
  auto accepted = VerifyTotp(kRfcSecret, newer, FromUnixSeconds(kT), kNoTotpStepYet);
  ASSERT_TRUE(accepted.has_value());
  EXPECT_EQ(*accepted, kS + 1);
  EXPECT_FALSE(VerifyTotp(kRfcSecret, older, FromUnixSeconds(kT), *accepted).has_value());
  // The following step's code is still accepted afterwards.
  std::string next = CodeAt(kRfcSecret, (kS + 2) * 30);
  auto later = VerifyTotp(kRfcSecret, next, FromUnixSeconds(kT + 30), *accepted);
  ASSERT_TRUE(later.has_value());
  EXPECT_EQ(*later, kS + 2);
}

TEST(VerifyTotpTest, RefusesWrongCodeAndWrongSecret) {
  std::string code = CodeAt(kRfcSecret, kT);
  std::string wrong = code;
  wrong[5] = wrong[5] == '9' ? '0' : static_cast<char>(wrong[5] + 1);
  EXPECT_FALSE(VerifyTotp(kRfcSecret, wrong, FromUnixSeconds(kT), kNoTotpStepYet).has_value());
  EXPECT_FALSE(VerifyTotp(Secret("another secret here!"), code, FromUnixSeconds(kT), kNoTotpStepYet)
                   .has_value());
}

TEST(VerifyTotpTest, RefusesAnythingButSixDigitsWithFieldTotp) {
  std::string code = CodeAt(kRfcSecret, kT);
  for (const std::string& bad :
       {std::string(), std::string("12345"), std::string("1234567"), code + " ", " " + code,
        std::string("12a456"), std::string("+12345"), std::string("-12345"),
        std::string("１２３４５６"), code.substr(0, 5) + std::string(1, '\0'),
        std::string("12 456"), std::string(1000, '1'),
        CodeAt(kRfcSecret, kT).substr(0, 3) + "\xD9\xA0"
                                              "1"}) {
    auto r = VerifyTotp(kRfcSecret, bad, FromUnixSeconds(kT), kNoTotpStepYet);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument) << bad;
    EXPECT_EQ(r.error().field(), "totp");
  }
}

TEST(VerifyTotpTest, NoCodeExistsBeforeTheEpoch) {
  std::string step0 = CodeAt(kRfcSecret, 0);
  // At t=5 the window is steps -1, 0, 1: step 0's code is fine, step -1 does not exist.
  auto r = VerifyTotp(kRfcSecret, step0, FromUnixSeconds(5), kNoTotpStepYet);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r, 0);
}

// The real oathtool (a local command) must agree with us on random secrets and times.
TEST(TotpOathtoolTest, AgreesWithOathtoolCommand) {
  if (std::system("command -v oathtool >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "oathtool is not installed";
  }
  bg::testing::CountingRandom random;
  for (int64_t t : {int64_t{59}, int64_t{1111111109}, int64_t{1700000000}, int64_t{1700000029},
                    int64_t{1700000030}, int64_t{4102444800}}) {
    Secret secret = GenerateTotpSecret(random);
    std::string cmd = "oathtool --totp -b " + Base32Encode(secret.Reveal()) + " --now=@" +
                      std::to_string(t) + " 2>&1";
    FILE* p = popen(cmd.c_str(), "r");
    ASSERT_NE(p, nullptr);
    char buf[64] = {};
    std::string out = fgets(buf, sizeof buf, p) ? buf : "";
    ASSERT_EQ(pclose(p), 0) << out;
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
    EXPECT_EQ(CodeAt(secret, t), out) << "t=" << t;
    auto step = VerifyTotp(secret, out, FromUnixSeconds(t), kNoTotpStepYet);
    ASSERT_TRUE(step.has_value()) << step.error().ToString();
    EXPECT_EQ(*step, t / 30);
  }
}

// Random strings never crash the parsers and never verify by accident.
TEST(TotpPropertyTest, RandomInputIsRefusedCleanly) {
  std::mt19937 rng(6238);
  std::uniform_int_distribution<int> len(0, 12), byte(0, 255), digit('0', '9');
  for (int i = 0; i < 3000; ++i) {
    std::string s(len(rng), '\0');
    for (char& c : s) c = static_cast<char>(i % 2 ? byte(rng) : digit(rng));
    auto decoded = Base32Decode(s);
    if (decoded.has_value()) {
      // Whatever decodes is canonical: it encodes back to the input, upper-cased, unpadded.
      std::string canonical = s;
      for (char& c : canonical) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      while (!canonical.empty() && canonical.back() == '=') canonical.pop_back();
      EXPECT_EQ(Base32Encode(decoded->Reveal()), canonical);
    }
    auto r = VerifyTotp(kRfcSecret, s, FromUnixSeconds(kT), kNoTotpStepYet);
    if (r.has_value()) {
      // Only a real code may pass: it must be the code of the step returned.
      EXPECT_EQ(s, CodeAt(kRfcSecret, *r * 30));
    } else if (s.size() != 6 || s.find_first_not_of("0123456789") != std::string::npos) {
      EXPECT_EQ(r.error().field(), "totp");
    }
  }
}

}  // namespace
}  // namespace bg::auth
