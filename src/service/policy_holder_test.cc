#include "service/policy_holder.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "test/fakes/temp_dir.h"
#include "util/encoding.h"
#include "util/fs.h"
#include "util/sha256.h"

namespace bg::service {
namespace {

std::string Sha(const std::string& text) { return HexEncode(AsBytes(Sha256(text))); }

class PolicyHolderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto example = fs::ReadWholeFile(std::string(BG_SOURCE_DIR) + "/examples/policy.toml");
    ASSERT_TRUE(example.has_value()) << example.error().message();
    good_ = *example;
  }
  void Write(const std::string& text) { ASSERT_TRUE(fs::ReplaceFile(path(), text, 0600)); }
  std::string path() const { return tmp_ / "policy.toml"; }
  bg::testing::TempDir tmp_{"bg_policy_holder"};
  std::string good_;
};

TEST_F(PolicyHolderTest, LoadsAFileAndKeepsTheLastGoodOneWhenANewOneFails) {
  PolicyHolder holder(path(), nullptr);
  EXPECT_EQ(holder.current(), nullptr);
  Write(good_);
  PolicyHolder::Attempt tried;
  ASSERT_TRUE(holder.Load(&tried)) << "the example policy";
  EXPECT_EQ(tried.path, path());
  EXPECT_EQ(tried.sha256, Sha(good_));
  EXPECT_EQ(holder.sha256(), Sha(good_));
  auto snapshot = holder.current();
  ASSERT_NE(snapshot, nullptr);

  Write("version = 1\n[[rules]]\nbogus = true\n");
  auto refused = holder.Load(&tried);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().field(), "policy");
  EXPECT_NE(refused.error().message().find(path() + ":"), std::string::npos);
  EXPECT_EQ(tried.sha256, Sha("version = 1\n[[rules]]\nbogus = true\n"));
  EXPECT_EQ(holder.current(), snapshot);  // the last good one stays in force
  EXPECT_EQ(holder.sha256(), Sha(good_));

  std::filesystem::remove(path());
  auto missing = holder.Load(&tried);
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(holder.current(), snapshot);
}

TEST_F(PolicyHolderTest, TheServersOwnChecksRefuseAPolicyThatParses) {
  Write(good_);
  int checked = 0;
  PolicyHolder holder(path(), [&checked](const core::Policy& p, const std::string& where) {
    ++checked;
    return std::vector<std::string>{where + ": resource '" + p.resources.at(0).name +
                                    "' names an unknown connector"};
  });
  auto refused = holder.Load();
  ASSERT_FALSE(refused);
  EXPECT_EQ(checked, 1);
  EXPECT_NE(refused.error().message().find("names an unknown connector"), std::string::npos);
  EXPECT_EQ(holder.current(), nullptr);
}

TEST_F(PolicyHolderTest, WithoutAPathTheEmbeddedDemoPolicyIsLoaded) {
  PolicyHolder holder("", nullptr);
  PolicyHolder::Attempt tried;
  ASSERT_TRUE(holder.Load(&tried));
  EXPECT_EQ(tried.path, "<embedded demo policy>");
  ASSERT_NE(holder.current(), nullptr);
  EXPECT_FALSE(holder.current()->resources.empty());
}

}  // namespace
}  // namespace bg::service
