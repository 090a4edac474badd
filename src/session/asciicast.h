// The asciicast v2 format (https://docs.asciinema.org/manual/asciicast/v2/): a header line (a
// JSON object) followed by one JSON array per event, `[time, code, data]`, each on its own line.
// Times are seconds since the start; we write and keep them as whole microseconds.
//
// Terminal bytes are not always valid UTF-8 and a read may end inside a character, while JSON
// strings must be UTF-8: Utf8Carry holds back an incomplete trailing sequence until the next
// read, and AppendEvent replaces bytes that can never be valid with U+FFFD (as asciinema does).
//
// Pure functions and value types; thread-compatible.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.h"

namespace bg::session {

// The header: the standard fields plus a "breakglass" object naming the session, the request
// and the person, so a .cast file says on its own whose privileged session it is.
struct Header {
  int width = 80;
  int height = 24;
  int64_t timestamp = 0;  // Unix seconds at the start
  std::string command;    // what ran (the SSH_ORIGINAL_COMMAND when there was one)
  std::string title;
  std::map<std::string, std::string> env;  // TERM, SHELL
  std::string session_id;
  std::string request_id;
  std::string user;
  std::string host;
  std::string ssh_original_command;
  bool pty = true;  // false: the program ran with pipes (written as "pty": false)
};

// One JSON line, no trailing newline.
std::string HeaderLine(const Header& h);
// Parses a header line; requires version 2 and positive width/height. Unknown keys are kept
// out of Header but allowed (other recorders add their own).
Result<Header> ParseHeader(std::string_view line);

// Splits a byte stream at UTF-8 character boundaries: Take returns the longest prefix of
// (held bytes + in) that does not end inside a character, and holds the rest (at most 3 bytes).
class Utf8Carry {
 public:
  std::string_view Take(std::string_view in);
  // What is held back (at the end of a stream: emit it; AppendEvent replaces it with U+FFFD).
  std::string Flush();

 private:
  std::string held_;
  std::string joined_;
};

// Appends `"..."`: `text` as a JSON string, invalid UTF-8 bytes as U+FFFD.
void AppendJsonString(std::string& out, std::string_view text);
// Appends `[1.234567, "o", "..."]\n`. `code` is 'o', 'i', 'r' or 'm'.
void AppendEvent(std::string& out, int64_t micros, char code, std::string_view data);

struct Event {
  int64_t micros = 0;
  char code = 'o';
  std::string data;
};

struct EventStats {
  int64_t count = 0;
  int64_t first_us = 0;
  int64_t last_us = 0;
};

// Checks that `data` is whole event lines (each ending in '\n'), each an array of a
// non-negative time, a known code ("o", "i", "r" with "COLSxROWS", "m") and a string, with
// times never going back and none before `not_before_us`. Errors name the line (1-based).
Result<EventStats> ValidateEvents(std::string_view data, int64_t not_before_us);
// The same checks, returning the events.
Result<std::vector<Event>> ParseEvents(std::string_view data, int64_t not_before_us = 0);

struct Cast {
  Header header;
  std::vector<Event> events;
};
// A whole .cast file: header line, then events.
Result<Cast> ParseCast(std::string_view text);

}  // namespace bg::session
