// Replay of a recording: the output events with their original timing (scaled by a speed
// factor, long pauses cut to an idle limit), or all of the output at once (cat).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "session/asciicast.h"
#include "util/result.h"

namespace bg::session {

struct PlayOptions {
  double speed = 1.0;       // > 0; 2 plays twice as fast
  double idle_limit = 0.0;  // seconds; a pause longer than this is cut to it (0: keep pauses)
};

Status CheckPlayOptions(const PlayOptions& o);

// For each output ("o") event of `events`, the wait before writing it, in microseconds.
std::vector<int64_t> Schedule(const std::vector<Event>& events, const PlayOptions& options);

// Writes each output event through `write` after waiting through `sleep` (microseconds).
Status Play(const Cast& cast, const PlayOptions& options,
            const std::function<void(std::string_view)>& write,
            const std::function<void(int64_t)>& sleep);

// Every output event's data, in order.
std::string CatText(const Cast& cast);

}  // namespace bg::session
