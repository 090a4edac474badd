#include "kit/offline_record.h"

#include <gtest/gtest.h>

#include <functional>

#include "test/fakes/fake_random.h"
#include "util/encoding.h"

namespace bg::kit {
namespace {

using nlohmann::json;
using bg::testing::SeededRandom;

OfflineRecord SampleRecord(Random& random) {
  OfflineRecord r;
  r.record_id = NewId("kor", random);
  r.kit_id = "abcdefgh";
  r.kit_label = "prod db root";
  r.who = "alice";
  r.when = FromUnixSeconds(1767225600);
  r.why = "primary down, service unreachable — INC-42";
  r.ticket = "INC-42";
  r.share_indices = {1, 3, 4};
  return r;
}

TEST(OfflineRecordTest, SignedRecordVerifiesAndRoundTripsThroughJson) {
  SeededRandom random("record");
  const SigningKey key = SigningKey::Generate(random);
  OfflineRecord r = SampleRecord(random);
  ASSERT_TRUE(SignOfflineRecord(r, key).has_value());
  EXPECT_EQ(r.public_key, key.public_key_base64());
  EXPECT_TRUE(VerifyOfflineRecord(r).has_value());
  EXPECT_TRUE(VerifyOfflineRecord(r, key.public_key_base64()).has_value());
  auto back = ParseOfflineRecord(OfflineRecordToJson(r).dump(2));
  ASSERT_TRUE(back.has_value()) << back.error().message();
  EXPECT_EQ(OfflineRecordToJson(*back), OfflineRecordToJson(r));
  EXPECT_TRUE(VerifyOfflineRecord(*back).has_value());
}

TEST(OfflineRecordTest, SigningBytesAreTheCanonicalJsonWithoutSignature) {
  SeededRandom random("bytes");
  OfflineRecord r = SampleRecord(random);
  ASSERT_TRUE(SignOfflineRecord(r, SigningKey::Generate(random)).has_value());
  const std::string bytes = OfflineRecordSigningBytes(r);
  ASSERT_EQ(bytes.rfind("breakglass-kit-offline-record/1\n{\"format\":", 0), 0u) << bytes;
  EXPECT_EQ(bytes.find("signature"), std::string::npos);
  EXPECT_NE(bytes.find("\"share_indices\":[1,3,4],\"ticket\":\"INC-42\""), std::string::npos);
}

TEST(OfflineRecordTest, AnyChangeBreaksTheSignature) {
  SeededRandom random("tamper");
  OfflineRecord signed_record = SampleRecord(random);
  ASSERT_TRUE(SignOfflineRecord(signed_record, SigningKey::Generate(random)).has_value());
  const std::vector<std::function<void(OfflineRecord&)>> tampers = {
      [](OfflineRecord& r) { r.who = "mallory"; },
      [](OfflineRecord& r) { r.why = "routine"; },
      [](OfflineRecord& r) { r.ticket = ""; },
      [](OfflineRecord& r) { r.kit_label = "other"; },
      [](OfflineRecord& r) { r.kit_id = "hgfedcba"; },
      [](OfflineRecord& r) { r.when += Seconds(1); },
      [](OfflineRecord& r) {
        r.share_indices = {1, 3};
      },
      [](OfflineRecord& r) { r.record_id[5] = r.record_id[5] == 'a' ? 'b' : 'a'; },
  };
  for (size_t i = 0; i < tampers.size(); ++i) {
    OfflineRecord r = signed_record;
    tampers[i](r);
    auto v = VerifyOfflineRecord(r);
    ASSERT_FALSE(v.has_value()) << i;
    EXPECT_EQ(v.error().code(), ErrorCode::kPermissionDenied) << i;
  }
  OfflineRecord rekeyed = signed_record;
  rekeyed.public_key = SigningKey::Generate(random).public_key_base64();
  EXPECT_FALSE(VerifyOfflineRecord(rekeyed).has_value());
  auto wrong_signer =
      VerifyOfflineRecord(signed_record, SigningKey::Generate(random).public_key_base64());
  ASSERT_FALSE(wrong_signer.has_value());
  EXPECT_EQ(wrong_signer.error().code(), ErrorCode::kPermissionDenied);
}

TEST(OfflineRecordTest, RefusesInvalidFields) {
  SeededRandom random("invalid");
  const SigningKey key = SigningKey::Generate(random);
  const std::vector<std::pair<std::string, std::function<void(OfflineRecord&)>>> cases = {
      {"who", [](OfflineRecord& r) { r.who = ""; }},
      {"why", [](OfflineRecord& r) { r.why = ""; }},
      {"why", [](OfflineRecord& r) { r.why = "bad \xc0\xaf utf-8"; }},
      {"kit_id", [](OfflineRecord& r) { r.kit_id = "x"; }},
      {"share_indices", [](OfflineRecord& r) { r.share_indices = {}; }},
      {"share_indices",
       [](OfflineRecord& r) {
         r.share_indices = {3, 1};
       }},
      {"share_indices",
       [](OfflineRecord& r) {
         r.share_indices = {0, 1};
       }},
      {"record_id", [](OfflineRecord& r) { r.record_id = "req_1"; }},
  };
  for (const auto& [field, mutate] : cases) {
    OfflineRecord r = SampleRecord(random);
    mutate(r);
    auto s = SignOfflineRecord(r, key);
    ASSERT_FALSE(s.has_value()) << field;
    EXPECT_EQ(s.error().field(), field);
  }
}

TEST(OfflineRecordTest, JsonRejectsUnknownFieldsAndWrongTypes) {
  SeededRandom random("json");
  OfflineRecord r = SampleRecord(random);
  ASSERT_TRUE(SignOfflineRecord(r, SigningKey::Generate(random)).has_value());
  const json good = OfflineRecordToJson(r);
  const std::vector<std::pair<std::string, std::function<void(json&)>>> cases = {
      {"extra", [](json& j) { j["extra"] = true; }},
      {"who", [](json& j) { j["who"] = 1; }},
      {"when", [](json& j) { j["when"] = "noon"; }},
      {"share_indices", [](json& j) { j["share_indices"] = "1,2"; }},
      {"share_indices",
       [](json& j) {
         j["share_indices"] = {1, "2"};
       }},
      {"format", [](json& j) { j["format"] = "other"; }},
      {"signature", [](json& j) { j.erase("signature"); }},
  };
  for (const auto& [field, mutate] : cases) {
    json j = good;
    mutate(j);
    auto parsed = OfflineRecordFromJson(j);
    ASSERT_FALSE(parsed.has_value()) << field;
    EXPECT_EQ(parsed.error().field(), field);
  }
}

SshCertificateUse SampleCertificate() {
  SshCertificateUse c;
  c.serial = "18446744073709551615";
  c.key_id = "breakglass-kit:kor_x:alice";
  c.principals = {"root", "deploy"};
  c.valid_after = FromUnixSeconds(1767225300);
  c.valid_before = FromUnixSeconds(1767229200);
  c.ca_public_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBbsvwZ16jMSk5SgGo8Y7Gu9MmN/ZNkF9DeI6AAg6cXx";
  c.key_fingerprint = "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s";
  return c;
}

TEST(OfflineRecordTest, SshCertificateIsSignedAndRoundTrips) {
  SeededRandom random("ssh-cert");
  OfflineRecord r = SampleRecord(random);
  r.ssh_certificate = SampleCertificate();
  ASSERT_TRUE(SignOfflineRecord(r, SigningKey::Generate(random)).has_value());
  EXPECT_NE(OfflineRecordSigningBytes(r).find("\"ssh_certificate\":{\"ca_public_key\""),
            std::string::npos);
  auto back = ParseOfflineRecord(OfflineRecordToJson(r).dump(2));
  ASSERT_TRUE(back.has_value()) << back.error().message();
  ASSERT_TRUE(back->ssh_certificate.has_value());
  EXPECT_EQ(back->ssh_certificate->serial, "18446744073709551615");
  EXPECT_EQ(back->ssh_certificate->principals, (std::vector<std::string>{"root", "deploy"}));
  EXPECT_TRUE(VerifyOfflineRecord(*back).has_value());

  // Every certificate field is covered by the signature, and so is its presence.
  const std::vector<std::function<void(SshCertificateUse&)>> tampers = {
      [](SshCertificateUse& c) { c.serial = "18446744073709551614"; },
      [](SshCertificateUse& c) { c.key_id += "x"; },
      [](SshCertificateUse& c) { c.principals.pop_back(); },
      [](SshCertificateUse& c) { c.valid_before += Seconds(3600); },
      [](SshCertificateUse& c) { c.valid_after -= Seconds(1); },
      [](SshCertificateUse& c) { c.key_fingerprint += "A"; },
  };
  for (size_t i = 0; i < tampers.size(); ++i) {
    OfflineRecord t = *back;
    tampers[i](*t.ssh_certificate);
    auto v = VerifyOfflineRecord(t);
    ASSERT_FALSE(v.has_value()) << i;
    EXPECT_EQ(v.error().code(), ErrorCode::kPermissionDenied) << i;
  }
  OfflineRecord dropped = *back;
  dropped.ssh_certificate.reset();
  EXPECT_FALSE(VerifyOfflineRecord(dropped).has_value());
}

TEST(OfflineRecordTest, MalformedSshCertificateNamesTheField) {
  SeededRandom random("ssh-cert-bad");
  const SigningKey key = SigningKey::Generate(random);
  const std::vector<std::pair<std::string, std::function<void(SshCertificateUse&)>>> cases = {
      {"ssh_certificate.serial", [](SshCertificateUse& c) { c.serial = "18446744073709551616"; }},
      {"ssh_certificate.serial", [](SshCertificateUse& c) { c.serial = "012"; }},
      {"ssh_certificate.serial", [](SshCertificateUse& c) { c.serial = "-1"; }},
      {"ssh_certificate.serial", [](SshCertificateUse& c) { c.serial = ""; }},
      {"ssh_certificate.key_id", [](SshCertificateUse& c) { c.key_id = "a\nb"; }},
      {"ssh_certificate.principals", [](SshCertificateUse& c) { c.principals = {}; }},
      {"ssh_certificate.principals", [](SshCertificateUse& c) { c.principals = {"a,b"}; }},
      {"ssh_certificate.valid_before",
       [](SshCertificateUse& c) { c.valid_before = c.valid_after; }},
      {"ssh_certificate.ca_public_key", [](SshCertificateUse& c) { c.ca_public_key = "ssh-rsa A"; }},
      {"ssh_certificate.key_fingerprint", [](SshCertificateUse& c) { c.key_fingerprint = "MD5:x"; }},
  };
  for (const auto& [field, mutate] : cases) {
    OfflineRecord r = SampleRecord(random);
    r.ssh_certificate = SampleCertificate();
    mutate(*r.ssh_certificate);
    auto s = SignOfflineRecord(r, key);
    ASSERT_FALSE(s.has_value()) << field;
    EXPECT_EQ(s.error().field(), field);
  }
  OfflineRecord r = SampleRecord(random);
  r.ssh_certificate = SampleCertificate();
  ASSERT_TRUE(SignOfflineRecord(r, key).has_value());
  const json good = OfflineRecordToJson(r);
  const std::vector<std::pair<std::string, std::function<void(json&)>>> json_cases = {
      {"ssh_certificate", [](json& j) { j["ssh_certificate"] = "x"; }},
      {"ssh_certificate.extra", [](json& j) { j["ssh_certificate"]["extra"] = 1; }},
      {"ssh_certificate.serial", [](json& j) { j["ssh_certificate"]["serial"] = 5; }},
      {"ssh_certificate.valid_after", [](json& j) { j["ssh_certificate"]["valid_after"] = "x"; }},
      {"ssh_certificate.principals", [](json& j) { j["ssh_certificate"]["principals"] = {1}; }},
      {"ssh_certificate.key_id", [](json& j) { j["ssh_certificate"].erase("key_id"); }},
  };
  for (const auto& [field, mutate] : json_cases) {
    json j = good;
    mutate(j);
    auto parsed = OfflineRecordFromJson(j);
    ASSERT_FALSE(parsed.has_value()) << field;
    EXPECT_EQ(parsed.error().field(), field);
  }
}

TEST(SigningKeyTest, ParsesBase64AndHexSeeds) {
  const std::string seed(32, '\x07');
  auto from_b64 = SigningKey::Parse("  " + Base64Encode(seed) + "\n");
  auto from_hex = SigningKey::Parse(HexEncode(seed));
  ASSERT_TRUE(from_b64.has_value());
  ASSERT_TRUE(from_hex.has_value());
  EXPECT_EQ(from_b64->public_key_base64(), from_hex->public_key_base64());
  EXPECT_EQ(from_b64->SeedBase64().Reveal(), Base64Encode(seed));
  EXPECT_FALSE(SigningKey::Parse("").has_value());
  EXPECT_FALSE(SigningKey::Parse(Base64Encode(std::string(31, 'x'))).has_value());
  EXPECT_FALSE(SigningKey::Parse("not base64!").has_value());
}

}  // namespace
}  // namespace bg::kit
