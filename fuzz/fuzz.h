// What the fuzz targets share: invariant checks that stop the run with a message (libFuzzer
// then saves the input; the replay test fails), the error check every refusal must pass, and a
// reader that cuts the fuzzer's bytes into the pieces a target needs.
//
// Every target defines LLVMFuzzerTestOneInput; libFuzzer calls it in the fuzz build and
// replay_main.cc calls it on the seed corpus and the regression inputs in the unit tests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.h"

// Stops the run when `cond` is false: an invariant of the parser under test is broken.
#define BG_FUZZ_CHECK(cond)                                     \
  do {                                                          \
    if (!(cond)) ::bg::fuzz::Broken(#cond, __FILE__, __LINE__); \
  } while (0)

namespace bg::fuzz {

[[noreturn]] inline void Broken(const char* what, const char* file, int line) {
  std::fprintf(stderr, "%s:%d: invariant broken: %s\n", file, line, what);
  std::abort();
}

// A refusal must say what was wrong. (Its field may be empty: it is the key the client sent.)
inline void CheckError(const Error& e) { BG_FUZZ_CHECK(!e.message().empty()); }
template <typename T>
void CheckRefusal(const Result<T>& r) {
  if (!r.has_value()) CheckError(r.error());
}

inline std::string_view AsText(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Seed files separate the parts of a multi-part input with this line (readable in a corpus).
inline constexpr std::string_view kSeparator = "\n--8<--\n";

// The input as `n` parts cut at the first n-1 separators; missing parts are empty.
inline std::vector<std::string_view> Parts(std::string_view in, size_t n) {
  std::vector<std::string_view> out;
  while (out.size() + 1 < n) {
    size_t at = in.find(kSeparator);
    if (at == std::string_view::npos) break;
    out.push_back(in.substr(0, at));
    in.remove_prefix(at + kSeparator.size());
  }
  out.push_back(in);
  out.resize(n);
  return out;
}

// The first byte of the input (0 when empty) and the rest: for targets that pick what to
// parse from the input itself.
struct Selected {
  uint8_t selector = 0;
  std::string_view rest;
};
inline Selected Select(std::string_view in) {
  if (in.empty()) return {};
  return {static_cast<uint8_t>(in[0]), in.substr(1)};
}

}  // namespace bg::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
