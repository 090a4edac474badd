#include <gtest/gtest.h>
#include <sodium.h>

#include <array>
#include <random>
#include <vector>

#include "util/encoding.h"
#include "util/random.h"
#include "util/result.h"
#include "util/secret.h"
#include "util/sha256.h"
#include "util/time.h"
#include "util/utf8.h"

namespace bg {
namespace {

TEST(DurationTest, AcceptsUnitsAndPlainSeconds) {
  struct Case { const char* text; int64_t seconds; };
  for (auto c : {Case{"90s", 90}, Case{"45m", 2700}, Case{"1h30m", 5400}, Case{"2h", 7200},
                 Case{"1h0m5s", 3605}, Case{"900", 900}, Case{"0s", 0}, Case{"0", 0}}) {
    auto d = ParseDuration(c.text);
    ASSERT_TRUE(d.has_value()) << c.text;
    EXPECT_EQ(d->count(), c.seconds) << c.text;
  }
}

TEST(DurationTest, RefusesMalformedText) {
  for (const char* text : {"", "h", "1x", "1h1h", "30m1h", "-5", "1.5h", "1h ", " 1h", "m30",
                           "99999999999999999", "100000000h"}) {
    auto d = ParseDuration(text, "duration");
    ASSERT_FALSE(d.has_value()) << text;
    EXPECT_EQ(d.error().field(), "duration");
    EXPECT_EQ(d.error().code(), ErrorCode::kInvalidArgument);
  }
}

TEST(DurationTest, FormatRoundTrips) {
  for (int64_t s : {0, 1, 59, 60, 61, 3599, 3600, 5400, 86401}) {
    auto text = FormatDuration(Seconds(s));
    auto back = ParseDuration(text);
    ASSERT_TRUE(back.has_value()) << text;
    EXPECT_EQ(back->count(), s);
  }
  EXPECT_EQ(FormatDuration(Seconds(5400)), "1h30m");
}

TEST(Rfc3339Test, FormatsAndParses) {
  Timestamp t = FromUnixSeconds(1795556623);
  EXPECT_EQ(FormatRfc3339(t), "2026-11-24T21:43:43Z");
  EXPECT_EQ(*ParseRfc3339("2026-11-24T21:43:43Z"), t);
  EXPECT_EQ(*ParseRfc3339("2026-11-24T22:43:43.123+01:00"), t);
  EXPECT_EQ(FormatRfc3339(FromUnixSeconds(0)), "1970-01-01T00:00:00Z");
}

TEST(Rfc3339Test, RefusesMalformed) {
  for (const char* text : {"", "2026-11-24", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z",
                           "2026-11-24T21:43:43", "2026-11-24T21:43:43Zjunk",
                           "2026-11-24T25:00:00Z", "2026-11-24T21:43:43+1:00"}) {
    EXPECT_FALSE(ParseRfc3339(text).has_value()) << text;
  }
}

// What is accepted must be writable again: RFC 3339 has four-digit years, so an offset (or a
// leap second) that moves the time out of 0000..9999 in UTC is refused, not turned into a
// "-001-..." or "10000-..." that nothing reads (found by fuzz/targets/duration.cc).
TEST(Rfc3339Test, RefusesTimesOutsideTheYearsItCanWrite) {
  for (const char* text : {"0000-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00",
                           "9999-12-31T23:59:60Z"}) {
    EXPECT_FALSE(ParseRfc3339(text).has_value()) << text;
  }
  for (const char* text : {"0000-01-01T00:00:00Z", "0000-01-01T01:00:00+01:00",
                           "9999-12-31T23:59:59Z", "9999-12-31T22:59:59-01:00"}) {
    auto t = ParseRfc3339(text);
    ASSERT_TRUE(t.has_value()) << text;
    EXPECT_EQ(ParseRfc3339(FormatRfc3339(*t)).value(), *t) << text;
  }
}

TEST(EncodingTest, RoundTripsAndRefusesJunk) {
  std::string bytes("\x00\x01\xfe\xff hello", 10);
  EXPECT_EQ(*HexDecode(HexEncode(bytes)), bytes);
  EXPECT_EQ(*Base64Decode(Base64Encode(bytes)), bytes);
  EXPECT_EQ(*Base64UrlDecode(Base64UrlEncode(bytes)), bytes);
  EXPECT_EQ(Base64Encode("foob"), "Zm9vYg==");
  EXPECT_FALSE(Base64Decode("Zm9vYg=").has_value());
  EXPECT_FALSE(Base64Decode("Zm9vYh==").has_value());  // non-canonical trailing bits
  EXPECT_FALSE(HexDecode("abc").has_value());
  EXPECT_FALSE(HexDecode("zz").has_value());
}

TEST(EncodingTest, Base64EncodeAppendWritesWhatBase64EncodeWrites) {
  std::string bytes;
  for (int n = 0; n < 100; ++n) {
    std::string out = "prefix";
    Base64EncodeAppend(bytes, out);
    EXPECT_EQ(out, "prefix" + Base64Encode(bytes)) << n;
    bytes += static_cast<char>((n * 151 + 7) & 0xff);
  }
}

TEST(EncodingTest, Base64DecodeIntoAnOffsetKeepsWhatIsBeforeIt) {
  std::string bytes;
  std::string reused("\x00", 1);
  for (int n = 0; n < 100; ++n) {
    std::string out("\x00prefix and more", 16);
    ASSERT_TRUE(Base64DecodeInto(Base64Encode(bytes), out, 7)) << n;
    EXPECT_EQ(out, std::string("\x00prefix", 7) + bytes) << n;
    // A buffer reused from a longer or a shorter decoding.
    ASSERT_TRUE(Base64DecodeInto(Base64Encode(bytes), reused, 1)) << n;
    EXPECT_EQ(reused, std::string("\x00", 1) + bytes) << n;
    std::string into = "junk that is longer than some of the decoded strings";
    ASSERT_TRUE(Base64DecodeInto(Base64Encode(bytes), into)) << n;
    EXPECT_EQ(into, bytes) << n;
    bytes += static_cast<char>((n * 151 + 7) & 0xff);
  }
  std::string out = "kept";
  EXPECT_FALSE(Base64DecodeInto("Zm9vYh==", out, 4));
  EXPECT_FALSE(Base64DecodeInto("Zm9", out, 4));
  EXPECT_EQ(out.substr(0, 4), "kept");
  EXPECT_TRUE(Base64DecodeInto("", out, 4));
  EXPECT_EQ(out, "kept");
  EXPECT_TRUE(Base64DecodeInto("", out, 2));
  EXPECT_EQ(out, "ke");
}

TEST(EncodingTest, DecimalU64IsCanonicalAndBounded) {
  EXPECT_EQ(ParseDecimalU64("0"), 0u);
  EXPECT_EQ(ParseDecimalU64("42"), 42u);
  EXPECT_EQ(ParseDecimalU64("18446744073709551615"), UINT64_MAX);
  for (const char* bad : {"", "-1", "+1", "01", "00", "18446744073709551616",
                          "99999999999999999999", "1 ", " 1", "1e3", "0x10", "123456789012345678901"}) {
    EXPECT_FALSE(ParseDecimalU64(bad).has_value()) << bad;
  }
}

// The table decoder against libsodium's (strict, no padding ignored, no white space) plus the
// canonical re-encoding check, on every string of up to 4 characters over a small alphabet
// and on random longer ones.
TEST(EncodingTest, Base64DecodeAgreesWithLibsodiumAndCanonicalForm) {
  auto reference = [](std::string_view text) -> std::optional<std::string> {
    std::string out(text.size() / 4 * 3 + 3, '\0');
    size_t len = 0;
    const char* end = nullptr;
    if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(),
                          text.size(), nullptr, &len, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
        end != text.data() + text.size()) {
      return std::nullopt;
    }
    out.resize(len);
    if (Base64Encode(out) != text) return std::nullopt;
    return out;
  };
  const std::string alphabet = "AQgw/+=z9 -_\n";
  std::vector<std::string> inputs = {""};
  for (size_t n = 1; n <= 4; ++n) {
    std::vector<std::string> next;
    for (const std::string& prefix : inputs) {
      if (prefix.size() != n - 1) continue;
      for (char c : alphabet) next.push_back(prefix + c);
    }
    inputs.insert(inputs.end(), next.begin(), next.end());
  }
  std::mt19937 rng(7);
  const std::string full = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=";
  for (int i = 0; i < 20000; ++i) {
    std::string s(4 * (1 + rng() % 6) - (rng() % 5 == 0 ? 1 : 0), 'A');
    for (char& c : s) c = full[rng() % full.size()];
    inputs.push_back(s);
    std::string bytes(rng() % 40, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    inputs.push_back(Base64Encode(bytes));
  }
  int accepted = 0;
  for (const std::string& in : inputs) {
    const auto want = reference(in);
    const auto got = Base64Decode(in);
    ASSERT_EQ(got.has_value(), want.has_value()) << "\"" << in << "\"";
    if (got) {
      ++accepted;
      EXPECT_EQ(*got, *want) << in;
    }
  }
  EXPECT_GT(accepted, 20000);
}

// The AVX2 step (32 characters at a time, where the CPU has it; Base64DecodeInto's) against the
// portable decoder: the same verdict and bytes for encodings long enough to take it, with every
// byte value put at every position of a block, and with padding and lengths around the block
// size.
TEST(EncodingTest, Base64DecodeTakesTheSameInputsWithAndWithoutAvx2) {
  if (!internal::CpuHasAvx2()) GTEST_SKIP() << "no AVX2 here: one decoder only";
  auto same = [](const std::string& in) {
    std::string avx2 = "p", portable = "p";
    const bool avx2_ok = Base64DecodeInto(in, avx2, 1);
    const bool portable_ok = internal::Base64DecodeIntoPortable(in, portable, 1);
    EXPECT_EQ(avx2_ok, portable_ok) << "\"" << in << "\"";
    if (avx2_ok && portable_ok) {
      EXPECT_EQ(avx2, portable) << in;
    }
    return portable_ok;
  };
  std::mt19937 rng(11);
  int accepted = 0, refused = 0;
  for (size_t n = 0; n <= 200; ++n) {
    std::string bytes(n, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    const std::string text = Base64Encode(bytes);
    ASSERT_TRUE(same(text));
    EXPECT_EQ(Base64Decode(text), bytes);
    ++accepted;
    // Every byte value at a few positions of the first and the last block.
    for (size_t pos : {size_t{0}, size_t{13}, size_t{31}, size_t{47}, size_t{63}, size_t{64},
                       text.size() / 2, text.size() - 3, text.size() - 2, text.size() - 1}) {
      if (pos >= text.size()) continue;
      for (int c = 0; c < 256; ++c) {
        std::string changed = text;
        changed[pos] = static_cast<char>(c);
        (same(changed) ? accepted : refused)++;
      }
    }
  }
  // Every position of a 200-character encoding, by the characters near the alphabet's edges.
  const std::string text = Base64Encode(std::string(150, '\x5a'));
  for (size_t pos = 0; pos < text.size(); ++pos) {
    for (char c : std::string_view("@AZ[`az{/0+,9:=\x7f\x80\xff\x00 ", 20)) {
      std::string changed = text;
      changed[pos] = c;
      (same(changed) ? accepted : refused)++;
    }
  }
  EXPECT_GT(accepted, 10000);
  EXPECT_GT(refused, 100000);
}

// Base64Decode32 (the verifier's stored hashes) accepts exactly what Base64Decode accepts and
// decodes to 32 bytes, with and without AVX2: every byte value at every one of the 44
// positions of random encodings, the lengths around 44 and the other padding.
TEST(EncodingTest, Base64Decode32TakesWhatBase64DecodeTakesForThirtyTwoBytes) {
  auto same = [](const std::string& in) {
    std::optional<std::string> want = Base64Decode(in);
    if (want.has_value() && want->size() != 32) want.reset();
    std::array<uint8_t, 32> fast{}, portable{};
    const bool fast_ok = Base64Decode32(in, fast);
    const bool portable_ok = internal::Base64Decode32Portable(in, portable);
    EXPECT_EQ(fast_ok, want.has_value()) << "\"" << in << "\"";
    EXPECT_EQ(portable_ok, want.has_value()) << "\"" << in << "\"";
    if (want.has_value() && fast_ok && portable_ok) {
      EXPECT_EQ(AsBytes(fast), *want) << in;
      EXPECT_EQ(AsBytes(portable), *want) << in;
    }
    return want.has_value();
  };
  std::mt19937 rng(13);
  int accepted = 0, refused = 0;
  for (int round = 0; round < 20; ++round) {
    std::string bytes(32, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    if (round == 0) bytes.assign(32, '\0');
    if (round == 1) bytes.assign(32, '\xff');
    const std::string text = Base64Encode(bytes);
    ASSERT_EQ(text.size(), 44u);
    ASSERT_TRUE(same(text));
    for (size_t pos = 0; pos < text.size(); ++pos) {
      for (int c = 0; c < 256; ++c) {
        std::string changed = text;
        changed[pos] = static_cast<char>(c);
        (same(changed) ? accepted : refused)++;
      }
    }
    for (size_t n : {0, 4, 40, 43, 45, 48}) {
      std::string other = n <= 44 ? text.substr(0, n) : text + std::string(n - 44, 'A');
      EXPECT_FALSE(same(other)) << n;
    }
    EXPECT_FALSE(same(Base64Encode(bytes.substr(0, 31))));  // "xx==": 31 bytes
    EXPECT_FALSE(same(Base64Encode(bytes + "x")));
  }
  EXPECT_GT(accepted, 20 * 44 * 60);
  EXPECT_GT(refused, 20 * 44 * 190);
}

TEST(SecretTest, ComparesAndWipes) {
  Secret a("hunter2"), b("hunter2"), c("hunter3");
  EXPECT_TRUE(a.Equals(b));
  EXPECT_FALSE(a.Equals(c));
  EXPECT_FALSE(a.Equals(std::string_view("hunter")));
  Secret moved = std::move(a);
  EXPECT_EQ(moved.Reveal(), "hunter2");
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): moved-from is defined empty
}

TEST(Sha256Test, KnownAnswer) {
  EXPECT_EQ(HexEncode(AsBytes(Sha256("abc"))),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(AsBytes(Sha256Parts({"a", "bc"})), AsBytes(Sha256("abc")));
  // RFC 4231 test case 2.
  EXPECT_EQ(HexEncode(AsBytes(HmacSha256("Jefe", "what do ya want for nothing?"))),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(IdTest, IdsAreDistinctAndPrefixed) {
  auto a = NewId("req"), b = NewId("req");
  EXPECT_NE(a, b);
  EXPECT_EQ(a.rfind("req_", 0), 0u);
  EXPECT_EQ(a.size(), 24u);
}

TEST(ResultTest, PropagatesErrors) {
  auto inner = [](bool ok) -> Result<int> {
    if (!ok) return Error::NotFound("nope");
    return 7;
  };
  auto outer = [&](bool ok) -> Result<int> {
    BG_ASSIGN_OR_RETURN(int v, inner(ok));
    return v + 1;
  };
  EXPECT_EQ(*outer(true), 8);
  EXPECT_EQ(outer(false).error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(outer(false).error().ToString(), "not_found: nope");
}

TEST(Utf8Test, DecodesEveryLengthAndRefusesWhatIsNotStrictUtf8) {
  char32_t cp = 0;
  EXPECT_EQ(DecodeUtf8("A", &cp), 1u);
  EXPECT_EQ(cp, U'A');
  EXPECT_EQ(DecodeUtf8("\xC3\xB6x", &cp), 2u);  // only the first character
  EXPECT_EQ(cp, U'\u00F6');
  EXPECT_EQ(DecodeUtf8("\xE2\x80\xAE", &cp), 3u);
  EXPECT_EQ(cp, U'\u202E');
  EXPECT_EQ(DecodeUtf8("\xF4\x8F\xBF\xBF", &cp), 4u);
  EXPECT_EQ(cp, U'\U0010FFFF');
  EXPECT_EQ(DecodeUtf8(std::string_view("\0", 1), &cp), 1u);
  EXPECT_EQ(cp, U'\0');
  for (std::string_view bad : {"", "\x80", "\xC0\x80", "\xC1\xBF", "\xE0\x80\x80",  // overlong
                               "\xED\xA0\x80",                                     // surrogate
                               "\xF4\x90\x80\x80", "\xF8\x88\x80\x80\x80",          // past U+10FFFF
                               "\xC3", "\xE2\x80", "\xF0\x9F\x98", "\xC3(", "\xFF"}) {
    EXPECT_EQ(DecodeUtf8(bad), 0u) << HexEncode(bad);
  }
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("j\xC3\xB6rg \xF0\x9F\x94\x91"));
  EXPECT_FALSE(IsValidUtf8("j\xC3\xB6rg \xF0\x9F\x94"));
  EXPECT_FALSE(IsValidUtf8("ok\xED\xBF\xBFok"));
}

// IsValidUtf8 skips ASCII 8 bytes at a time: it must agree with decoding one character after
// another, wherever the non-ASCII bytes fall in and across the 8-byte steps.
TEST(Utf8Test, ValidityAgreesWithDecodingCharacterByCharacter) {
  const auto by_decoding = [](std::string_view s) {
    while (!s.empty()) {
      const size_t n = DecodeUtf8(s);
      if (n == 0) return false;
      s.remove_prefix(n);
    }
    return true;
  };
  const std::vector<std::string> pieces = {"a",
                                           "z",
                                           "\x7F",
                                           std::string(1, '\0'),
                                           "\xC3\xB6",
                                           "\xE2\x82\xAC",
                                           "\xF0\x9F\x94\x91",
                                           "\xC3",
                                           "\x80",
                                           "\xED\xA0\x80",
                                           "\xFF",
                                           "\xF4\x90\x80\x80"};
  std::mt19937 rng(8108);
  std::uniform_int_distribution<size_t> pick(0, pieces.size() - 1);
  std::uniform_int_distribution<int> ascii_run(0, 20);
  int valid = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string s;
    const int parts = 1 + i % 6;
    for (int p = 0; p < parts; ++p) {
      s.append(static_cast<size_t>(ascii_run(rng)), 'x');
      if (rng() % 3 != 0) s += pieces[pick(rng)];
    }
    const bool expected = by_decoding(s);
    valid += expected ? 1 : 0;
    ASSERT_EQ(IsValidUtf8(s), expected) << HexEncode(s);
  }
  EXPECT_GT(valid, 1000);  // both outcomes were exercised
  EXPECT_LT(valid, 19000);
}

}  // namespace
}  // namespace bg
