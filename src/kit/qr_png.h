// Share lines as printable QR codes: libqrencode for the symbol, libpng for the file.
//
// The text is encoded as given (callers pass the upper-case share line so that the QR
// alphanumeric mode applies), error correction level M, 8 pixels per module, a 4-module quiet
// zone, 8-bit grey. Thread-safe.
#pragma once

#include <string_view>
#include <vector>

#include "util/result.h"
#include "util/secret.h"

namespace bg::kit {

inline constexpr int kQrPixelsPerModule = 8;
inline constexpr int kQrQuietZone = 4;

// The QR symbol as rows of dark (true) / light modules, without the quiet zone.
Result<std::vector<std::vector<bool>>> QrModules(std::string_view text);

// A PNG file's bytes. kInvalidArgument when the text does not fit in a QR code.
Result<Secret> QrPng(std::string_view text);

}  // namespace bg::kit
