#include "util/encoding.h"

#include <sodium.h>

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

}  // namespace

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
std::optional<std::string> Base64Decode(std::string_view t) {
  return Decode(t, sodium_base64_VARIANT_ORIGINAL);
}
std::string Base64UrlEncode(std::string_view b) {
  return Encode(b, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}
std::optional<std::string> Base64UrlDecode(std::string_view t) {
  return Decode(t, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

}  // namespace bg
