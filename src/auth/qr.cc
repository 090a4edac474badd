#include "auth/qr.h"

#include <qrencode.h>

#include <cerrno>
#include <memory>
#include <string>

namespace bg::auth {
namespace {

struct QrCodeDeleter {
  void operator()(QRcode* code) const { QRcode_free(code); }
};

}  // namespace

Result<std::vector<std::vector<bool>>> QrModules(std::string_view text) {
  if (text.empty()) return Error::InvalidArgument("text", "nothing to encode");
  if (text.find('\0') != std::string_view::npos) {
    return Error::InvalidArgument("text", "contains a NUL byte");
  }
  // encodeString picks the densest mode per segment (alphanumeric for the base32 secret), so
  // an otpauth URI fits a smaller, easier to scan symbol than pure 8-bit mode would give.
  const std::string c_text(text);
  errno = 0;
  std::unique_ptr<QRcode, QrCodeDeleter> code(QRcode_encodeString(
      c_text.c_str(), /*version=*/0, QR_ECLEVEL_M, QR_MODE_8, /*casesensitive=*/1));
  if (!code) {
    if (errno == ERANGE) {
      return Error::InvalidArgument("text", "too long for a QR code at error correction M");
    }
    return Error::Internal("QR encoding failed");
  }
  const int n = code->width;
  std::vector<std::vector<bool>> modules(n, std::vector<bool>(n));
  for (int y = 0; y < n; ++y) {
    for (int x = 0; x < n; ++x) modules[y][x] = (code->data[y * n + x] & 1) != 0;
  }
  return modules;
}

Result<std::string> RenderQrForTerminal(std::string_view text, QrStyle style) {
  BG_ASSIGN_OR_RETURN(auto modules, QrModules(text));
  const int n = static_cast<int>(modules.size());
  const int size = n + 2 * kQrQuietZone;
  const bool blocks_are_dark = style == QrStyle::kForLightTerminal;
  // Whether the cell at (x, y) of the padded symbol is drawn as ink.
  auto ink = [&](int x, int y) {
    int mx = x - kQrQuietZone, my = y - kQrQuietZone;
    bool dark = mx >= 0 && my >= 0 && mx < n && my < n && modules[my][mx];
    return dark == blocks_are_dark;
  };
  std::string out;
  for (int y = 0; y < size; y += 2) {
    for (int x = 0; x < size; ++x) {
      bool top = ink(x, y);
      // An odd size leaves the last line's lower half outside the symbol: draw it as paper.
      bool bottom = y + 1 < size && ink(x, y + 1);
      if (top && bottom) {
        out += "\u2588";  // █
      } else if (top) {
        out += "\u2580";  // ▀
      } else if (bottom) {
        out += "\u2584";  // ▄
      } else {
        out += ' ';
      }
    }
    out += '\n';
  }
  return out;
}

}  // namespace bg::auth
