#include "cli/text.h"

#include <fmt/format.h>
#include <unistd.h>

#include <ctime>
#include <nlohmann/json.hpp>

#include "util/utf8.h"

namespace bg::cli {

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

std::string SafeField(const nlohmann::json& j, const char* key, std::string_view missing) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_string()) return std::string(missing);
  return TerminalSafe(j[key].get<std::string>());
}

}  // namespace bg::cli
