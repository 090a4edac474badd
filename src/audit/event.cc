#include "audit/event.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <utility>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define BG_QUOTES_AVX512 1
#else
#define BG_QUOTES_AVX512 0
#endif

#include <nlohmann/json.hpp>

#include "util/cpu.h"
#include "util/encoding.h"
#include "util/sha256.h"

namespace bg::audit {
namespace {

using Json = nlohmann::json;

// nlohmann::json keeps objects in a std::map<std::string, ...>: dump() writes keys in
// byte-wise (= Unicode code point) order, with no white space when indent is -1. With
// ensure_ascii off it writes UTF-8 as is and escapes only '"', '\\' and U+0000..U+001F
// (\b \f \n \r \t, else \u00XX with lowercase hex); '/' and U+007F are not escaped. The
// `replace` handler turns invalid UTF-8 into U+FFFD instead of throwing. event_test.cc pins
// each of these so an upgrade that changed them would fail the build's tests.
std::string Canonical(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

Error Bad(std::string message) { return Error::InvalidArgument("leaf", std::move(message)); }

Result<std::string> StringMember(const Json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end()) return Bad(std::string("missing \"") + key + "\"");
  if (!it->is_string()) return Bad(std::string("\"") + key + "\" is not a string");
  return it->get<std::string>();
}

// Bytes the canonical encoder writes as they are: printable ASCII other than '"' and '\\'.
constexpr std::array<bool, 256> kPlainByte = [] {
  std::array<bool, 256> t{};
  for (int c = 0x20; c <= 0x7e; ++c) t[static_cast<size_t>(c)] = c != '"' && c != '\\';
  return t;
}();

// Eight (or four) bytes as one word, in the machine's byte order (as every word compared with
// it).
uint64_t Word(const char* p) {
  uint64_t w = 0;
  std::memcpy(&w, p, sizeof w);
  return w;
}
uint32_t Word32(const char* p) {
  uint32_t w = 0;
  std::memcpy(&w, p, sizeof w);
  return w;
}

// Whether the n bytes at `a` are those at `b`, for a constant n up to 16: by two overlapping
// loads (what memcmp does for short lengths, without the call).
template <size_t n>
bool SameBytes(const char* a, const char* b) {
  static_assert(n <= 16);
  if constexpr (n >= 8) {
    return Word(a) == Word(b) && Word(a + n - 8) == Word(b + n - 8);
  } else if constexpr (n >= 4) {
    return Word32(a) == Word32(b) && Word32(a + n - 4) == Word32(b + n - 4);
  } else {
    for (size_t i = 0; i < n; ++i) {
      if (a[i] != b[i]) return false;
    }
    return true;
  }
}

// Whether every byte of `w` lies between the bytes of `low` and `high` at its position, all of
// them ASCII. For a byte b below 0x80, b + (0x80 - low) has its top bit set exactly when
// b >= low, and b + (0x7f - high) exactly when b > high; neither sum carries into the next byte.
bool BytesWithin(uint64_t w, uint64_t low, uint64_t high) {
  constexpr uint64_t kTop = 0x8080808080808080, kSeven = 0x7f7f7f7f7f7f7f7f;
  return (w & kTop) == 0 && ((w + (kTop - low)) & kTop) == kTop &&
         ((w + (kSeven - high)) & kTop) == 0;
}

// A cursor over leaf bytes for the one-scan check of the canonical form.
class Scanner {
 public:
  explicit Scanner(std::string_view s) : s_(s) {}
  template <size_t N>
  bool Literal(const char (&t)[N]) {
    constexpr size_t n = N - 1;  // without the terminating NUL
    if (s_.size() < n || !SameBytes<n>(s_.data(), t)) return false;
    s_.remove_prefix(n);
    return true;
  }
  // A JSON string of bytes 0x20..0x7e other than '"' and '\\': those the canonical encoder
  // writes as they are. Anything else (escapes, UTF-8) returns false for ParseLeaf to decide.
  bool PlainString(std::string_view* out) {
    if (!Literal("\"")) return false;
    for (size_t i = 0; i < s_.size(); ++i) {
      const auto c = static_cast<unsigned char>(s_[i]);
      if (kPlainByte[c]) continue;
      if (c != '"') return false;
      *out = s_.substr(0, i);
      s_.remove_prefix(i + 1);
      return true;
    }
    return false;
  }
  bool AtEnd() const { return s_.empty(); }

 private:
  std::string_view s_;
};

// Where the quotes of a leaf are, found by one pass (64 or 16 bytes at a time where the CPU can),
// for leaves whose every byte is plain or '"': in those, each JSON string runs from a quote to
// the next one, so Scanner's byte-by-byte PlainString comes down to finding the next bit.
class QuoteMap {
 public:
  static constexpr size_t kMaxBytes = internal::kQuoteMapMaxBytes;

  // False when `s` is longer than kMaxBytes or holds a byte that is neither plain nor '"'
  // (a control byte, '\\', DEL or any byte from 0x80). `wide`: 64 bytes at a time where the CPU
  // has AVX-512BW (else 16 at a time).
  bool Build(std::string_view s, bool wide = true) {
    if (s.size() > kMaxBytes) return false;
    const size_t n = s.size();
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    words_ = (n + 63) / 64;
#if BG_QUOTES_AVX512
    if (wide && cpu::kAvx512Bw) return BuildAvx512(p, n, bits_.data());
#endif
#if defined(__SSE2__)
    if (n >= 16) {
      uint32_t other = 0;
      size_t i = 0;
      for (; i + 64 <= n; i += 64) {
        uint64_t word = 0;
        for (size_t k = 0; k < 64; k += 16) word |= uint64_t{Classify(p + i + k, other)} << k;
        bits_[i / 64] = word;
      }
      if (i < n) {
        // The rest by 16 bytes, the last load ending at the last byte (its first bytes, seen
        // already, shifted out).
        uint64_t word = 0;
        for (size_t j = i; j < n; j += 16) {
          const size_t at = std::min(j, n - 16);
          uint32_t odd = 0;
          const uint32_t quotes = Classify(p + at, odd) >> (j - at);
          other |= odd >> (j - at);
          word |= uint64_t{quotes} << (j - i);
        }
        bits_[i / 64] = word;
      }
      return other == 0;
    }
#endif
    std::fill_n(bits_.begin(), words_, 0);
    bool plain = true;
    for (size_t i = 0; i < n; ++i) {
      if (p[i] == '"') {
        bits_[i / 64] |= uint64_t{1} << (i % 64);
      } else if (!kPlainByte[p[i]]) {
        plain = false;
      }
    }
    return plain;
  }

  // The position of the first quote at or after `from`, or npos.
  [[gnu::always_inline]] size_t NextQuote(size_t from) const {
    size_t w = from / 64;
    if (w >= words_) return std::string_view::npos;
    uint64_t bits = bits_[w] & (~uint64_t{0} << (from % 64));
    while (bits == 0) {
      if (++w == words_) return std::string_view::npos;
      bits = bits_[w];
    }
    return w * 64 + static_cast<size_t>(std::countr_zero(bits));
  }

 private:
#if BG_QUOTES_AVX512
  // Build by 64 bytes, each step's quotes a word of the map as they are compared; the last step
  // loads only the bytes that are there (masked: nothing past them is read).
  __attribute__((target("avx512bw,bmi2"))) static bool BuildAvx512(const unsigned char* p, size_t n,
                                                                   uint64_t* bits) {
    const __m512i quote = _mm512_set1_epi8('"'), space = _mm512_set1_epi8(0x20),
                  del = _mm512_set1_epi8(0x7f), backslash = _mm512_set1_epi8('\\');
    uint64_t other = 0;
    for (size_t i = 0; i < n; i += 64) {
      const __mmask64 in =
          _bzhi_u64(~uint64_t{0}, static_cast<unsigned>(std::min<size_t>(n - i, 64)));
      const __m512i v = _mm512_maskz_loadu_epi8(in, p + i);
      bits[i / 64] = _mm512_mask_cmpeq_epi8_mask(in, v, quote);
      other |= _mm512_mask_cmplt_epu8_mask(in, v, space) | _mm512_mask_cmpge_epu8_mask(in, v, del) |
               _mm512_mask_cmpeq_epi8_mask(in, v, backslash);
    }
    return other == 0;
  }
#endif

#if defined(__SSE2__)
  // The quotes among the 16 bytes at p, as bits; the bytes that are neither plain nor a quote
  // ORed into `odd`.
  static uint32_t Classify(const unsigned char* p, uint32_t& odd) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    // Signed: "below 0x20" also takes every byte from 0x80.
    const __m128i control = _mm_cmpgt_epi8(_mm_set1_epi8(0x20), v);
    const __m128i del = _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7f));
    const __m128i backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'));
    const __m128i other = _mm_or_si128(control, _mm_or_si128(del, backslash));
    odd |= static_cast<uint32_t>(_mm_movemask_epi8(other));
    return static_cast<uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('"'))));
  }
#endif

  std::array<uint64_t, kMaxBytes / 64> bits_;
  size_t words_ = 0;
};

// Scanner over a leaf whose QuoteMap was built: the same answers, with strings found by their
// quotes.
class QuoteScanner {
 public:
  QuoteScanner(std::string_view s, const QuoteMap& quotes) : s_(s), quotes_(quotes) {}
  template <size_t N>
  [[gnu::always_inline]] bool Literal(const char (&t)[N]) {
    constexpr size_t n = N - 1;
    if (s_.size() - pos_ < n || !SameBytes<n>(s_.data() + pos_, t)) return false;
    pos_ += n;
    return true;
  }
  [[gnu::always_inline]] bool PlainString(std::string_view* out) {
    if (pos_ >= s_.size() || s_[pos_] != '"') return false;
    const size_t close = quotes_.NextQuote(pos_ + 1);
    if (close == std::string_view::npos) return false;
    *out = std::string_view(s_.data() + pos_ + 1, close - pos_ - 1);
    pos_ = close + 1;
    return true;
  }
  bool AtEnd() const { return pos_ == s_.size(); }

 private:
  std::string_view s_;
  size_t pos_ = 0;
  const QuoteMap& quotes_;
};

// The word Word(s.data() + at) reads, at compile time.
constexpr uint64_t WordOf(std::string_view s, size_t at) {
  uint64_t w = 0;
  for (size_t i = 0; i < 8; ++i) {
    const uint64_t b = static_cast<unsigned char>(s[at + i]);
    w |= b << (8 * (std::endian::native == std::endian::little ? i : 7 - i));
  }
  return w;
}

// True only when FormatRfc3339(ParseRfc3339(t)) == t: "YYYY-MM-DDTHH:MM:SSZ" (upper-case T and
// Z, no fraction or offset) naming a real date and a time with seconds below 60 (ParseRfc3339
// takes a leap second 60, which FormatRfc3339 would write as the next minute).
bool IsCanonicalTime(std::string_view t) {
  constexpr size_t kSize = 20;  // "YYYY-MM-DDTHH:MM:SSZ"
  if (t.size() != kSize) return false;
  // The shape, 8 bytes at a time (the last word overlaps the second): each byte between the
  // bounds at its position.
  constexpr std::string_view kLow = "0000-00-00T00:00:00Z", kHigh = "9999-99-99T99:99:99Z";
  constexpr uint64_t kLow0 = WordOf(kLow, 0), kLow8 = WordOf(kLow, 8), kLow12 = WordOf(kLow, 12);
  constexpr uint64_t kHigh0 = WordOf(kHigh, 0), kHigh8 = WordOf(kHigh, 8),
                     kHigh12 = WordOf(kHigh, 12);
  const char* p = t.data();
  if (!BytesWithin(Word(p), kLow0, kHigh0) || !BytesWithin(Word(p + 8), kLow8, kHigh8) ||
      !BytesWithin(Word(p + 12), kLow12, kHigh12)) {
    return false;
  }
  auto num = [p](size_t pos) { return (p[pos] - '0') * 10 + (p[pos + 1] - '0'); };
  const int month = num(5), day = num(8);
  if (month < 1 || month > 12 || day < 1 || num(11) > 23 || num(14) > 59 || num(17) > 59) {
    return false;
  }
  // The days of each month in a common year; only 29 February depends on the year.
  static constexpr std::array<uint8_t, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (day <= kDays[static_cast<size_t>(month - 1)]) return true;
  if (month != 2 || day != 29) return false;
  const int year = num(0) * 100 + num(2);
  return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
}

// True only when the leaf under `sc` is exactly EncodeLeaf of the event ParseLeaf reads from it:
//   {"actor":S,"details":{K:S,...},["request":S,]"time":T,"type":S,"v":1}
// with keys in the canonical order, detail keys strictly increasing, "request" non-empty (an
// empty one is omitted by the encoder) and T a time FormatRfc3339 writes back unchanged; then
// `out`, when given, is that event (its strings hold no escapes, so they are the bytes between
// the quotes). False means "not decided here", never "invalid", and leaves `out` unspecified.
template <typename Cursor>
bool MatchPlainCanonicalLeaf(Cursor& sc, LeafEvent* out) {
  std::string_view actor, type, time, request;
  if (!sc.Literal(R"({"actor":)") || !sc.PlainString(&actor) ||
      !sc.Literal(R"(,"details":{)")) {
    return false;
  }
  if (!sc.Literal("}")) {
    std::string_view previous;
    for (bool first = true;; first = false) {
      std::string_view key, value;
      if (!sc.PlainString(&key) || !sc.Literal(":") || !sc.PlainString(&value)) return false;
      if (!first && !(previous < key)) return false;  // ASCII: byte order is char order
      previous = key;
      if (out != nullptr) out->details.emplace_hint(out->details.end(), key, value);
      if (sc.Literal("}")) break;
      if (!sc.Literal(",")) return false;
    }
  }
  if (sc.Literal(R"(,"request":)") && (!sc.PlainString(&request) || request.empty())) {
    return false;
  }
  if (!sc.Literal(R"(,"time":)") || !sc.PlainString(&time) || !sc.Literal(R"(,"type":)") ||
      !sc.PlainString(&type) || !sc.Literal(R"(,"v":1})") || !sc.AtEnd()) {
    return false;
  }
  if (!IsCanonicalTime(time)) return false;
  if (out != nullptr) {
    auto t = ParseRfc3339(time, "leaf");
    if (!t) return false;
    out->version = kLeafVersion;
    out->time = *t;
    out->type = type;
    out->actor = actor;
    if (!request.empty()) out->request = RequestId(std::string(request));
  }
  return true;
}

bool ParsePlainCanonicalLeaf(std::string_view leaf, LeafEvent* out) {
  Scanner sc(leaf);
  return MatchPlainCanonicalLeaf(sc, out);
}

bool PlainCanonicalByQuotes(std::string_view leaf, bool wide = true) {
  // A byte that is neither plain nor '"' is no part of the plain canonical form.
  QuoteMap quotes;
  if (!quotes.Build(leaf, wide)) return false;
  QuoteScanner sc(leaf, quotes);
  return MatchPlainCanonicalLeaf(sc, nullptr);
}

#if BG_QUOTES_AVX512
// The check of the plain canonical form by 64-byte vectors, for leaves of up to
// internal::kVectorCheckMaxBytes bytes: the same verdict as MatchPlainCanonicalLeaf (the tests
// and the fuzz target compare the two on every leaf they make), 25 ns against the map of quotes'
// 33 in BM_LeafCheck (bench/RESULTS.md).
// In a leaf whose bytes are all plain or '"', string j runs from quote 2j to quote 2j + 1, and a
// canonical one is, strings emptied of their contents (its skeleton),
//   {"":"","":{ D } R ,"":"","":"","":1}
// where D is d times "":"" joined by commas and R is ,"":"" when the leaf has a request: a
// skeleton fixed by d and by whether there is a request. So: find the quotes, remove what lies
// between each opening quote and its closing one, compare what is left with that skeleton, then
// compare the six fixed keys, the time and the detail keys' order at the quotes they must be at.
constexpr size_t kVectorMax = internal::kVectorCheckMaxBytes;
// A skeleton with d details holds at least 29 + 6d bytes: no leaf of kVectorMax bytes has more.
constexpr size_t kMaxSkeletonDetails = (kVectorMax - 29) / 6;
static_assert(29 + 6 * (kMaxSkeletonDetails + 1) > kVectorMax);
// Each skeleton padded so that a 64-byte load at any offset up to kVectorMax stays inside it.
constexpr size_t kSkeletonStride = kVectorMax + 64;

struct Skeletons {
  // [request][details]: bytes and size.
  std::array<std::array<std::array<char, kSkeletonStride>, kMaxSkeletonDetails + 1>, 2> bytes{};
  std::array<std::array<uint16_t, kMaxSkeletonDetails + 1>, 2> size{};
};

constexpr Skeletons MakeSkeletons() {
  Skeletons s;
  for (size_t request = 0; request < 2; ++request) {
    for (size_t d = 0; d <= kMaxSkeletonDetails; ++d) {
      auto& out = s.bytes[request][d];
      size_t n = 0;
      auto put = [&](std::string_view t) {
        for (char c : t) out[n++] = c;
      };
      put(R"({"":"","":{)");
      for (size_t k = 0; k < d; ++k) put(k == 0 ? R"("":"")" : R"(,"":"")");
      put("}");
      if (request != 0) put(R"(,"":"")");
      put(R"(,"":"","":"","":1})");
      s.size[request][d] = static_cast<uint16_t>(n);
    }
  }
  return s;
}

constexpr Skeletons kSkeletons = MakeSkeletons();

__attribute__((target("avx512bw,avx512vl,avx512vbmi2,bmi2,pclmul,popcnt"))) bool
PlainCanonicalByVectors(std::string_view leaf) {
  const size_t n = leaf.size();  // <= kVectorMax
  const char* const p = leaf.data();
  const __m512i quote = _mm512_set1_epi8('"'), space = _mm512_set1_epi8(0x20),
                printable = _mm512_set1_epi8(0x5f), backslash = _mm512_set1_epi8('\\');
  alignas(64) static constexpr std::array<uint8_t, 64> kIota = [] {
    std::array<uint8_t, 64> t{};
    for (size_t i = 0; i < 64; ++i) t[i] = static_cast<uint8_t>(i);
    return t;
  }();
  const __m512i iota = _mm512_load_si512(kIota.data());
  // The position of each quote, in order (positions fit in a byte), with room for the last
  // 64-byte store.
  std::array<uint8_t, kVectorMax + 64> at;
  // The leaf without the strings' contents, as it is built, with room for the last store.
  std::array<char, kVectorMax + 64> skeleton;
  const size_t chunks = (n + 63) / 64;
  __mmask64 other = 0;
  size_t quotes = 0, kept = 0;
  for (size_t c = 0; c < chunks; ++c) {
    const __mmask64 in =
        _bzhi_u64(~uint64_t{0}, static_cast<unsigned>(std::min<size_t>(n - 64 * c, 64)));
    const __m512i v = _mm512_maskz_loadu_epi8(in, p + 64 * c);
    const uint64_t q = _mm512_mask_cmpeq_epi8_mask(in, v, quote);
    // Outside 0x20..0x7e (v - 0x20 not below 0x5f, unsigned), or a backslash.
    other = _kor_mask64(
        other, _kor_mask64(_mm512_mask_cmpge_epu8_mask(in, _mm512_sub_epi8(v, space), printable),
                           _mm512_mask_cmpeq_epi8_mask(in, v, backslash)));
    const __m512i positions = _mm512_add_epi8(iota, _mm512_set1_epi8(static_cast<char>(64 * c)));
    _mm512_storeu_si512(at.data() + quotes, _mm512_maskz_compress_epi8(q, positions));
    // Bit k of the prefix XOR: an odd number of quotes in the chunk up to k; flipped when an odd
    // number came before the chunk (taken from the count, so that the chunks do not wait for
    // each other). Then k is an opening quote or inside a string.
    const uint64_t before = 0 - static_cast<uint64_t>(quotes & 1);
    const uint64_t open = static_cast<uint64_t>(_mm_cvtsi128_si64(_mm_clmulepi64_si128(
                              _mm_cvtsi64_si128(static_cast<int64_t>(q)), _mm_set1_epi8(-1), 0))) ^
                          before;
    const __mmask64 keep = in & ~(open & ~q);
    _mm512_storeu_si512(skeleton.data() + kept, _mm512_maskz_compress_epi8(keep, v));
    kept += static_cast<size_t>(std::popcount(keep));
    quotes += static_cast<size_t>(std::popcount(q));
  }
  // Each vector step is followed by clearing the vectors' upper halves (vzeroupper): GCC 12
  // left them dirty on some of the paths out of this function, and libcrypto's SHA-256, legacy
  // SSE code the verifier runs next, then took 130 ns more per entry.
  _mm256_zeroupper();
  // 8 + 2d strings, 2 more with a request.
  if (other != 0 || quotes < 16 || quotes % 4 != 0) return false;
  const size_t time_open = at[quotes - 8];
  if (time_open < 9) return false;
  // With a request its closing quote comes just before ,"time":"; without one, the '}' of the
  // details does. A wrong guess fails the skeleton below.
  const size_t request = p[time_open - 9] == '"' ? 1 : 0;
  const size_t details_and_request = (quotes / 2 - 8) / 2;
  if (details_and_request < request) return false;
  const size_t d = details_and_request - request;
  if (d > kMaxSkeletonDetails) return false;  // too long to fit in kVectorMax bytes
  if (kept != kSkeletons.size[request][d]) return false;
  const char* const expected = kSkeletons.bytes[request][d].data();
  uint64_t differ = 0;
  for (size_t off = 0; off < kept; off += 64) {
    const __mmask64 in =
        _bzhi_u64(~uint64_t{0}, static_cast<unsigned>(std::min<size_t>(kept - off, 64)));
    differ |= _mm512_mask_cmpneq_epi8_mask(in, _mm512_loadu_si512(skeleton.data() + off),
                                           _mm512_loadu_si512(expected + off));
  }
  _mm256_zeroupper();
  if (differ != 0) return false;
  // The skeleton holds: each quote below is where the form puts it. The fixed keys, from both
  // ends: "actor", "details", the closing "v":1}, "type" after the time, "time", "request".
  const size_t time_close = at[quotes - 7];
  if (!SameBytes<10>(p, R"({"actor":")") || !SameBytes<13>(p + at[3], R"(","details":{)") ||
      !SameBytes<8>(p + n - 8, R"(","v":1})") || !SameBytes<10>(p + time_close, R"(","type":")") ||
      !SameBytes<9>(p + time_open - 8, R"(,"time":")") || time_close != time_open + 21 ||
      !IsCanonicalTime(std::string_view(p + time_open + 1, 20))) {
    return false;
  }
  if (request != 0) {
    const size_t open = at[quotes - 12];
    if (!SameBytes<12>(p + open - 11, R"(,"request":")") || at[quotes - 11] == open + 1) {
      return false;
    }
  }
  // Detail keys strictly increasing: key k is string 3 + 2k.
  for (size_t k = 1; k < d; ++k) {
    const size_t a = at[4 * k + 2], b = at[4 * k + 6];
    const std::string_view previous(p + a + 1, at[4 * k + 3] - a - 1);
    const std::string_view key(p + b + 1, at[4 * k + 7] - b - 1);
    if (!(previous < key)) return false;
  }
  return true;
}
#endif

bool IsPlain(std::string_view s) {
  for (char c : s) {
    if (!kPlainByte[static_cast<unsigned char>(c)]) return false;
  }
  return true;
}

// Canonical(j) of the object EncodeLeaf builds, written directly when every string in it is
// plain (then no escaping or UTF-8 repair can apply): the writer encodes one leaf per audit
// event, and building a JSON tree for it cost more than hashing and storing it. nullopt sends
// any other event through nlohmann::json. Keys in code point order as Canonical writes them:
// actor, details, request, time, type, v; detail keys are already sorted (std::map).
// `request` empty: no "request" key (as EncodeLeaf omits an empty one).
std::optional<std::string> EncodePlainLeaf(int version, std::string_view time,
                                           std::string_view type, std::string_view actor,
                                           std::string_view request,
                                           const std::map<std::string, std::string>& details) {
  const bool with_request = !request.empty();
  size_t size = 64 + actor.size() + type.size() + time.size() + request.size();
  if (!IsPlain(actor) || !IsPlain(type) || !IsPlain(request) || !IsPlain(time)) {
    return std::nullopt;
  }
  for (const auto& [k, v] : details) {
    if (!IsPlain(k) || !IsPlain(v)) return std::nullopt;
    size += k.size() + v.size() + 6;
  }
  std::string out;
  out.reserve(size);
  auto quoted = [&out](std::string_view s) {
    out += '"';
    out += s;
    out += '"';
  };
  out += R"({"actor":)";
  quoted(actor);
  out += R"(,"details":{)";
  bool first = true;
  for (const auto& [k, v] : details) {
    if (!first) out += ',';
    first = false;
    quoted(k);
    out += ':';
    quoted(v);
  }
  out += '}';
  if (with_request) {
    out += R"(,"request":)";
    quoted(request);
  }
  out += R"(,"time":)";
  quoted(time);
  out += R"(,"type":)";
  quoted(type);
  out += R"(,"v":)";
  out += std::to_string(version);
  out += '}';
  return out;
}

}  // namespace

std::string EncodeLeaf(const LeafEvent& event) {
  const std::string time = FormatRfc3339(event.time);
  const std::string_view request =
      event.request.has_value() ? std::string_view(event.request->value()) : std::string_view();
  if (auto plain =
          EncodePlainLeaf(event.version, time, event.type, event.actor, request, event.details)) {
    return std::move(*plain);
  }
  Json details = Json::object();
  for (const auto& [k, v] : event.details) details[k] = v;
  Json j = Json::object();
  j["v"] = event.version;
  j["time"] = time;
  j["type"] = event.type;
  j["actor"] = event.actor;
  if (event.request.has_value() && !event.request->empty()) j["request"] = event.request->value();
  j["details"] = std::move(details);
  return Canonical(j);
}

std::string EncodeLeaf(const core::AuditEvent& event, Timestamp time) {
  if (auto plain = EncodePlainLeaf(kLeafVersion, FormatRfc3339(time), event.type, event.actor,
                                   event.request.value(), event.details)) {
    return std::move(*plain);
  }
  LeafEvent leaf;
  leaf.time = time;
  leaf.type = event.type;
  leaf.actor = event.actor;
  if (!event.request.empty()) leaf.request = event.request;
  leaf.details = event.details;
  return EncodeLeaf(leaf);
}

Result<LeafEvent> ParseLeaf(std::string_view leaf) {
  // The common form in one scan; anything else (escapes, UTF-8, a malformed leaf) as JSON.
  if (LeafEvent plain; ParsePlainCanonicalLeaf(leaf, &plain)) return plain;
  Json j = Json::parse(leaf.begin(), leaf.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Bad("not JSON");
  if (!j.is_object()) return Bad("not a JSON object");
  for (const auto& [key, value] : j.items()) {
    if (key != "v" && key != "time" && key != "type" && key != "actor" && key != "request" &&
        key != "details") {
      return Bad("unknown key \"" + key + "\"");
    }
  }
  LeafEvent out;
  auto v = j.find("v");
  if (v == j.end() || !v->is_number_unsigned() || v->get<uint64_t>() != kLeafVersion) {
    return Bad("\"v\" is not 1");
  }
  BG_ASSIGN_OR_RETURN(std::string time, StringMember(j, "time"));
  auto parsed_time = ParseRfc3339(time, "leaf");
  if (!parsed_time.has_value()) return Bad("\"time\" is not an RFC 3339 time");
  out.time = *parsed_time;
  BG_ASSIGN_OR_RETURN(out.type, StringMember(j, "type"));
  BG_ASSIGN_OR_RETURN(out.actor, StringMember(j, "actor"));
  if (j.contains("request")) {
    BG_ASSIGN_OR_RETURN(std::string request, StringMember(j, "request"));
    out.request = RequestId(std::move(request));
  }
  auto details = j.find("details");
  if (details == j.end() || !details->is_object()) return Bad("\"details\" is not an object");
  for (const auto& [key, value] : details->items()) {
    if (!value.is_string()) return Bad("detail \"" + key + "\" is not a string");
    out.details.emplace(key, value.get<std::string>());
  }
  if (EncodeLeaf(out) != leaf) return Bad("not in canonical form");
  return out;
}

bool IsPlainCanonicalLeaf(std::string_view leaf) {
  if (auto by_vectors = internal::IsPlainCanonicalLeafByVectors(leaf)) return *by_vectors;
  if (leaf.size() > QuoteMap::kMaxBytes) return ParsePlainCanonicalLeaf(leaf, nullptr);
  return PlainCanonicalByQuotes(leaf);
}

Status CheckLeaf(std::string_view leaf) {
  if (IsPlainCanonicalLeaf(leaf)) return Ok();
  BG_ASSIGN_OR_RETURN(LeafEvent ignored, ParseLeaf(leaf));
  (void)ignored;
  return Ok();
}

namespace internal {

bool IsPlainCanonicalLeafByBytes(std::string_view leaf) {
  return ParsePlainCanonicalLeaf(leaf, nullptr);
}

// Past kMaxBytes the map is not built: false (the caller then scans byte by byte).
bool IsPlainCanonicalLeafByQuotes(std::string_view leaf, bool wide) {
  return leaf.size() <= QuoteMap::kMaxBytes && PlainCanonicalByQuotes(leaf, wide);
}

std::optional<bool> IsPlainCanonicalLeafByVectors(std::string_view leaf) {
#if BG_QUOTES_AVX512
  if (leaf.size() <= kVectorMax && cpu::kAvx512Vbmi2) return PlainCanonicalByVectors(leaf);
#endif
  return std::nullopt;
}

}  // namespace internal

std::string HmacField(const Secret& audit_key, std::string_view value) {
  return "hmac-sha256:" + Base64Encode(AsBytes(HmacSha256(audit_key.Reveal(), value)));
}

}  // namespace bg::audit
