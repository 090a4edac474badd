// Duration strings ("90s", "1h30m", "900": the API, the CLI and the policy) and RFC 3339 times
// (util/time.h). First byte even: ParseDuration; odd: ParseRfc3339.
//
// Invariants: an accepted duration is 0..10 years and reads back the same from FormatDuration
// and from its plain number of seconds; an accepted time reads back the same from
// FormatRfc3339; a refusal names the field it was given.
#include <string>

#include "fuzz/fuzz.h"
#include "util/time.h"

namespace {

using bg::fuzz::CheckRefusal;

void Duration(std::string_view text) {
  auto d = bg::ParseDuration(text, "duration");
  CheckRefusal(d);
  if (!d) {
    BG_FUZZ_CHECK(d.error().field() == "duration");
    return;
  }
  BG_FUZZ_CHECK(d->count() >= 0 && d->count() <= int64_t{10} * 365 * 24 * 3600);
  auto again = bg::ParseDuration(bg::FormatDuration(*d));
  BG_FUZZ_CHECK(again.has_value() && *again == *d);
  auto seconds = bg::ParseDuration(std::to_string(d->count()));
  BG_FUZZ_CHECK(seconds.has_value() && *seconds == *d);
}

void Time(std::string_view text) {
  auto t = bg::ParseRfc3339(text, "when");
  CheckRefusal(t);
  if (!t) {
    BG_FUZZ_CHECK(t.error().field() == "when");
    return;
  }
  const std::string written = bg::FormatRfc3339(*t);
  auto again = bg::ParseRfc3339(written);
  BG_FUZZ_CHECK(again.has_value() && *again == *t);
  BG_FUZZ_CHECK(bg::FormatRfc3339(*again) == written);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto [selector, rest] = bg::fuzz::Select(bg::fuzz::AsText(data, size));
  if (selector % 2 == 0) {
    Duration(rest);
  } else {
    Time(rest);
  }
  return 0;
}
