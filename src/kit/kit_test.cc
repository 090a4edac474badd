#include "kit/kit.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <sstream>

#include "test/fakes/fake_random.h"
#include "util/encoding.h"

namespace bg::kit {
namespace {

using nlohmann::json;
using bg::testing::SeededRandom;

const Timestamp kNow = FromUnixSeconds(1767225600);  // 2026-01-01T00:00:00Z

Kit MakeKit(Random& random, const Secret& secret, int m, int n, std::string label = "root") {
  auto kit = SplitSecret(secret, {m, n, std::move(label)}, kNow, random);
  EXPECT_TRUE(kit.has_value());
  return std::move(kit).value();
}

std::vector<SourcedShare> Sourced(const Kit& kit, std::vector<int> indices) {
  std::vector<SourcedShare> out;
  for (int i : indices) {
    const Share& s = kit.shares[static_cast<size_t>(i - 1)];
    out.push_back({"line " + std::to_string(out.size() + 1),
                   Share{s.kit_id, s.index, s.threshold, s.salt, s.payload}});
  }
  return out;
}

// A share with a valid line checksum but a payload that was never issued.
Share Forged(const Share& s) {
  std::string payload(s.payload.Reveal());
  payload[0] = static_cast<char>(payload[0] ^ 0x01);
  return Share{s.kit_id, s.index, s.threshold, s.salt, Secret(payload)};
}

std::string ErrorOf(const Result<Combined>& r) {
  return r.has_value() ? std::string("(succeeded)") : r.error().message();
}

TEST(KitTest, SplitThenCombineThroughShareLines) {
  SeededRandom random("split");
  const Secret secret(random.Bytes(32));
  const Kit kit = MakeKit(random, secret, 3, 5);
  ASSERT_EQ(kit.shares.size(), 5u);
  EXPECT_EQ(kit.manifest.threshold, 3);
  EXPECT_EQ(kit.manifest.share_count, 5);
  EXPECT_EQ(kit.manifest.created_at, kNow);
  std::vector<SourcedShare> parsed;
  for (int i : {5, 1, 3}) {
    auto share = ParseShareLine(FormatShareLine(kit.shares[i - 1]).Reveal());
    ASSERT_TRUE(share.has_value());
    parsed.push_back({"share " + std::to_string(i), std::move(share).value()});
  }
  auto combined = CombineShares(parsed, &kit.manifest);
  ASSERT_TRUE(combined.has_value()) << ErrorOf(combined);
  EXPECT_TRUE(combined->secret.Equals(secret));
  EXPECT_EQ(combined->kit_id, kit.manifest.kit_id);
  EXPECT_EQ(combined->indices, (std::vector<int>{1, 3, 5}));
}

TEST(KitTest, CombineErrorsAreSpecific) {
  SeededRandom random("errors");
  const Secret secret(random.Bytes(16));
  const Kit kit = MakeKit(random, secret, 3, 5);
  const Kit other = MakeKit(random, secret, 3, 5);
  const Kit longer = MakeKit(random, Secret(random.Bytes(17)), 3, 5);

  auto mixed = Sourced(kit, {1, 2});
  mixed.push_back({"line 3", Share{other.shares[2].kit_id, 3, 3, other.shares[2].salt,
                                   other.shares[2].payload}});
  auto same_twice = Sourced(kit, {1, 2, 2});
  auto conflicting = Sourced(kit, {1, 2});
  conflicting.push_back({"line 3", Forged(kit.shares[1])});
  auto inconsistent = Sourced(kit, {1, 2, 3});
  inconsistent.push_back({"line 4", Forged(kit.shares[3])});
  auto wrong_threshold = Sourced(kit, {1, 2, 3});
  wrong_threshold[2].share.threshold = 2;
  auto wrong_length = Sourced(kit, {1, 2});
  wrong_length.push_back({"line 3", Share{kit.manifest.kit_id, 3, 3, longer.shares[2].salt,
                                          longer.shares[2].payload}});

  struct Case {
    const char* name;
    std::vector<SourcedShare> shares;
    ErrorCode code;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"none", {}, ErrorCode::kInvalidArgument, "no shares given"},
      {"mixed", mixed, ErrorCode::kInvalidArgument,
       "mixed kits: line 1 is from kit " + kit.manifest.kit_id + ", but line 3 is from kit " +
           other.manifest.kit_id},
      {"same twice", same_twice, ErrorCode::kInvalidArgument,
       "duplicate share index 2: line 2 and line 3 are the same share"},
      {"conflicting", conflicting, ErrorCode::kInvalidArgument,
       "duplicate share index 2: line 2 and line 3 are different shares"},
      {"too few", Sourced(kit, {4, 2}), ErrorCode::kFailedPrecondition,
       "too few shares: kit " + kit.manifest.kit_id + " needs 3, got 2"},
      {"inconsistent", inconsistent, ErrorCode::kInvalidArgument,
       "the shares do not agree: line 4 (share 4) does not fit the first 3"},
      {"threshold", wrong_threshold, ErrorCode::kInvalidArgument, "disagree on the threshold"},
      {"length", wrong_length, ErrorCode::kInvalidArgument, "different lengths"},
  };
  for (const Case& c : cases) {
    auto r = CombineShares(c.shares);
    ASSERT_FALSE(r.has_value()) << c.name;
    EXPECT_EQ(r.error().code(), c.code) << c.name;
    EXPECT_NE(r.error().message().find(c.message), std::string::npos)
        << c.name << ": " << r.error().message();
  }
}

TEST(KitTest, CombineWithManifestRefusesForgedAndForeignShares) {
  SeededRandom random("manifest-combine");
  const Secret secret(random.Bytes(8));
  const Kit kit = MakeKit(random, secret, 2, 3);
  const Kit other = MakeKit(random, secret, 2, 3);
  auto forged = Sourced(kit, {1});
  forged.push_back({"line 2", Forged(kit.shares[1])});
  ASSERT_TRUE(CombineShares(forged).has_value());  // without a manifest it can't know
  auto r = CombineShares(forged, &kit.manifest);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("line 2: share 2 does not match its commitment"),
            std::string::npos)
      << r.error().message();
  auto foreign = CombineShares(Sourced(kit, {1, 2}), &other.manifest);
  ASSERT_FALSE(foreign.has_value());
  EXPECT_NE(foreign.error().message().find("but the manifest is for kit"), std::string::npos);
}

TEST(KitTest, CheckShareAcceptsEveryIssuedShareAndNothingElse) {
  SeededRandom random("check");
  const Secret secret(random.Bytes(32));
  const Kit kit = MakeKit(random, secret, 3, 6);
  const Kit other = MakeKit(random, secret, 3, 6);
  for (const Share& s : kit.shares) {
    EXPECT_TRUE(CheckShare(s, kit.manifest).has_value()) << s.index;
    auto forged = CheckShare(Forged(s), kit.manifest);
    ASSERT_FALSE(forged.has_value());
    EXPECT_NE(forged.error().message().find("does not match its commitment"), std::string::npos);
    auto foreign = CheckShare(s, other.manifest);
    ASSERT_FALSE(foreign.has_value());
    EXPECT_NE(foreign.error().message().find("this share belongs to kit " + kit.manifest.kit_id),
              std::string::npos);
  }
  Share wrong_index = Share{kit.shares[0].kit_id, 7, 3, kit.shares[0].salt, kit.shares[0].payload};
  EXPECT_FALSE(CheckShare(wrong_index, kit.manifest).has_value());
  Share swapped_index =
      Share{kit.shares[0].kit_id, 2, 3, kit.shares[0].salt, kit.shares[0].payload};
  EXPECT_FALSE(CheckShare(swapped_index, kit.manifest).has_value());
}

// For a one-byte secret the shares' y values take only 256 values each, so a commitment
// without the salt could be inverted by trying them all. The manifest must give none away.
TEST(KitTest, ManifestCommitmentsCannotBeSearchedForATinySecret) {
  SeededRandom random("tiny");
  const Secret secret("\x2a");
  const Kit kit = MakeKit(random, secret, 2, 2);
  const std::string text = FormatManifest(kit.manifest);
  for (const Share& s : kit.shares) {
    const std::string salt_hex =
        HexEncode(std::string_view(reinterpret_cast<const char*>(s.salt.data()), s.salt.size()));
    EXPECT_EQ(text.find(salt_hex), std::string::npos);
    for (int y = 0; y < 256; ++y) {
      Share guess{s.kit_id, s.index, s.threshold, {}, Secret(std::string(1, static_cast<char>(y)))};
      EXPECT_NE(HexEncode(AsBytes(ShareCommitment(guess))),
                kit.manifest.commitments[s.index - 1].sha256);
    }
  }
  EXPECT_EQ(text.find("secret"), std::string::npos);
}

TEST(KitTest, SplitRefusesBadInput) {
  SeededRandom random("split-bad");
  EXPECT_FALSE(SplitSecret(Secret(), {2, 3, ""}, kNow, random).has_value());
  EXPECT_FALSE(
      SplitSecret(Secret(random.Bytes(kMaxSecretBytes + 1)), {2, 3, ""}, kNow, random).has_value());
  EXPECT_TRUE(
      SplitSecret(Secret(random.Bytes(kMaxSecretBytes)), {2, 3, ""}, kNow, random).has_value());
  EXPECT_FALSE(SplitSecret(Secret("x"), {1, 3, ""}, kNow, random).has_value());
  EXPECT_FALSE(SplitSecret(Secret("x"), {4, 3, ""}, kNow, random).has_value());
  EXPECT_FALSE(SplitSecret(Secret("x"), {2, 3, "bad \xff label"}, kNow, random).has_value());
}

TEST(ManifestTest, JsonRoundTripsIncludingRetirement) {
  SeededRandom random("manifest");
  Kit kit = MakeKit(random, Secret("secret"), 2, 4, "db root — prod");
  auto back = ParseManifest(FormatManifest(kit.manifest));
  ASSERT_TRUE(back.has_value()) << back.error().message();
  EXPECT_EQ(ManifestToJson(*back), ManifestToJson(kit.manifest));
  EXPECT_FALSE(back->retired_at.has_value());

  const std::string successor = NewKitId(random);
  ASSERT_TRUE(RetireManifest(kit.manifest, successor, kNow + Seconds(60)).has_value());
  const json j = ManifestToJson(kit.manifest);
  EXPECT_EQ(j.at("retired_at"), "2026-01-01T00:01:00Z");
  EXPECT_EQ(j.at("replaced_by"), successor);
  auto retired = ParseManifest(j.dump());
  ASSERT_TRUE(retired.has_value()) << retired.error().message();
  EXPECT_EQ(retired->replaced_by, successor);
  auto again = RetireManifest(kit.manifest, NewKitId(random), kNow);
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code(), ErrorCode::kFailedPrecondition);
}

TEST(ManifestTest, RejectionsNameTheField) {
  SeededRandom random("manifest-bad");
  const Kit kit = MakeKit(random, Secret("secret"), 2, 3);
  const json good = ManifestToJson(kit.manifest);
  struct Case {
    std::string field;
    std::function<void(json&)> mutate;
  };
  const std::vector<Case> cases = {
      {"extra", [](json& j) { j["extra"] = 1; }},
      {"format", [](json& j) { j["format"] = "breakglass-kit-manifest/2"; }},
      {"kit_id", [](json& j) { j["kit_id"] = "nope"; }},
      {"label", [](json& j) { j["label"] = 5; }},
      {"threshold", [](json& j) { j["threshold"] = 1; }},
      {"threshold", [](json& j) { j["threshold"] = "2"; }},
      {"share_count", [](json& j) { j["share_count"] = 1; }},
      {"created_at", [](json& j) { j["created_at"] = "yesterday"; }},
      {"commitments", [](json& j) { j["commitments"].erase(0); }},
      {"commitments[1].sha256", [](json& j) { j["commitments"][1]["sha256"] = "00"; }},
      {"commitments[0].index", [](json& j) { j["commitments"][0]["index"] = 2; }},
      {"commitments[2].salt", [](json& j) { j["commitments"][2]["salt"] = "x"; }},
      {"replaced_by", [](json& j) { j["retired_at"] = "2026-01-01T00:00:00Z"; }},
      {"share_format", [](json& j) { j.erase("share_format"); }},
  };
  for (const Case& c : cases) {
    json j = good;
    c.mutate(j);
    auto r = ManifestFromJson(j);
    ASSERT_FALSE(r.has_value()) << c.field;
    EXPECT_EQ(r.error().field(), c.field) << r.error().message();
  }
  EXPECT_FALSE(ParseManifest("{").has_value());
  EXPECT_FALSE(ParseManifest("[]").has_value());
}

const char kCaLine[] = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBbsvwZ16jMSk5SgGo8Y7Gu9MmN/ZNkF9DeI6AAg6cXx";

TEST(ManifestTest, ProtectsRoundTripsForSshCaAndMasterKeyKits) {
  SeededRandom random("protects");
  for (const KitProtects& p : {KitProtects{"ssh-ca", "ops-ssh", kCaLine},
                               KitProtects{"master-key", "", ""}}) {
    auto kit = SplitSecret(Secret("key bytes"), {2, 3, "label", p}, kNow, random);
    ASSERT_TRUE(kit.has_value()) << kit.error().message();
    const json j = ManifestToJson(kit->manifest);
    EXPECT_EQ(j.at("protects").at("kind"), p.kind);
    EXPECT_EQ(j.at("protects").contains("connector"), p.kind == "ssh-ca");
    auto back = ParseManifest(FormatManifest(kit->manifest));
    ASSERT_TRUE(back.has_value()) << back.error().message();
    ASSERT_TRUE(back->protects.has_value());
    EXPECT_EQ(back->protects->kind, p.kind);
    EXPECT_EQ(back->protects->connector, p.connector);
    EXPECT_EQ(back->protects->public_key, p.public_key);
  }
  // A plain kit says nothing about what it protects.
  const Kit plain = MakeKit(random, Secret("secret"), 2, 2);
  EXPECT_FALSE(ManifestToJson(plain.manifest).contains("protects"));
}

TEST(ManifestTest, MalformedProtectsIsRefusedOnSplitAndOnRead) {
  SeededRandom random("protects-bad");
  const std::vector<std::pair<std::string, KitProtects>> cases = {
      {"protects.kind", {"tls-key", "", ""}},
      {"protects.connector", {"ssh-ca", "", kCaLine}},
      {"protects.public_key", {"ssh-ca", "ops", "ssh-rsa AAAA"}},
      {"protects.public_key", {"ssh-ca", "ops", std::string(kCaLine) + " comment"}},
      {"protects", {"master-key", "ops", ""}},
  };
  for (const auto& [field, p] : cases) {
    auto kit = SplitSecret(Secret("k"), {2, 2, "", p}, kNow, random);
    ASSERT_FALSE(kit.has_value()) << field;
    EXPECT_EQ(kit.error().field(), field) << kit.error().message();
  }
  json j = ManifestToJson(MakeKit(random, Secret("secret"), 2, 2).manifest);
  j["protects"] = {{"kind", "ssh-ca"}, {"connector", "ops"}, {"public_key", kCaLine}, {"x", 1}};
  auto extra = ManifestFromJson(j);
  ASSERT_FALSE(extra.has_value());
  EXPECT_EQ(extra.error().field(), "protects.x");
  j["protects"] = "ssh-ca";
  EXPECT_FALSE(ManifestFromJson(j).has_value());
}

// Fixed vectors: share lines printed by format bgk1 must stay readable by every later
// version. The file is checked in; only the regeneration test may ever need updating.
struct Vector {
  std::string seed;
  int threshold;
  int shares;
  std::string label;
  std::string secret_hex;
};

const std::vector<Vector> kVectorSpecs = {
    {"vector-1", 2, 3, "one byte", "2a"},
    {"vector-2", 3, 5, "32-byte key",
     "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"},
    {"vector-3", 5, 8, "text", "636f727265637420686f727365206261747465727920737461706c65"},
    {"vector-4", 2, 2, "", "ff00ff"},
};

json GenerateVectors() {
  json out = json::array();
  for (const Vector& v : kVectorSpecs) {
    SeededRandom random(v.seed);
    const auto secret = HexDecode(v.secret_hex);
    auto kit = SplitSecret(Secret(*secret), {v.threshold, v.shares, v.label}, kNow, random);
    EXPECT_TRUE(kit.has_value());
    json lines = json::array();
    for (const Share& s : kit->shares) lines.push_back(std::string(FormatShareLine(s).Reveal()));
    out.push_back({{"seed", v.seed},
                   {"secret_hex", v.secret_hex},
                   {"share_lines", lines},
                   {"manifest", ManifestToJson(kit->manifest)}});
  }
  return out;
}

json LoadVectors() {
  std::ifstream in(std::string(BG_KIT_TESTDATA_DIR) + "/share_vectors_v1.json");
  std::stringstream text;
  text << in.rdbuf();
  return json::parse(text.str(), nullptr, false);
}

TEST(ShareVectorsTest, CheckedInSharesStillRestoreTheirSecret) {
  const json vectors = LoadVectors();
  ASSERT_TRUE(vectors.is_array()) << "testdata/share_vectors_v1.json missing or invalid";
  ASSERT_EQ(vectors.size(), kVectorSpecs.size());
  for (const json& v : vectors) {
    auto manifest = ManifestFromJson(v.at("manifest"));
    ASSERT_TRUE(manifest.has_value()) << manifest.error().message();
    std::vector<SourcedShare> shares;
    for (const json& line : v.at("share_lines")) {
      auto share = ParseShareLine(line.get<std::string>());
      ASSERT_TRUE(share.has_value()) << share.error().message();
      EXPECT_TRUE(CheckShare(*share, *manifest).has_value());
      shares.push_back({"vector", std::move(share).value()});
    }
    // The last `threshold` shares, and all of them.
    const auto m = static_cast<size_t>(manifest->threshold);
    std::vector<SourcedShare> last(shares.end() - static_cast<long>(m), shares.end());
    for (const auto* set : {&last, &shares}) {
      auto combined = CombineShares(*set, &*manifest);
      ASSERT_TRUE(combined.has_value()) << combined.error().message();
      EXPECT_EQ(HexEncode(combined->secret.Reveal()), v.at("secret_hex").get<std::string>());
    }
  }
}

TEST(ShareVectorsTest, TodaysSplitReproducesTheVectors) {
  const json generated = GenerateVectors();
  if (std::getenv("BG_KIT_UPDATE_VECTORS") != nullptr) {
    std::ofstream(std::string(BG_KIT_TESTDATA_DIR) + "/share_vectors_v1.json")
        << generated.dump(2) << "\n";
  }
  EXPECT_EQ(generated, LoadVectors())
      << "split output changed; if intended, rerun with BG_KIT_UPDATE_VECTORS=1 and keep the "
         "old file's shares readable";
}

}  // namespace
}  // namespace bg::kit
