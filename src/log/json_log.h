// Structured logs: one JSON object per line on stderr,
//   {"ts":"2026-11-25T00:51:28.293269Z","level":"info","msg":<message>}
// where <message> is the logged text itself when it is a JSON object (the convention: code
// logs {"event":"name",...}) and otherwise the text as a JSON string, escaped. Every line is
// valid JSON whatever a caller passes, so a name with a quote or a message that is not an
// object can neither break the stream nor forge fields.
#pragma once

#include <spdlog/formatter.h>

#include <memory>
#include <string_view>

namespace bg::log {

class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override;
  std::unique_ptr<spdlog::formatter> clone() const override;
};

// Makes the default logger write JSON lines to stderr at `level` ("debug", "info", ...).
void InstallJsonLogger(std::string_view level);

}  // namespace bg::log
