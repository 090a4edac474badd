// Shamir's secret sharing over GF(2^8), byte by byte.
//
// Split draws the threshold-1 random coefficients of each byte's polynomial from `random`
// (libsodium's CSPRNG in production, a seeded stream in tests) and evaluates the polynomials
// at x = 1..shares. Combine interpolates at x = 0 from exactly the points it is given. All
// arithmetic on secret bytes is constant time (kit/gf256.h). Pure functions, thread-safe
// given a thread-safe Random.
#pragma once

#include <cstdint>
#include <vector>

#include "util/random.h"
#include "util/result.h"
#include "util/secret.h"

namespace bg::kit {

inline constexpr int kMinThreshold = 2;
inline constexpr int kMaxShares = 255;

// One point per secret byte, all at the same x (1..255). `y` is as secret as the secret.
struct ShamirPoint {
  uint8_t x = 0;
  Secret y;
};

// Requires 2 <= threshold <= shares <= 255 and a non-empty secret (kInvalidArgument otherwise).
Result<std::vector<ShamirPoint>> ShamirSplit(const Secret& secret, int threshold, int shares,
                                             Random& random);

// Interpolates at 0 through every given point. The caller passes at least `threshold` points
// of one kit; fewer give a value unrelated to the secret. Refuses an empty list, x = 0,
// duplicate x and points of different lengths (kInvalidArgument).
Result<Secret> ShamirCombine(const std::vector<ShamirPoint>& points);

// Evaluates, at `x`, the polynomial through `points` (Lagrange form). ShamirCombine is
// ShamirInterpolate(points, 0); combine uses other x to check that extra shares agree.
Result<Secret> ShamirInterpolate(const std::vector<ShamirPoint>& points, uint8_t x);

}  // namespace bg::kit
