#include "cli/kit_io.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>

#include "kit/qr_png.h"
#include "kit/share_line.h"
#include "util/fs.h"

namespace bg::cli {

std::vector<Secret> KitShareLines(const kit::Kit& kit) {
  std::vector<Secret> lines;
  for (const kit::Share& s : kit.shares) lines.push_back(kit::FormatShareLine(s));
  return lines;
}

Result<std::vector<std::string>> WriteKitFiles(const std::string& dir, const kit::Kit& kit,
                                               const std::vector<Secret>& lines, bool qr) {
  BG_TRY(fs::MakeDir(dir));
  std::vector<std::string> written;
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string base = fmt::format("{}/share-{}", dir, kit.shares[i].index);
    std::string text = std::string(lines[i].Reveal()) + "\n";
    Status wrote = fs::WriteNewFile(base + ".txt", text, 0600);
    sodium_memzero(text.data(), text.size());
    BG_TRY(wrote);
    written.push_back(base + ".txt");
    if (qr) {
      // QR codes carry the upper-case line, which fits the alphanumeric mode.
      std::string upper(lines[i].Reveal());
      for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      auto png = kit::QrPng(upper);
      sodium_memzero(upper.data(), upper.size());
      if (!png) return png.error();
      BG_TRY(fs::WriteNewFile(base + ".png", png->Reveal(), 0600));
      written.push_back(base + ".png");
    }
  }
  const std::string manifest_path = dir + "/manifest.json";
  BG_TRY(fs::WriteNewFile(manifest_path, kit::FormatManifest(kit.manifest), 0644));
  written.push_back(manifest_path);
  BG_TRY(fs::SyncDir(dir));
  return written;
}

nlohmann::json KitJson(const kit::Kit& kit, const std::vector<Secret>& lines) {
  nlohmann::json shares = nlohmann::json::array();
  for (const Secret& line : lines) shares.push_back(std::string(line.Reveal()));
  return {{"kit_id", kit.manifest.kit_id},
          {"shares", shares},
          {"manifest", kit::ManifestToJson(kit.manifest)}};
}

}  // namespace bg::cli
