// `breakglass kit ...`: the offline emergency kit on the command line (split, combine,
// check, rotate, verify-record). The library behind it is src/kit/.
//
// AddKitCommands registers the `kit` subcommand tree on `app`. Subcommands run from CLI11
// callbacks; on failure they print one line to stderr and throw CLI::RuntimeError(code),
// which CLI11_PARSE / app.exit(e) turn into the process exit code:
//   0 success; 1 a share, kit or record was rejected (corrupted, mixed kits, duplicate
//   index, too few shares, not in the manifest, bad signature); 2 bad arguments or input
//   (threshold out of range, empty secret, ...); 3 a file could not be read or written;
//   100-127 command-line syntax errors reported by CLI11.
#pragma once

#include <CLI/CLI.hpp>

namespace bg::cli {

void AddKitCommands(CLI::App& app);

}  // namespace bg::cli
