#include "audit/verify.h"

#include <algorithm>
#include <array>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "audit/event.h"
#include "audit/merkle.h"
#include "util/encoding.h"
#include "util/sha256.h"

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

// Standard base64 alphabet: the value of each character, or -1.
constexpr std::array<int8_t, 256> kBase64Values = [] {
  std::array<int8_t, 256> t{};
  t.fill(-1);
  constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (size_t i = 0; i < kAlphabet.size(); ++i) {
    t[static_cast<unsigned char>(kAlphabet[i])] = static_cast<int8_t>(i);
  }
  return t;
}();

// Decodes exactly the strings Base64Encode writes (padded, no white space, unused bits zero),
// which are exactly the strings bg::Base64Decode accepts; false for anything else.
bool DecodeBase64Strict(std::string_view in, std::string& out) {
  if (in.size() % 4 != 0) return false;
  out.clear();
  if (in.empty()) return true;
  const size_t pad = in.back() != '=' ? 0 : in[in.size() - 2] != '=' ? 1 : 2;
  out.resize(in.size() / 4 * 3 - pad);
  const auto* src = reinterpret_cast<const unsigned char*>(in.data());
  char* dst = out.data();
  const size_t full = in.size() / 4 - (pad != 0 ? 1 : 0);
  for (size_t q = 0; q < full; ++q, src += 4, dst += 3) {
    const int a = kBase64Values[src[0]], b = kBase64Values[src[1]], c = kBase64Values[src[2]],
              d = kBase64Values[src[3]];
    if ((a | b | c | d) < 0) return false;
    const uint32_t v = static_cast<uint32_t>(a) << 18 | static_cast<uint32_t>(b) << 12 |
                       static_cast<uint32_t>(c) << 6 | static_cast<uint32_t>(d);
    dst[0] = static_cast<char>(v >> 16);
    dst[1] = static_cast<char>(v >> 8 & 0xff);
    dst[2] = static_cast<char>(v & 0xff);
  }
  if (pad == 0) return true;
  const int a = kBase64Values[src[0]], b = kBase64Values[src[1]];
  if ((a | b) < 0) return false;
  if (pad == 2) {
    if ((b & 0x0f) != 0) return false;  // non-canonical trailing bits
    dst[0] = static_cast<char>(a << 2 | b >> 4);
    return true;
  }
  const int c = kBase64Values[src[2]];
  if (c < 0 || (c & 0x03) != 0) return false;
  dst[0] = static_cast<char>(a << 2 | b >> 4);
  dst[1] = static_cast<char>((b & 0x0f) << 4 | c >> 2);
  return true;
}

// A JSON non-negative integer as written by fmt: no sign, no leading zero, at most 18 digits
// (so it fits in int64_t); anything else is left to the JSON parser.
bool ConsumeIndex(std::string_view& line, int64_t& out) {
  size_t n = 0;
  while (n < line.size() && n < 19 && line[n] >= '0' && line[n] <= '9') ++n;
  if (n == 0 || n > 18 || (n > 1 && line[0] == '0')) return false;
  int64_t v = 0;
  for (size_t i = 0; i < n; ++i) v = v * 10 + (line[i] - '0');
  out = v;
  line.remove_prefix(n);
  return true;
}

bool ConsumeLiteral(std::string_view& line, std::string_view literal) {
  if (line.substr(0, literal.size()) != literal) return false;
  line.remove_prefix(literal.size());
  return true;
}

// The contents of a JSON string up to its closing quote, when it holds no escape: base64
// never does, so a backslash means the line is for the JSON parser.
bool ConsumePlainString(std::string_view& line, std::string_view& out) {
  const size_t quote = line.find('"');
  if (quote == std::string_view::npos) return false;
  out = line.substr(0, quote);
  if (out.find('\\') != std::string_view::npos) return false;
  line.remove_prefix(quote + 1);
  return true;
}

}  // namespace

// The exact lines FormatEntryLine and `audit export` write, parsed without a JSON library:
//   {"index":N,"leaf":"<base64>"}   {"index":N,"leaf":"<base64>","hash":"<base64>"}
// A million-line bundle should cost little more than its hashing. nullopt for any other line
// (including malformed ones): the caller then uses the JSON parser, which decides.
std::optional<BundleEntry> ParseEntryLineFast(std::string_view line) {
  BundleEntry e;
  std::string_view leaf, hash;
  if (!ConsumeLiteral(line, R"({"index":)") || !ConsumeIndex(line, e.index) ||
      !ConsumeLiteral(line, R"(,"leaf":")") || !ConsumePlainString(line, leaf)) {
    return std::nullopt;
  }
  if (line != "}") {
    if (!ConsumeLiteral(line, R"(,"hash":")") || !ConsumePlainString(line, hash) || line != "}") {
      return std::nullopt;
    }
    std::string h;
    if (!DecodeBase64Strict(hash, h) || h.size() != kHashSize) return std::nullopt;
    e.hash = std::move(h);
  }
  if (!DecodeBase64Strict(leaf, e.leaf)) return std::nullopt;
  return e;
}

Result<BundleEntry> ParseEntryLineJson(std::string_view line, int64_t line_no) {
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

namespace {

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

// CompactRange's fold (merkle.h) over fixed-size digests: the verifier hashes each leaf once,
// compares that hash with the exported one and folds it in, without the allocations of the
// std::string hashes and the node list CompactRange::Append returns for the writer.
class RootBuilder {
 public:
  void Append(const Digest& leaf_hash) {
    Digest hash = leaf_hash;
    for (int64_t s = size_; (s & 1) != 0; s >>= 1) {
      hash = Children(stack_.back(), hash);
      stack_.pop_back();
    }
    stack_.push_back(hash);
    ++size_;
  }
  int64_t Size() const { return size_; }
  std::string Root() const {
    if (stack_.empty()) return EmptyRoot();
    Digest root = stack_.back();
    for (size_t i = stack_.size() - 1; i-- > 0;) root = Children(stack_[i], root);
    return std::string(AsBytes(root));
  }

  static Digest Leaf(std::string_view leaf) {
    return Sha256Parts({std::string_view("\x00", 1), leaf});
  }

 private:
  static Digest Children(const Digest& left, const Digest& right) {
    return Sha256Parts({std::string_view("\x01", 1), AsBytes(left), AsBytes(right)});
  }

  int64_t size_ = 0;
  std::vector<Digest> stack_;
};

}  // namespace

std::string FormatEntryLine(int64_t index, std::string_view leaf) {
  return fmt::format(R"({{"index":{},"leaf":"{}"}})", index, Base64Encode(leaf));
}

Result<std::vector<BundleEntry>> ParseEntries(std::string_view jsonl) {
  std::vector<BundleEntry> out;
  out.reserve(static_cast<size_t>(std::count(jsonl.begin(), jsonl.end(), '\n')) + 1);
  int64_t line_no = 0;
  while (!jsonl.empty()) {
    const size_t nl = jsonl.find('\n');
    std::string_view line = jsonl.substr(0, nl);
    jsonl.remove_prefix(nl == std::string_view::npos ? jsonl.size() : nl + 1);
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    if (auto fast = ParseEntryLineFast(line)) {
      out.push_back(std::move(*fast));
      continue;
    }
    BG_ASSIGN_OR_RETURN(BundleEntry e, ParseEntryLineJson(line, line_no));
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
  RootBuilder range;
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
    const Digest leaf_hash = RootBuilder::Leaf(e.leaf);
    if (e.hash.has_value() && *e.hash != AsBytes(leaf_hash)) {
      return EntryError(i, "leaf does not match its stored hash");
    }
    if (options.check_leaf_format) {
      auto checked = CheckLeaf(e.leaf);
      if (!checked.has_value()) return EntryError(i, checked.error().message());
    }
    range.Append(leaf_hash);
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
