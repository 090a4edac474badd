// Runs a program (argv, no shell) with bytes on its stdin, collecting stdout and stderr, under a
// deadline. On timeout the whole process group is killed. Thread-safe (no shared state).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "util/result.h"

namespace bg::connectors {

struct ProcessResult {
  int exit_code = -1;  // -1 when killed by a signal (including the timeout)
  bool timed_out = false;
  std::string out;  // at most kMaxOutput bytes each
  std::string err;
};
inline constexpr size_t kMaxProcessOutput = 1 << 20;

// Unavailable when the program cannot be started (the message names argv[0]).
Result<ProcessResult> RunProcess(const std::vector<std::string>& argv, std::string_view input,
                                 std::chrono::milliseconds timeout);

}  // namespace bg::connectors
