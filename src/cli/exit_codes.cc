#include "cli/exit_codes.h"

#include <fmt/format.h>

#include "cli/text.h"

namespace bg::cli {
namespace {

constexpr ExitCodeInfo kTable[] = {
    {ExitCode::kOk, "ok"},
    {ExitCode::kInternal, "internal error (audit verify: the log does not verify)"},
    {ExitCode::kUsage, "bad input or usage (a rejected kit share or record too)"},
    {ExitCode::kUnauthenticated, "not logged in or token expired"},
    {ExitCode::kPermissionDenied, "permission denied"},
    {ExitCode::kNotFound, "not found (request, session, file)"},
    {ExitCode::kConflict, "conflict (the request's state does not allow it; the file exists)"},
    {ExitCode::kRateLimited, "rate limited"},
    {ExitCode::kUnavailable,
     "server unreachable or unavailable, a connector is failing, or a drill failed"},
    {ExitCode::kDenied, "request --wait: denied, cancelled or revoked"},
    {ExitCode::kTimedOut, "request --wait: timed out before it was approved"},
};

}  // namespace

std::span<const ExitCodeInfo> ExitCodeTable() { return kTable; }

std::string ExitCodesHelp() {
  std::string out = "Exit codes:";
  for (const auto& e : kTable) {
    out += fmt::format(" {} {};", static_cast<int>(e.code), e.meaning);
  }
  out.back() = '.';
  return out;
}

ExitCode ExitCodeFor(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return ExitCode::kUsage;
    case ErrorCode::kUnauthenticated: return ExitCode::kUnauthenticated;
    case ErrorCode::kPermissionDenied: return ExitCode::kPermissionDenied;
    case ErrorCode::kNotFound: return ExitCode::kNotFound;
    case ErrorCode::kConflict:
    case ErrorCode::kFailedPrecondition: return ExitCode::kConflict;
    case ErrorCode::kResourceExhausted: return ExitCode::kRateLimited;
    case ErrorCode::kUnavailable: return ExitCode::kUnavailable;
    case ErrorCode::kInternal: return ExitCode::kInternal;
  }
  return ExitCode::kInternal;
}

std::string UsageMessage(const CLI::App& app, const CLI::ParseError& e) {
  // The deepest command that was given, and the words it did not take.
  const CLI::App* at = &app;
  std::string path;
  for (;;) {
    auto chosen = at->get_subcommands();
    if (chosen.empty()) break;
    at = chosen.front();
    path += at->get_name() + " ";
  }
  const bool needs_command = at->get_require_subcommand_min() > 0 && at->get_subcommands().empty();
  if (!needs_command) return TerminalSafe(e.what());
  std::string names;
  for (const CLI::App* sub : at->get_subcommands([](const CLI::App*) { return true; })) {
    if (sub->get_name().empty() || sub->get_group().empty()) continue;
    names += (names.empty() ? "" : ", ") + sub->get_name();
  }
  for (const std::string& word : app.remaining(/*recurse=*/true)) {
    if (!word.empty() && word[0] != '-') {
      return fmt::format("unknown command '{}{}'; commands: {}", path, TerminalSafe(word), names);
    }
  }
  if (path.empty()) return "a command is required; commands: " + names;
  path.pop_back();
  return fmt::format("'{}' needs a command; commands: {}", path, names);
}

}  // namespace bg::cli
