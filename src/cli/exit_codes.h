// The exit codes of every breakglass command: one table, the source of `--help`'s list, of
// README's and of the test that checks both (test/integration/cli_test.sh).
//
// A failing command prints one line on stderr ("breakglass: <what went wrong>") and exits
// with one of these. A command that has already printed its line throws CommandFailed from its
// CLI11 callback; main() returns the code without printing anything more.
#pragma once

#include <CLI/CLI.hpp>
#include <span>
#include <string>
#include <string_view>

#include "util/result.h"

namespace bg::cli {

enum class ExitCode : int {
  kOk = 0,
  kInternal = 1,          // also: `audit verify` found the log does not verify
  kUsage = 2,             // bad input or usage (includes a rejected kit share or record)
  kUnauthenticated = 3,   // not logged in, token expired
  kPermissionDenied = 4,  // the server or the file system said no
  kNotFound = 5,          // no such request, session, file, ...
  kConflict = 6,          // the request's state does not allow it; an output file exists
  kRateLimited = 7,
  kUnavailable = 8,       // server unreachable or unavailable; a connector or job is failing
  kDenied = 9,            // request --wait: the request was denied, cancelled or revoked
  kTimedOut = 10,         // request --wait: it timed out (or --wait-timeout passed) unapproved
};

struct ExitCodeInfo {
  ExitCode code;
  std::string_view meaning;
};

// Every exit code with its meaning, in increasing order.
std::span<const ExitCodeInfo> ExitCodeTable();
// "Exit codes: 0 ok; 1 internal error; ..." (one paragraph, for --help footers).
std::string ExitCodesHelp();
// The exit code of a failure with this error code.
ExitCode ExitCodeFor(ErrorCode code);
inline int ExitCodeFor(const Error& e) { return static_cast<int>(ExitCodeFor(e.code())); }

// Thrown by a subcommand's callback after it printed its one-line message.
class CommandFailed : public CLI::RuntimeError {
 public:
  explicit CommandFailed(ExitCode code) : CLI::RuntimeError(static_cast<int>(code)) {}
  explicit CommandFailed(int code) : CLI::RuntimeError(code) {}
};

// The one line for a command-line syntax error: CLI11's message, except that a word that is not
// a command says so ("unknown command 'frob'; commands: ...") instead of "A subcommand is
// required".
std::string UsageMessage(const CLI::App& app, const CLI::ParseError& e);

}  // namespace bg::cli
