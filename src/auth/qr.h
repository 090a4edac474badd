// QR codes for the terminal (TOTP enrollment), via libqrencode.
//
// The symbol is encoded at error-correction level M, surrounded by a quiet zone of 2 modules,
// and drawn with Unicode half blocks: each text line shows two rows of modules, each column
// one module (' ', '▀', '▄', '█'). Thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "util/result.h"

namespace bg::auth {

inline constexpr int kQrQuietZone = 2;

enum class QrStyle {
  // Blocks are the light modules: reads correctly on the usual dark-background terminal.
  kForDarkTerminal,
  // Blocks are the dark modules: for light backgrounds and paper.
  kForLightTerminal,
};

// The symbol's modules without quiet zone: [row][column], true = dark. InvalidArgument (field
// "text") for empty text or text too long for any QR version; Internal for other failures.
Result<std::vector<std::vector<bool>>> QrModules(std::string_view text);

// The drawing: ceil((n + 4) / 2) lines of n + 4 columns each (n = modules per side), each line
// ending in '\n'. Errors as QrModules.
Result<std::string> RenderQrForTerminal(std::string_view text,
                                        QrStyle style = QrStyle::kForDarkTerminal);

}  // namespace bg::auth
