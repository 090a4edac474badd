// The message formats: the webhook's body and signature, Slack's escaping, when PagerDuty is
// paged, and that a mail's headers cannot be extended by what a requester typed.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "notify/http_sinks.h"
#include "notify/smtp_sink.h"

namespace bg::notify {
namespace {

using nlohmann::json;

Message Sample() {
  Message m;
  m.event = "request.created";
  m.id = "breakglass/test/7";
  m.at = "2026-12-03T22:00:00Z";
  m.request_json = R"({"id":"req_1","requester":"alice","state":"pending"})";
  m.url = "https://bg.example/requests/req_1";
  m.title = "alice asks for read_only on prod-db <script> & co";
  m.text = "Reason: db down\nTicket: INC-1";
  m.request_id = "req_1";
  return m;
}

TEST(MessageSinksTest, TheWebhookBodyHasTheContractsKeysAndTheSignatureIsHmacOfTimeDotBody) {
  const json body = json::parse(WebhookBody(Sample()));
  EXPECT_EQ(body["event"], "request.created");
  EXPECT_EQ(body["id"], "breakglass/test/7");
  EXPECT_EQ(body["at"], "2026-12-03T22:00:00Z");
  EXPECT_EQ(body["request"]["requester"], "alice");
  EXPECT_EQ(body["url"], "https://bg.example/requests/req_1");
  Message none = Sample();
  none.request_json.clear();
  EXPECT_TRUE(json::parse(WebhookBody(none))["request"].is_null());
  // Python: hmac.new(b"whsec-test", b'1700000000.{"a":1}', hashlib.sha256).hexdigest()
  EXPECT_EQ(WebhookSignature(Secret("whsec-test"), 1700000000, R"({"a":1})"),
            "t=1700000000,v1=fed7a1a6c799a6367d73724d76bc70c16678908a32a879cd1ded6565ac05cece");
}

TEST(MessageSinksTest, SlackTextIsEscapedAndLinksToThePage) {
  const json body = json::parse(SlackBody(Sample()));
  const std::string text = body["text"];
  EXPECT_NE(text.find("&lt;script&gt; &amp; co"), std::string::npos) << text;
  EXPECT_EQ(text.find("<script>"), std::string::npos) << text;
  EXPECT_NE(text.find("<https://bg.example/requests/req_1|Open in breakglass>"), std::string::npos);
  EXPECT_EQ(body["blocks"][0]["text"]["type"], "mrkdwn");
}

TEST(MessageSinksTest, PagerDutyIsPagedForEmergencyAccessAndCriticalAlertsOnly) {
  const Secret key("R0UTINGKEY");
  Message m = Sample();
  EXPECT_FALSE(PagerDutyEvent(m, key));  // a new request: not for a pager
  m.event = "request.active";
  EXPECT_FALSE(PagerDutyEvent(m, key));  // an ordinary activation
  m.emergency = true;
  auto trigger = PagerDutyEvent(m, key);
  ASSERT_TRUE(trigger);
  const json t = json::parse(*trigger);
  EXPECT_EQ(t["event_action"], "trigger");
  EXPECT_EQ(t["routing_key"], "R0UTINGKEY");
  EXPECT_EQ(t["dedup_key"], "breakglass/req_1");
  EXPECT_EQ(t["payload"]["source"], "breakglass");
  EXPECT_EQ(t["links"][0]["href"], m.url);
  m.event = "grant.expired";
  const json r = json::parse(*PagerDutyEvent(m, key));
  EXPECT_EQ(r["event_action"], "resolve");
  EXPECT_EQ(r["dedup_key"], "breakglass/req_1");  // the same incident
  EXPECT_FALSE(r.contains("payload"));
  Message alert;
  alert.event = "alert.raised";
  alert.id = "o/9";
  alert.severity = "warning";
  EXPECT_FALSE(PagerDutyEvent(alert, key));
  alert.severity = "critical";
  EXPECT_EQ(json::parse(*PagerDutyEvent(alert, key))["dedup_key"], "breakglass/o/9");
}

TEST(MessageSinksTest, AMailsHeadersCannotBeExtendedByTheRequestersText) {
  Message m = Sample();
  m.title = "innocent\r\nBcc: attacker@evil.example";
  const std::string mail = FormatMail(m, "bg@x.example", {"a@x.example", "b@x.example"},
                                      "Thu, 03 Dec 2026 22:00:00 +0000");
  const std::string headers = mail.substr(0, mail.find("\r\n\r\n"));
  EXPECT_EQ(headers.find("\r\nBcc:"), std::string::npos) << headers;
  EXPECT_NE(headers.find("Subject: [breakglass] innocent  Bcc: attacker@evil.example"),
            std::string::npos)
      << headers;
  EXPECT_NE(headers.find("To: a@x.example, b@x.example"), std::string::npos);
  EXPECT_NE(headers.find("Message-ID: <breakglass.test.7@breakglass>"), std::string::npos);
  EXPECT_NE(mail.find("Open it: https://bg.example/requests/req_1\r\n"), std::string::npos);
  Message utf = Sample();
  utf.title = "Jürgen asks";
  EXPECT_NE(FormatMail(utf, "f@x", {"t@x"}, "d").find("Subject: =?UTF-8?B?"), std::string::npos);
  EXPECT_TRUE(IsMailAddress("ops@example.internal"));
  for (const char* bad : {"", "no-at", "a@b@c", "a b@c", "<a@b>", "a@b\r\n", "@b", "a@"}) {
    EXPECT_FALSE(IsMailAddress(bad)) << bad;
  }
}

TEST(MessageSinksTest, UrlsAreShownWithoutTheirPathOrCredentials) {
  EXPECT_EQ(RedactUrl("https://hooks.slack.example/services/T0/B0/SECRET?x=1"),
            "https://hooks.slack.example");
  EXPECT_EQ(RedactUrl("smtp://user:pw@mail.example:587"), "smtp://mail.example:587");
  EXPECT_EQ(RedactUrl("not a url"), "(url)");
}

}  // namespace
}  // namespace bg::notify
