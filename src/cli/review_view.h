// The human (non --json) views of `review list` and `review show`. Every field that came from a
// person or the server goes through TerminalSafe; times get the local time beside them when
// `local_times` (stdout is a terminal).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace bg::cli {

// GET /v1/reviews as a table (one line per review).
std::string ReviewListText(const nlohmann::json& list, bool local_times);
// GET /v1/reviews/{id}, with "client_verified" (what `review show` checked itself) in its
// timeline.
std::string ReviewDetailText(const nlohmann::json& review, bool local_times);

}  // namespace bg::cli
