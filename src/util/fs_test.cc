#include "util/fs.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "test/fakes/temp_dir.h"

namespace bg::fs {
namespace {

class FsTest : public ::testing::Test {
 protected:
  std::string Path(const std::string& name) const { return tmp_ / name; }
  static mode_t Mode(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0);
    return st.st_mode & 0777;
  }
  bg::testing::TempDir tmp_{"bg_fs_test"};
  const std::string& dir_ = tmp_.path();
};

TEST_F(FsTest, AMissingFileIsNotFoundAndNamesPathAndField) {
  auto r = ReadWholeFile(Path("missing.toml"), "FILE");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(r.error().field(), "FILE");
  EXPECT_NE(r.error().message().find(Path("missing.toml")), std::string::npos);
  EXPECT_NE(r.error().message().find("No such file"), std::string::npos);
  EXPECT_EQ(ReadWholeFile(Path("missing/deeper")).error().code(), ErrorCode::kNotFound);
}

TEST_F(FsTest, WriteNewFileWritesWithItsModeAndNeverReplaces) {
  const mode_t old_umask = ::umask(077);
  ASSERT_TRUE(WriteNewFile(Path("a"), "one", 0644).has_value());
  ::umask(old_umask);
  EXPECT_EQ(Mode(Path("a")), 0644u);  // as asked, whatever the umask
  EXPECT_EQ(*ReadWholeFile(Path("a")), "one");
  auto again = WriteNewFile(Path("a"), "two", 0600);
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code(), ErrorCode::kConflict);
  EXPECT_EQ(*ReadWholeFile(Path("a")), "one");
  // A symlink is not followed, even to a file that does not exist yet.
  ASSERT_EQ(::symlink(Path("target").c_str(), Path("link").c_str()), 0);
  EXPECT_FALSE(WriteNewFile(Path("link"), "x", 0600).has_value());
  EXPECT_FALSE(std::filesystem::exists(Path("target")));
}

TEST_F(FsTest, ReplaceFileSwapsWholeAndLeavesNoTemporary) {
  ASSERT_TRUE(ReplaceFile(Path("f"), "first", 0600).has_value());
  ASSERT_TRUE(ReplaceFile(Path("f"), "second, longer", 0600).has_value());
  EXPECT_EQ(*ReadWholeFile(Path("f")), "second, longer");
  EXPECT_EQ(Mode(Path("f")), 0600u);
  size_t entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir_)) ++entries;
  EXPECT_EQ(entries, 1u);
  auto into_missing = ReplaceFile(Path("no/such/f"), "x", 0600);
  ASSERT_FALSE(into_missing.has_value());
  EXPECT_EQ(into_missing.error().code(), ErrorCode::kNotFound);
}

TEST_F(FsTest, MakeDirCreatesPrivateDirectoriesAndRefusesAFile) {
  ASSERT_TRUE(MakeDir(Path("d")).has_value());
  EXPECT_EQ(Mode(Path("d")), 0700u);
  EXPECT_TRUE(MakeDir(Path("d")).has_value());  // exists already: fine
  ASSERT_TRUE(WriteNewFile(Path("file"), "", 0600).has_value());
  EXPECT_FALSE(MakeDir(Path("file")).has_value());
  EXPECT_TRUE(SyncDir(Path("d")).has_value());
  EXPECT_EQ(SyncDir(Path("nope")).error().code(), ErrorCode::kNotFound);
}

TEST_F(FsTest, SecretFilesMustBePrivateRegularAndNonEmpty) {
  ASSERT_TRUE(WriteNewFile(Path("s"), "hunter2\r\n\n", 0600).has_value());
  auto s = ReadSecretFile(Path("s"), "password_file");
  ASSERT_TRUE(s.has_value()) << s.error().ToString();
  EXPECT_EQ(s->Reveal(), "hunter2");

  ASSERT_TRUE(WriteNewFile(Path("open"), "x", 0640).has_value());
  auto shared = ReadSecretFile(Path("open"), "password_file");
  ASSERT_FALSE(shared.has_value());
  EXPECT_EQ(shared.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(shared.error().message().find("chmod 600"), std::string::npos);

  ASSERT_TRUE(WriteNewFile(Path("empty"), "\n", 0600).has_value());
  EXPECT_EQ(ReadSecretFile(Path("empty"), "f").error().code(), ErrorCode::kInvalidArgument);
  ASSERT_EQ(::symlink(Path("s").c_str(), Path("link").c_str()), 0);
  EXPECT_FALSE(ReadSecretFile(Path("link"), "f").has_value());
  EXPECT_EQ(ReadSecretFile(dir_, "f").error().code(), ErrorCode::kInvalidArgument);
  auto missing = ReadSecretFile(Path("none"), "f");
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(missing.error().field(), "f");

  ASSERT_TRUE(WriteNewFile(Path("big"), std::string(70 << 10, 'k'), 0600).has_value());
  EXPECT_EQ(ReadSecretFile(Path("big"), "f").error().code(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace bg::fs
