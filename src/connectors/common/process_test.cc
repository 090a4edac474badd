#include "connectors/common/process.h"

#include <gtest/gtest.h>

namespace bg::connectors {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(RunProcessTest, PassesStdinAndCollectsStdoutStderrAndStatus) {
  auto r = RunProcess({"/bin/sh", "-c", "cat; echo oops >&2; exit 3"}, "hello", seconds(30));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->out, "hello");
  EXPECT_EQ(r->err, "oops\n");
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_FALSE(r->timed_out);
}

TEST(RunProcessTest, ArgumentsAreNotInterpretedByAShell) {
  auto r = RunProcess({"/bin/echo", "a;b", "$(id)", "'q'"}, "", seconds(30));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->out, "a;b $(id) 'q'\n");
  EXPECT_EQ(r->exit_code, 0);
}

TEST(RunProcessTest, ATimeoutKillsTheProcessGroup) {
  auto r = RunProcess({"/bin/sh", "-c", "sleep 30 & sleep 30"}, "", milliseconds(200));
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->timed_out);
  EXPECT_EQ(r->exit_code, -1);
}

TEST(RunProcessTest, AProgramThatIgnoresItsInputDoesNotBreakTheCaller) {
  std::string big(4 << 20, 'x');
  auto r = RunProcess({"/bin/true"}, big, seconds(30));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->exit_code, 0);
}

TEST(RunProcessTest, AMissingProgramIsUnavailable) {
  auto r = RunProcess({"/nonexistent/prog"}, "", seconds(5));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kUnavailable);
  EXPECT_FALSE(RunProcess({}, "", seconds(5)));
}

TEST(RunProcessTest, OutputIsCapped) {
  auto r = RunProcess({"/bin/sh", "-c", "head -c 3000000 /dev/zero"}, "", seconds(30));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->out.size(), kMaxProcessOutput);
  EXPECT_EQ(r->exit_code, 0);
}

}  // namespace
}  // namespace bg::connectors
