// The HTTP wire forms that need no socket: the request target, SSE events, transport errors.
#include "http/wire.h"

#include <fmt/format.h>

#include <cstdint>

#include "util/utf8.h"

namespace bg::http {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

namespace internal {

std::string JsonEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += fmt::format("\\u{:04x}", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out;
}

HttpResponse ErrorResponse(int status, std::string_view code, std::string_view message,
                           std::string_view field) {
  HttpResponse response;
  response.status = status;
  response.body = fmt::format(R"({{"error":{{"code":"{}","message":"{}")", JsonEscape(code),
                              JsonEscape(message));
  if (!field.empty()) response.body += fmt::format(R"(,"field":"{}")", JsonEscape(field));
  response.body += "}}";
  return response;
}

std::optional<std::string> PercentDecode(std::string_view in, bool plus_is_space) {
  std::string out;
  out.reserve(in.size());
  size_t i = 0;
  while (i < in.size()) {
    // What needs no decoding is copied in one piece.
    size_t run = i;
    while (run < in.size() && in[run] != '%' && in[run] != '\0' &&
           !(plus_is_space && in[run] == '+')) {
      ++run;
    }
    out.append(in.data() + i, run - i);
    i = run;
    if (i == in.size()) break;
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return std::nullopt;
      int hi = HexValue(in[i + 1]);
      int lo = HexValue(in[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+') {  // the run stops at '+' only when it means a space
      c = ' ';
    }
    if (c == '\0') return std::nullopt;
    out += c;
    ++i;
  }
  return out;
}

Result<Target> ParseTarget(std::string_view target) {
  if (target.empty() || target[0] != '/') {
    return Error::InvalidArgument("path", "the request target must be a path starting with '/'");
  }
  size_t question = target.find('?');
  Target out;
  auto path = PercentDecode(target.substr(0, question), false);
  if (!path) return Error::InvalidArgument("path", "the path has an invalid percent-escape");
  if (!IsValidUtf8(*path)) return Error::InvalidArgument("path", "the path is not valid UTF-8");
  out.path = std::move(*path);
  if (question == std::string_view::npos) return out;
  std::string_view query = target.substr(question + 1);
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    auto key = PercentDecode(pair.substr(0, eq), true);
    auto value = PercentDecode(eq == std::string_view::npos ? "" : pair.substr(eq + 1), true);
    if (!key || key->empty() || !IsValidUtf8(*key)) {
      return Error::InvalidArgument("query", "a query parameter has an invalid or empty name");
    }
    if (!value) {
      return Error::InvalidArgument(*key, fmt::format("query parameter \"{}\" has an invalid "
                                                      "percent-escape",
                                                      *key));
    }
    if (!IsValidUtf8(*value)) {
      return Error::InvalidArgument(*key, fmt::format("query parameter \"{}\" is not valid UTF-8", *key));
    }
    if (!out.query.emplace(*key, std::move(*value)).second) {
      return Error::InvalidArgument(*key, fmt::format("query parameter \"{}\" is repeated", *key));
    }
  }
  return out;
}

std::string FormatEvent(std::string_view event, std::string_view data, std::string_view id) {
  std::string out;
  out.reserve(event.size() + data.size() + id.size() + 32);
  if (!event.empty()) {
    out += "event: ";
    out += event;
    out += '\n';
  }
  if (!id.empty()) {
    out += "id: ";
    out += id;
    out += '\n';
  }
  // Every line of data (split at \r\n, \n or \r) becomes its own "data:" line.
  size_t start = 0;
  while (true) {
    size_t end = data.find_first_of("\r\n", start);
    out += "data: ";
    out += data.substr(start, end == std::string_view::npos ? end : end - start);
    out += '\n';
    if (end == std::string_view::npos) break;
    start = end + ((data[end] == '\r' && end + 1 < data.size() && data[end + 1] == '\n') ? 2 : 1);
  }
  out += '\n';
  return out;
}

}  // namespace internal

}  // namespace bg::http
