// The byte-string encodings every other parser leans on (util/encoding.h): hex, base64,
// base64url and canonical decimal. The first byte picks the decoder.
//
// Invariants: each decoder accepts exactly one text per byte string (what the encoder writes;
// hex in either case), and the base64 decoders (Base64Decode, Base64DecodeInto into a reused
// buffer, Base64Decode32 for 32 bytes) agree.
#include "util/encoding.h"

#include <array>
#include <string>

#include "fuzz/fuzz.h"

namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto [selector, text] = bg::fuzz::Select(bg::fuzz::AsText(data, size));
  switch (selector % 4) {
    case 0: {
      auto raw = bg::HexDecode(text);
      if (raw) BG_FUZZ_CHECK(bg::HexEncode(*raw) == Lower(text));
      break;
    }
    case 1: {
      auto raw = bg::Base64Decode(text);
      static std::string reused = "left over from an earlier call";
      const bool ok = bg::Base64DecodeInto(text, reused);
      BG_FUZZ_CHECK(ok == raw.has_value());
      if (raw) {
        BG_FUZZ_CHECK(reused == *raw);
        BG_FUZZ_CHECK(bg::Base64Encode(*raw) == text);
      }
      std::array<uint8_t, 32> digest{};
      const bool is32 = bg::Base64Decode32(text, digest);
      BG_FUZZ_CHECK(is32 == (raw.has_value() && raw->size() == digest.size()));
      if (is32) {
        BG_FUZZ_CHECK(
            std::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()) == *raw);
      }
      break;
    }
    case 2: {
      auto raw = bg::Base64UrlDecode(text);
      if (raw) BG_FUZZ_CHECK(bg::Base64UrlEncode(*raw) == text);
      break;
    }
    case 3: {
      auto v = bg::ParseDecimalU64(text);
      if (v) BG_FUZZ_CHECK(std::to_string(*v) == text);
      break;
    }
  }
  return 0;
}
