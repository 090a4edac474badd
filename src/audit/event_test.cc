#include "audit/event.h"

#include <gtest/gtest.h>

#include <string>

#include "util/encoding.h"
#include "util/sha256.h"

namespace bg::audit {
namespace {

const Timestamp kTime = FromUnixSeconds(1795556623);  // 2026-11-24T21:43:43Z

core::AuditEvent Event() {
  core::AuditEvent e;
  e.type = "request.approved";
  e.actor = "bob";
  e.request = RequestId("req_abc");
  e.details = {{"reason", "db down"}, {"approvals", "1/2"}, {"Ticket", "INC-1"}};
  return e;
}

TEST(LeafEncoding, IsSortedCompactJson) {
  EXPECT_EQ(EncodeLeaf(Event(), kTime),
            R"({"actor":"bob","details":{"Ticket":"INC-1","approvals":"1/2","reason":"db down"},)"
            R"("request":"req_abc","time":"2026-11-24T21:43:43Z","type":"request.approved","v":1})");
}

TEST(LeafEncoding, RequestIsAbsentWhenTheEventHasNone) {
  core::AuditEvent e;
  e.type = "server.start";
  e.actor = "system";
  EXPECT_EQ(EncodeLeaf(e, kTime),
            R"({"actor":"system","details":{},"time":"2026-11-24T21:43:43Z","type":"server.start","v":1})");
}

// The escape rules docs/audit-format.md promises; these pin nlohmann::json's behaviour.
TEST(LeafEncoding, EscapesOnlyWhatJsonRequires) {
  struct Case {
    std::string in;
    std::string out;
  };
  const Case cases[] = {
      {"plain", "plain"},
      {"quote \" backslash \\", R"(quote \" backslash \\)"},
      {"slash / stays", "slash / stays"},
      {"\n\r\t\b\f", R"(\n\r\t\b\f)"},
      {std::string("nul \0 unit \x1f", 12), R"(nul \u0000 unit \u001f)"},
      {"del \x7f stays", "del \x7f stays"},
      {"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x94\x91", "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x94\x91"},
      {"bad \xff byte", "bad \xEF\xBF\xBD byte"},  // invalid UTF-8 -> U+FFFD
  };
  for (const Case& c : cases) {
    core::AuditEvent e;
    e.type = "t";
    e.actor = "a";
    e.details = {{"k", c.in}};
    const std::string want =
        R"({"actor":"a","details":{"k":")" + c.out + R"("},"time":"2026-11-24T21:43:43Z","type":"t","v":1})";
    EXPECT_EQ(EncodeLeaf(e, kTime), want) << c.out;
  }
}

TEST(LeafEncoding, KeysSortByteWise) {
  core::AuditEvent e;
  e.type = "t";
  e.actor = "a";
  e.details = {{"b", "1"}, {"B", "2"}, {"\xC3\xA9", "3"}, {"a_b", "4"}, {"a", "5"}};
  EXPECT_EQ(EncodeLeaf(e, kTime),
            "{\"actor\":\"a\",\"details\":{\"B\":\"2\",\"a\":\"5\",\"a_b\":\"4\",\"b\":\"1\","
            "\"\xC3\xA9\":\"3\"},\"time\":\"2026-11-24T21:43:43Z\",\"type\":\"t\",\"v\":1}");
}

TEST(LeafParsing, RoundTrips) {
  auto parsed = ParseLeaf(EncodeLeaf(Event(), kTime));
  ASSERT_TRUE(parsed.has_value()) << parsed.error().ToString();
  EXPECT_EQ(parsed->time, kTime);
  EXPECT_EQ(parsed->type, "request.approved");
  EXPECT_EQ(parsed->actor, "bob");
  ASSERT_TRUE(parsed->request.has_value());
  EXPECT_EQ(parsed->request->value(), "req_abc");
  EXPECT_EQ(parsed->details, Event().details);
  EXPECT_EQ(EncodeLeaf(*parsed), EncodeLeaf(Event(), kTime));

  core::AuditEvent no_request = Event();
  no_request.request = RequestId();
  EXPECT_FALSE(ParseLeaf(EncodeLeaf(no_request, kTime))->request.has_value());
}

TEST(LeafParsing, RefusesAnythingButTheCanonicalForm) {
  const std::string good = EncodeLeaf(Event(), kTime);
  const char* const refused[] = {
      "",
      "[]",
      "not json",
      R"({"actor":"a","details":{},"time":"2026-11-24T21:43:43Z","type":"t"})",  // no v
      R"({"actor":"a","details":{},"time":"2026-11-24T21:43:43Z","type":"t","v":2})",
      R"({"actor":"a","details":{},"time":"2026-11-24T21:43:43Z","type":"t","v":1.0})",
      R"({"actor":"a","details":{},"time":"2026-11-24T21:43:43Z","type":"t","v":"1"})",
      R"({"actor":"a","details":{},"extra":1,"time":"2026-11-24T21:43:43Z","type":"t","v":1})",
      R"({"actor":1,"details":{},"time":"2026-11-24T21:43:43Z","type":"t","v":1})",
      R"({"actor":"a","details":{"n":1},"time":"2026-11-24T21:43:43Z","type":"t","v":1})",
      R"({"actor":"a","details":[],"time":"2026-11-24T21:43:43Z","type":"t","v":1})",
      R"({"actor":"a","details":{},"time":"yesterday","type":"t","v":1})",
      R"({"actor":"a","details":{},"time":"2026-11-24T22:43:43+01:00","type":"t","v":1})",
      R"({"actor":"a","details":{},"request":"","time":"2026-11-24T21:43:43Z","type":"t","v":1})",
      R"({"details":{},"actor":"a","time":"2026-11-24T21:43:43Z","type":"t","v":1})",  // order
      R"({"actor":"a", "details":{},"time":"2026-11-24T21:43:43Z","type":"t","v":1})",  // space
      R"({"actor":"a","actor":"b","details":{},"time":"2026-11-24T21:43:43Z","type":"t","v":1})",
      R"({"actor":"\u0061","details":{},"time":"2026-11-24T21:43:43Z","type":"t","v":1})",
      "{\"actor\":\"\xff\",\"details\":{},\"time\":\"2026-11-24T21:43:43Z\",\"type\":\"t\",\"v\":1}",
  };
  for (const char* leaf : refused) {
    auto got = ParseLeaf(leaf);
    EXPECT_FALSE(got.has_value()) << leaf;
    if (!got.has_value()) {
      EXPECT_EQ(got.error().field(), "leaf") << leaf;
    }
  }
  EXPECT_FALSE(ParseLeaf(good + "\n").has_value());
  EXPECT_FALSE(ParseLeaf(good.substr(0, good.size() - 1)).has_value());
}

TEST(Redaction, HmacFieldIsMatchableButNotTheValue) {
  const Secret key(std::string_view("audit-key-0123456789abcdef012345"));
  const std::string token = "bgt_s3cr3t";
  const std::string field = HmacField(key, token);
  EXPECT_EQ(field, "hmac-sha256:" + Base64Encode(AsBytes(HmacSha256(key.Reveal(), token))));
  EXPECT_EQ(field, HmacField(key, token));
  EXPECT_NE(field, HmacField(key, token + "x"));
  EXPECT_NE(field, HmacField(Secret(std::string_view("another key")), token));
  EXPECT_EQ(field.find(token), std::string::npos);
}

TEST(Redaction, MatchesRfc4231TestCase2) {
  // RFC 4231 4.3: key "Jefe", data "what do ya want for nothing?".
  const std::string want = HexDecode(
      "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843").value();
  EXPECT_EQ(HmacField(Secret(std::string_view("Jefe")), "what do ya want for nothing?"),
            "hmac-sha256:" + Base64Encode(want));
}

}  // namespace
}  // namespace bg::audit
