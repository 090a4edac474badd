#include "connectors/webhook/webhook_connector.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "connectors/common/test_env.h"

namespace bg::connectors {
namespace {

using testing::Plugin;
using testing::TestEnv;

TEST(WebhookSignatureTest, IsHmacSha256OverTimestampDotBody) {
  // python3: hmac.new(b'topsecret', b'1800000000.{"action":"probe"}', 'sha256').hexdigest()
  EXPECT_EQ(WebhookSignature("topsecret", "1800000000", R"({"action":"probe"})"),
            "sha256=73941b20942101ae24745decd03dbb7f3e84b785f703e4c06e1d66d3806a3004");
}

TEST(WebhookConnectorTest, OptionsAreChecked) {
  TestEnv env;
  std::string secret = env.dir() + "/hook.secret";
  std::ofstream(secret) << "topsecret\n";
  chmod(secret.c_str(), 0600);
  struct Case {
    std::string options, field;
  } cases[] = {
      {R"({"secret_file":"hook.secret"})", "connectors.hook.url"},
      {R"({"url":"http://example.com/x","secret_file":"hook.secret"})", "connectors.hook.url"},
      {R"({"url":"https://example.com/x"})", "connectors.hook.secret_file"},
      {R"({"url":"https://example.com/x","secret_file":"nope"})", "connectors.hook.secret_file"},
      {R"({"url":"https://example.com/x","secret_file":"hook.secret","timeout":"0s"})",
       "connectors.hook.timeout"},
  };
  for (const auto& c : cases) {
    auto r = WebhookConnector::Create(Plugin("hook", "webhook", c.options), env.context("hook"));
    ASSERT_FALSE(r) << c.options;
    EXPECT_EQ(r.error().field(), c.field) << c.options << ": " << r.error().ToString();
  }
  EXPECT_TRUE(WebhookConnector::Create(
      Plugin("hook", "webhook", R"({"url":"http://127.0.0.1:9/x","secret_file":"hook.secret"})"),
      env.context("hook")));
}

}  // namespace
}  // namespace bg::connectors
