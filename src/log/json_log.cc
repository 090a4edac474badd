#include "log/json_log.h"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <chrono>
#include <string>

namespace bg::log {
namespace {

using OJson = nlohmann::ordered_json;

constexpr char kTextEvent[] = "log.message";

std::string Dump(const OJson& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Appends the fields of `object` but "event" to `out`, renaming the keys the line owns.
void AddFields(const OJson& object, OJson& out) {
  for (const auto& [key, value] : object.items()) {
    if (key == "event") continue;
    const bool reserved = key == "ts" || key == "level";
    out[reserved ? "field_" + key : key] = value;
  }
}

}  // namespace

void JsonFormatter::format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) {
  using namespace std::chrono;
  const auto micros = duration_cast<microseconds>(msg.time.time_since_epoch()).count();
  const auto secs = sys_seconds(seconds(micros / 1'000'000));
  const std::string_view payload(msg.payload.data(), msg.payload.size());
  const spdlog::string_view_t lv = spdlog::level::to_string_view(msg.level);
  OJson line = OJson::object();
  line["ts"] = fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:06d}Z", secs, micros % 1'000'000);
  line["level"] = std::string(lv.data(), lv.size());
  OJson parsed = OJson::parse(payload, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_object()) {
    auto event = parsed.find("event");
    line["event"] = event != parsed.end() && event->is_string() ? *event : OJson(kTextEvent);
    if (event != parsed.end() && !event->is_string()) line["field_event"] = *event;
    AddFields(parsed, line);
  } else {
    line["event"] = kTextEvent;
    line["message"] = std::string(payload);
  }
  const std::string text = Dump(line);
  dest.append(text.data(), text.data() + text.size());
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

void Write(spdlog::level::level_enum level, std::string_view event, const Fields& fields) {
  if (!spdlog::should_log(level)) return;
  OJson j = OJson::object();
  j["event"] = std::string(event);
  if (fields.is_object()) {
    for (const auto& [key, value] : fields.items()) {
      if (key != "event") j[key] = value;
    }
  } else if (!fields.is_null()) {
    j["value"] = fields;
  }
  spdlog::log(level, "{}", Dump(j));
}

}  // namespace bg::log
