#include "kit/qr_png.h"

#include <png.h>
#include <qrencode.h>
#include <sodium.h>

#include <memory>
#include <string>

namespace bg::kit {
namespace {

void AppendToBuffer(png_structp png, png_bytep data, png_size_t length) {
  auto* out = static_cast<std::vector<uint8_t>*>(png_get_io_ptr(png));
  out->insert(out->end(), data, data + length);
}

void NoFlush(png_structp) {}

}  // namespace

Result<std::vector<std::vector<bool>>> QrModules(std::string_view text) {
  const std::string zero_terminated(text);
  std::unique_ptr<QRcode, decltype(&QRcode_free)> code(
      QRcode_encodeString(zero_terminated.c_str(), 0, QR_ECLEVEL_M, QR_MODE_8, 1), &QRcode_free);
  if (code == nullptr) {
    return Error::InvalidArgument("qr", "the text does not fit in a QR code");
  }
  const int width = code->width;
  std::vector<std::vector<bool>> rows(static_cast<size_t>(width), std::vector<bool>(width));
  for (int y = 0; y < width; ++y) {
    for (int x = 0; x < width; ++x) rows[y][x] = (code->data[y * width + x] & 1) != 0;
  }
  sodium_memzero(code->data, static_cast<size_t>(width) * width);
  return rows;
}

Result<Secret> QrPng(std::string_view text) {
  BG_ASSIGN_OR_RETURN(auto modules, QrModules(text));
  const int size = (static_cast<int>(modules.size()) + 2 * kQrQuietZone) * kQrPixelsPerModule;
  std::vector<uint8_t> out;
  std::vector<uint8_t> row(static_cast<size_t>(size));

  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png != nullptr ? png_create_info_struct(png) : nullptr;
  if (png == nullptr || info == nullptr) {
    png_destroy_write_struct(&png, &info);
    return Error::Internal("libpng: cannot create a writer");
  }
  // libpng reports errors by longjmp; nothing below owns resources that would leak.
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return Error::Internal("libpng: cannot encode the QR code");
  }
  png_set_write_fn(png, &out, AppendToBuffer, NoFlush);
  png_set_IHDR(png, info, size, size, 8, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (int y = 0; y < size; ++y) {
    const int my = y / kQrPixelsPerModule - kQrQuietZone;
    for (int x = 0; x < size; ++x) {
      const int mx = x / kQrPixelsPerModule - kQrQuietZone;
      const bool inside = my >= 0 && mx >= 0 && my < static_cast<int>(modules.size()) &&
                          mx < static_cast<int>(modules.size());
      row[static_cast<size_t>(x)] = inside && modules[my][mx] ? 0 : 255;
    }
    png_write_row(png, row.data());
  }
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  Secret bytes(out);
  sodium_memzero(out.data(), out.size());
  return bytes;
}

}  // namespace bg::kit
