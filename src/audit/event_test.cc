#include "audit/event.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

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

// The canonical form as docs/audit-format.md defines it, built with nlohmann::json: the oracle
// for EncodeLeaf's direct writer of plain events.
std::string ReferenceLeaf(const core::AuditEvent& e, Timestamp t) {
  nlohmann::json details = nlohmann::json::object();
  for (const auto& [k, v] : e.details) details[k] = v;
  nlohmann::json j = {{"v", 1}, {"time", FormatRfc3339(t)}, {"type", e.type},
                      {"actor", e.actor}, {"details", details}};
  if (!e.request.empty()) j["request"] = e.request.value();
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

TEST(LeafEncoding, MatchesTheJsonLibrarysCanonicalFormForAnyStrings) {
  const std::vector<std::string> strings = {
      "", "a", "request.approved", "x y/z~!", "\"", "a\\b", "tab\there", "\x01", "\x7f",
      "zoë", "\xff\xfe", "{\"v\":1}", "0", "~~~~", " ",
  };
  int n = 0;
  for (const std::string& a : strings) {
    for (const std::string& b : strings) {
      core::AuditEvent e;
      e.type = a;
      e.actor = b;
      e.request = RequestId(n % 3 == 0 ? std::string() : b + a);
      if (n % 2 == 0) e.details = {{a, b}, {b + "k", a}};
      const Timestamp t = FromUnixSeconds(1795556623 + n * 86399);
      EXPECT_EQ(EncodeLeaf(e, t), ReferenceLeaf(e, t)) << a << " / " << b;
      ++n;
    }
  }
}

// Every leaf obtained from a seed by deleting one byte, replacing one or inserting one.
std::vector<std::string> Mutations(const std::string& seed, std::string_view bytes) {
  std::vector<std::string> out = {seed};
  for (size_t i = 0; i <= seed.size(); ++i) {
    if (i < seed.size()) out.push_back(seed.substr(0, i) + seed.substr(i + 1));
    for (char c : bytes) {
      if (i < seed.size() && seed[i] != c) {
        std::string replaced = seed;
        replaced[i] = c;
        out.push_back(std::move(replaced));
      }
      out.push_back(seed.substr(0, i) + c + seed.substr(i));
    }
  }
  return out;
}

// Calls check(leaf) for each mutation of each seed: every `step`th one of a seed longer than
// `long_seed` bytes, every one of the others.
template <typename Fn>
void ForEachMutation(const std::vector<std::string>& seeds, std::string_view bytes,
                     size_t long_seed, size_t step, Fn&& check) {
  for (const std::string& seed : seeds) {
    const auto mutations = Mutations(seed, bytes);
    const size_t every = seed.size() > long_seed ? step : 1;
    for (size_t m = 0; m < mutations.size(); m += every) check(mutations[m]);
  }
}

TEST(LeafChecking, GivesParseLeafsVerdictOnCanonicalAndMutatedLeaves) {
  core::AuditEvent plain = Event();
  core::AuditEvent bare;
  bare.type = "";
  bare.actor = "";
  core::AuditEvent unusual = Event();
  unusual.actor = "zoë \"q\" \\ \t";
  unusual.details = {{"", "empty key"}, {"\x7f", "del"}, {"a/b", "\xff"}};
  std::vector<std::string> seeds = {
      EncodeLeaf(plain, kTime),
      EncodeLeaf(bare, FromUnixSeconds(0)),
      EncodeLeaf(unusual, kTime),
      R"({"actor":"a","details":{"b":"1","a":"2"},"time":"2026-11-24T21:43:43Z","type":"t","v":1})",
      R"({"actor":"a","details":{"a":"1","a":"2"},"time":"2026-11-24T21:43:43Z","type":"t","v":1})",
      R"({"actor":"a","details":{},"time":"2026-02-30T00:00:00Z","type":"t","v":1})",
      R"({"actor":"a","details":{},"time":"2026-11-24T21:43:60Z","type":"t","v":1})",
      R"({"actor":"a","details":{},"time":"2026-11-24t21:43:43z","type":"t","v":1})",
      R"({"actor":"a","details":{},"time":"2026-11-24T21:43:43.5Z","type":"t","v":1})",
      R"({"actor":"a","details":{},"request":"","time":"2026-11-24T21:43:43Z","type":"t","v":1})",
  };
  int accepted = 0;
  for (const std::string& seed : seeds) {
    for (const std::string& leaf : Mutations(seed, "\"\\{},:01aZ \x7f\x01\xc3")) {
      auto parsed = ParseLeaf(leaf);
      auto checked = CheckLeaf(leaf);
      ASSERT_EQ(checked.has_value(), parsed.has_value()) << leaf;
      if (!parsed.has_value()) {
        EXPECT_EQ(checked.error().message(), parsed.error().message()) << leaf;
      } else {
        ++accepted;
      }
    }
  }
  EXPECT_GT(accepted, 100);  // the mutations include many canonical leaves, not only refusals
  EXPECT_TRUE(CheckLeaf(EncodeLeaf(plain, kTime)).has_value());
  EXPECT_TRUE(CheckLeaf(EncodeLeaf(unusual, kTime)).has_value());
}

// CheckLeaf finds the strings of a leaf whose bytes are all plain or quotes by a map of its
// quotes, 64 bytes to a word, up to kQuoteMapMaxBytes (longer leaves are scanned byte by byte):
// the same answer as the byte-by-byte scan with strings across word boundaries and at the
// limit, whether the map is built 64 bytes at a time (AVX-512BW, where the CPU has it) or 16,
// and CheckLeaf gives ParseLeaf's verdict at the limit and beyond it.
TEST(LeafChecking, TheMapOfQuotesFindsWhatTheByteScanFinds) {
  constexpr size_t kLimit = internal::kQuoteMapMaxBytes;
  std::vector<std::string> seeds;
  for (size_t n : {0, 1, 15, 16, 17, 30, 31, 32, 33, 47, 63, 64, 65, 100, 127, 128, 129}) {
    core::AuditEvent e = Event();
    e.details["reason"] = std::string(n, 'x');
    seeds.push_back(EncodeLeaf(e, kTime));
  }
  for (size_t size : {kLimit - 1, kLimit, kLimit + 1}) {
    core::AuditEvent e = Event();
    const size_t base = EncodeLeaf(e, kTime).size() - e.details["reason"].size();
    e.details["reason"] = std::string(size - base, 'y');
    seeds.push_back(EncodeLeaf(e, kTime));
    ASSERT_EQ(seeds.back().size(), size);
  }
  int plain = 0, other = 0;
  // Every 7th mutation of the long ones.
  ForEachMutation(seeds, "\"\\:,}{y1\x7f\x01\x80", 200, 7, [&](const std::string& leaf) {
    const bool by_bytes = internal::IsPlainCanonicalLeafByBytes(leaf);
    EXPECT_EQ(IsPlainCanonicalLeaf(leaf), by_bytes) << leaf;
    for (bool wide : {true, false}) {
      if (leaf.size() <= kLimit) {
        EXPECT_EQ(internal::IsPlainCanonicalLeafByQuotes(leaf, wide), by_bytes) << leaf;
      } else {
        EXPECT_FALSE(internal::IsPlainCanonicalLeafByQuotes(leaf, wide)) << leaf;
      }
    }
    (by_bytes ? plain : other)++;
    auto parsed = ParseLeaf(leaf);
    auto checked = CheckLeaf(leaf);
    EXPECT_EQ(checked.has_value(), parsed.has_value()) << leaf;
    if (!parsed.has_value() && !checked.has_value()) {
      EXPECT_EQ(checked.error().message(), parsed.error().message()) << leaf;
    }
  });
  for (const std::string& seed : seeds) {
    EXPECT_TRUE(internal::IsPlainCanonicalLeafByBytes(seed)) << seed;
  }
  EXPECT_GT(plain, 500);
  EXPECT_GT(other, 10000);
}

// Where the CPU has AVX-512 VBMI2, CheckLeaf checks leaves of up to kVectorCheckMaxBytes bytes by
// their skeleton (the leaf with its strings emptied) and the quotes its fixed keys must be at:
// the byte scan's verdict on every mutation of leaves with no detail to the most that fit, with
// and without a request, strings across each 64-byte boundary, keys in and out of order, and
// at the limit.
TEST(LeafChecking, TheVectorCheckGivesTheByteScansVerdict) {
  constexpr size_t kLimit = internal::kVectorCheckMaxBytes;
  if (!internal::IsPlainCanonicalLeafByVectors("{}").has_value()) {
    GTEST_SKIP() << "this CPU has no AVX-512 VBMI2: CheckLeaf does not take the vector path here";
  }
  std::vector<std::string> seeds;
  for (bool with_request : {false, true}) {
    for (size_t d = 0; d <= 40; ++d) {
      core::AuditEvent e = Event();
      if (!with_request) e.request = RequestId("");
      e.details.clear();
      for (size_t k = 0; k < d; ++k) e.details[fmt::format("k{:02d}", k)] = "";
      std::string leaf = EncodeLeaf(e, kTime);
      if (leaf.size() > kLimit) break;
      seeds.push_back(std::move(leaf));
    }
  }
  for (size_t n = 0; n <= kLimit; n += 1) {  // every size up to the limit, by the reason's length
    core::AuditEvent e = Event();
    const size_t base = EncodeLeaf(e, kTime).size() - e.details["reason"].size();
    if (n < base) continue;
    e.details["reason"] = std::string(n - base, 'x');
    seeds.push_back(EncodeLeaf(e, kTime));
    ASSERT_EQ(seeds.back().size(), n);
  }
  // Edge cases: empty strings, keys sharing a prefix, out of order and repeated, an empty
  // request, keys misplaced or misspelt, a day that does not exist.
  const char* const kOdd[] = {
      R"({"actor":"","details":{"":""},"time":"2026-11-24T21:43:43Z","type":"","v":1})",
      R"({"actor":"a","details":{"a":"1","ab":"2","b":""},"request":"r","time":"2024-02-29T23:59:59Z","type":"t","v":1})",
      R"({"actor":"a","details":{"ab":"1","a":"2"},"request":"r","time":"2026-11-24T21:43:43Z","type":"t","v":1})",
      R"({"actor":"a","details":{"a":"1","a":"2"},"request":"r","time":"2026-11-24T21:43:43Z","type":"t","v":1})",
      R"({"actor":"a","details":{},"request":"","time":"2026-11-24T21:43:43Z","type":"t","v":1})",
      R"({"actor":"a","details":{"request":"r"},"time":"2026-11-24T21:43:43Z","type":"t","v":1})",
      R"({"actor":"a","details":{},"requesx":"r","time":"2026-11-24T21:43:43Z","type":"t","v":1})",
      R"({"actor":"a","details":{},"time":"2026-11-24T21:43:43Z","request":"r","type":"t","v":1})",
      R"({"actor":"a","details":{},"time":"2025-02-29T21:43:43Z","type":"t","v":1})",
  };
  seeds.insert(seeds.end(), std::begin(kOdd), std::end(kOdd));
  int plain = 0, other = 0;
  // Every 5th mutation of the long ones.
  ForEachMutation(seeds, "\"\\:,}{x1\x7f\x01\x80", 120, 5, [&](const std::string& leaf) {
    if (leaf.size() > kLimit) {
      EXPECT_FALSE(internal::IsPlainCanonicalLeafByVectors(leaf).has_value());
      return;
    }
    const bool by_bytes = internal::IsPlainCanonicalLeafByBytes(leaf);
    EXPECT_EQ(internal::IsPlainCanonicalLeafByVectors(leaf), std::optional<bool>(by_bytes)) << leaf;
    EXPECT_EQ(IsPlainCanonicalLeaf(leaf), by_bytes) << leaf;
    (by_bytes ? plain : other)++;
  });
  EXPECT_GT(plain, 1000);
  EXPECT_GT(other, 100000);
}

// ParseLeaf's verdict and event computed the slow way: the JSON library, then the canonical
// re-encoding compared with the bytes.
std::optional<LeafEvent> ReferenceParse(const std::string& leaf) {
  auto j = nlohmann::json::parse(leaf, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  for (const auto& [key, value] : j.items()) {
    if (key != "v" && key != "time" && key != "type" && key != "actor" && key != "request" &&
        key != "details") {
      return std::nullopt;
    }
  }
  auto str = [&j](const char* k) -> std::optional<std::string> {
    if (!j.contains(k) || !j[k].is_string()) return std::nullopt;
    return j[k].get<std::string>();
  };
  if (!j.contains("v") || !j["v"].is_number_unsigned() || j["v"].get<uint64_t>() != 1) {
    return std::nullopt;
  }
  auto time = str("time");
  auto type = str("type");
  auto actor = str("actor");
  if (!time || !type || !actor || !j.contains("details") || !j["details"].is_object()) {
    return std::nullopt;
  }
  auto t = ParseRfc3339(*time);
  if (!t) return std::nullopt;
  LeafEvent e;
  e.time = *t;
  e.type = *type;
  e.actor = *actor;
  if (j.contains("request")) {
    auto r = str("request");
    if (!r) return std::nullopt;
    e.request = RequestId(*r);
  }
  for (const auto& [key, value] : j["details"].items()) {
    if (!value.is_string()) return std::nullopt;
    e.details.emplace(key, value.get<std::string>());
  }
  if (EncodeLeaf(e) != leaf) return std::nullopt;
  return e;
}

// ParseLeaf reads the common form in one scan: it must accept exactly what the JSON path does,
// and read the same event from it.
TEST(LeafParsing, TheOneScanReadsWhatTheJsonLibraryReads) {
  core::AuditEvent plain = Event();
  core::AuditEvent unusual = Event();
  unusual.actor = "zo\xc3\xab \"q\"";
  std::vector<std::string> seeds = {
      EncodeLeaf(plain, kTime),
      EncodeLeaf(unusual, kTime),
      R"({"actor":"a","details":{},"time":"2026-11-24T21:43:43Z","type":"t","v":1})",
      R"({"actor":"a","details":{"k":"v"},"request":"r","time":"2026-11-24T21:43:43Z","type":"t","v":1})",
  };
  int accepted = 0;
  for (const std::string& seed : seeds) {
    for (const std::string& leaf : Mutations(seed, "\"\\{},:01aZ \x7f\x01\xc3")) {
      auto parsed = ParseLeaf(leaf);
      auto reference = ReferenceParse(leaf);
      ASSERT_EQ(parsed.has_value(), reference.has_value()) << leaf;
      if (parsed.has_value()) {
        EXPECT_EQ(*parsed, *reference) << leaf;
        ++accepted;
      }
    }
  }
  EXPECT_GT(accepted, 50);
}

// The one scan takes a leaf's time only in the form FormatRfc3339 writes back unchanged, a real
// date: 29 February of every year, every day of four centuries' Februaries and month ends (leap
// years by the Gregorian rule), days 00 and 32, hours, minutes and seconds at and past their
// limits, and the shape's every byte changed, against the JSON library and the re-encoding.
TEST(LeafChecking, TheOneScanTakesExactlyTheTimesThatRoundTrip) {
  auto leaf_at = [](std::string_view time) {
    return std::string(R"({"actor":"a","details":{},"time":")") + std::string(time) +
           R"(","type":"t","v":1})";
  };
  std::vector<std::string> times;
  for (int year : {0, 1, 4, 100, 1600, 1700, 1899, 1900, 1970, 1999, 2000, 2024, 2025, 2026, 2100,
                   2400, 9999}) {
    for (int month = 0; month <= 13; ++month) {
      for (int day : {0, 1, 28, 29, 30, 31, 32}) {
        times.push_back(fmt::format("{:04d}-{:02d}-{:02d}T12:34:56Z", year, month, day));
      }
    }
  }
  for (int year = 0; year <= 9999; ++year) {  // 29 February of every year the form can write
    times.push_back(fmt::format("{:04d}-02-29T00:00:00Z", year));
  }
  for (const char* hms : {"00:00:00", "23:59:59", "24:00:00", "23:60:00", "23:59:60", "19:99:09",
                          "9:00:000", "ab:cd:ef"}) {
    times.push_back(std::string("2026-11-24T") + hms + "Z");
  }
  const std::string base = "2026-11-24T21:43:43Z";
  for (size_t i = 0; i < base.size(); ++i) {
    for (char c : std::string_view("09/:-TZtz \x7f\xb0\0", 13)) {
      std::string t = base;
      t[i] = c;
      times.push_back(t);
    }
  }
  times.push_back(base.substr(1));
  times.push_back(base + "Z");
  int plain = 0;
  for (const std::string& t : times) {
    const std::string leaf = leaf_at(t);
    const bool reference = ReferenceParse(leaf).has_value();
    EXPECT_EQ(IsPlainCanonicalLeaf(leaf), reference) << t;
    EXPECT_EQ(CheckLeaf(leaf).has_value(), reference) << t;
    plain += reference ? 1 : 0;
  }
  EXPECT_GT(plain, 500);
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
