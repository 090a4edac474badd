// Recordings (session/asciicast.h): the asciicast v2 header line and the event lines a
// recorder uploads in chunks, which the server checks with ValidateEvents before storing them,
// and whole .cast files. The first byte picks: 0 header line, 1 chunk data, 2 a whole cast,
// 3 terminal bytes through the recorder's writer (Utf8Carry, AppendEvent).
//
// Invariants: an accepted header written again by HeaderLine reads back the same; accepted
// chunk data gives the same events and statistics through ValidateEvents and ParseEvents, and
// the events written again by AppendEvent read back the same; whatever bytes a terminal sends,
// what the recorder writes is valid chunk data holding those bytes (U+FFFD for invalid UTF-8),
// and Utf8Carry loses and reorders nothing.
#include "session/asciicast.h"

#include <nlohmann/json.hpp>
#include <string>
#include <tuple>

#include "fuzz/fuzz.h"

namespace {

namespace s = bg::session;

auto Fields(const s::Header& h) {
  return std::tie(h.width, h.height, h.timestamp, h.command, h.title, h.env, h.session_id,
                  h.request_id, h.user, h.host, h.ssh_original_command, h.pty);
}

bool SameEvents(const std::vector<s::Event>& a, const std::vector<s::Event>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].micros != b[i].micros || a[i].code != b[i].code || a[i].data != b[i].data)
      return false;
  }
  return true;
}

void HeaderLine(std::string_view line) {
  auto h = s::ParseHeader(line);
  bg::fuzz::CheckRefusal(h);
  if (!h) return;
  BG_FUZZ_CHECK(h->width >= 1 && h->height >= 1 && h->timestamp >= 0);
  const std::string written = s::HeaderLine(*h);
  auto again = s::ParseHeader(written);
  BG_FUZZ_CHECK(again.has_value() && Fields(*again) == Fields(*h));
  BG_FUZZ_CHECK(s::HeaderLine(*again) == written);
}

void Events(std::string_view data, int64_t not_before_us) {
  auto stats = s::ValidateEvents(data, not_before_us);
  auto events = s::ParseEvents(data, not_before_us);
  BG_FUZZ_CHECK(stats.has_value() == events.has_value());
  if (!events) {
    bg::fuzz::CheckError(events.error());
    BG_FUZZ_CHECK(events.error().message() == stats.error().message());
    return;
  }
  BG_FUZZ_CHECK(stats->count == static_cast<int64_t>(events->size()));
  if (events->empty()) return;
  BG_FUZZ_CHECK(stats->first_us == events->front().micros &&
                stats->last_us == events->back().micros);
  BG_FUZZ_CHECK(events->front().micros >= not_before_us);
  std::string written;
  for (const auto& e : *events) s::AppendEvent(written, e.micros, e.code, e.data);
  auto again = s::ParseEvents(written, not_before_us);
  BG_FUZZ_CHECK(again.has_value() && SameEvents(*again, *events));
}

void Cast(std::string_view text) {
  auto cast = s::ParseCast(text);
  bg::fuzz::CheckRefusal(cast);
  if (!cast) return;
  std::string written = s::HeaderLine(cast->header) + "\n";
  for (const auto& e : cast->events) s::AppendEvent(written, e.micros, e.code, e.data);
  auto again = s::ParseCast(written);
  BG_FUZZ_CHECK(again.has_value() && Fields(again->header) == Fields(cast->header) &&
                SameEvents(again->events, cast->events));
}

// The bytes cut into reads at each 0x00 byte, as a terminal might deliver them.
void Terminal(std::string_view bytes) {
  s::Utf8Carry carry;
  std::string passed;
  std::string data;
  int64_t micros = 0;
  size_t start = 0;
  while (start <= bytes.size()) {
    size_t cut = bytes.find('\0', start);
    if (cut == std::string_view::npos) cut = bytes.size();
    const std::string_view piece = carry.Take(bytes.substr(start, cut - start));
    passed.append(piece);
    s::AppendEvent(data, micros, 'o', piece);
    micros += static_cast<int64_t>(piece.size()) * 997;
    start = cut + 1;
  }
  const std::string held = carry.Flush();
  BG_FUZZ_CHECK(held.size() <= 3);
  passed.append(held);
  s::AppendEvent(data, micros, 'o', held);
  std::string joined;
  size_t at = 0;
  while (at <= bytes.size()) {
    size_t cut = bytes.find('\0', at);
    if (cut == std::string_view::npos) cut = bytes.size();
    joined.append(bytes.substr(at, cut - at));
    at = cut + 1;
  }
  BG_FUZZ_CHECK(passed == joined);
  auto events = s::ParseEvents(data);
  BG_FUZZ_CHECK(events.has_value());
  for (const auto& e : *events) {
    // What JSON holds is valid UTF-8, and AppendJsonString wrote exactly that back.
    std::string quoted;
    s::AppendJsonString(quoted, e.data);
    BG_FUZZ_CHECK(nlohmann::json::parse(quoted).get<std::string>() == e.data);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto [selector, rest] = bg::fuzz::Select(bg::fuzz::AsText(data, size));
  switch (selector % 4) {
    case 0:
      HeaderLine(rest);
      break;
    case 1:
      Events(rest, selector / 4 * 250000);
      break;
    case 2:
      Cast(rest);
      break;
    case 3:
      Terminal(rest);
      break;
  }
  return 0;
}
