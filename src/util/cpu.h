// What the CPU can do, for the hand-vectorised decoders (base64, the audit leaf check):
// read once at load time, so a hot path pays one load. A decoder called before that, from
// another file's static initialiser, sees false and takes its portable path.
#pragma once

namespace bg::cpu {

extern const bool kAvx2;        // AVX2
extern const bool kAvx512Bw;    // AVX-512BW with BMI2 (masked byte loads and compares, bzhi)
// kAvx512Bw, AVX-512VL and VBMI2 (byte compress) with PCLMULQDQ (carry-less multiply)
extern const bool kAvx512Vbmi2;

}  // namespace bg::cpu
