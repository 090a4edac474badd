#include "auth/qr.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "auth/totp.h"

namespace bg::auth {
namespace {

using Grid = std::vector<std::vector<bool>>;  // [row][column], true = drawn as ink

// Reads the drawing back: each line is one row of half-block characters, two pixel rows each.
Grid ParseDrawing(const std::string& drawing) {
  Grid grid;
  size_t pos = 0;
  while (pos < drawing.size()) {
    size_t end = drawing.find('\n', pos);
    EXPECT_NE(end, std::string::npos) << "every line ends in a newline";
    if (end == std::string::npos) break;
    std::string line = drawing.substr(pos, end - pos);
    std::vector<bool> top, bottom;
    for (size_t i = 0; i < line.size();) {
      if (line[i] == ' ') {
        top.push_back(false), bottom.push_back(false), ++i;
        continue;
      }
      std::string ch = line.substr(i, 3);
      EXPECT_TRUE(ch == "\u2588" || ch == "\u2580" || ch == "\u2584") << "unexpected glyph";
      top.push_back(ch == "\u2588" || ch == "\u2580");
      bottom.push_back(ch == "\u2588" || ch == "\u2584");
      i += 3;
    }
    grid.push_back(top);
    grid.push_back(bottom);
    pos = end + 1;
  }
  return grid;
}

const char kUri[] =
    "otpauth://totp/breakglass:alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
    "&issuer=breakglass&algorithm=SHA1&digits=6&period=30";

TEST(QrTest, DrawingHasQuietZoneAndTwoModuleRowsPerLine) {
  auto modules = QrModules(kUri);
  ASSERT_TRUE(modules.has_value());
  const size_t n = modules->size();
  ASSERT_GE(n, 21u);
  EXPECT_EQ(n % 4, 1u);  // QR versions are 17 + 4v modules wide
  auto drawing = RenderQrForTerminal(kUri, QrStyle::kForLightTerminal);
  ASSERT_TRUE(drawing.has_value());
  Grid grid = ParseDrawing(*drawing);
  const size_t size = n + size_t{2} * kQrQuietZone;
  ASSERT_EQ(grid.size(), size + 1);  // odd size: the last line's lower half is padding
  for (const auto& row : grid) ASSERT_EQ(row.size(), size);
  for (size_t y = 0; y < size; ++y) {
    for (size_t x = 0; x < size; ++x) {
      bool inside = x >= 2 && y >= 2 && x < n + 2 && y < n + 2;
      bool dark = inside && (*modules)[y - 2][x - 2];
      ASSERT_EQ(grid[y][x], dark) << x << "," << y;
    }
  }
  for (bool b : grid.back()) EXPECT_FALSE(b);
}

TEST(QrTest, DarkTerminalStyleIsTheInverse) {
  auto light = RenderQrForTerminal(kUri, QrStyle::kForLightTerminal);
  auto dark = RenderQrForTerminal(kUri);
  ASSERT_TRUE(light.has_value() && dark.has_value());
  Grid a = ParseDrawing(*light), b = ParseDrawing(*dark);
  ASSERT_EQ(a.size(), b.size());
  for (size_t y = 0; y + 1 < a.size(); ++y) {  // all but the padding row
    for (size_t x = 0; x < a[y].size(); ++x) ASSERT_NE(a[y][x], b[y][x]) << x << "," << y;
  }
}

TEST(QrTest, RefusesEmptyNulAndOversizedText) {
  for (const std::string& bad : {std::string(), std::string("a\0b", 3), std::string(8000, 'x')}) {
    auto r = RenderQrForTerminal(bad);
    ASSERT_FALSE(r.has_value()) << bad.size();
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(r.error().field(), "text");
  }
}

TEST(QrTest, LongerTextNeedsMoreModules) {
  auto small = QrModules("otpauth://totp/a");
  auto large = QrModules(std::string(300, 'q'));
  ASSERT_TRUE(small.has_value() && large.has_value());
  EXPECT_LT(small->size(), large->size());
}

// Draws the grid as a scaled black-and-white PBM image; `ink_is_black` says how the terminal
// shows the blocks.
void WritePbm(const Grid& grid, bool ink_is_black, const std::string& path) {
  constexpr int kScale = 6;
  std::ofstream out(path);
  const size_t h = grid.size() - 1, w = grid[0].size();  // drop the padding row
  out << "P1\n" << w * kScale << " " << h * kScale << "\n";
  for (size_t y = 0; y < h * kScale; ++y) {
    for (size_t x = 0; x < w * kScale; ++x) {
      bool ink = grid[y / kScale][x / kScale];
      out << ((ink == ink_is_black) ? '1' : '0');
    }
    out << '\n';
  }
}

// A real decoder reads the drawing back (as a phone would, for both terminal styles).
TEST(QrTest, ZbarimgDecodesTheDrawing) {
  if (std::system("command -v zbarimg >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "zbarimg (zbar-tools) is not installed";
  }
  std::string uri(OtpauthUri("bob smith", GenerateTotpSecret()).Reveal());
  for (QrStyle style : {QrStyle::kForDarkTerminal, QrStyle::kForLightTerminal}) {
    auto drawing = RenderQrForTerminal(uri, style);
    ASSERT_TRUE(drawing.has_value());
    char tmpl[] = "/tmp/bg_qr_test_XXXXXX";
    int fd = mkstemp(tmpl);
    ASSERT_GE(fd, 0);
    close(fd);
    std::string path = std::string(tmpl) + ".pbm";
    std::rename(tmpl, path.c_str());
    // On a dark terminal the blocks show light; on a light one they show dark.
    WritePbm(ParseDrawing(*drawing), style == QrStyle::kForLightTerminal, path);
    // stderr is dropped: zbarimg reports harmless D-Bus noise there on headless machines.
    std::string cmd = "zbarimg --raw -q '" + path + "' 2>/dev/null";
    FILE* p = popen(cmd.c_str(), "r");
    ASSERT_NE(p, nullptr);
    std::string out;
    char buf[512];
    while (fgets(buf, sizeof buf, p)) out += buf;
    int rc = pclose(p);
    std::remove(path.c_str());
    ASSERT_EQ(rc, 0) << out;
    while (!out.empty() && out.back() == '\n') out.pop_back();
    EXPECT_EQ(out, uri);
  }
}

}  // namespace
}  // namespace bg::auth
