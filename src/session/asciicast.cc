#include "session/asciicast.h"

#include <fmt/format.h>

#include <cmath>
#include <nlohmann/json.hpp>

namespace bg::session {

using nlohmann::json;

namespace {

constexpr int kMaxDimension = 10000;

// The length of the UTF-8 character at p[0..n): 1-4 when valid, 0 when invalid, -1 when the
// bytes so far are a valid beginning that needs more input (RFC 3629: no overlongs, no
// surrogates, nothing above U+10FFFF).
int CharLength(const unsigned char* p, size_t n) {
  const unsigned char c = p[0];
  if (c < 0x80) return 1;
  int len = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  for (int i = 1; i < len; ++i) {
    if (static_cast<size_t>(i) >= n) return -1;
    const unsigned char b = p[i];
    if (i == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF)) return 0;
  }
  return len;
}

bool IsResize(const std::string& s) {
  size_t x = s.find('x');
  if (x == std::string::npos || x == 0 || x + 1 >= s.size() || x > 5 || s.size() - x - 1 > 5) {
    return false;
  }
  for (size_t i = 0; i < s.size(); ++i) {
    if (i != x && (s[i] < '0' || s[i] > '9')) return false;
  }
  return true;
}

Result<Event> ParseEventLine(std::string_view line, int64_t line_no) {
  auto bad = [&](const std::string& why) {
    return Error::InvalidArgument("data", fmt::format("event line {}: {}", line_no, why));
  };
  json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return bad("is not JSON");
  if (!j.is_array() || j.size() != 3) return bad("must be an array [time, code, data]");
  if (!j[0].is_number() || !j[1].is_string() || !j[2].is_string()) {
    return bad("must be [number, string, string]");
  }
  const double t = j[0].get<double>();
  if (!std::isfinite(t) || t < 0 || t > 1e9) return bad("time must be a non-negative number");
  Event e;
  e.micros = std::llround(t * 1e6);
  const std::string code = j[1].get<std::string>();
  if (code != "o" && code != "i" && code != "r" && code != "m") {
    return bad("code must be \"o\", \"i\", \"r\" or \"m\"");
  }
  e.code = code[0];
  e.data = j[2].get<std::string>();
  if (e.code == 'r' && !IsResize(e.data)) return bad("a resize must be \"COLSxROWS\"");
  return e;
}

// Calls fn(event) for each line; checks the order of times.
template <typename Fn>
Result<EventStats> ForEachEvent(std::string_view data, int64_t not_before_us, Fn fn) {
  EventStats st;
  int64_t last = not_before_us;
  int64_t line_no = 0;
  size_t i = 0;
  while (i < data.size()) {
    ++line_no;
    size_t nl = data.find('\n', i);
    if (nl == std::string_view::npos) {
      return Error::InvalidArgument(
          "data", fmt::format("event line {}: does not end in a newline", line_no));
    }
    BG_ASSIGN_OR_RETURN(Event e, ParseEventLine(data.substr(i, nl - i), line_no));
    if (e.micros < last) {
      return Error::InvalidArgument(
          "data", fmt::format("event line {}: time {:.6f} goes back (previous {:.6f})", line_no,
                              static_cast<double>(e.micros) / 1e6,
                              static_cast<double>(last) / 1e6));
    }
    if (st.count == 0) st.first_us = e.micros;
    last = e.micros;
    st.last_us = e.micros;
    st.count++;
    fn(std::move(e));
    i = nl + 1;
  }
  return st;
}

}  // namespace

std::string HeaderLine(const Header& h) {
  json j = {{"version", 2}, {"width", h.width}, {"height", h.height}, {"timestamp", h.timestamp}};
  if (!h.command.empty()) j["command"] = h.command;
  if (!h.title.empty()) j["title"] = h.title;
  if (!h.env.empty()) j["env"] = h.env;
  json bg = json::object();
  if (!h.session_id.empty()) bg["session_id"] = h.session_id;
  if (!h.request_id.empty()) bg["request_id"] = h.request_id;
  if (!h.user.empty()) bg["user"] = h.user;
  if (!h.host.empty()) bg["host"] = h.host;
  if (!h.ssh_original_command.empty()) bg["ssh_original_command"] = h.ssh_original_command;
  if (!h.pty) bg["pty"] = false;
  j["breakglass"] = bg;
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<Header> ParseHeader(std::string_view line) {
  json j = json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Error::InvalidArgument("header", "is not a JSON object");
  }
  auto num = [&](const char* key) -> std::optional<int64_t> {
    if (!j.contains(key) || !j[key].is_number_integer()) return std::nullopt;
    return j[key].get<int64_t>();
  };
  if (num("version") != 2) return Error::InvalidArgument("header", "version must be 2");
  auto w = num("width");
  auto h = num("height");
  if (!w || !h || *w < 1 || *h < 1 || *w > kMaxDimension || *h > kMaxDimension) {
    return Error::InvalidArgument("header", "width and height must be integers from 1 to 10000");
  }
  Header out;
  out.width = static_cast<int>(*w);
  out.height = static_cast<int>(*h);
  if (j.contains("timestamp")) {
    auto ts = num("timestamp");
    if (!ts || *ts < 0) return Error::InvalidArgument("header", "timestamp must be Unix seconds");
    out.timestamp = *ts;
  }
  auto str = [](const json& o, const char* key) {
    return o.contains(key) && o[key].is_string() ? o[key].get<std::string>() : std::string();
  };
  out.command = str(j, "command");
  out.title = str(j, "title");
  if (j.contains("env") && j["env"].is_object()) {
    for (const auto& [k, v] : j["env"].items()) {
      if (v.is_string()) out.env[k] = v.get<std::string>();
    }
  }
  if (j.contains("breakglass")) {
    const json& b = j["breakglass"];
    if (!b.is_object()) return Error::InvalidArgument("header", "breakglass must be an object");
    out.session_id = str(b, "session_id");
    out.request_id = str(b, "request_id");
    out.user = str(b, "user");
    out.host = str(b, "host");
    out.ssh_original_command = str(b, "ssh_original_command");
    if (b.contains("pty") && b["pty"].is_boolean()) out.pty = b["pty"].get<bool>();
  }
  return out;
}

std::string_view Utf8Carry::Take(std::string_view in) {
  std::string_view all = in;
  if (!held_.empty()) {
    joined_ = held_;
    joined_.append(in);
    held_.clear();
    all = joined_;
  }
  // Only the last three bytes can start an unfinished character.
  const auto* p = reinterpret_cast<const unsigned char*>(all.data());
  size_t cut = all.size();
  for (size_t back = 1; back <= 3 && back <= all.size(); ++back) {
    size_t at = all.size() - back;
    if ((p[at] & 0xC0) == 0x80) continue;  // a continuation byte: look further back
    if (CharLength(p + at, back) == -1) cut = at;
    break;
  }
  held_.assign(all.substr(cut));
  return all.substr(0, cut);
}

std::string Utf8Carry::Flush() {
  std::string out;
  out.swap(held_);
  return out;
}

void AppendJsonString(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    // The common case: a run of printable ASCII, copied at once.
    size_t run = i;
    while (run < n && p[run] >= 0x20 && p[run] < 0x80 && p[run] != '"' && p[run] != '\\') ++run;
    if (run > i) {
      out.append(text.data() + i, run - i);
      i = run;
      continue;
    }
    const unsigned char c = p[i];
    if (c >= 0x80) {
      int len = CharLength(p + i, n - i);
      if (len > 0) {
        out.append(text.data() + i, static_cast<size_t>(len));
        i += static_cast<size_t>(len);
      } else {
        out.append("\xEF\xBF\xBD");  // U+FFFD
        ++i;
      }
      continue;
    }
    switch (c) {
      case '"': out.append("\\\""); break;
      case '\\': out.append("\\\\"); break;
      case '\n': out.append("\\n"); break;
      case '\r': out.append("\\r"); break;
      case '\t': out.append("\\t"); break;
      case '\b': out.append("\\b"); break;
      case '\f': out.append("\\f"); break;
      default:
        out.append("\\u00");
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 0xF]);
    }
    ++i;
  }
  out.push_back('"');
}

void AppendEvent(std::string& out, int64_t micros, char code, std::string_view data) {
  char head[48];
  auto r = fmt::format_to_n(head, sizeof head, "[{}.{:06}, \"{}\", ", micros / 1000000,
                            micros % 1000000, code);
  out.append(head, r.size);
  AppendJsonString(out, data);
  out.append("]\n");
}

Result<EventStats> ValidateEvents(std::string_view data, int64_t not_before_us) {
  return ForEachEvent(data, not_before_us, [](Event&&) {});
}

Result<std::vector<Event>> ParseEvents(std::string_view data, int64_t not_before_us) {
  std::vector<Event> out;
  BG_TRY(ForEachEvent(data, not_before_us, [&](Event&& e) { out.push_back(std::move(e)); }));
  return out;
}

Result<Cast> ParseCast(std::string_view text) {
  size_t nl = text.find('\n');
  if (nl == std::string_view::npos) nl = text.size();
  Cast c;
  BG_ASSIGN_OR_RETURN(c.header, ParseHeader(text.substr(0, nl)));
  std::string_view rest = nl < text.size() ? text.substr(nl + 1) : std::string_view();
  BG_ASSIGN_OR_RETURN(c.events, ParseEvents(rest, 0));
  return c;
}

}  // namespace bg::session
