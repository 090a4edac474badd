#include "log/json_log.h"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

namespace bg::log {

void JsonFormatter::format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) {
  using namespace std::chrono;
  const auto micros = duration_cast<microseconds>(msg.time.time_since_epoch()).count();
  const auto secs = sys_seconds(seconds(micros / 1'000'000));
  const std::string_view payload(msg.payload.data(), msg.payload.size());
  const spdlog::string_view_t lv = spdlog::level::to_string_view(msg.level);
  const std::string_view level(lv.data(), lv.size());
  fmt::format_to(std::back_inserter(dest), R"({{"ts":"{:%Y-%m-%dT%H:%M:%S}.{:06d}Z","level":"{}","msg":)",
                 secs, micros % 1'000'000, level);
  // An object stays an object, as written when it is one line (keeps "event" first), else
  // re-serialised; anything else becomes a string.
  nlohmann::json parsed = nlohmann::json::parse(payload, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_object() && payload.find_first_of("\r\n") == std::string_view::npos) {
    dest.append(payload.data(), payload.data() + payload.size());
  } else {
    const nlohmann::json value = parsed.is_object() ? parsed : nlohmann::json(std::string(payload));
    const std::string body = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    dest.append(body.data(), body.data() + body.size());
  }
  dest.push_back('}');
  dest.push_back('\n');
}

std::unique_ptr<spdlog::formatter> JsonFormatter::clone() const {
  return std::make_unique<JsonFormatter>();
}

void InstallJsonLogger(std::string_view level) {
  auto logger = spdlog::stderr_logger_mt("breakglass");
  logger->set_formatter(std::make_unique<JsonFormatter>());
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(std::string(level)));
}

}  // namespace bg::log
