#include "util/cpu.h"

namespace bg::cpu {
namespace {

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
bool Supports(bool (*check)()) {
  __builtin_cpu_init();
  return check();
}
#define BG_CPU_SUPPORTS(...) Supports([] { return (__VA_ARGS__); })
#else
#define BG_CPU_SUPPORTS(...) false
#endif

}  // namespace

const bool kAvx2 = BG_CPU_SUPPORTS(__builtin_cpu_supports("avx2") != 0);
const bool kAvx512Bw =
    BG_CPU_SUPPORTS(__builtin_cpu_supports("avx512bw") != 0 && __builtin_cpu_supports("bmi2") != 0);
const bool kAvx512Vbmi2 = kAvx512Bw && BG_CPU_SUPPORTS(__builtin_cpu_supports("avx512vl") != 0 &&
                                                       __builtin_cpu_supports("avx512vbmi2") != 0 &&
                                                       __builtin_cpu_supports("pclmul") != 0);

}  // namespace bg::cpu
