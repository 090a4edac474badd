#include "ssh/ssh_wire.h"

#include <gtest/gtest.h>

#include "util/encoding.h"

namespace bg::ssh {
namespace {

std::string Hex(std::string_view s) { return HexEncode(s); }

TEST(WireWriterTest, EncodesIntegersBigEndian) {
  WireWriter w;
  w.U8(0xab);
  w.Bool(true);
  w.U32(0x01020304);
  w.U64(0x0102030405060708ULL);
  EXPECT_EQ(Hex(w.data()), "ab01010203040102030405060708");
}

TEST(WireWriterTest, EncodesStringsAndNameLists) {
  WireWriter w;
  w.String("testing");
  w.String("");
  w.NameList({"zlib", "none"});
  w.NameList({});
  EXPECT_EQ(Hex(w.data()),
            "0000000774657374696e67"
            "00000000"
            "000000097a6c69622c6e6f6e65"
            "00000000");
}

// The examples of RFC 4251 section 5 for non-negative values.
TEST(WireWriterTest, MpintMatchesRfc4251Examples) {
  struct Case {
    std::string magnitude_hex;
    std::string wire_hex;
  };
  const Case cases[] = {
      {"", "00000000"},
      {"00", "00000000"},
      {"0000", "00000000"},
      {"09a378f9b2e332a7", "0000000809a378f9b2e332a7"},
      {"0009a378f9b2e332a7", "0000000809a378f9b2e332a7"},
      {"80", "000000020080"},
      {"7f", "000000017f"},
      {"ff01", "0000000300ff01"},
  };
  for (const Case& c : cases) {
    WireWriter w;
    w.MpintFromUnsigned(*HexDecode(c.magnitude_hex));
    EXPECT_EQ(Hex(w.data()), c.wire_hex) << c.magnitude_hex;
  }
}

TEST(WireReaderTest, RoundTripsEveryType) {
  WireWriter w;
  w.U8(7);
  w.Bool(false);
  w.U32(0xdeadbeef);
  w.U64(UINT64_MAX);
  w.String(std::string("a\0b", 3));
  w.NameList({"a", "bc"});
  w.MpintFromUnsigned("\x80\x01");
  w.Raw("xyz");

  WireReader r(w.data());
  EXPECT_EQ(*r.U8("u8"), 7);
  EXPECT_FALSE(*r.Bool("bool"));
  EXPECT_EQ(*r.U32("u32"), 0xdeadbeef);
  EXPECT_EQ(*r.U64("u64"), UINT64_MAX);
  EXPECT_EQ(*r.String("string"), std::string("a\0b", 3));
  EXPECT_EQ(*r.NameList("names"), (std::vector<std::string>{"a", "bc"}));
  EXPECT_EQ(Hex(*r.PositiveMpint("mpint")), "008001");
  EXPECT_EQ(*r.Raw(3, "raw"), "xyz");
  EXPECT_TRUE(r.empty());
  EXPECT_TRUE(r.ExpectEnd().has_value());
}

TEST(WireReaderTest, EveryTruncationIsAnErrorNamingTheField) {
  WireWriter w;
  w.U32(1);
  w.U64(2);
  w.String("hello");
  w.U8(3);
  const std::string full = w.data();
  for (size_t n = 0; n < full.size(); ++n) {
    WireReader r(std::string_view(full).substr(0, n), "thing");
    auto a = r.U32("a");
    auto b = a ? r.U64("b") : Result<uint64_t>(a.error());
    auto c = b ? r.String("c") : Result<std::string_view>(b.error());
    auto d = c ? r.U8("d") : Result<uint8_t>(c.error());
    ASSERT_FALSE(d.has_value()) << n;
    EXPECT_EQ(d.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(d.error().message().find("thing"), std::string::npos) << d.error().message();
  }
}

TEST(WireReaderTest, StringLongerThanTheInputIsRefused) {
  const std::string data = *HexDecode("ffffffff6162");
  WireReader r(data);
  auto s = r.String("s");
  ASSERT_FALSE(s.has_value());
  EXPECT_NE(s.error().message().find("claims 4294967295 bytes but only 2 remain"),
            std::string::npos)
      << s.error().message();
  EXPECT_EQ(r.remaining(), data.size());  // nothing consumed on failure
}

TEST(WireReaderTest, RefusesMalformedValues) {
  struct Case {
    std::string name;
    std::string hex;
    std::function<bool(WireReader&)> read_ok;
  };
  const Case cases[] = {
      {"BoolOtherThanZeroOrOne", "02", [](WireReader& r) { return r.Bool("b").has_value(); }},
      {"NegativeMpint", "0000000180",
       [](WireReader& r) { return r.PositiveMpint("m").has_value(); }},
      {"MpintWithSuperfluousZero", "000000020001",
       [](WireReader& r) { return r.PositiveMpint("m").has_value(); }},
      {"MpintZeroWrittenAsByte", "0000000100",
       [](WireReader& r) { return r.PositiveMpint("m").has_value(); }},
      {"NameListEmptyName", "00000003612c2c",
       [](WireReader& r) { return r.NameList("n").has_value(); }},
      {"NameListTrailingComma", "00000002612c",
       [](WireReader& r) { return r.NameList("n").has_value(); }},
      {"RawPastEnd", "0102", [](WireReader& r) { return r.Raw(3, "raw").has_value(); }},
  };
  for (const Case& c : cases) {
    const std::string data = *HexDecode(c.hex);
    WireReader r(data);
    EXPECT_FALSE(c.read_ok(r)) << c.name;
  }
}

TEST(WireReaderTest, ExpectEndReportsTrailingBytes) {
  WireReader r("ab", "blob");
  ASSERT_TRUE(r.U8("x").has_value());
  Status s = r.ExpectEnd();
  ASSERT_FALSE(s.has_value());
  EXPECT_NE(s.error().message().find("1 unexpected trailing bytes"), std::string::npos);
}

TEST(WireReaderTest, ConsumedIsThePrefixRead) {
  WireWriter w;
  w.String("signed");
  w.String("sig");
  WireReader r(w.data());
  ASSERT_TRUE(r.String("a").has_value());
  EXPECT_EQ(r.consumed(), std::string_view(w.data()).substr(0, 10));
  EXPECT_EQ(r.rest().size(), 7u);
}

TEST(WireWriterTest, WipeClears) {
  WireWriter w;
  w.String("secret");
  w.Wipe();
  EXPECT_EQ(w.size(), 0u);
}

}  // namespace
}  // namespace bg::ssh
