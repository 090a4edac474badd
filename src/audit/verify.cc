#include "audit/verify.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <utility>

#include "audit/event.h"
#include "audit/merkle.h"
#include "util/encoding.h"
#include "util/sha256.h"
#include "util/sha256_hasher.h"

namespace bg::audit {

Error EntryError(int64_t index, std::string_view message) {
  return Error::InvalidArgument("entries", fmt::format("entry {}: {}", index, message));
}

Error NotAPrefix(int64_t size) {
  return Error::InvalidArgument(
      "trusted_checkpoint",
      fmt::format("older checkpoint of size {} is not a prefix: log was rewritten or truncated",
                  size));
}

namespace {

using Json = nlohmann::json;

// A JSON non-negative integer as written by fmt: no sign, no leading zero, at most 18 digits
// (so it fits in int64_t); anything else is left to the JSON parser.
bool ConsumeIndex(std::string_view& line, int64_t& out) {
  auto is_digit = [&line](size_t i) { return static_cast<unsigned char>(line[i] - '0') <= 9; };
  int64_t v = 0;
  size_t n = 0;
  for (; n < line.size() && n < 18 && is_digit(n); ++n) v = v * 10 + (line[n] - '0');
  if (n == 0 || (n < line.size() && is_digit(n)) || (n > 1 && line[0] == '0')) return false;
  out = v;
  line.remove_prefix(n);
  return true;
}

template <size_t N>
bool ConsumeLiteral(std::string_view& line, const char (&literal)[N]) {
  constexpr size_t n = N - 1;  // without the terminating NUL
  if (line.size() < n || std::memcmp(line.data(), literal, n) != 0) return false;
  line.remove_prefix(n);
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
//   {"index":N,"leaf":"<base64>","hash":"<base64>","event":<the leaf's bytes>}
// A million-line bundle should cost little more than its hashing. Anything else (including
// malformed lines) is left to the JSON parser, which decides.
namespace {

// A fast line's pieces, before any decoding.
struct FastLineParts {
  int64_t index = 0;
  std::string_view leaf;                  // base64
  std::optional<std::string_view> hash;   // base64
  std::optional<std::string_view> event;  // the text after "event": (only with a hash)
};

bool SplitFastLine(std::string_view line, FastLineParts& p) {
  if (!ConsumeLiteral(line, R"({"index":)") || !ConsumeIndex(line, p.index) ||
      !ConsumeLiteral(line, R"(,"leaf":")") || !ConsumePlainString(line, p.leaf)) {
    return false;
  }
  p.hash.reset();
  p.event.reset();
  if (line == "}") return true;
  std::string_view hash;
  if (!ConsumeLiteral(line, R"(,"hash":")") || !ConsumePlainString(line, hash)) return false;
  p.hash = hash;
  if (line == "}") return true;
  if (!ConsumeLiteral(line, R"(,"event":)") || line.empty() || line.back() != '}') return false;
  line.remove_suffix(1);
  p.event = line;
  return true;
}

// The line `audit export` writes without "event", taken apart from both ends:
//   {"index":N,"leaf":"<L>","hash":"<44 characters>"}
// Base64 holds no quote and no backslash, so whenever DecodeFastLine accepts the pieces found
// here, SplitFastLine finds the same ones (without searching L and the hash for them).
bool SplitHashLineFromEnds(std::string_view line, FastLineParts& p) {
  constexpr std::string_view kHashKey = R"(","hash":")";
  constexpr size_t kHashChars = 44;  // base64 of 32 bytes
  constexpr size_t kTail = kHashKey.size() + kHashChars + 2;
  if (!ConsumeLiteral(line, R"({"index":)") || !ConsumeIndex(line, p.index) ||
      !ConsumeLiteral(line, R"(,"leaf":")")) {
    return false;
  }
  if (line.size() < kTail || !line.ends_with(R"("})") ||
      std::string_view(line.data() + line.size() - kTail, kHashKey.size()) != kHashKey) {
    return false;
  }
  p.leaf = std::string_view(line.data(), line.size() - kTail);
  p.hash = std::string_view(line.data() + line.size() - kHashChars - 2, kHashChars);
  p.event.reset();
  return true;
}

// Decodes a split line: the leaf into `leaf` from `prefix` on (the caller's first `prefix`
// bytes kept), the hash into `hash`. False exactly when ParseEntryLineFast returns nullopt for
// the line. `leaf_checked` says whether CheckLeaf(leaf) passed on the way (the "event" form,
// whose decoded event must be exactly the leaf's bytes and the leaf a canonical event: else
// the JSON parser decides about the line).
bool DecodeFastLine(const FastLineParts& p, std::string& leaf, size_t prefix,
                    std::optional<Digest>& hash, bool& leaf_checked) {
  leaf_checked = false;
  if (!Base64DecodeInto(p.leaf, leaf, prefix)) return false;
  if (!p.hash.has_value()) {
    hash.reset();
    return true;
  }
  if (!hash.has_value()) hash.emplace();
  if (!Base64Decode32(*p.hash, *hash)) return false;
  if (!p.event.has_value()) return true;
  const std::string_view bytes = std::string_view(leaf).substr(prefix);
  if (*p.event != bytes || !(IsPlainCanonicalLeaf(bytes) || CheckLeaf(bytes).has_value())) {
    return false;
  }
  leaf_checked = true;
  return true;
}

// ParseEntryLineFast's reading, into the caller's buffers: `leaf` from `prefix` on (prefix <=
// leaf.size()). The common line is taken apart from its ends, any other by SplitFastLine.
bool ReadFastLine(std::string_view line, int64_t& index, std::string& leaf, size_t prefix,
                  std::optional<Digest>& hash, bool& leaf_checked) {
  FastLineParts p;
  if (!(SplitHashLineFromEnds(line, p) && DecodeFastLine(p, leaf, prefix, hash, leaf_checked)) &&
      !(SplitFastLine(line, p) && DecodeFastLine(p, leaf, prefix, hash, leaf_checked))) {
    return false;
  }
  index = p.index;
  return true;
}

// One entry as the streaming verifier reads it, its buffers reused from batch to batch: the leaf
// behind RFC 9162's leaf prefix, so that 0x00 || leaf is hashed in one call.
struct StreamedEntry {
  int64_t index = 0;
  std::string message = std::string(1, '\0');  // 0x00 || leaf
  std::optional<Digest> hash;
  bool leaf_checked = false;  // CheckLeaf(leaf) passed while the line was read
  std::string_view leaf() const { return std::string_view(message.data() + 1, message.size() - 1); }

  // The line by the fast path; false when it is for the JSON parser.
  bool ReadFast(std::string_view line) {
    return ReadFastLine(line, index, message, 1, hash, leaf_checked);
  }
  void Assign(BundleEntry&& e) {
    index = e.index;
    message.resize(1);
    message += e.leaf;
    hash.reset();
    if (e.hash.has_value()) {  // of kHashSize bytes: ParseEntryLineJson checked
      hash.emplace();
      std::memcpy(hash->data(), e.hash->data(), kHashSize);
    }
    leaf_checked = false;
  }
};

// Calls fn(line, line_no) for each non-blank line (a final '\r' removed) while it returns true.
// The text is prefetched kPrefetch bytes ahead of the line being read: the hardware's own
// prefetching stops at each 4 KiB page, and a million-line export read without this spent
// ~4% more of the verify's time waiting for each line's first bytes (16, 32 and 64 KiB ahead
// gave the same; 2 and 4 KiB no gain).
template <typename Fn>
void ForEachLineWhile(std::string_view jsonl, Fn&& fn) {
  constexpr size_t kPrefetch = 16 * 1024;
  int64_t line_no = 0;
  const char* const text = jsonl.data();
  const size_t size = jsonl.size();
  size_t ahead = 0;  // prefetched up to here
  while (!jsonl.empty()) {
    const size_t at = size - jsonl.size();
    for (const size_t want = std::min(at + kPrefetch, size); ahead < want; ahead += 64) {
      __builtin_prefetch(text + ahead);
    }
    const size_t nl = std::min(jsonl.find('\n'), jsonl.size());
    std::string_view line(jsonl.data(), nl);
    jsonl.remove_prefix(nl == jsonl.size() ? nl : nl + 1);
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    if (!fn(line, line_no)) return;
  }
}

// The same until fn fails: its error.
template <typename Fn>
Status ForEachLine(std::string_view jsonl, Fn&& fn) {
  std::optional<Error> error;
  ForEachLineWhile(jsonl, [&](std::string_view line, int64_t line_no) {
    Status done = fn(line, line_no);
    if (!done.has_value()) error = done.error();
    return done.has_value();
  });
  if (error.has_value()) return *std::move(error);
  return Ok();
}

}  // namespace

std::optional<BundleEntry> ParseEntryLineFast(std::string_view line) {
  BundleEntry e;
  std::optional<Digest> hash;
  bool leaf_checked = false;
  if (!ReadFastLine(line, e.index, e.leaf, 0, hash, leaf_checked)) return std::nullopt;
  if (hash.has_value()) e.hash = std::string(AsBytes(*hash));
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
// std::string hashes and the node list CompactRange::Append returns for the writer. Leaves are
// folded kBatch at a time, level by level: folding each leaf as it came read most new nodes'
// hashes just after libcrypto wrote them, and such a read waits until those stores reach the
// cache (SHA256_Final writes 4-byte words, which a 16-byte load cannot be forwarded from).
class RootBuilder {
 public:
  // `hash` outlives the builder and its copies.
  explicit RootBuilder(const Sha256Hasher& hash) : hash_(&hash) {}

  void Append(const Digest& leaf_hash) {
    pending_[pending_size_++] = leaf_hash;
    if (pending_size_ < kBatch) return;
    for (size_t n = kBatch; n > 1; n /= 2) {
      for (size_t i = 0; i < n / 2; ++i) {
        pending_[i] = Children(pending_[2 * i], pending_[2 * i + 1]);
      }
    }
    Push(pending_[0], kBatchHeight);
    pending_size_ = 0;
  }
  int64_t Size() const { return size_ + static_cast<int64_t>(pending_size_); }
  std::string Root() const {
    RootBuilder all = *this;
    for (size_t i = 0; i < pending_size_; ++i) all.Push(pending_[i], 0);
    if (all.depth_ == 0) return EmptyRoot();
    Digest root = all.stack_[all.depth_ - 1];
    for (size_t i = all.depth_ - 1; i-- > 0;) root = Children(all.stack_[i], root);
    return std::string(AsBytes(root));
  }

 private:
  static constexpr int kBatchHeight = 5;
  static constexpr size_t kBatch = size_t{1} << kBatchHeight;

  // A perfect subtree of 2^height leaves, size_ being a multiple of that.
  void Push(Digest hash, int height) {
    for (int64_t s = size_ >> height; (s & 1) != 0; s >>= 1) {
      hash = Children(stack_[--depth_], hash);
    }
    stack_[depth_++] = hash;
    size_ += int64_t{1} << height;
  }

  // 0x01 || left || right hashed as one message.
  Digest Children(const Digest& left, const Digest& right) const {
    std::array<char, 1 + 2 * kHashSize> node;
    node[0] = '\x01';
    std::memcpy(node.data() + 1, left.data(), kHashSize);
    std::memcpy(node.data() + 1 + kHashSize, right.data(), kHashSize);
    return (*hash_)(std::string_view(node.data(), node.size()));
  }

  const Sha256Hasher* hash_;
  int64_t size_ = 0;              // the leaves folded into stack_
  std::array<Digest, 64> stack_;  // one perfect subtree per set bit of size_
  size_t depth_ = 0;
  std::array<Digest, kBatch> pending_;  // the leaves after them, fewer than kBatch
  size_t pending_size_ = 0;
};

}  // namespace

std::string FormatEntryLine(int64_t index, std::string_view leaf) {
  return fmt::format(R"({{"index":{},"leaf":"{}"}})", index, Base64Encode(leaf));
}

std::string FormatExportLine(int64_t index, std::string_view leaf, std::string_view hash) {
  std::string line = fmt::format(R"({{"index":{},"leaf":"{}","hash":"{}")", index,
                                 Base64Encode(leaf), Base64Encode(hash));
  if (CheckLeaf(leaf).has_value()) {
    line += R"(,"event":)";
    line += leaf;
  }
  line += '}';
  return line;
}

Result<std::vector<BundleEntry>> ParseEntries(std::string_view jsonl) {
  std::vector<BundleEntry> out;
  out.reserve(static_cast<size_t>(std::count(jsonl.begin(), jsonl.end(), '\n')) + 1);
  BG_TRY(ForEachLine(jsonl, [&](std::string_view line, int64_t line_no) -> Status {
    if (auto fast = ParseEntryLineFast(line)) {
      out.push_back(std::move(*fast));
      return Ok();
    }
    BG_ASSIGN_OR_RETURN(BundleEntry e, ParseEntryLineJson(line, line_no));
    out.push_back(std::move(e));
    return Ok();
  }));
  return out;
}

namespace {

// VerifyBundle's checks, one entry at a time, so that an export can be verified while it is
// read (VerifyExport) as well as from parsed entries (VerifyBundle).
class BundleChecker {
 public:
  static Result<BundleChecker> Start(std::string_view checkpoint_note,
                                     std::string_view verifier_key, const VerifyOptions& options,
                                     int64_t total) {
    BundleChecker c(options, total);
    BG_ASSIGN_OR_RETURN(c.report_.checkpoint,
                        OpenCheckpoint(checkpoint_note, verifier_key, "checkpoint"));
    if (options.trusted_checkpoint.has_value()) {
      BG_ASSIGN_OR_RETURN(Checkpoint trusted, OpenCheckpoint(*options.trusted_checkpoint,
                                                             verifier_key, "trusted_checkpoint"));
      if (trusted.origin != c.report_.checkpoint.origin) {
        return Error::InvalidArgument(
            "trusted_checkpoint",
            fmt::format("older checkpoint is for log \"{}\", not \"{}\"", trusted.origin,
                        c.report_.checkpoint.origin));
      }
      // A trusted checkpoint newer than the bundle's own (handed out just before a crash, or
      // by another replica) is checked against the entries wherever the bundle holds them:
      // only entries that are really missing are a truncation (Finish).
      c.report_.trusted = std::move(trusted);
    }
    BG_TRY(c.CheckRoots());  // the empty prefix
    return c;
  }

  // The next entry (index range_.Size()).
  Status Add(const BundleEntry& e) {
    return Add(e.index, e.leaf, e.hash, (*hash_)({std::string_view("\x00", 1), e.leaf}),
               /*leaf_checked=*/false);
  }
  // A streamed entry whose leaf hashes to `leaf_hash` (its message's SHA-256).
  Status Add(const StreamedEntry& e, const Digest& leaf_hash) {
    std::optional<std::string_view> hash;
    if (e.hash.has_value()) hash = AsBytes(*e.hash);
    return Add(e.index, e.leaf(), hash, leaf_hash, e.leaf_checked);
  }
  // Add's work on the common entry, without building a Status: true when `e` passed every check
  // and was appended. False (nothing done) hands it to Add: its index or stored hash is wrong,
  // its leaf is not one IsPlainCanonicalLeaf vouches for, or it completes the size of a
  // checkpoint (whose root Add then compares).
  bool TryAdd(const StreamedEntry& e, const Digest& leaf_hash) {
    const int64_t i = range_.Size();
    if (e.index != i || i + 1 == report_.checkpoint.size ||
        (report_.trusted.has_value() && i + 1 == report_.trusted->size)) {
      return false;
    }
    if (options_.check_leaf_format && !e.leaf_checked && !IsPlainCanonicalLeaf(e.leaf())) {
      return false;
    }
    if (e.hash.has_value() && *e.hash != leaf_hash) return false;
    range_.Append(leaf_hash);
    if (options_.progress && (i + 1) % every_ == 0) options_.progress(i + 1, total_);
    return true;
  }

  // The SHA-256 of a message, by the checker's own hasher (the one its tree uses).
  Digest Hash(std::string_view message) const { return (*hash_)(message); }

  Result<VerifyReport> Finish() {
    const int64_t total = range_.Size();
    const int64_t size = report_.checkpoint.size;
    if (total < size) {
      return EntryError(total, fmt::format("missing: the checkpoint covers {} entries", size));
    }
    if (report_.trusted.has_value() && total < report_.trusted->size) {
      return EntryError(total, fmt::format("missing: the trusted checkpoint covers {} entries: "
                                           "the log was truncated",
                                           report_.trusted->size));
    }
    if (options_.progress) options_.progress(total, total_);
    report_.entries = total;
    report_.unsigned_tail = total - size;
    return std::move(report_);
  }

 private:
  BundleChecker(const VerifyOptions& options, int64_t total)
      : options_(options),
        total_(total),
        every_(options.progress_every > 0 ? options.progress_every : 1 << 16) {}

  // `leaf_hash` is the hash of `leaf`; `leaf_checked` says that CheckLeaf(leaf) already passed.
  Status Add(int64_t index, std::string_view leaf, std::optional<std::string_view> hash,
             const Digest& leaf_hash, bool leaf_checked) {
    const int64_t i = range_.Size();
    if (index != i) return EntryError(i, fmt::format("expected index {}, found {}", i, index));
    if (hash.has_value() && *hash != AsBytes(leaf_hash)) {
      return EntryError(i, "leaf does not match its stored hash");
    }
    if (options_.check_leaf_format && !leaf_checked) {
      auto checked = CheckLeaf(leaf);
      if (!checked.has_value()) return EntryError(i, checked.error().message());
    }
    range_.Append(leaf_hash);
    BG_TRY(CheckRoots());
    if (options_.progress && (i + 1) % every_ == 0) options_.progress(i + 1, total_);
    return Ok();
  }

  Status CheckRoots() const {
    if (report_.trusted.has_value() && range_.Size() == report_.trusted->size &&
        range_.Root() != report_.trusted->root) {
      return NotAPrefix(report_.trusted->size);
    }
    const int64_t size = report_.checkpoint.size;
    if (range_.Size() == size && range_.Root() != report_.checkpoint.root) {
      const int64_t from = report_.trusted.has_value() ? report_.trusted->size : 0;
      return Error::InvalidArgument(
          "entries",
          fmt::format("entries 0..{} do not hash to the checkpoint root: an entry at index {} or "
                      "later was changed, or the log was rewritten",
                      size - 1, from));
    }
    return Ok();
  }

  const VerifyOptions& options_;
  int64_t total_;
  int64_t every_;
  VerifyReport report_;
  std::unique_ptr<Sha256Hasher> hash_ = std::make_unique<Sha256Hasher>();  // moves with *this
  RootBuilder range_{*hash_};
};

}  // namespace

Result<VerifyReport> VerifyBundle(const std::vector<BundleEntry>& entries,
                                  std::string_view checkpoint_note, std::string_view verifier_key,
                                  const VerifyOptions& options) {
  BG_ASSIGN_OR_RETURN(BundleChecker checker,
                      BundleChecker::Start(checkpoint_note, verifier_key, options,
                                           static_cast<int64_t>(entries.size())));
  for (const BundleEntry& e : entries) BG_TRY(checker.Add(e));
  return checker.Finish();
}

Result<VerifyReport> VerifyExport(std::string_view jsonl, std::string_view checkpoint_note,
                                  std::string_view verifier_key, const VerifyOptions& options) {
  int64_t total = 0;
  if (options.progress) {
    BG_TRY(ForEachLine(jsonl, [&](std::string_view, int64_t) -> Status {
      ++total;
      return Ok();
    }));
  }
  // The first verification failure (a checkpoint or an entry) is held back until the rest of
  // the export has parsed, so that a malformed line is reported first, as ParseEntries then
  // VerifyBundle would.
  auto checker = BundleChecker::Start(checkpoint_note, verifier_key, options, total);
  std::optional<Error> failed;
  if (!checker.has_value()) failed = checker.error();
  // Entries are read kBatch at a time, then their leaves hashed one after another, then checked
  // and appended in order: libcrypto's SHA-256 run back to back took 16 ns less per leaf than
  // between the reading of lines (bench/RESULTS.md).
  constexpr size_t kBatch = 32;
  std::array<StreamedEntry, kBatch> batch;
  std::array<Digest, kBatch> leaf_hashes;
  size_t pending = 0;
  auto add_pending = [&] {
    const size_t n = std::exchange(pending, 0);
    if (failed.has_value()) return;
    for (size_t k = 0; k < n; ++k) leaf_hashes[k] = checker->Hash(batch[k].message);
    for (size_t k = 0; k < n && !failed.has_value(); ++k) {
      if (!checker->TryAdd(batch[k], leaf_hashes[k])) {
        Status added = checker->Add(batch[k], leaf_hashes[k]);
        if (!added.has_value()) failed = added.error();
      }
    }
  };
  std::optional<Error> malformed;
  ForEachLineWhile(jsonl, [&](std::string_view line, int64_t line_no) {
    StreamedEntry& entry = batch[pending];
    if (!entry.ReadFast(line)) {
      Result<BundleEntry> parsed = ParseEntryLineJson(line, line_no);
      if (!parsed.has_value()) {
        malformed = parsed.error();
        return false;
      }
      entry.Assign(*std::move(parsed));
    }
    if (++pending == kBatch) add_pending();
    return true;
  });
  if (malformed.has_value()) return *std::move(malformed);
  add_pending();
  if (failed.has_value()) return *failed;
  return checker->Finish();
}

namespace {

// MTH(D[a:b]) over leaf hashes (RFC 9162 2.1.1), b > a.
std::string SubtreeHash(const std::vector<std::string>& h, int64_t a, int64_t b) {
  if (b - a == 1) return h[static_cast<size_t>(a)];
  int64_t k = 1;
  while (k * 2 < b - a) k *= 2;
  return HashChildren(SubtreeHash(h, a, a + k), SubtreeHash(h, a + k, b));
}

}  // namespace

Result<ChangedRange> LocateChange(const std::vector<std::string>& leaf_hashes, int64_t size,
                                  std::string_view root, const InclusionProofFn& inclusion_proof) {
  if (size <= 0 || static_cast<int64_t>(leaf_hashes.size()) < size) {
    return Error::InvalidArgument("size", "needs the hashes of the first `size` leaves");
  }
  if (SubtreeHash(leaf_hashes, 0, size) == root) {
    return Error::FailedPrecondition("the leaves hash to the signed root");
  }
  std::map<int64_t, std::vector<std::string>> proofs;
  // The sibling hash of leaf i's path at split `depth` from the top (PATH lists them leaf to
  // root, so it is the depth-th element from the end), or nullopt.
  auto sibling = [&](int64_t i, size_t depth) -> std::optional<std::string> {
    auto it = proofs.find(i);
    if (it == proofs.end()) {
      auto p = inclusion_proof(i, size);
      if (!p.has_value()) return std::nullopt;
      it = proofs.emplace(i, std::move(*p)).first;
    }
    const auto& p = it->second;
    if (p.size() <= depth || p[p.size() - 1 - depth].size() != kHashSize) return std::nullopt;
    return p[p.size() - 1 - depth];
  };
  int64_t a = 0, b = size;  // the changed leaf is in [a, b), whose signed hash is `known`
  std::string known(root);
  for (size_t depth = 0; b - a > 1; ++depth) {
    int64_t k = 1;
    while (k * 2 < b - a) k *= 2;
    const int64_t mid = a + k;
    auto right = sibling(a, depth);
    auto left = sibling(mid, depth);
    if (!left || !right || HashChildren(*left, *right) != known) break;  // not vouched for
    if (SubtreeHash(leaf_hashes, a, mid) != *left) {
      b = mid;
      known = std::move(*left);
    } else if (SubtreeHash(leaf_hashes, mid, b) != *right) {
      a = mid;
      known = std::move(*right);
    } else {
      break;  // both halves match: cannot happen with honest arithmetic; keep the range
    }
  }
  return ChangedRange{a, b - 1};
}

Result<std::vector<std::string>> ParseProofAnswer(std::string_view body, std::string_view kind) {
  Json j = Json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Error::Internal("the server's answer is not JSON");
  if (!j.is_object() || !j.contains("hashes") || !j["hashes"].is_array()) {
    return Error::Internal(fmt::format("the server's {} proof has no hashes", kind));
  }
  std::vector<std::string> out;
  for (const auto& h : j["hashes"]) {
    auto raw = h.is_string() ? Base64Decode(h.get<std::string>()) : std::nullopt;
    if (!raw) return Error::Internal(fmt::format("the server's {} proof is not base64", kind));
    out.push_back(std::move(*raw));
  }
  return out;
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
