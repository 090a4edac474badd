#include "util/encoding.h"

#include <arpa/inet.h>
#include <sodium.h>

#include <algorithm>
#include <array>
#include <cstdint>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define BG_BASE64_AVX2 1
#else
#define BG_BASE64_AVX2 0
#endif

#include "util/cpu.h"

namespace bg {
namespace {

std::string Encode(std::string_view bytes, int variant) {
  std::string out(sodium_base64_encoded_len(bytes.size(), variant), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                    bytes.size(), variant);
  out.resize(out.size() - 1);  // the terminating NUL
  return out;
}

std::optional<std::string> Decode(std::string_view text, int variant) {
  std::string out(text.size() / 4 * 3 + 3, '\0');
  size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(),
                        text.size(), nullptr, &len, &end, variant) != 0 ||
      end != text.data() + text.size()) {
    return std::nullopt;
  }
  out.resize(len);
  if (Encode(out, variant) != text) return std::nullopt;  // non-canonical trailing bits
  return out;
}

// Standard base64 alphabet, as four tables: the value of a character at position 0..3 of a
// quad, already shifted into place, or kBadChar for a character outside the alphabet.
constexpr uint32_t kBadChar = 1u << 24;
using QuadTable = std::array<uint32_t, 256>;
constexpr QuadTable MakeQuadTable(int shift) {
  QuadTable t{};
  t.fill(kBadChar);
  constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (size_t i = 0; i < kAlphabet.size(); ++i) {
    t[static_cast<unsigned char>(kAlphabet[i])] = static_cast<uint32_t>(i) << shift;
  }
  return t;
}
constexpr QuadTable kQuad0 = MakeQuadTable(18), kQuad1 = MakeQuadTable(12),
                    kQuad2 = MakeQuadTable(6), kQuad3 = MakeQuadTable(0);

#if BG_BASE64_AVX2
// Muła and Lemire's AVX2 decoding ("Faster Base64 Encoding and Decoding Using AVX2
// Instructions", ACM TWEB 2018), 32 characters (8 quads without padding) into 24 bytes per
// step: the characters are classified by their two nibbles (pshufb lookups whose AND is
// non-zero for a character outside the alphabet), mapped to their 6-bit values by adding an
// offset chosen by the high nibble ('/' apart), then packed. One step: the 24 bytes of the
// characters in `v` in the result's first 24 bytes; `bad` gets non-zero bits when a character
// is outside the alphabet.
__attribute__((target("avx2"), always_inline)) inline __m256i DecodeStepAvx2(__m256i v,
                                                                             __m256i& bad) {
  const __m256i lut_lo = _mm256_setr_epi8(  //
      0x15, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x13, 0x1a, 0x1b, 0x1b, 0x1b,
      0x1a, 0x15, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x13, 0x1a, 0x1b, 0x1b,
      0x1b, 0x1a);
  const __m256i lut_hi = _mm256_setr_epi8(  //
      0x10, 0x10, 0x01, 0x02, 0x04, 0x08, 0x04, 0x08, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10,
      0x10, 0x10, 0x10, 0x01, 0x02, 0x04, 0x08, 0x04, 0x08, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10,
      0x10, 0x10);
  const __m256i lut_roll = _mm256_setr_epi8(                     //
      0, 16, 19, 4, -65, -65, -71, -71, 0, 0, 0, 0, 0, 0, 0, 0,  //
      0, 16, 19, 4, -65, -65, -71, -71, 0, 0, 0, 0, 0, 0, 0, 0);
  const __m256i pack = _mm256_setr_epi8(                       //
      2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1,  //
      2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1);
  const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 4, 5, 6, 7, 7);
  const __m256i mask_2f = _mm256_set1_epi8(0x2f);
  // Bit 5 kept by the mask does not matter to pshufb, bit 7 (which zeroes) is cleared.
  const __m256i hi_nibbles = _mm256_and_si256(_mm256_srli_epi32(v, 4), mask_2f);
  const __m256i lo_nibbles = _mm256_and_si256(v, mask_2f);
  bad = _mm256_or_si256(bad, _mm256_and_si256(_mm256_shuffle_epi8(lut_lo, lo_nibbles),
                                              _mm256_shuffle_epi8(lut_hi, hi_nibbles)));
  const __m256i roll =
      _mm256_shuffle_epi8(lut_roll, _mm256_add_epi8(_mm256_cmpeq_epi8(v, mask_2f), hi_nibbles));
  v = _mm256_add_epi8(v, roll);
  // Four 6-bit values per 32-bit word into 24 bits, then 12 bytes per 128-bit lane.
  v = _mm256_maddubs_epi16(v, _mm256_set1_epi32(0x01400140));
  v = _mm256_madd_epi16(v, _mm256_set1_epi32(0x00011000));
  return _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(v, pack), lanes);
}

// `blocks` steps from src; false when any character is outside the alphabet (dst is then
// unspecified). Writes exactly 24 * blocks bytes.
__attribute__((target("avx2"))) bool DecodeBlocksAvx2(const unsigned char* src, size_t blocks,
                                                      unsigned char* dst) {
  __m256i bad = _mm256_setzero_si256();
  for (size_t b = 0; b < blocks; ++b, src += 32, dst += 24) {
    const __m256i v =
        DecodeStepAvx2(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src)), bad);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), _mm256_castsi256_si128(v));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(dst + 16), _mm256_extracti128_si256(v, 1));
  }
  return _mm256_testz_si256(bad, bad) != 0;
}

#endif

// `quads` quads without padding into 3 bytes each; false when a character is outside the
// alphabet (dst is then unspecified).
bool DecodeQuads(const unsigned char* src, size_t quads, unsigned char* dst) {
  uint32_t bad = 0;
  for (size_t q = 0; q < quads; ++q, src += 4, dst += 3) {
    const uint32_t v = kQuad0[src[0]] | kQuad1[src[1]] | kQuad2[src[2]] | kQuad3[src[3]];
    bad |= v;
    dst[0] = static_cast<unsigned char>(v >> 16);
    dst[1] = static_cast<unsigned char>(v >> 8);
    dst[2] = static_cast<unsigned char>(v);
  }
  return (bad & kBadChar) == 0;
}

// The last quad, "xx==" (pad 2: one byte) or "xxx=" (pad 1: two); the bits after the data must
// be zero.
bool DecodePaddedQuad(const unsigned char* src, size_t pad, unsigned char* dst) {
  const uint32_t v = kQuad0[src[0]] | kQuad1[src[1]] | (pad == 1 ? kQuad2[src[2]] : 0);
  if ((v & kBadChar) != 0) return false;
  if (pad == 2) {
    if ((v & 0xffff) != 0) return false;
    dst[0] = static_cast<unsigned char>(v >> 16);
    return true;
  }
  if ((v & 0xff) != 0) return false;
  dst[0] = static_cast<unsigned char>(v >> 16);
  dst[1] = static_cast<unsigned char>(v >> 8);
  return true;
}

// Base64DecodeInto at `start` (<= out.size()), with the bulk of the quads decoded by AVX2 when
// `simd` allows and the CPU has it. Resizing straight to the decoded size fills only bytes the
// buffer did not have yet (a reused one mostly has them).
bool DecodeAt(std::string_view in, std::string& out, size_t start, bool simd) {
  if (in.size() % 4 != 0) return false;
  if (in.empty()) {
    out.resize(start);
    return true;
  }
  const size_t pad = in.back() != '=' ? 0 : in[in.size() - 2] != '=' ? 1 : 2;
  out.resize(start + in.size() / 4 * 3 - pad);
  const auto* src = reinterpret_cast<const unsigned char*>(in.data());
  auto* dst = reinterpret_cast<unsigned char*>(out.data() + start);
  size_t full = in.size() / 4 - (pad != 0 ? 1 : 0);
#if BG_BASE64_AVX2
  if (simd && cpu::kAvx2 && full >= 8) {
    const size_t blocks = full / 8;
    if (!DecodeBlocksAvx2(src, blocks, dst)) return false;
    src += 32 * blocks;
    dst += 24 * blocks;
    full -= 8 * blocks;
  }
#endif
  if (!DecodeQuads(src, full, dst)) return false;
  return pad == 0 || DecodePaddedQuad(src + 4 * full, pad, dst + 3 * full);
}

constexpr size_t k32Chars = 44;  // base64 of 32 bytes: 10 quads and "xxx="

#if BG_BASE64_AVX2
// Base64Decode32's 44 characters (their shape checked) in two AVX2 steps, in registers:
// characters 0..31 give bytes 0..23, and characters 12..43, the final '=' read as 'A' (zero),
// give bytes 9..32; that 33rd byte holds the unused bits, which a canonical encoding leaves
// zero.
__attribute__((target("avx2"))) bool Decode32Avx2(const unsigned char* src, unsigned char* dst) {
  const __m256i last = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -1);
  __m256i bad = _mm256_setzero_si256();
  const __m256i head =
      DecodeStepAvx2(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src)), bad);
  const __m256i tail = DecodeStepAvx2(
      _mm256_blendv_epi8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + 12)),
                         _mm256_set1_epi8('A'), last),
      bad);
  if (_mm256_testz_si256(bad, bad) == 0 || _mm256_extract_epi8(tail, 23) != 0) return false;
  // Bytes 0..15, 9..24 and, from the tail's bytes 15..22, 24..31.
  const __m128i tail_lo = _mm256_castsi256_si128(tail);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), _mm256_castsi256_si128(head));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + 9), tail_lo);
  _mm_storel_epi64(reinterpret_cast<__m128i*>(dst + 24),
                   _mm_alignr_epi8(_mm256_extracti128_si256(tail, 1), tail_lo, 15));
  return true;
}
#endif

bool Decode32(std::string_view in, std::array<uint8_t, 32>& out, bool simd) {
  if (in.size() != k32Chars || in[k32Chars - 1] != '=' || in[k32Chars - 2] == '=') return false;
  const auto* src = reinterpret_cast<const unsigned char*>(in.data());
#if BG_BASE64_AVX2
  if (simd && cpu::kAvx2) return Decode32Avx2(src, out.data());
#endif
  return DecodeQuads(src, 10, out.data()) && DecodePaddedQuad(src + 40, 1, out.data() + 30);
}

}  // namespace

namespace internal {

bool CpuHasAvx2() { return cpu::kAvx2; }

bool Base64DecodeIntoPortable(std::string_view b64, std::string& out, size_t offset) {
  return DecodeAt(b64, out, offset, /*simd=*/false);
}

bool Base64Decode32Portable(std::string_view b64, std::array<uint8_t, 32>& out) {
  return Decode32(b64, out, /*simd=*/false);
}

}  // namespace internal

bool Base64Decode32(std::string_view b64, std::array<uint8_t, 32>& out) {
  return Decode32(b64, out, /*simd=*/true);
}

bool Base64DecodeInto(std::string_view in, std::string& out) {
  return DecodeAt(in, out, 0, /*simd=*/true);
}

bool Base64DecodeInto(std::string_view in, std::string& out, size_t offset) {
  return DecodeAt(in, out, offset, /*simd=*/true);
}


std::optional<uint64_t> ParseDecimalU64(std::string_view t) {
  if (t.empty() || t.size() > 20 || (t.size() > 1 && t[0] == '0')) return std::nullopt;
  uint64_t v = 0;
  for (char c : t) {
    if (c < '0' || c > '9') return std::nullopt;
    const auto d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return std::nullopt;  // would overflow
    v = v * 10 + d;
  }
  return v;
}

std::string HexEncode(std::string_view bytes) {
  std::string out(bytes.size() * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                 bytes.size());
  out.resize(bytes.size() * 2);
  return out;
}

std::optional<std::string> HexDecode(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  std::string out(hex.size() / 2, '\0');
  size_t len = 0;
  const char* end = nullptr;
  if (sodium_hex2bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), hex.data(),
                     hex.size(), nullptr, &len, &end) != 0 ||
      end != hex.data() + hex.size() || len != out.size()) {
    return std::nullopt;
  }
  return out;
}

std::string Base64Encode(std::string_view b) { return Encode(b, sodium_base64_VARIANT_ORIGINAL); }

void Base64EncodeAppend(std::string_view bytes, std::string& out) {
  constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const size_t start = out.size();
  out.resize(start + (bytes.size() + 2) / 3 * 4);
  char* dst = out.data() + start;
  const auto* src = reinterpret_cast<const unsigned char*>(bytes.data());
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3, dst += 4) {
    const uint32_t v = (uint32_t{src[i]} << 16) | (uint32_t{src[i + 1]} << 8) | src[i + 2];
    dst[0] = kAlphabet[v >> 18];
    dst[1] = kAlphabet[(v >> 12) & 63];
    dst[2] = kAlphabet[(v >> 6) & 63];
    dst[3] = kAlphabet[v & 63];
  }
  if (const size_t rest = bytes.size() - i; rest > 0) {
    const uint32_t v = (uint32_t{src[i]} << 16) | (rest == 2 ? uint32_t{src[i + 1]} << 8 : 0);
    dst[0] = kAlphabet[v >> 18];
    dst[1] = kAlphabet[(v >> 12) & 63];
    dst[2] = rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    dst[3] = '=';
  }
}
std::optional<std::string> Base64Decode(std::string_view t) {
  std::string out;
  if (!Base64DecodeInto(t, out)) return std::nullopt;
  return out;
}
std::string Base64UrlEncode(std::string_view b) {
  return Encode(b, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}
std::optional<std::string> Base64UrlDecode(std::string_view t) {
  return Decode(t, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

bool IsIpAddress(std::string_view text) {
  const std::string s(text);
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

}  // namespace bg
