// Replays files through one fuzz target without libFuzzer: the unit test of each target.
//
//   fuzz_replay_TARGET DIR_OR_FILE...
//
// Directories are read one level deep, files in name order. A crash or a broken invariant
// aborts (the test fails); so does a first argument (the seed corpus) that holds no file, so a
// missing corpus cannot pass unnoticed. Later arguments (regressions) may be absent.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fuzz/fuzz.h"

namespace {

std::vector<std::filesystem::path> Files(const std::filesystem::path& where) {
  std::vector<std::filesystem::path> out;
  std::error_code ec;
  if (std::filesystem::is_regular_file(where, ec)) return {where};
  for (const auto& e : std::filesystem::directory_iterator(where, ec)) {
    if (e.is_regular_file()) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  size_t total = 0;
  for (int i = 1; i < argc; ++i) {
    const std::vector<std::filesystem::path> files = Files(argv[i]);
    if (i == 1 && files.empty()) {
      std::fprintf(stderr, "%s: no seed inputs\n", argv[i]);
      return 1;
    }
    for (const auto& f : files) {
      std::ifstream in(f, std::ios::binary);
      std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (!in.good() && !in.eof()) {
        std::fprintf(stderr, "%s: unreadable\n", f.c_str());
        return 1;
      }
      std::fprintf(stderr, "%s\n", f.c_str());
      LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
      ++total;
    }
  }
  std::printf("replayed %zu inputs\n", total);
  return 0;
}
