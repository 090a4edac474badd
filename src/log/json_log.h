// Structured logs: one JSON object per line on stderr, every line of the same shape,
//   {"ts":"2026-11-25T00:51:28.293269Z","level":"info","event":"server.listening",<fields>...}
// "ts", "level" and "event" come first and are always there; the event's fields follow at the
// top level. Code logs through Write()/Info()/... (an event name and its fields); text logged
// through spdlog directly is read as such an object when it is one ({"event":"name",...}) and
// otherwise becomes {"event":"log.message","message":"<the text>"}, so a name with a quote or
// a message that is not an object can neither break the stream nor forge fields (a field
// called "ts" or "level" is written "field_ts", "field_level").
#pragma once

#include <spdlog/formatter.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string_view>

namespace bg::log {

class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override;
  std::unique_ptr<spdlog::formatter> clone() const override;
};

// Makes the default logger write JSON lines to stderr at `level` ("debug", "info", ...).
void InstallJsonLogger(std::string_view level);

// An event's fields: a JSON object, in the order they are to be written.
using Fields = nlohmann::ordered_json;

// Logs `event` with `fields` (an object; anything else is logged as {"value": fields}) on the
// default logger. Strings that are not valid UTF-8 are written with U+FFFD.
void Write(spdlog::level::level_enum level, std::string_view event,
           const Fields& fields = Fields::object());
inline void Debug(std::string_view event, const Fields& fields = Fields::object()) {
  Write(spdlog::level::debug, event, fields);
}
inline void Info(std::string_view event, const Fields& fields = Fields::object()) {
  Write(spdlog::level::info, event, fields);
}
inline void Warn(std::string_view event, const Fields& fields = Fields::object()) {
  Write(spdlog::level::warn, event, fields);
}
inline void Error(std::string_view event, const Fields& fields = Fields::object()) {
  Write(spdlog::level::err, event, fields);
}

}  // namespace bg::log
