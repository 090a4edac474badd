// The one file-system seam: reading whole files, creating files that must not exist yet
// (fsynced, with a mode), replacing a file atomically, directories, and files holding one
// secret. Errors name the path and the OS reason, carry `field` when one is given (the
// option or argument that named the path), and say by their code what happened: kNotFound
// (no such file or directory), kConflict (it exists), kPermissionDenied (not allowed, or a
// read-only file system), kUnavailable (any other failure). Buffers this module owns are
// wiped after use, so secrets read through it leave no copy behind.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "util/result.h"
#include "util/secret.h"

namespace bg::fs {

// The error for a failed `what` ("read", "create", ...) on `path` with errno `err`.
Error OsError(std::string_view what, const std::string& path, int err, std::string field = {});

Result<std::string> ReadWholeFile(const std::string& path, std::string field = {});
// Creates `path` with `mode` (refusing to replace an existing file or follow a symlink),
// writes and fsyncs it; a failed write leaves no file.
Status WriteNewFile(const std::string& path, std::string_view bytes, mode_t mode);
// Replaces `path` atomically (a temporary file beside it, fsynced, then renamed) with `mode`.
Status ReplaceFile(const std::string& path, std::string_view bytes, mode_t mode);
Status SyncDir(const std::string& dir);
// Creates `dir` (0700) unless it exists; fails if it is not a directory.
Status MakeDir(const std::string& dir);
// How a secret file's end is read: every trailing CR/LF dropped (passwords, tokens), or exactly
// one trailing "\n" removed and every other byte kept (a key whose bytes are the contract, such
// as a webhook's HMAC key).
enum class SecretEnd { kTrimNewlines, kOneNewline };
// A regular file holding one secret (at most 64 KiB). Refuses a file that group or others may
// read (kFailedPrecondition), a symlink, an empty file.
Result<Secret> ReadSecretFile(const std::string& path, const std::string& field,
                              SecretEnd end = SecretEnd::kTrimNewlines);

}  // namespace bg::fs
