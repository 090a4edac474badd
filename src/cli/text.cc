#include "cli/text.h"

#include <fmt/format.h>
#include <unistd.h>

#include <ctime>

#include "util/utf8.h"

namespace bg::cli {
namespace {

bool Unsafe(char32_t cp) {
  return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F) || (cp >= 0x202A && cp <= 0x202E) ||
         (cp >= 0x2066 && cp <= 0x2069) || cp == 0x2028 || cp == 0x2029;
}

}  // namespace

std::string TerminalSafe(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) {
    char32_t cp = 0;
    size_t n = DecodeUtf8(text, &cp);
    if (n == 0) {
      out += fmt::format("\\x{:02x}", static_cast<unsigned char>(text[0]));
      n = 1;
    } else if (!Unsafe(cp)) {
      out.append(text.substr(0, n));
    } else if (cp == '\n') {
      out += "\\n";
    } else if (cp == '\r') {
      out += "\\r";
    } else if (cp == '\t') {
      out += "\\t";
    } else if (cp < 0x80) {
      out += fmt::format("\\x{:02x}", static_cast<unsigned>(cp));
    } else {
      out += fmt::format("\\u{:04x}", static_cast<unsigned>(cp));
    }
    text.remove_prefix(n);
  }
  return out;
}

std::string HumanTime(std::string_view rfc3339, bool local) {
  std::string s(rfc3339);
  std::tm tm{};
  const char* end = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (end == nullptr) return TerminalSafe(rfc3339);
  if (*end == '.') {
    ++end;
    while (*end >= '0' && *end <= '9') ++end;
  }
  if (std::string_view(end) != "Z") return TerminalSafe(rfc3339);
  if (!local) return s;
  std::time_t t = timegm(&tm);
  std::tm lt{};
  if (localtime_r(&t, &lt) == nullptr || lt.tm_gmtoff == 0) return s;
  char buf[64];
  bool same_day = lt.tm_year == tm.tm_year && lt.tm_yday == tm.tm_yday;
  std::strftime(buf, sizeof buf, same_day ? "%H:%M:%S %Z" : "%Y-%m-%d %H:%M:%S %Z", &lt);
  return fmt::format("{} ({})", s, buf);
}

bool StdoutIsTerminal() { return isatty(STDOUT_FILENO) == 1; }

}  // namespace bg::cli
