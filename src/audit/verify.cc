#include "audit/verify.h"

#include <charconv>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "audit/event.h"
#include "audit/merkle.h"
#include "util/encoding.h"

namespace bg::audit {
namespace {

using Json = nlohmann::json;

Error EntryError(int64_t index, std::string_view message) {
  return Error::InvalidArgument("entries", fmt::format("entry {}: {}", index, message));
}

Error NotAPrefix(int64_t size) {
  return Error::InvalidArgument(
      "trusted_checkpoint",
      fmt::format("older checkpoint of size {} is not a prefix: log was rewritten or truncated",
                  size));
}

// The exact line FormatEntryLine writes, parsed without a JSON library: a million-line bundle
// should cost little more than its hashing. Anything else goes through nlohmann::json.
std::optional<BundleEntry> ParseFastLine(std::string_view line) {
  constexpr std::string_view kHead = R"({"index":)";
  constexpr std::string_view kMid = R"(,"leaf":")";
  constexpr std::string_view kTail = R"("})";
  if (line.substr(0, kHead.size()) != kHead) return std::nullopt;
  line.remove_prefix(kHead.size());
  BundleEntry e;
  auto [ptr, ec] = std::from_chars(line.data(), line.data() + line.size(), e.index);
  if (ec != std::errc() || e.index < 0) return std::nullopt;
  line.remove_prefix(static_cast<size_t>(ptr - line.data()));
  if (line.substr(0, kMid.size()) != kMid || line.size() < kMid.size() + kTail.size()) {
    return std::nullopt;
  }
  line.remove_prefix(kMid.size());
  if (line.substr(line.size() - kTail.size()) != kTail) return std::nullopt;
  auto leaf = Base64Decode(line.substr(0, line.size() - kTail.size()));
  if (!leaf.has_value()) return std::nullopt;
  e.leaf = std::move(*leaf);
  return e;
}

Result<BundleEntry> ParseJsonLine(std::string_view line, int64_t line_no) {
  auto bad = [&](std::string_view what) {
    return Error::InvalidArgument("entries", fmt::format("line {}: {}", line_no, what));
  };
  Json j = Json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return bad("not a JSON object");
  BundleEntry e;
  auto index = j.find("index");
  if (index == j.end() || !index->is_number_integer() || index->get<int64_t>() < 0) {
    return bad("\"index\" is not a non-negative integer");
  }
  e.index = index->get<int64_t>();
  auto leaf = j.find("leaf");
  std::optional<std::string> decoded;
  if (leaf != j.end() && leaf->is_string()) decoded = Base64Decode(leaf->get<std::string>());
  if (!decoded.has_value()) return bad("\"leaf\" is not base64");
  e.leaf = std::move(*decoded);
  if (auto hash = j.find("hash"); hash != j.end()) {
    std::optional<std::string> h;
    if (hash->is_string()) h = Base64Decode(hash->get<std::string>());
    if (!h.has_value() || h->size() != kHashSize) return bad("\"hash\" is not base64 of 32 bytes");
    e.hash = std::move(*h);
  }
  return e;
}

Result<Checkpoint> OpenCheckpoint(std::string_view note, std::string_view key,
                                  std::string_view field) {
  auto cp = ParseAndVerifyCheckpoint(note, key);
  if (!cp.has_value()) {
    const Error& e = cp.error();
    if (e.field() == "key") return e;
    return Error::InvalidArgument(std::string(field), e.message());
  }
  return cp;
}

}  // namespace

std::string FormatEntryLine(int64_t index, std::string_view leaf) {
  return fmt::format(R"({{"index":{},"leaf":"{}"}})", index, Base64Encode(leaf));
}

Result<std::vector<BundleEntry>> ParseEntries(std::string_view jsonl) {
  std::vector<BundleEntry> out;
  int64_t line_no = 0;
  while (!jsonl.empty()) {
    const size_t nl = jsonl.find('\n');
    std::string_view line = jsonl.substr(0, nl);
    jsonl.remove_prefix(nl == std::string_view::npos ? jsonl.size() : nl + 1);
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    if (auto fast = ParseFastLine(line)) {
      out.push_back(std::move(*fast));
      continue;
    }
    BG_ASSIGN_OR_RETURN(BundleEntry e, ParseJsonLine(line, line_no));
    out.push_back(std::move(e));
  }
  return out;
}

Result<VerifyReport> VerifyBundle(const std::vector<BundleEntry>& entries,
                                  std::string_view checkpoint_note, std::string_view verifier_key,
                                  const VerifyOptions& options) {
  VerifyReport report;
  BG_ASSIGN_OR_RETURN(report.checkpoint,
                      OpenCheckpoint(checkpoint_note, verifier_key, "checkpoint"));
  const int64_t size = report.checkpoint.size;
  if (options.trusted_checkpoint.has_value()) {
    BG_ASSIGN_OR_RETURN(Checkpoint trusted, OpenCheckpoint(*options.trusted_checkpoint,
                                                           verifier_key, "trusted_checkpoint"));
    if (trusted.origin != report.checkpoint.origin) {
      return Error::InvalidArgument(
          "trusted_checkpoint",
          fmt::format("older checkpoint is for log \"{}\", not \"{}\"", trusted.origin,
                      report.checkpoint.origin));
    }
    if (trusted.size > size) return NotAPrefix(trusted.size);
    report.trusted = std::move(trusted);
  }

  const auto total = static_cast<int64_t>(entries.size());
  const int64_t every = options.progress_every > 0 ? options.progress_every : 1 << 16;
  CompactRange range;
  auto check_roots = [&]() -> Status {
    if (report.trusted.has_value() && range.Size() == report.trusted->size &&
        range.Root() != report.trusted->root) {
      return NotAPrefix(report.trusted->size);
    }
    if (range.Size() == size && range.Root() != report.checkpoint.root) {
      const int64_t from = report.trusted.has_value() ? report.trusted->size : 0;
      return Error::InvalidArgument(
          "entries",
          fmt::format("entries 0..{} do not hash to the checkpoint root: an entry at index {} or "
                      "later was changed, or the log was rewritten",
                      size - 1, from));
    }
    return Ok();
  };
  BG_TRY(check_roots());  // the empty prefix
  for (int64_t i = 0; i < total; ++i) {
    const BundleEntry& e = entries[static_cast<size_t>(i)];
    if (e.index != i) {
      return EntryError(i, fmt::format("expected index {}, found {}", i, e.index));
    }
    std::string leaf_hash = HashLeaf(e.leaf);
    if (e.hash.has_value() && *e.hash != leaf_hash) {
      return EntryError(i, "leaf does not match its stored hash");
    }
    if (options.check_leaf_format) {
      auto parsed = ParseLeaf(e.leaf);
      if (!parsed.has_value()) return EntryError(i, parsed.error().message());
    }
    range.Append(std::move(leaf_hash));
    BG_TRY(check_roots());
    if (options.progress && (i + 1) % every == 0) options.progress(i + 1, total);
  }
  if (total < size) {
    return EntryError(total, fmt::format("missing: the checkpoint covers {} entries", size));
  }
  if (options.progress) options.progress(total, total);
  report.entries = total;
  report.unsigned_tail = total - size;
  return report;
}

Result<std::pair<Checkpoint, Checkpoint>> VerifyCheckpointConsistency(
    std::string_view older_note, std::string_view newer_note, std::string_view verifier_key,
    const std::vector<std::string>& proof) {
  BG_ASSIGN_OR_RETURN(Checkpoint older,
                      OpenCheckpoint(older_note, verifier_key, "trusted_checkpoint"));
  BG_ASSIGN_OR_RETURN(Checkpoint newer, OpenCheckpoint(newer_note, verifier_key, "checkpoint"));
  if (older.origin != newer.origin) {
    return Error::InvalidArgument("trusted_checkpoint", "checkpoints are for different logs");
  }
  if (older.size > newer.size) return NotAPrefix(older.size);
  auto ok = VerifyConsistency(older.size, newer.size, proof, older.root, newer.root);
  if (!ok.has_value()) {
    return Error::InvalidArgument(
        "proof", fmt::format("older checkpoint of size {} is not a prefix: log was rewritten or "
                             "truncated ({})",
                             older.size, ok.error().message()));
  }
  return std::make_pair(std::move(older), std::move(newer));
}

}  // namespace bg::audit
