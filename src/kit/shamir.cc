#include "kit/shamir.h"

#include <sodium.h>

#include <string>

#include "kit/gf256.h"

namespace bg::kit {
namespace {

// Overwrites a buffer that held secret coefficients; sodium_memzero is not optimised away.
void Wipe(std::vector<uint8_t>& bytes) { sodium_memzero(bytes.data(), bytes.size()); }

}  // namespace

Result<std::vector<ShamirPoint>> ShamirSplit(const Secret& secret, int threshold, int shares,
                                             Random& random) {
  if (threshold < kMinThreshold || threshold > kMaxShares) {
    return Error::InvalidArgument("threshold", "threshold must be between 2 and 255");
  }
  if (shares < threshold || shares > kMaxShares) {
    return Error::InvalidArgument("shares", "shares must be between the threshold and 255");
  }
  if (secret.empty()) return Error::InvalidArgument("secret", "the secret is empty");

  const size_t len = secret.size();
  const size_t degree = static_cast<size_t>(threshold) - 1;
  // coefficients[b * degree + k] is the coefficient of x^(k+1) for secret byte b.
  std::vector<uint8_t> coefficients(len * degree);
  random.Fill(coefficients.data(), coefficients.size());

  std::vector<ShamirPoint> points;
  points.reserve(static_cast<size_t>(shares));
  std::vector<uint8_t> y(len);
  for (int i = 1; i <= shares; ++i) {
    const auto x = static_cast<uint8_t>(i);
    for (size_t b = 0; b < len; ++b) {
      // Horner: (((c_d x + c_{d-1}) x + ...) x + c_1) x + secret.
      uint8_t acc = 0;
      for (size_t k = degree; k > 0; --k) {
        acc = GfAdd(GfMul(acc, x), coefficients[b * degree + (k - 1)]);
      }
      y[b] = GfAdd(GfMul(acc, x), secret.data()[b]);
    }
    points.push_back(ShamirPoint{x, Secret(y)});
  }
  Wipe(y);
  Wipe(coefficients);
  return points;
}

Result<Secret> ShamirInterpolate(const std::vector<ShamirPoint>& points, uint8_t at) {
  if (points.empty()) return Error::InvalidArgument("shares", "no shares to combine");
  const size_t len = points[0].y.size();
  for (size_t i = 0; i < points.size(); ++i) {
    if (points[i].x == 0) return Error::InvalidArgument("shares", "share index 0 is not valid");
    if (points[i].y.size() != len) {
      return Error::InvalidArgument("shares", "shares have different lengths");
    }
    for (size_t j = 0; j < i; ++j) {
      if (points[i].x == points[j].x) {
        return Error::InvalidArgument("shares",
                                      "duplicate share index " + std::to_string(points[i].x));
      }
    }
  }
  // Lagrange basis at `at`: l_i = prod_{j != i} (at - x_j) / (x_i - x_j); minus is xor here.
  std::vector<uint8_t> basis(points.size());
  for (size_t i = 0; i < points.size(); ++i) {
    uint8_t numerator = 1;
    uint8_t denominator = 1;
    for (size_t j = 0; j < points.size(); ++j) {
      if (j == i) continue;
      numerator = GfMul(numerator, GfAdd(at, points[j].x));
      denominator = GfMul(denominator, GfAdd(points[i].x, points[j].x));
    }
    basis[i] = GfMul(numerator, GfInv(denominator));
  }
  std::vector<uint8_t> out(len, 0);
  for (size_t i = 0; i < points.size(); ++i) {
    const uint8_t* y = points[i].y.data();
    for (size_t b = 0; b < len; ++b) out[b] = GfAdd(out[b], GfMul(basis[i], y[b]));
  }
  Secret secret(out);
  Wipe(out);
  return secret;
}

Result<Secret> ShamirCombine(const std::vector<ShamirPoint>& points) {
  return ShamirInterpolate(points, 0);
}

}  // namespace bg::kit
