#include "kit/qr_png.h"

#include <gtest/gtest.h>
#include <png.h>

#include <string>

namespace bg::kit {
namespace {

TEST(QrPngTest, PngPixelsMatchTheQrModules) {
  const std::string text = "BGK1-ABCDE-FGHJK-MNPQR-STVWX-YZ012-34567-89ABC";
  auto modules = QrModules(text);
  ASSERT_TRUE(modules.has_value());
  auto png = QrPng(text);
  ASSERT_TRUE(png.has_value()) << png.error().message();

  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  ASSERT_TRUE(png_image_begin_read_from_memory(&image, png->data(), png->size()));
  image.format = PNG_FORMAT_GRAY;
  std::vector<uint8_t> pixels(PNG_IMAGE_SIZE(image));
  ASSERT_TRUE(png_image_finish_read(&image, nullptr, pixels.data(), 0, nullptr));
  const size_t width = modules->size();
  ASSERT_EQ(image.width, (width + 2 * kQrQuietZone) * kQrPixelsPerModule);
  ASSERT_EQ(image.height, image.width);
  for (size_t y = 0; y < image.height; ++y) {
    for (size_t x = 0; x < image.width; ++x) {
      const long my = static_cast<long>(y / kQrPixelsPerModule) - kQrQuietZone;
      const long mx = static_cast<long>(x / kQrPixelsPerModule) - kQrQuietZone;
      const bool inside =
          my >= 0 && mx >= 0 && my < static_cast<long>(width) && mx < static_cast<long>(width);
      const bool dark = inside && (*modules)[my][mx];
      ASSERT_EQ(pixels[y * image.width + x], dark ? 0 : 255) << x << "," << y;
    }
  }
  // Finder pattern: the top-left 7x7 corner has a dark border.
  for (int i = 0; i < 7; ++i) {
    EXPECT_TRUE((*modules)[0][i]);
    EXPECT_TRUE((*modules)[i][0]);
  }
}

// The longest share line (a 1024-byte secret, 2528 characters) still fits once upper-cased,
// because the QR alphanumeric mode then applies.
TEST(QrPngTest, LongestUpperCaseShareLineFits) {
  std::string line = "BGK1";
  while (line.size() < 2528) line += "-7Q3KZ";
  line.resize(2528);
  EXPECT_TRUE(QrPng(line).has_value());
}

TEST(QrPngTest, TextTooLongForAQrCodeIsRefused) {
  auto r = QrPng(std::string(8000, 'a'));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace bg::kit
