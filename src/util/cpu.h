// What the CPU can do, for the hand-vectorised decoders (base64, the audit leaf's quote map):
// read once at load time, so a hot path pays one load. A decoder called before that, from
// another file's static initialiser, sees false and takes its portable path.
#pragma once

namespace bg::cpu {

extern const bool kAvx2;        // AVX2
extern const bool kAvx512Bw;    // AVX-512BW with BMI2 (masked byte loads and compares, bzhi)
extern const bool kAvx512Vbmi;  // kAvx512Bw and AVX-512 VBMI (byte permutes)

}  // namespace bg::cpu
