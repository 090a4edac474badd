#include "cli/text.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>
#include <nlohmann/json.hpp>

#include "cli/exit_codes.h"

namespace bg::cli {
namespace {

TEST(SafeFieldTest, ReadsStringFieldsSafelyAndSaysWhatIsMissing) {
  const nlohmann::json j = {{"name", "carol\x1b[2J"}, {"n", 3}};
  EXPECT_EQ(SafeField(j, "name"), TerminalSafe("carol\x1b[2J"));
  EXPECT_EQ(SafeField(j, "name").find('\x1b'), std::string::npos);
  EXPECT_EQ(SafeField(j, "n"), "");         // not a string
  EXPECT_EQ(SafeField(j, "gone", "-"), "-");  // absent
  EXPECT_EQ(SafeField(nlohmann::json::array(), "name", "?"), "?");  // not an object
}

TEST(TerminalSafeTest, PlainAndUnicodeTextIsUnchanged) {
  EXPECT_EQ(TerminalSafe("replication stuck after failover"), "replication stuck after failover");
  EXPECT_EQ(TerminalSafe("Grüße, 東京, emoji \xF0\x9F\x94\xA5"),
            "Grüße, 東京, emoji \xF0\x9F\x94\xA5");
  EXPECT_EQ(TerminalSafe(""), "");
}

TEST(TerminalSafeTest, EscapeSequencesAreShownNotSent) {
  EXPECT_EQ(TerminalSafe("a\x1b[2J\x1b]0;owned\x07z"), "a\\x1b[2J\\x1b]0;owned\\x07z");
  EXPECT_EQ(TerminalSafe("line\nfake: approved\r\t"), "line\\nfake: approved\\r\\t");
  EXPECT_EQ(TerminalSafe(std::string("nul\0del\x7f", 8)), "nul\\x00del\\x7f");
}

TEST(TerminalSafeTest, C1ControlsBidiOverridesAndBadBytesAreEscaped) {
  EXPECT_EQ(TerminalSafe("\xC2\x9B"
                         "31m"),
            "\\u009b31m");  // CSI as a C1 control
  EXPECT_EQ(TerminalSafe("abc\xE2\x80\xAE"
                         "fed"),
            "abc\\u202efed");  // RIGHT-TO-LEFT OVERRIDE
  EXPECT_EQ(TerminalSafe("x\xE2\x81\xA6y"), "x\\u2066y");
  EXPECT_EQ(TerminalSafe("\xff\xfe"), "\\xff\\xfe");
  EXPECT_EQ(TerminalSafe("\xC0\x9B"), "\\xc0\\x9b");           // overlong ESC
  EXPECT_EQ(TerminalSafe("\xED\xA0\x80"), "\\xed\\xa0\\x80");  // a surrogate
  EXPECT_EQ(TerminalSafe("cut \xE2\x80"), "cut \\xe2\\x80");
}

TEST(TerminalSafeTest, OutputNeverHoldsAControlByte) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  for (unsigned char c : TerminalSafe(all)) {
    EXPECT_GE(c, 0x20);
    EXPECT_NE(c, 0x7F);
    EXPECT_LT(c, 0x80);  // every byte >= 0x80 alone is invalid UTF-8
  }
}

TEST(HumanTimeTest, LocalTimeBesideUtcOnlyWhenAskedAndDifferent) {
  setenv("TZ", "Europe/Berlin", 1);
  tzset();
  EXPECT_EQ(HumanTime("2026-11-24T22:49:56Z", true), "2026-11-24T22:49:56Z (23:49:56 CET)");
  EXPECT_EQ(HumanTime("2026-11-24T23:30:00Z", true),
            "2026-11-24T23:30:00Z (2026-11-25 00:30:00 CET)");
  EXPECT_EQ(HumanTime("2026-07-01T10:00:00.25Z", true), "2026-07-01T10:00:00.25Z (12:00:00 CEST)");
  EXPECT_EQ(HumanTime("2026-11-24T22:49:56Z", false), "2026-11-24T22:49:56Z");
  EXPECT_EQ(HumanTime("soon\x1b[2J", true), "soon\\x1b[2J");
  setenv("TZ", "UTC", 1);
  tzset();
  EXPECT_EQ(HumanTime("2026-11-24T22:49:56Z", true), "2026-11-24T22:49:56Z");
}

TEST(ExitCodesTest, TableIsOrderedAndHelpListsEveryCode) {
  int expect = 0;
  std::string help = ExitCodesHelp();
  for (const auto& e : ExitCodeTable()) {
    EXPECT_EQ(static_cast<int>(e.code), expect++);
    EXPECT_NE(help.find(std::to_string(static_cast<int>(e.code)) + " " + std::string(e.meaning)),
              std::string::npos);
  }
  EXPECT_EQ(ExitCodeFor(Error::NotFound("x")), 5);
  EXPECT_EQ(ExitCodeFor(Error::Unavailable("x")), 8);
  EXPECT_EQ(ExitCodeFor(Error(ErrorCode::kFailedPrecondition, "x")), 6);
}

}  // namespace
}  // namespace bg::cli
