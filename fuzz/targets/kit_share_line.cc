// Share lines of the offline kit (kit/share_line.h), as keyholders type them back in.
//
// First byte even: the rest is a typed line for ParseShareLine. Odd: the rest builds a share
// (kit id, index, threshold, salt, payload) that FormatShareLine writes, so the fuzzer reaches
// the checks behind the checksum too, and single-character typos of the written line.
//
// Invariants: an accepted line is the canonical line FormatShareLine writes for the share
// (once trimmed, lower-cased, with dashes for separators and none after the last group); the
// diagnostic stays empty on success and names a column when groups are bad; every written share
// reads back the same; a written line with one character changed is refused (the group checks'
// promise).
#include <string>

#include "fuzz/fuzz.h"
#include "kit/share_line.h"

namespace {

using bg::kit::ParseShareLine;
using bg::kit::Share;

std::string Canonical(std::string_view line) {
  while (!line.empty() && std::string_view(" \t\r\n").find(line.front()) != std::string_view::npos)
    line.remove_prefix(1);
  while (!line.empty() && std::string_view(" \t\r\n").find(line.back()) != std::string_view::npos)
    line.remove_suffix(1);
  std::string out;
  for (char c : line) {
    const bool separator = c == '-' || c == ' ' || c == '\t';
    if (separator) {
      if (out.empty() || out.back() != '-') out += '-';
      continue;
    }
    out += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  // A separator typed after the last group ends no group: the parser reads past it.
  if (!out.empty() && out.back() == '-') out.pop_back();
  return out;
}

bool SameShare(const Share& a, const Share& b) {
  return a.kit_id == b.kit_id && a.index == b.index && a.threshold == b.threshold &&
         a.salt == b.salt && a.payload.Equals(b.payload);
}

void Typed(std::string_view line) {
  bg::kit::ShareDiagnostic diagnostic;
  auto share = ParseShareLine(line, &diagnostic);
  if (!share) {
    bg::fuzz::CheckError(share.error());
    BG_FUZZ_CHECK(share.error().field() == "share");
    if (!diagnostic.bad_groups.empty()) BG_FUZZ_CHECK(diagnostic.column > 0);
    // The same verdict without a diagnostic.
    BG_FUZZ_CHECK(!ParseShareLine(line).has_value());
    return;
  }
  BG_FUZZ_CHECK(diagnostic.bad_groups.empty() && diagnostic.column == 0);
  BG_FUZZ_CHECK(bg::kit::IsValidKitId(share->kit_id));
  BG_FUZZ_CHECK(share->index >= 1 && share->index <= 255);
  BG_FUZZ_CHECK(share->threshold >= 2 && share->threshold <= 255);
  BG_FUZZ_CHECK(share->payload.size() >= 1 && share->payload.size() <= bg::kit::kMaxSecretBytes);
  const bg::Secret written = bg::kit::FormatShareLine(*share);
  BG_FUZZ_CHECK(written.Reveal() == Canonical(line));
}

void Written(std::string_view bytes) {
  constexpr std::string_view kAlphabet = "0123456789abcdefghjkmnpqrstvwxyz";
  if (bytes.size() < 8 + 2 + bg::kit::kSaltBytes + 2) return;
  Share share;
  for (size_t i = 0; i < 8; ++i) share.kit_id += kAlphabet[static_cast<uint8_t>(bytes[i]) % 32];
  share.index = 1 + static_cast<uint8_t>(bytes[8]) % 255;
  share.threshold = 2 + static_cast<uint8_t>(bytes[9]) % 254;
  for (size_t i = 0; i < bg::kit::kSaltBytes; ++i)
    share.salt[i] = static_cast<uint8_t>(bytes[10 + i]);
  const size_t typo = static_cast<uint8_t>(bytes[10 + bg::kit::kSaltBytes]);
  std::string_view payload = bytes.substr(11 + bg::kit::kSaltBytes);
  if (payload.size() > bg::kit::kMaxSecretBytes)
    payload = payload.substr(0, bg::kit::kMaxSecretBytes);
  share.payload = bg::Secret(payload);

  const bg::Secret line = bg::kit::FormatShareLine(share);
  auto back = ParseShareLine(line.Reveal());
  BG_FUZZ_CHECK(back.has_value() && SameShare(*back, share));

  // One character after the prefix replaced by another of the alphabet.
  std::string changed(line.Reveal());
  const size_t at =
      bg::kit::kSharePrefix.size() + typo % (changed.size() - bg::kit::kSharePrefix.size());
  if (changed[at] == '-') return;
  const size_t now = kAlphabet.find(changed[at]);
  changed[at] = kAlphabet[(now + 1 + typo / 7 % 31) % 32];
  BG_FUZZ_CHECK(!ParseShareLine(changed).has_value());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto [selector, rest] = bg::fuzz::Select(bg::fuzz::AsText(data, size));
  if (selector % 2 == 0) {
    Typed(rest);
  } else {
    Written(rest);
  }
  return 0;
}
