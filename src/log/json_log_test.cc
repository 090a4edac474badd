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
    EXPECT_EQ(line.back(), '\n');
    EXPECT_EQ(line.find('\n'), line.size() - 1) << "one line: " << line;
    json j = json::parse(line, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << line;
    return j;
  }
  std::ostringstream out_;
  std::shared_ptr<spdlog::sinks::ostream_sink_st> sink_;
  spdlog::logger logger_;
};

TEST_F(JsonLogTest, AnObjectMessageStaysAnObject) {
  const json j = Line(R"({"event":"server.listening","address":"127.0.0.1:8443","tls":true})");
  EXPECT_EQ(j.at("level"), "info");
  EXPECT_EQ(j.at("msg").at("event"), "server.listening");
  EXPECT_EQ(j.at("msg").at("tls"), true);
  const std::string ts = j.at("ts");
  ASSERT_EQ(ts.size(), 27u) << ts;  // 2026-11-25T00:51:28.293269Z
  EXPECT_EQ(ts[10], 'T');
  EXPECT_EQ(ts.back(), 'Z');
}

TEST_F(JsonLogTest, AMultiLineObjectBecomesOneLine) {
  const json j = Line("{\n  \"event\": \"x\",\n  \"n\": 1\n}");
  EXPECT_EQ(j.at("msg"), (json{{"event", "x"}, {"n", 1}}));
}

TEST_F(JsonLogTest, AnythingElseBecomesAnEscapedString) {
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
    EXPECT_EQ(j.at("level"), "warning");
    ASSERT_TRUE(j.at("msg").is_string()) << t;
    if (t.find('\xc0') == std::string::npos) {
      EXPECT_EQ(j.at("msg").get<std::string>(), t);
    }
  }
}

TEST_F(JsonLogTest, AnInjectedFieldCannotEscapeTheMessage) {
  // A user name that tries to close the object and add its own level.
  const json j = Line(R"({"event":"auth.login","user":"x"},"level":"debug","y":{"z":1})");
  EXPECT_EQ(j.at("level"), "info");
  EXPECT_TRUE(j.at("msg").is_string());
}

}  // namespace
}  // namespace bg::log
