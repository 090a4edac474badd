#include "session/replay.h"

#include <cmath>

namespace bg::session {

Status CheckPlayOptions(const PlayOptions& o) {
  if (!(o.speed > 0) || !std::isfinite(o.speed) || o.speed > 1000) {
    return Error::InvalidArgument("speed", "must be a number above 0 and at most 1000");
  }
  if (!(o.idle_limit >= 0) || !std::isfinite(o.idle_limit)) {
    return Error::InvalidArgument("idle-limit", "must be a non-negative number of seconds");
  }
  return Ok();
}

std::vector<int64_t> Schedule(const std::vector<Event>& events, const PlayOptions& options) {
  std::vector<int64_t> out;
  const int64_t cap = options.idle_limit > 0 ? std::llround(options.idle_limit * 1e6) : -1;
  int64_t prev = 0;
  for (const Event& e : events) {
    if (e.code != 'o') continue;
    int64_t gap = e.micros - prev;
    if (cap >= 0 && gap > cap) gap = cap;
    out.push_back(std::llround(static_cast<double>(gap) / options.speed));
    prev = e.micros;
  }
  return out;
}

Status Play(const Cast& cast, const PlayOptions& options,
            const std::function<void(std::string_view)>& write,
            const std::function<void(int64_t)>& sleep) {
  BG_TRY(CheckPlayOptions(options));
  const std::vector<int64_t> waits = Schedule(cast.events, options);
  size_t i = 0;
  for (const Event& e : cast.events) {
    if (e.code != 'o') continue;
    if (waits[i] > 0) sleep(waits[i]);
    ++i;
    write(e.data);
  }
  return Ok();
}

std::string CatText(const Cast& cast) {
  std::string out;
  for (const Event& e : cast.events) {
    if (e.code == 'o') out += e.data;
  }
  return out;
}

}  // namespace bg::session
