#include "kit/share_line.h"

#include <gtest/gtest.h>

#include <string>

#include "test/fakes/fake_random.h"

namespace bg::kit {
namespace {

using bg::testing::SeededRandom;

constexpr std::string_view kAlphabet = "0123456789abcdefghjkmnpqrstvwxyz";

Share SampleShare(Random& random, size_t length) {
  Share share;
  share.kit_id = NewKitId(random);
  share.index = 3;
  share.threshold = 2;
  random.Fill(share.salt.data(), share.salt.size());
  share.payload = Secret(random.Bytes(length));
  return share;
}

void ExpectSameShare(const Share& a, const Share& b) {
  EXPECT_EQ(a.kit_id, b.kit_id);
  EXPECT_EQ(a.index, b.index);
  EXPECT_EQ(a.threshold, b.threshold);
  EXPECT_EQ(a.salt, b.salt);
  EXPECT_TRUE(a.payload.Equals(b.payload));
}

// The group (1-based) that holds column `offset` (0-based) of a well-formed line, or 0.
int GroupOf(const std::string& line, size_t offset) {
  if (offset < kSharePrefix.size() || line[offset] == '-') return 0;
  return static_cast<int>((offset - kSharePrefix.size()) / 6) + 1;
}

TEST(ShareLineTest, RoundTripsEveryLength) {
  SeededRandom random("round-trip");
  for (size_t length : {1, 2, 3, 5, 16, 31, 32, 33, 64, 255, 1024}) {
    const Share share = SampleShare(random, length);
    const Secret line = FormatShareLine(share);
    auto parsed = ParseShareLine(line.Reveal());
    ASSERT_TRUE(parsed.has_value()) << length << ": " << parsed.error().message();
    ExpectSameShare(share, *parsed);
  }
}

TEST(ShareLineTest, LineShowsPrefixAndKitIdAndFiveCharacterGroups) {
  SeededRandom random("layout");
  const Share share = SampleShare(random, 32);
  const std::string line(FormatShareLine(share).Reveal());
  ASSERT_EQ(line.rfind("bgk1-", 0), 0u);
  // The kit id is the data of the first two groups.
  EXPECT_EQ(line.substr(5, 4) + line.substr(11, 4), share.kit_id);
  for (size_t i = 5; i < line.size(); ++i) {
    if ((i - 5) % 6 == 5) {
      EXPECT_EQ(line[i], '-') << i;
    } else {
      EXPECT_NE(kAlphabet.find(line[i]), std::string_view::npos) << i;
    }
  }
  EXPECT_EQ(line.size(), 147u);  // 59 bytes -> 95 data + 24 check characters, 23 dashes
}

TEST(ShareLineTest, AcceptsUpperCaseSpacesAndSurroundingWhiteSpace) {
  SeededRandom random("lenient");
  const Share share = SampleShare(random, 32);
  std::string line(FormatShareLine(share).Reveal());
  std::string upper = line;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  std::string spaced = line;
  for (char& c : spaced) c = c == '-' ? ' ' : c;
  for (const std::string& variant :
       {upper, spaced, "  " + line + "\r\n", "\t" + upper + " ", line + "-", line + " - \n"}) {
    auto parsed = ParseShareLine(variant);
    ASSERT_TRUE(parsed.has_value()) << variant << ": " << parsed.error().message();
    ExpectSameShare(share, *parsed);
  }
}

// Every position, every character of the alphabet: the substitution is refused, and when it
// lands in a group that group, and only that one, is named.
TEST(ShareLineTest, EverySingleCharacterSubstitutionIsDetectedAndLocated) {
  SeededRandom random("substitution");
  for (size_t length : {1, 32}) {
    const std::string line(FormatShareLine(SampleShare(random, length)).Reveal());
    int checked = 0;
    int expected = 0;
    for (size_t pos = 0; pos < line.size(); ++pos) {
      expected += kAlphabet.find(line[pos]) == std::string_view::npos ? 32 : 31;
      for (char c : kAlphabet) {
        if (c == line[pos]) continue;
        std::string typo = line;
        typo[pos] = c;
        ShareDiagnostic diagnostic;
        auto parsed = ParseShareLine(typo, &diagnostic);
        ASSERT_FALSE(parsed.has_value()) << "position " << pos << " char " << c;
        EXPECT_EQ(parsed.error().field(), "share");
        const int group = GroupOf(line, pos);
        if (group > 0) {
          ASSERT_EQ(diagnostic.bad_groups, std::vector<int>{group}) << pos << " " << c;
          EXPECT_NE(parsed.error().message().find("typo in group " + std::to_string(group)),
                    std::string::npos)
              << parsed.error().message();
          EXPECT_EQ(diagnostic.column, static_cast<int>(kSharePrefix.size() + 6 * (group - 1)) + 1);
        } else {
          EXPECT_GT(diagnostic.column, 0) << "prefix or separator typo at " << pos;
        }
        ++checked;
      }
    }
    EXPECT_EQ(checked, expected);
  }
}

TEST(ShareLineTest, CharactersOutsideTheAlphabetAreNamedWithTheirColumn) {
  SeededRandom random("outside");
  const std::string line(FormatShareLine(SampleShare(random, 32)).Reveal());
  for (char c : {'i', 'l', 'o', 'u', 'I', 'O', '!', '_', '\x01', '\xff'}) {
    for (size_t pos : {6u, 20u, 100u, 146u}) {
      std::string typo = line;
      typo[pos] = c;
      ShareDiagnostic diagnostic;
      auto parsed = ParseShareLine(typo, &diagnostic);
      ASSERT_FALSE(parsed.has_value());
      EXPECT_EQ(diagnostic.column, static_cast<int>(pos) + 1) << parsed.error().message();
      EXPECT_NE(parsed.error().message().find("invalid character"), std::string::npos);
    }
  }
}

TEST(ShareLineTest, AdjacentTranspositionsInsideAGroupAreDetected) {
  SeededRandom random("transposition");
  const std::string line(FormatShareLine(SampleShare(random, 32)).Reveal());
  for (size_t pos = kSharePrefix.size(); pos + 1 < line.size(); ++pos) {
    if (line[pos] == '-' || line[pos + 1] == '-' || line[pos] == line[pos + 1]) continue;
    std::string typo = line;
    std::swap(typo[pos], typo[pos + 1]);
    EXPECT_FALSE(ParseShareLine(typo).has_value()) << pos;
  }
}

TEST(ShareLineTest, DeletionsInsertionsAndTruncationsAreDetected) {
  SeededRandom random("deletion");
  const std::string line(FormatShareLine(SampleShare(random, 32)).Reveal());
  for (size_t pos = 0; pos < line.size(); ++pos) {
    std::string deleted = line;
    deleted.erase(pos, 1);
    EXPECT_FALSE(ParseShareLine(deleted).has_value()) << "deleted " << pos;
    std::string inserted = line;
    inserted.insert(pos, 1, 'q');
    EXPECT_FALSE(ParseShareLine(inserted).has_value()) << "inserted at " << pos;
    EXPECT_FALSE(ParseShareLine(line.substr(0, pos)).has_value()) << "truncated to " << pos;
  }
}

TEST(ShareLineTest, SwappedGroupsAreNamed) {
  SeededRandom random("swap");
  const std::string line(FormatShareLine(SampleShare(random, 32)).Reveal());
  std::string swapped = line;
  // Groups 4 and 7 start at 5 + 6*3 and 5 + 6*6.
  for (int i = 0; i < 5; ++i) std::swap(swapped[23 + i], swapped[41 + i]);
  ShareDiagnostic diagnostic;
  ASSERT_FALSE(ParseShareLine(swapped, &diagnostic).has_value());
  EXPECT_EQ(diagnostic.bad_groups, (std::vector<int>{4, 7}));
}

TEST(ShareLineTest, RefusesOtherVersionsAndForeignText) {
  SeededRandom random("version");
  const std::string line(FormatShareLine(SampleShare(random, 32)).Reveal());
  auto v2 = ParseShareLine("bgk2" + line.substr(4));
  ASSERT_FALSE(v2.has_value());
  EXPECT_NE(v2.error().message().find("unsupported share format version 2"), std::string::npos);
  for (const char* text : {"", "   ", "hello", "bgk1-", "bgk1", "bgk1--", "bgk1-00"}) {
    EXPECT_FALSE(ParseShareLine(text).has_value()) << text;
  }
}

TEST(ShareLineTest, RandomGarbageNeverParses) {
  SeededRandom random("garbage");
  const std::string line(FormatShareLine(SampleShare(random, 32)).Reveal());
  for (int run = 0; run < 2000; ++run) {
    std::string noisy = line;
    const std::string noise = random.Bytes(4);
    for (int k = 0; k < 2; ++k) {
      const size_t pos =
          kSharePrefix.size() + static_cast<uint8_t>(noise[2 * k]) % (line.size() - 5);
      noisy[pos] = kAlphabet[static_cast<uint8_t>(noise[2 * k + 1]) % 32];
    }
    if (noisy == line) continue;
    EXPECT_FALSE(ParseShareLine(noisy).has_value()) << noisy;
  }
  for (int run = 0; run < 2000; ++run) {
    const std::string bytes = random.Bytes(run % 200);
    EXPECT_FALSE(ParseShareLine(bytes).has_value());
    EXPECT_FALSE(ParseShareLine("bgk1-" + bytes).has_value());
  }
}

TEST(ShareLineTest, CommitmentDependsOnEveryField) {
  SeededRandom random("commitment");
  const Share share = SampleShare(random, 1);
  const Digest base = ShareCommitment(share);
  Share other = SampleShare(random, 1);
  other = Share{share.kit_id, share.index, share.threshold, share.salt, share.payload};
  EXPECT_EQ(ShareCommitment(other), base);
  other.salt[15] ^= 1;
  EXPECT_NE(ShareCommitment(other), base);
  other = Share{share.kit_id, share.index + 1, share.threshold, share.salt, share.payload};
  EXPECT_NE(ShareCommitment(other), base);
  other = Share{share.kit_id, share.index, share.threshold + 1, share.salt, share.payload};
  EXPECT_NE(ShareCommitment(other), base);
  other = Share{NewKitId(random), share.index, share.threshold, share.salt, share.payload};
  EXPECT_NE(ShareCommitment(other), base);
  other = Share{share.kit_id, share.index, share.threshold, share.salt,
                Secret(std::string(1, static_cast<char>(share.payload.data()[0] ^ 1)))};
  EXPECT_NE(ShareCommitment(other), base);
}

TEST(ShareLineTest, KitIdsAreEightAlphabetCharacters) {
  SeededRandom random("ids");
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(IsValidKitId(NewKitId(random)));
  for (const char* bad : {"", "abcdefg", "abcdefghj", "abcdefgi", "ABCDEFGH"}) {
    EXPECT_FALSE(IsValidKitId(bad)) << bad;
  }
}

}  // namespace
}  // namespace bg::kit
