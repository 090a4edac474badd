#include "auth/master_key.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <random>
#include <string>

#include "util/encoding.h"

namespace bg::auth {
namespace {

class MasterKeyFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/bg_master_key_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/master.key";
  }
  void TearDown() override {
    std::string cmd = "rm -rf '" + dir_ + "'";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
  }
  void WriteFile(const std::string& path, const std::string& bytes, mode_t mode) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, mode);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
    ::close(fd);
    ASSERT_EQ(::chmod(path.c_str(), mode), 0);
  }
  std::string dir_, path_;
};

TEST_F(MasterKeyFileTest, CreatesA32ByteFileWithMode0600ThenLoadsTheSameKey) {
  auto created = LoadOrCreateMasterKey(path_);
  ASSERT_TRUE(created.has_value()) << created.error().ToString();
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(st.st_size, 32);
  auto loaded = LoadOrCreateMasterKey(path_);
  ASSERT_TRUE(loaded.has_value()) << loaded.error().ToString();
  EXPECT_TRUE(loaded->bytes().Equals(created->bytes()));
}

TEST_F(MasterKeyFileTest, CreationIgnoresAPermissiveUmask) {
  mode_t old = ::umask(0);
  auto created = LoadOrCreateMasterKey(path_);
  ::umask(old);
  ASSERT_TRUE(created.has_value());
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 077, 0u);
}

TEST_F(MasterKeyFileTest, RefusesAKeyFileOthersOrGroupCanAccess) {
  for (mode_t mode : {0644, 0640, 0604, 0660, 0666, 0602, 0620}) {
    WriteFile(path_, std::string(32, 'k'), mode);
    auto key = LoadOrCreateMasterKey(path_);
    ASSERT_FALSE(key.has_value()) << std::oct << mode;
    EXPECT_EQ(key.error().code(), ErrorCode::kFailedPrecondition);
    EXPECT_NE(key.error().message().find("chmod 600"), std::string::npos) << key.error().message();
    EXPECT_NE(key.error().message().find(path_), std::string::npos);
  }
  WriteFile(path_, std::string(32, 'k'), 0400);
  EXPECT_TRUE(LoadOrCreateMasterKey(path_).has_value());
}

TEST_F(MasterKeyFileTest, RefusesWrongSizeSymlinkAndDirectory) {
  WriteFile(path_, std::string(31, 'k'), 0600);
  auto short_key = LoadOrCreateMasterKey(path_);
  ASSERT_FALSE(short_key.has_value());
  EXPECT_EQ(short_key.error().code(), ErrorCode::kFailedPrecondition);

  std::string target = dir_ + "/real.key";
  WriteFile(target, std::string(32, 'k'), 0600);
  std::string link = dir_ + "/link.key";
  ASSERT_EQ(::symlink(target.c_str(), link.c_str()), 0);
  auto via_link = LoadOrCreateMasterKey(link);
  ASSERT_FALSE(via_link.has_value());
  EXPECT_EQ(via_link.error().code(), ErrorCode::kFailedPrecondition);

  std::string sub = dir_ + "/sub";
  ASSERT_EQ(::mkdir(sub.c_str(), 0700), 0);
  EXPECT_FALSE(LoadOrCreateMasterKey(sub).has_value());
}

TEST_F(MasterKeyFileTest, MissingDirectoryIsUnavailable) {
  auto key = LoadOrCreateMasterKey(dir_ + "/no/such/dir/master.key");
  ASSERT_FALSE(key.has_value());
  EXPECT_EQ(key.error().code(), ErrorCode::kUnavailable);
}

TEST(MasterKeyTest, FromBytesRequires32Bytes) {
  EXPECT_TRUE(MasterKey::FromBytes(Secret(std::string(32, 'a'))).has_value());
  for (size_t n : {0, 16, 31, 33, 64}) {
    auto k = MasterKey::FromBytes(Secret(std::string(n, 'a')));
    ASSERT_FALSE(k.has_value()) << n;
    EXPECT_EQ(k.error().field(), "master_key");
  }
}

TEST(SealTest, RoundTripsWithTheSameKeyAndAad) {
  MasterKey key = MasterKey::Generate();
  for (const std::string& plain :
       {std::string(), std::string("x"), std::string(20, '\0'), std::string(100000, 'z')}) {
    std::string sealed = Seal(key, Secret(plain), "totp:alice");
    EXPECT_EQ(sealed.rfind("v1:", 0), 0u);
    auto raw = Base64Decode(sealed.substr(3));
    ASSERT_TRUE(raw.has_value());
    EXPECT_EQ(raw->size(), 24 + plain.size() + 16);
    auto opened = Open(key, sealed, "totp:alice");
    ASSERT_TRUE(opened.has_value()) << opened.error().ToString();
    EXPECT_EQ(opened->Reveal(), plain);
  }
}

TEST(SealTest, SameValueSealsDifferentlyEachTime) {
  MasterKey key = MasterKey::Generate();
  EXPECT_NE(Seal(key, Secret("seed"), "a"), Seal(key, Secret("seed"), "a"));
}

TEST(SealTest, WrongAadOrWrongKeyDoesNotOpen) {
  MasterKey key = MasterKey::Generate();
  std::string sealed = Seal(key, Secret("seed"), "totp:alice");
  for (const char* aad : {"totp:bob", "totp:alice ", "", "signing:alice"}) {
    auto r = Open(key, sealed, aad);
    ASSERT_FALSE(r.has_value()) << aad;
    EXPECT_EQ(r.error().code(), ErrorCode::kPermissionDenied);
  }
  auto other = Open(MasterKey::Generate(), sealed, "totp:alice");
  ASSERT_FALSE(other.has_value());
  EXPECT_EQ(other.error().code(), ErrorCode::kPermissionDenied);
}

TEST(SealTest, EveryBitFlipAndTruncationIsDetected) {
  MasterKey key = MasterKey::Generate();
  std::string sealed = Seal(key, Secret("a TOTP seed of 20 b"), "totp:alice");
  std::string raw = *Base64Decode(sealed.substr(3));
  for (size_t i = 0; i < raw.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string t = raw;
      t[i] = static_cast<char>(t[i] ^ (1 << bit));
      auto r = Open(key, "v1:" + Base64Encode(t), "totp:alice");
      ASSERT_FALSE(r.has_value()) << i << ":" << bit;
      EXPECT_EQ(r.error().code(), ErrorCode::kPermissionDenied);
    }
  }
  for (size_t n = 0; n < raw.size(); ++n) {
    EXPECT_FALSE(Open(key, "v1:" + Base64Encode(raw.substr(0, n)), "totp:alice").has_value()) << n;
  }
  EXPECT_FALSE(Open(key, "v1:" + Base64Encode(raw + "x"), "totp:alice").has_value());
}

TEST(SealTest, MalformedTextIsInvalidArgument) {
  MasterKey key = MasterKey::Generate();
  std::string sealed = Seal(key, Secret("seed"), "aad");
  for (const std::string& bad :
       {std::string(), std::string("v1:"), std::string("v2:") + sealed.substr(3), sealed.substr(3),
        std::string("v1:!!!!"), std::string("v1:AAAA"), sealed + "\n",
        std::string("V1:") + sealed.substr(3)}) {
    auto r = Open(key, bad, "aad");
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument) << bad;
    EXPECT_EQ(r.error().field(), "sealed");
  }
}

TEST(SealPropertyTest, RandomTextNeverOpens) {
  MasterKey key = MasterKey::Generate();
  std::mt19937 rng(9162);
  std::uniform_int_distribution<int> len(0, 120), byte(0, 255);
  for (int i = 0; i < 3000; ++i) {
    std::string raw(len(rng), '\0');
    for (char& c : raw) c = static_cast<char>(byte(rng));
    std::string text = i % 2 ? "v1:" + Base64Encode(raw) : raw;
    auto r = Open(key, text, "aad");
    ASSERT_FALSE(r.has_value());
    EXPECT_TRUE(r.error().code() == ErrorCode::kInvalidArgument ||
                r.error().code() == ErrorCode::kPermissionDenied);
  }
}

}  // namespace
}  // namespace bg::auth
