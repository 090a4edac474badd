#include "log/json_log.h"

#include <gtest/gtest.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/ostream_sink.h>

#include <nlohmann/json.hpp>
#include <sstream>

namespace bg::log {
namespace {

using nlohmann::json;

class JsonLogTest : public ::testing::Test {
 protected:
  JsonLogTest() : sink_(std::make_shared<spdlog::sinks::ostream_sink_st>(out_)),
                  logger_("test", sink_) {
    logger_.set_formatter(std::make_unique<JsonFormatter>());
    logger_.set_level(spdlog::level::debug);
  }
  // Logs `text` and returns the one line written, parsed.
  json Line(std::string_view text, spdlog::level::level_enum level = spdlog::level::info) {
    out_.str("");
    logger_.log(level, "{}", text);
    const std::string line = out_.str();
    last_ = line;
    EXPECT_EQ(line.back(), '\n');
    EXPECT_EQ(line.find('\n'), line.size() - 1) << "one line: " << line;
    json j = json::parse(line, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << line;
    return j;
  }
  std::ostringstream out_;
  std::string last_;
  std::shared_ptr<spdlog::sinks::ostream_sink_st> sink_;
  spdlog::logger logger_;
};

// Every line has exactly this shape: ts, level, event first, then the event's fields.
void ExpectShape(const std::string& raw, const json& j) {
  ASSERT_TRUE(j.is_object()) << raw;
  ASSERT_GE(j.size(), 3u) << raw;
  EXPECT_EQ(raw.rfind(R"({"ts":")", 0), 0u) << raw;
  EXPECT_NE(raw.find(R"(","level":")"), std::string::npos) << raw;
  EXPECT_TRUE(j.at("ts").is_string()) << raw;
  EXPECT_TRUE(j.at("level").is_string()) << raw;
  EXPECT_TRUE(j.at("event").is_string()) << raw;
  EXPECT_FALSE(j.contains("msg")) << raw;
}

TEST_F(JsonLogTest, AnEventsFieldsFollowTsLevelAndEvent) {
  const json j = Line(R"({"event":"server.listening","address":"127.0.0.1:8443","tls":true})");
  ExpectShape(last_, j);
  EXPECT_EQ(j.at("level"), "info");
  EXPECT_EQ(j.at("event"), "server.listening");
  EXPECT_EQ(j.at("tls"), true);
  EXPECT_EQ(j.at("address"), "127.0.0.1:8443");
  const std::string ts = j.at("ts");
  ASSERT_EQ(ts.size(), 27u) << ts;  // 2026-11-25T00:51:28.293269Z
  EXPECT_EQ(ts[10], 'T');
  EXPECT_EQ(ts.back(), 'Z');
  EXPECT_LT(last_.find(R"("event")"), last_.find(R"("address")")) << "event before the fields";
}

TEST_F(JsonLogTest, AMultiLineObjectBecomesOneLine) {
  const json j = Line("{\n  \"event\": \"x\",\n  \"n\": 1\n}");
  ExpectShape(last_, j);
  EXPECT_EQ(j.at("event"), "x");
  EXPECT_EQ(j.at("n"), 1);
}

// Issue 13.10: "msg" was a string for these and an object for the others.
TEST_F(JsonLogTest, AnythingElseBecomesALogMessageEventWithTheTextAsAField) {
  const std::vector<std::string> texts = {
      "writer: commit of 3 operations failed: disk full",
      R"({{"event":"server.stopping"}})",                       // doubled braces
      R"({"event":"auth.login","user":"ev"il","source":"x"})",  // unescaped quote
      "two\nlines\r\n",
      std::string("nul\0byte", 8),
      "bad utf-8 \xc0\xaf here",
      "[1,2,3]",
      "",
  };
  for (const std::string& t : texts) {
    const json j = Line(t, spdlog::level::warn);
    ExpectShape(last_, j);
    EXPECT_EQ(j.at("level"), "warning");
    EXPECT_EQ(j.at("event"), "log.message");
    ASSERT_TRUE(j.at("message").is_string()) << t;
    if (t.find('\xc0') == std::string::npos) {
      EXPECT_EQ(j.at("message").get<std::string>(), t);
    }
  }
}

TEST_F(JsonLogTest, AnInjectedFieldCannotEscapeTheLine) {
  // A user name that tries to close the object and add its own level.
  const json j = Line(R"({"event":"auth.login","user":"x"},"level":"debug","y":{"z":1})");
  ExpectShape(last_, j);
  EXPECT_EQ(j.at("level"), "info");
  EXPECT_EQ(j.at("event"), "log.message");
  // An object that names the line's own keys keeps them as fields.
  const json k = Line(R"({"event":"e","ts":"forged","level":"debug"})");
  ExpectShape(last_, k);
  EXPECT_EQ(k.at("level"), "info");
  EXPECT_EQ(k.at("field_level"), "debug");
  EXPECT_EQ(k.at("field_ts"), "forged");
  // An object without a string "event".
  const json o = Line(R"({"event":7,"n":1})");
  ExpectShape(last_, o);
  EXPECT_EQ(o.at("event"), "log.message");
  EXPECT_EQ(o.at("field_event"), 7);
}

TEST_F(JsonLogTest, WriteLogsAnEventWithItsFieldsEscaped) {
  auto previous = spdlog::default_logger();
  auto logger = std::make_shared<spdlog::logger>("write", sink_);
  logger->set_formatter(std::make_unique<JsonFormatter>());
  logger->set_level(spdlog::level::debug);
  spdlog::set_default_logger(logger);
  out_.str("");
  Warn("auth.login", {{"user", "ev\"il\n"}, {"bytes", "\xc0"}, {"n", 3}});
  spdlog::set_default_logger(previous);
  const std::string line = out_.str();
  last_ = line;
  const json j = json::parse(line, nullptr, false);
  ExpectShape(line, j);
  EXPECT_EQ(j.at("event"), "auth.login");
  EXPECT_EQ(j.at("level"), "warning");
  EXPECT_EQ(j.at("user"), "ev\"il\n");
  EXPECT_EQ(j.at("bytes"), "\xef\xbf\xbd");
  EXPECT_EQ(j.at("n"), 3);
}

}  // namespace
}  // namespace bg::log
