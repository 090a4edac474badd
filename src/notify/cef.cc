#include "notify/cef.h"

#include <fmt/format.h>

#include "notify/severity.h"
#include "util/version.h"

namespace bg::notify {
namespace {

// Detail fields with a CEF extension key of their own (a custom string field "csN" also gets
// its "csNLabel"); every other detail goes to "msg" as key=value pairs.
struct DetailKey {
  std::string_view detail;
  std::string_view cef_key;
  std::string_view label;
};
constexpr DetailKey kDetailKeys[] = {
    {"source_address", "src", ""}, {"resource", "dhost", ""},   {"privilege", "spriv", ""},
    {"reason", "cs2", "reason"},   {"ticket", "cs3", "ticket"},
};

}  // namespace

std::string CefEscapeHeader(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\' || c == '|') {
      out += '\\';
      out += c;
    } else if (c == '\r' || c == '\n') {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

std::string CefEscapeValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '=':
        out += "\\=";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
  return out;
}

int CefSeverity(std::string_view type) { return SeverityOf(type).cef; }

std::string FormatCef(int64_t index, const audit::LeafEvent& event) {
  std::string type = CefEscapeHeader(event.type);
  std::string out = fmt::format("CEF:0|breakglass|breakglass|{}|{}|{}|{}|", kVersion, type, type,
                                CefSeverity(event.type));
  auto add = [&out](std::string_view key, std::string_view value) {
    if (out.back() != '|') out += ' ';
    out += key;
    out += '=';
    out += CefEscapeValue(value);
  };
  add("rt", std::to_string(ToUnixSeconds(event.time) * 1000));
  add("suser", event.actor);
  add("cn1", std::to_string(index));
  add("cn1Label", "auditIndex");
  if (event.request.has_value()) {
    add("cs1", event.request->value());
    add("cs1Label", "request");
  }
  std::string rest;
  for (const auto& [key, value] : event.details) {
    bool mapped = false;
    for (const auto& k : kDetailKeys) {
      if (key != k.detail) continue;
      add(k.cef_key, value);
      if (!k.label.empty()) add(std::string(k.cef_key) + "Label", k.label);
      mapped = true;
    }
    if (!mapped) rest += (rest.empty() ? "" : " ") + key + "=" + value;
  }
  if (!rest.empty()) add("msg", rest);
  return out;
}

}  // namespace bg::notify
