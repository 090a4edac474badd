// Kit output of the CLI: a kit's share lines, and its shares and manifest written into a
// directory (through util/fs.h, so errors say by their code what happened). Secrets written
// here are wiped from the buffers this module owns.
#pragma once

#include <sys/types.h>

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "kit/kit.h"
#include "util/result.h"
#include "util/secret.h"

namespace bg::cli {

// The share lines of `kit`, in index order.
std::vector<Secret> KitShareLines(const kit::Kit& kit);
// Writes share-K.txt (0600), with `qr` also share-K.png (0600), and manifest.json (0644) into
// `dir` (created 0700 if missing; existing files are never replaced), then syncs the
// directory. Returns the paths written.
Result<std::vector<std::string>> WriteKitFiles(const std::string& dir, const kit::Kit& kit,
                                               const std::vector<Secret>& lines, bool qr);
// {"kit_id", "shares": [lines], "manifest": {...}}: the `kit split --json` shape.
nlohmann::json KitJson(const kit::Kit& kit, const std::vector<Secret>& lines);

}  // namespace bg::cli
