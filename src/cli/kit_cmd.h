// `breakglass kit ...`: the offline emergency kit on the command line (split, combine,
// check, rotate, verify-record). The library behind it is src/kit/.
//
// AddKitCommands registers the `kit` subcommand tree on `app`. Subcommands run from CLI11
// callbacks; on failure they print one line to stderr and throw CommandFailed (exit_codes.h)
// with README's exit code: 2 a rejected share, kit or record, or bad arguments; 5 an input file
// that does not exist; 6 an output file that exists; 4 a file you may not read or write; 8 any
// other read or write failure; 1 an internal error.
#pragma once

#include <CLI/CLI.hpp>

namespace bg::cli {

void AddKitCommands(CLI::App& app);

}  // namespace bg::cli
