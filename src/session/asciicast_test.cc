#include "session/asciicast.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <algorithm>
#include <random>

namespace bg::session {
namespace {

using nlohmann::json;

std::string Event(int64_t us, char code, std::string_view data) {
  std::string out;
  AppendEvent(out, us, code, data);
  return out;
}

TEST(AsciicastTest, HeaderRoundTripsAndNamesTheSession) {
  Header h;
  h.width = 132;
  h.height = 43;
  h.timestamp = 1800000000;
  h.command = "psql -c 'select 1'";
  h.env = {{"TERM", "xterm-256color"}, {"SHELL", "/bin/bash"}};
  h.session_id = "ses_1";
  h.request_id = "req_2";
  h.user = "alice";
  h.host = "db1";
  h.ssh_original_command = "psql -c 'select 1'";
  const std::string line = HeaderLine(h);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  json j = json::parse(line);
  EXPECT_EQ(j["version"], 2);
  EXPECT_EQ(j["breakglass"]["request_id"], "req_2");
  auto back = ParseHeader(line);
  ASSERT_TRUE(back.has_value()) << back.error().ToString();
  EXPECT_EQ(back->width, 132);
  EXPECT_EQ(back->height, 43);
  EXPECT_EQ(back->timestamp, 1800000000);
  EXPECT_EQ(back->command, h.command);
  EXPECT_EQ(back->env, h.env);
  EXPECT_EQ(back->session_id, "ses_1");
  EXPECT_EQ(back->user, "alice");
  EXPECT_EQ(back->host, "db1");
  EXPECT_EQ(back->ssh_original_command, h.ssh_original_command);
}

TEST(AsciicastTest, MalformedHeadersAreRefused) {
  for (const char* bad : {"", "[]", "{\"version\":1,\"width\":80,\"height\":24}",
                          "{\"version\":2,\"width\":0,\"height\":24}",
                          "{\"version\":2,\"width\":80}", "{\"version\":2,\"width\":80.5,\"height\":2}",
                          "{\"version\":2,\"width\":80,\"height\":24,\"timestamp\":-1}",
                          "{\"version\":2,\"width\":80,\"height\":24,\"breakglass\":3}",
                          "{\"version\":2,\"width\":80,\"height\":100000}"}) {
    SCOPED_TRACE(bad);
    auto h = ParseHeader(bad);
    ASSERT_FALSE(h.has_value());
    EXPECT_EQ(h.error().field(), "header");
  }
}

TEST(AsciicastTest, EventsEscapeControlBytesAndKeepUtf8) {
  EXPECT_EQ(Event(1'500'000, 'o', "a\"b\\c\r\n\t\x1b[0m\x7f"),
            "[1.500000, \"o\", \"a\\\"b\\\\c\\r\\n\\t\\u001b[0m\x7f\"]\n");
  EXPECT_EQ(Event(0, 'i', "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"),
            "[0.000000, \"i\", \"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"]\n");
  // Bytes that can never be UTF-8 become U+FFFD, one each.
  EXPECT_EQ(Event(2, 'o', "a\xff\xc0\xafz\xed\xa0\x80"),
            "[0.000002, \"o\", \"a\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdz\xef\xbf\xbd\xef\xbf\xbd"
            "\xef\xbf\xbd\"]\n");
}

TEST(AsciicastTest, AnyBytesMakeAnEventThatParsesBack) {
  std::mt19937 rng(7);
  for (int round = 0; round < 2000; ++round) {
    std::string bytes(rng() % 40, '\0');
    for (char& c : bytes) c = static_cast<char>(rng() % 256);
    const std::string line = Event(round, 'o', bytes);
    auto events = ParseEvents(line);
    ASSERT_TRUE(events.has_value()) << events.error().ToString();
    ASSERT_EQ(events->size(), 1u);
    EXPECT_EQ((*events)[0].micros, round);
    // Valid UTF-8 input comes back unchanged.
    json s = bytes;
    bool valid = true;
    try {
      (void)s.dump();
    } catch (const json::exception&) {
      valid = false;
    }
    if (valid) {
      EXPECT_EQ((*events)[0].data, bytes);
    }
  }
}

TEST(AsciicastTest, Utf8CarryNeverSplitsACharacter) {
  const std::string text = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z";
  for (size_t cut1 = 0; cut1 <= text.size(); ++cut1) {
    for (size_t cut2 = cut1; cut2 <= text.size(); ++cut2) {
      Utf8Carry carry;
      std::string out;
      for (auto part : {text.substr(0, cut1), text.substr(cut1, cut2 - cut1), text.substr(cut2)}) {
        std::string_view got = carry.Take(part);
        out += std::string(got);
        std::string ev = Event(0, 'o', got);
        EXPECT_EQ(ev.find("\xef\xbf\xbd"), std::string::npos) << cut1 << "," << cut2;
      }
      out += carry.Flush();
      EXPECT_EQ(out, text);
    }
  }
  Utf8Carry carry;
  EXPECT_EQ(carry.Take("ab\xff"), "ab\xff");  // invalid is not held back
  EXPECT_EQ(carry.Take("\xe2\x82"), "");
  EXPECT_EQ(carry.Flush(), "\xe2\x82");
}

TEST(AsciicastTest, ValidEventsPassWithTheirTimes) {
  const std::string data = Event(5, 'o', "x") + Event(5, 'i', "y") + Event(9, 'r', "100x40") +
                           "[10, \"m\", \"end\"]\n";
  auto st = ValidateEvents(data, 5);
  ASSERT_TRUE(st.has_value()) << st.error().ToString();
  EXPECT_EQ(st->count, 4);
  EXPECT_EQ(st->first_us, 5);
  EXPECT_EQ(st->last_us, 10'000'000);
  EXPECT_TRUE(ValidateEvents("", 0).has_value());
}

TEST(AsciicastTest, MalformedEventsAreRefusedNamingTheLine) {
  struct Case {
    std::string data;
    int64_t not_before;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"[1, \"o\", \"x\"]", 0, "event line 1: does not end in a newline"},
      {"[1, \"o\", \"x\"]\nnope\n", 0, "event line 2: is not JSON"},
      {"[1, \"o\"]\n", 0, "event line 1: must be an array [time, code, data]"},
      {"{\"t\":1}\n", 0, "event line 1: must be an array [time, code, data]"},
      {"[\"1\", \"o\", \"x\"]\n", 0, "event line 1: must be [number, string, string]"},
      {"[1, \"o\", 3]\n", 0, "event line 1: must be [number, string, string]"},
      {"[-1, \"o\", \"x\"]\n", 0, "event line 1: time must be a non-negative number"},
      {"[1, \"x\", \"x\"]\n", 0, "event line 1: code must be \"o\", \"i\", \"r\" or \"m\""},
      {"[1, \"r\", \"80by24\"]\n", 0, "event line 1: a resize must be \"COLSxROWS\""},
      {"[2, \"o\", \"a\"]\n[1, \"o\", \"b\"]\n", 0,
       "event line 2: time 1.000000 goes back (previous 2.000000)"},
      {"[1, \"o\", \"a\"]\n", 1'000'001, "event line 1: time 1.000000 goes back (previous 1.000001)"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.data);
    auto st = ValidateEvents(c.data, c.not_before);
    ASSERT_FALSE(st.has_value());
    EXPECT_EQ(st.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(st.error().field(), "data");
    EXPECT_EQ(st.error().message(), c.message);
  }
}

// Damaged input is refused or, when it still reads as events, reads the same way every time:
// a cut inside a line is refused, a cut at a line end keeps exactly the lines before it, and
// whatever a bit flip leaves acceptable survives parse -> encode -> parse unchanged.
TEST(AsciicastTest, TruncatedAndFlippedEventsAreRefusedOrParseStably) {
  std::mt19937 rng(11);
  const std::vector<std::string> lines = {Event(1, 'o', "hello \x1b[1mworld\r\n"),
                                          Event(2, 'i', "ls\r"), Event(3, 'r', "80x24")};
  std::string good;
  std::vector<size_t> line_ends;
  for (const auto& l : lines) {
    good += l;
    line_ends.push_back(good.size());
  }
  for (size_t cut = 0; cut < good.size(); ++cut) {
    auto stats = ValidateEvents(good.substr(0, cut), 0);
    const auto whole = std::find(line_ends.begin(), line_ends.end(), cut);
    if (cut == 0 || whole != line_ends.end()) {
      ASSERT_TRUE(stats.has_value()) << cut << ": " << stats.error().ToString();
      EXPECT_EQ(stats->count, cut == 0 ? 0 : whole - line_ends.begin() + 1) << cut;
    } else {
      EXPECT_FALSE(stats.has_value()) << "a cut inside a line at " << cut << " was accepted";
    }
  }
  int accepted = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string s = good;
    s[rng() % s.size()] ^= static_cast<char>(1 << (rng() % 8));
    auto stats = ValidateEvents(s, 0);
    auto events = ParseEvents(s, 0);
    ASSERT_EQ(stats.has_value(), events.has_value()) << s;
    if (!events) {
      EXPECT_FALSE(events.error().message().empty());
      continue;
    }
    ++accepted;
    EXPECT_EQ(stats->count, static_cast<int64_t>(events->size()));
    std::string again;
    for (const auto& e : *events) AppendEvent(again, e.micros, e.code, e.data);
    auto reparsed = ParseEvents(again, 0);
    ASSERT_TRUE(reparsed.has_value()) << again;
    ASSERT_EQ(reparsed->size(), events->size());
    for (size_t i = 0; i < events->size(); ++i) {
      EXPECT_EQ((*reparsed)[i].micros, (*events)[i].micros);
      EXPECT_EQ((*reparsed)[i].code, (*events)[i].code);
      EXPECT_EQ((*reparsed)[i].data, (*events)[i].data);
    }
  }
  // Some flips (inside the text of an event) leave valid events: the stable path was exercised.
  EXPECT_GT(accepted, 0);
}

TEST(AsciicastTest, ACastFileParses) {
  Header h;
  h.timestamp = 1;
  const std::string text = HeaderLine(h) + "\n" + Event(1, 'o', "a") + Event(2, 'o', "b");
  auto cast = ParseCast(text);
  ASSERT_TRUE(cast.has_value()) << cast.error().ToString();
  EXPECT_EQ(cast->header.width, 80);
  ASSERT_EQ(cast->events.size(), 2u);
  EXPECT_EQ(cast->events[1].data, "b");
  EXPECT_FALSE(ParseCast("not a header\n").has_value());
}

}  // namespace
}  // namespace bg::session
