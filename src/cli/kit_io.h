// File and kit output shared by the CLI (kit commands, credentials and key files): reading
// whole files, creating files that must not exist yet (fsynced, with a mode), replacing a file
// atomically, and writing a kit's shares and manifest into a directory. Errors name the path
// and the OS reason; their code is kNotFound (no such file), kConflict (it exists),
// kPermissionDenied (not allowed) or kUnavailable (any other failure). Secrets read or written
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

Result<std::string> ReadWholeFile(const std::string& path);
// Creates `path` with `mode` (refusing to replace an existing file), writes and fsyncs it.
Status WriteNewFile(const std::string& path, std::string_view bytes, mode_t mode);
// Replaces `path` atomically (a temporary file beside it, then rename) with `mode`.
Status ReplaceFile(const std::string& path, std::string_view bytes, mode_t mode);
Status SyncDir(const std::string& dir);
// Creates `dir` (0700) unless it exists; fails if it is not a directory.
Status MakeDir(const std::string& dir);

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
