// The HTTP request parser (http/wire.h ReadRequest: Beast's parser as the connections run it,
// the server's own checks and the request handed to the handler).
//
// Input: the first byte picks the limits (small ones, so that 413 and 431 are reached; or the
// server's defaults), the rest is what a client sent on a connection.
//
// Invariants: the bytes give a request, a refusal (400, 413 or 431, with a JSON error body),
// or neither only when they end before the request does; a request has a path starting with
// '/', UTF-8 without NUL in path and query, lower-case header names, a body within the limit,
// and reads the same from just the bytes it consumed; written back onto the wire (target
// percent-encoded, headers one per name, Content-Length) it reads back as the same request.
#include <nlohmann/json.hpp>
#include <string>

#include "fuzz/fuzz.h"
#include "http/wire.h"
#include "util/utf8.h"

namespace {

using bg::http::HttpRequest;
using bg::http::internal::ReadRequest;
using bg::http::internal::ReadResult;

std::string Encode(std::string_view s, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       c == '-' || c == '.' || c == '_' || c == '~' || (keep_slash && c == '/');
    if (plain) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string Wire(const HttpRequest& r) {
  std::string target = Encode(r.path, true);
  char sep = '?';
  for (const auto& [k, v] : r.query) {
    target += sep + Encode(k, false) + "=" + Encode(v, false);
    sep = '&';
  }
  std::string out = r.method + " " + target + " HTTP/1.1\r\n";
  if (r.headers.count("host") == 0) out += "host: fuzz\r\n";
  for (const auto& [name, value] : r.headers) {
    if (name == "content-length" || name == "transfer-encoding") continue;
    out += name + ": " + value + "\r\n";
  }
  out += "content-length: " + std::to_string(r.body.size()) + "\r\n\r\n" + r.body;
  return out;
}

// The same request, as far as the wire can say it: framing headers and Host aside, and header
// values without the white space around them (a repeated header with an empty value joins to
// "a, ", which no wire form keeps).
bool SameRequest(const HttpRequest& a, const HttpRequest& b) {
  auto headers = [](const HttpRequest& r) {
    auto h = r.headers;
    h.erase("content-length");
    h.erase("transfer-encoding");
    h.erase("host");
    for (auto& [name, value] : h) {
      const size_t first = value.find_first_not_of(" \t");
      value = first == std::string::npos
                  ? ""
                  : value.substr(first, value.find_last_not_of(" \t") - first + 1);
    }
    return h;
  };
  return a.method == b.method && a.path == b.path && a.query == b.query &&
         headers(a) == headers(b) && a.body == b.body;
}

void CheckRequest(const HttpRequest& r, size_t max_body) {
  BG_FUZZ_CHECK(!r.path.empty() && r.path[0] == '/');
  BG_FUZZ_CHECK(bg::IsValidUtf8(r.path) && r.path.find('\0') == std::string::npos);
  for (const auto& [k, v] : r.query) {
    BG_FUZZ_CHECK(!k.empty() && bg::IsValidUtf8(k) && bg::IsValidUtf8(v));
    BG_FUZZ_CHECK(k.find('\0') == std::string::npos && v.find('\0') == std::string::npos);
  }
  for (const auto& [name, value] : r.headers) {
    BG_FUZZ_CHECK(!name.empty());
    for (char c : name) BG_FUZZ_CHECK(!(c >= 'A' && c <= 'Z'));
    BG_FUZZ_CHECK(value.find_first_of("\r\n") == std::string::npos);
  }
  BG_FUZZ_CHECK(r.body.size() <= max_body);
  BG_FUZZ_CHECK(!r.method.empty());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto [selector, bytes] = bg::fuzz::Select(bg::fuzz::AsText(data, size));
  const bool small = selector % 2 == 1;
  const size_t max_header = small ? 256 : 16 << 10;
  const size_t max_body = small ? 64 : 1 << 20;

  const ReadResult read = ReadRequest(bytes, max_header, max_body);
  BG_FUZZ_CHECK(!(read.request && read.refusal));
  BG_FUZZ_CHECK(read.consumed <= bytes.size());
  if (read.refusal) {
    const int status = read.refusal->status;
    BG_FUZZ_CHECK(status == 400 || status == 413 || status == 431);
    const auto body = nlohmann::json::parse(read.refusal->body, nullptr, false);
    BG_FUZZ_CHECK(body.is_object() && body.contains("error") &&
                  body["error"]["message"].is_string());
    return 0;
  }
  if (!read.request) return 0;
  CheckRequest(*read.request, max_body);

  const ReadResult prefix = ReadRequest(bytes.substr(0, read.consumed), max_header, max_body);
  BG_FUZZ_CHECK(prefix.request && SameRequest(*prefix.request, *read.request));

  const std::string wire = Wire(*read.request);
  const ReadResult again = ReadRequest(wire, 1 << 20, 1 << 20);
  BG_FUZZ_CHECK(again.request && SameRequest(*again.request, *read.request));
  BG_FUZZ_CHECK(again.consumed == wire.size());
  return 0;
}
