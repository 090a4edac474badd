#include "audit/verify.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "audit/event.h"
#include "audit/merkle.h"
#include "util/encoding.h"
#include "test/fakes/fake_random.h"

namespace bg::audit {
namespace {

const char kOrigin[] = "breakglass.test/audit";

// A log of n events with its stored nodes, signing key and checkpoints.
struct TestLog {
  explicit TestLog(int n) : signer(MakeSigner()) {
    for (int i = 0; i < n; ++i) Add();
  }
  static NoteSigner MakeSigner() {
    bg::testing::CountingRandom random(3);
    return NoteSigner::Generate(kOrigin, random).value();
  }
  void Add() {
    core::AuditEvent e;
    e.type = "request.created";
    e.actor = "alice";
    e.request = RequestId("req_" + std::to_string(leaves.size()));
    e.details = {{"reason", "incident " + std::to_string(leaves.size())}};
    leaves.push_back(EncodeLeaf(e, FromUnixSeconds(1795556623 + static_cast<int64_t>(leaves.size()))));
    for (Node& n : range.Append(HashLeaf(leaves.back()))) {
      nodes[{n.level, n.index}] = std::move(n.hash);
    }
    roots.push_back(range.Root());
  }
  NodeReader Reader() const {
    return [this](int level, int64_t index) -> Result<std::string> {
      auto it = nodes.find({level, index});
      if (it == nodes.end()) return Error::NotFound("node");
      return it->second;
    };
  }
  std::string CheckpointAt(int64_t size) const {
    return signer.Sign(Checkpoint{kOrigin, size, RootAt(size, Reader()).value(), {}}).value();
  }
  std::vector<BundleEntry> Entries() const {
    std::vector<BundleEntry> out;
    for (size_t i = 0; i < leaves.size(); ++i) {
      out.push_back(BundleEntry{static_cast<int64_t>(i), leaves[i], std::nullopt});
    }
    return out;
  }

  NoteSigner signer;
  std::vector<std::string> leaves;
  CompactRange range;
  std::map<std::pair<int, int64_t>, std::string> nodes;
  std::vector<std::string> roots;
};

std::string ErrorOf(const Result<VerifyReport>& r) {
  return r.has_value() ? "ok" : r.error().message();
}

// An entry line with its leaf's hash stored in it (as `audit export` writes one without the
// event).
std::string EntryLineWithHash(int64_t index, const std::string& leaf) {
  std::string line = FormatEntryLine(index, leaf);
  line.pop_back();
  return line + R"(,"hash":")" + Base64Encode(HashLeaf(leaf)) + R"("})";
}

std::string JoinLines(const std::vector<std::string>& lines) {
  std::string s;
  for (const auto& l : lines) s += l + "\n";
  return s;
}

TEST(VerifyBundle, AnIntactLogVerifies) {
  TestLog log(40);
  VerifyOptions options;
  options.trusted_checkpoint = log.CheckpointAt(25);
  auto report = VerifyBundle(log.Entries(), log.CheckpointAt(40), log.signer.VerifierKey(), options);
  ASSERT_TRUE(report.has_value()) << report.error().ToString();
  EXPECT_EQ(report->entries, 40);
  EXPECT_EQ(report->checkpoint.size, 40);
  EXPECT_EQ(report->trusted->size, 25);
  EXPECT_EQ(report->unsigned_tail, 0);
}

TEST(VerifyBundle, EntriesBeyondTheCheckpointAreReportedAsUnsigned) {
  TestLog log(40);
  auto report = VerifyBundle(log.Entries(), log.CheckpointAt(33), log.signer.VerifierKey());
  ASSERT_TRUE(report.has_value()) << report.error().ToString();
  EXPECT_EQ(report->unsigned_tail, 7);
}

// The verifier folds leaves into the tree in batches (of 32): a checkpoint of every size up to
// several batches, at their edges and between them, verifies against exactly its entries, in
// memory and streamed, and a changed entry anywhere in it is caught.
TEST(VerifyBundle, EveryCheckpointSizeAcrossTheFoldingBatchesVerifies) {
  TestLog log(200);
  const std::string key = log.signer.VerifierKey();
  for (int64_t n = 0; n <= 200; ++n) {
    auto entries = log.Entries();
    entries.resize(static_cast<size_t>(n));
    const std::string cp = log.CheckpointAt(n);
    EXPECT_EQ(ErrorOf(VerifyBundle(entries, cp, key)), "ok") << n;
    std::string jsonl;
    for (const auto& e : entries) jsonl += FormatEntryLine(e.index, e.leaf) + "\n";
    EXPECT_EQ(ErrorOf(VerifyExport(jsonl, cp, key)), "ok") << n;
    if (n == 0) continue;
    const auto changed = static_cast<size_t>((n * 7 + 3) % n);
    entries[changed].leaf = log.leaves[(changed + 1) % log.leaves.size()];
    EXPECT_EQ(ErrorOf(VerifyBundle(entries, cp, key)),
              "entries 0.." + std::to_string(n - 1) +
                  " do not hash to the checkpoint root: an entry at index 0 or later was changed, "
                  "or the log was rewritten")
        << n;
  }
}

TEST(VerifyBundle, AnEmptyLogVerifiesAgainstASizeZeroCheckpoint) {
  TestLog log(0);
  EXPECT_TRUE(VerifyBundle({}, log.CheckpointAt(0), log.signer.VerifierKey()).has_value());
}

TEST(VerifyBundle, TamperingIsCaughtAndNamed) {
  TestLog log(40);
  const std::string cp = log.CheckpointAt(40);
  const std::string key = log.signer.VerifierKey();

  // Another canonical event in place of entry 17: only the root can tell.
  auto changed = log.Entries();
  changed[17].leaf = log.leaves[16];
  EXPECT_EQ(ErrorOf(VerifyBundle(changed, cp, key)),
            "entries 0..39 do not hash to the checkpoint root: an entry at index 0 or later was "
            "changed, or the log was rewritten");

  // With a trusted checkpoint at 25, a change after it is placed after 25 ...
  VerifyOptions trusted;
  trusted.trusted_checkpoint = log.CheckpointAt(25);
  auto late = log.Entries();
  late[30].leaf = log.leaves[31];
  EXPECT_NE(ErrorOf(VerifyBundle(late, cp, key, trusted)).find("index 25 or later"),
            std::string::npos);
  // ... and a change before it breaks the prefix.
  EXPECT_EQ(ErrorOf(VerifyBundle(changed, cp, key, trusted)),
            "older checkpoint of size 25 is not a prefix: log was rewritten or truncated");

  // With the stored leaf hashes exported, the changed entry is named.
  auto with_hashes = changed;
  for (size_t i = 0; i < with_hashes.size(); ++i) with_hashes[i].hash = HashLeaf(log.leaves[i]);
  EXPECT_EQ(ErrorOf(VerifyBundle(with_hashes, cp, key)),
            "entry 17: leaf does not match its stored hash");

  // A hand-edited leaf that is no longer canonical is named too.
  auto edited = log.Entries();
  edited[17].leaf.insert(1, " ");
  EXPECT_EQ(ErrorOf(VerifyBundle(edited, cp, key)), "entry 17: not in canonical form");

  // A dropped entry.
  auto dropped = log.Entries();
  dropped.erase(dropped.begin() + 17);
  EXPECT_EQ(ErrorOf(VerifyBundle(dropped, cp, key)), "entry 17: expected index 17, found 18");

  // Two entries swapped (as rows reordered with their indices).
  auto swapped = log.Entries();
  std::swap(swapped[3], swapped[4]);
  EXPECT_EQ(ErrorOf(VerifyBundle(swapped, cp, key)), "entry 3: expected index 3, found 4");
  // Two leaves swapped under their indices.
  auto swapped_leaves = log.Entries();
  std::swap(swapped_leaves[3].leaf, swapped_leaves[4].leaf);
  EXPECT_NE(ErrorOf(VerifyBundle(swapped_leaves, cp, key)).find("do not hash"), std::string::npos);

  // The last entries deleted.
  auto truncated = log.Entries();
  truncated.resize(30);
  EXPECT_EQ(ErrorOf(VerifyBundle(truncated, cp, key)),
            "entry 30: missing: the checkpoint covers 40 entries");

  // A bad signature.
  std::string forged = cp;
  forged.replace(forged.find("\n40\n"), 4, "\n41\n");
  EXPECT_EQ(ErrorOf(VerifyBundle(log.Entries(), forged, key)),
            "checkpoint signature does not verify");
}

TEST(VerifyBundle, AServerThatRewritesOrTruncatesAndResignsIsCaughtByTheOlderCheckpoint) {
  TestLog log(40);
  VerifyOptions options;
  options.trusted_checkpoint = log.CheckpointAt(25);

  // The (key-holding) server drops everything after 20 and signs the shorter log.
  auto truncated = log.Entries();
  truncated.resize(20);
  EXPECT_EQ(ErrorOf(VerifyBundle(truncated, log.CheckpointAt(20), log.signer.VerifierKey(),
                                 options)),
            "entry 20: missing: the trusted checkpoint covers 25 entries: the log was truncated");

  // The server rewrites entry 10 and signs a fresh tree over the rewritten log.
  TestLog rewritten(40);
  rewritten.leaves[10] = log.leaves[11];
  CompactRange range;
  for (const std::string& leaf : rewritten.leaves) range.Append(HashLeaf(leaf));
  const std::string resigned = log.signer.Sign(Checkpoint{kOrigin, 40, range.Root(), {}}).value();
  EXPECT_EQ(ErrorOf(VerifyBundle(rewritten.Entries(), resigned, log.signer.VerifierKey(),
                                 options)),
            "older checkpoint of size 25 is not a prefix: log was rewritten or truncated");
}

// Issue 13.34: the trusted checkpoint was handed out after the one the bundle carries (the
// server crashed before saving a newer one). The bundle's entries cover it: that is no alarm.
TEST(VerifyBundle, ATrustedCheckpointNewerThanTheBundlesIsCheckedAgainstItsEntries) {
  TestLog log(40);
  const std::string key = log.signer.VerifierKey();
  VerifyOptions options;
  options.trusted_checkpoint = log.CheckpointAt(30);

  auto report = VerifyBundle(log.Entries(), log.CheckpointAt(25), key, options);
  ASSERT_TRUE(report.has_value()) << report.error().ToString();
  EXPECT_EQ(report->trusted->size, 30);
  EXPECT_EQ(report->checkpoint.size, 25);
  EXPECT_EQ(report->unsigned_tail, 15);
  // Exactly the entries it covers are enough.
  auto exact = log.Entries();
  exact.resize(30);
  EXPECT_EQ(ErrorOf(VerifyBundle(exact, log.CheckpointAt(25), key, options)), "ok");
  // A changed entry in the unsigned tail, before the trusted size: caught by the trusted root.
  auto changed = log.Entries();
  changed[27].leaf = log.leaves[28];
  EXPECT_EQ(ErrorOf(VerifyBundle(changed, log.CheckpointAt(25), key, options)),
            "older checkpoint of size 30 is not a prefix: log was rewritten or truncated");
  // Entries really missing: a truncation, named where it starts.
  auto short_bundle = log.Entries();
  short_bundle.resize(28);
  EXPECT_EQ(ErrorOf(VerifyBundle(short_bundle, log.CheckpointAt(25), key, options)),
            "entry 28: missing: the trusted checkpoint covers 30 entries: the log was truncated");
  // The streaming verifier agrees.
  std::string jsonl;
  for (const auto& e : log.Entries()) jsonl += FormatEntryLine(e.index, e.leaf) + "\n";
  EXPECT_EQ(ErrorOf(VerifyExport(jsonl, log.CheckpointAt(25), key, options)), "ok");
}

TEST(VerifyBundle, WrongKeysAndOriginsAreRefused) {
  TestLog log(5);
  bg::testing::CountingRandom random(3);
  NoteSigner other = NoteSigner::Generate("someone.else", random).value();
  auto r = VerifyBundle(log.Entries(), log.CheckpointAt(5), other.VerifierKey());
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().field(), "checkpoint");

  VerifyOptions options;
  options.trusted_checkpoint =
      log.signer.Sign(Checkpoint{"another/log", 2, log.roots[1], {}}).value();
  r = VerifyBundle(log.Entries(), log.CheckpointAt(5), log.signer.VerifierKey(), options);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().field(), "trusted_checkpoint");
}

TEST(VerifyBundle, ReportsProgress) {
  TestLog log(10);
  std::vector<std::pair<int64_t, int64_t>> calls;
  VerifyOptions options;
  options.progress_every = 4;
  options.progress = [&](int64_t done, int64_t total) { calls.emplace_back(done, total); };
  ASSERT_TRUE(
      VerifyBundle(log.Entries(), log.CheckpointAt(10), log.signer.VerifierKey(), options)
          .has_value());
  const std::vector<std::pair<int64_t, int64_t>> want = {{4, 10}, {8, 10}, {10, 10}};
  EXPECT_EQ(calls, want);
}

TEST(Entries, FormatAndParseRoundTrip) {
  TestLog log(3);
  std::string jsonl;
  for (size_t i = 0; i < log.leaves.size(); ++i) {
    jsonl += FormatEntryLine(static_cast<int64_t>(i), log.leaves[i]) + "\n";
  }
  EXPECT_EQ(FormatEntryLine(7, "ab"), R"({"index":7,"leaf":"YWI="})");
  auto entries = ParseEntries(jsonl);
  ASSERT_TRUE(entries.has_value());
  ASSERT_EQ(entries->size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ((*entries)[i].index, static_cast<int64_t>(i));
    EXPECT_EQ((*entries)[i].leaf, log.leaves[i]);
  }
}

TEST(Entries, OtherKeyOrdersExtraKeysAndHashesAreAccepted) {
  const std::string h = Base64Encode(HashLeaf("ab"));
  auto entries = ParseEntries("{\"leaf\":\"YWI=\",\"index\":0,\"time\":\"x\"}\r\n\n"
                              "{ \"index\": 1, \"leaf\": \"YWI=\", \"hash\": \"" + h + "\" }");
  ASSERT_TRUE(entries.has_value()) << entries.error().ToString();
  ASSERT_EQ(entries->size(), 2u);
  EXPECT_EQ((*entries)[0].leaf, "ab");
  EXPECT_FALSE((*entries)[0].hash.has_value());
  EXPECT_EQ((*entries)[1].index, 1);
  EXPECT_EQ((*entries)[1].hash, HashLeaf("ab"));
}

TEST(Entries, MalformedLinesAreNamed) {
  const char* const bad[] = {
      "nope",
      R"({"index":-1,"leaf":"YWI="})",
      R"({"index":1.5,"leaf":"YWI="})",
      R"({"index":"1","leaf":"YWI="})",
      R"({"index":1})",
      R"({"index":1,"leaf":"YWI"})",
      R"({"index":1,"leaf":7})",
      R"({"index":1,"leaf":"YWI=","hash":"YWI="})",
      R"({"index":1,"leaf":"YWI=")",
      R"([{"index":1,"leaf":"YWI="}])",
  };
  for (const char* line : bad) {
    auto r = ParseEntries(std::string(R"({"index":0,"leaf":"YWI="})") + "\n" + line + "\n");
    ASSERT_FALSE(r.has_value()) << line;
    EXPECT_EQ(r.error().field(), "entries");
    EXPECT_EQ(r.error().message().substr(0, 7), "line 2:") << line;
  }
}

// VerifyExport must give exactly what ParseEntries then VerifyBundle give.
void ExpectSameAsTwoPasses(const std::string& jsonl, const std::string& note,
                           const std::string& key, const VerifyOptions& options,
                           const std::string& label) {
  Result<VerifyReport> two = [&]() -> Result<VerifyReport> {
    BG_ASSIGN_OR_RETURN(std::vector<BundleEntry> entries, ParseEntries(jsonl));
    return VerifyBundle(entries, note, key, options);
  }();
  Result<VerifyReport> one = VerifyExport(jsonl, note, key, options);
  ASSERT_EQ(one.has_value(), two.has_value()) << label;
  if (two.has_value()) {
    EXPECT_EQ(one->entries, two->entries) << label;
    EXPECT_EQ(one->unsigned_tail, two->unsigned_tail) << label;
    EXPECT_EQ(one->checkpoint.root, two->checkpoint.root) << label;
    EXPECT_EQ(one->trusted.has_value(), two->trusted.has_value()) << label;
  } else {
    EXPECT_EQ(one.error().ToString(), two.error().ToString()) << label;
  }
}

TEST(VerifyExport, GivesTheResultAndFirstErrorOfParsingThenVerifying) {
  TestLog log(10);
  bg::testing::CountingRandom random(3);
  const std::string other_key = NoteSigner::Generate("someone.else", random).value().VerifierKey();
  const std::string key = log.signer.VerifierKey();
  auto lines = [&](bool with_hash) {
    std::vector<std::string> out;
    for (size_t i = 0; i < log.leaves.size(); ++i) {
      const auto index = static_cast<int64_t>(i);
      out.push_back(with_hash && i % 2 == 0 ? EntryLineWithHash(index, log.leaves[i])
                                            : FormatEntryLine(index, log.leaves[i]));
    }
    return out;
  };
  struct Case {
    std::string label;
    std::function<void(std::vector<std::string>&)> change;
    std::string note;
    std::string key;
    std::optional<int64_t> trusted;
  };
  const std::string full = log.CheckpointAt(10);
  std::vector<Case> cases = {
      {"intact", [](auto&) {}, full, key, std::nullopt},
      {"unsigned tail", [](auto&) {}, log.CheckpointAt(7), key, std::nullopt},
      {"trusted prefix", [](auto&) {}, full, key, 4},
      {"changed leaf", [](auto& l) { l[3] = FormatEntryLine(3, "x"); }, full, key, std::nullopt},
      {"changed leaf, trusted", [](auto& l) { l[2] = FormatEntryLine(2, "x"); }, full, key, 5},
      {"reordered", [](auto& l) { std::swap(l[4], l[5]); }, full, key, std::nullopt},
      {"truncated", [](auto& l) { l.pop_back(); }, full, key, std::nullopt},
      {"hash mismatch",
       [&](auto& l) {
         l[6] = R"({"index":6,"leaf":")" + Base64Encode(log.leaves[6]) + R"(","hash":")" +
                Base64Encode(HashLeaf("other")) + R"("})";
       },
       full, key, std::nullopt},
      {"changed leaf then malformed line",
       [](auto& l) {
         l[2] = FormatEntryLine(2, "x");
         l[8] = "nope";
       },
       full, key, std::nullopt},
      {"wrong key then malformed line", [](auto& l) { l[8] = "nope"; }, full, other_key,
       std::nullopt},
      {"wrong key", [](auto&) {}, full, other_key, std::nullopt},
      {"JSON lines and blank lines",
       [&](auto& l) {
         l[1] = R"({ "leaf": ")" + Base64Encode(log.leaves[1]) + R"(", "index": 1 })";
         l[4] += "\r\n";
       },
       full, key, std::nullopt},
  };
  for (const Case& c : cases) {
    for (bool with_hash : {false, true}) {
      std::vector<std::string> l = lines(with_hash);
      c.change(l);
      VerifyOptions options;
      if (c.trusted.has_value()) options.trusted_checkpoint = log.CheckpointAt(*c.trusted);
      ExpectSameAsTwoPasses(JoinLines(l), c.note, c.key, options,
                            c.label + (with_hash ? " (hash)" : ""));
    }
  }
  // A non-canonical leaf (the default check) and the same with the check off.
  TestLog odd(0);
  odd.leaves.push_back(R"({"v":1})");
  odd.range.Append(HashLeaf(odd.leaves.back()));
  VerifyOptions options;
  const std::string note = odd.signer.Sign(Checkpoint{kOrigin, 1, odd.range.Root(), {}}).value();
  const std::string jsonl = FormatEntryLine(0, odd.leaves[0]) + "\n";
  ExpectSameAsTwoPasses(jsonl, note, odd.signer.VerifierKey(), options, "non-canonical leaf");
  EXPECT_FALSE(VerifyExport(jsonl, note, odd.signer.VerifierKey(), options).has_value());
  options.check_leaf_format = false;
  ExpectSameAsTwoPasses(jsonl, note, odd.signer.VerifierKey(), options, "unchecked leaf");
  EXPECT_TRUE(VerifyExport(jsonl, note, odd.signer.VerifierKey(), options).has_value());
}

// VerifyExport reads 32 entries before it hashes and checks them: a change, a malformed line or
// a checkpoint's size at either side of those batches' boundaries gives what ParseEntries then
// VerifyBundle give, for lines without a stored hash, with one, and with the event as well.
TEST(VerifyExport, GivesTheTwoPassResultAtEveryBatchBoundary) {
  TestLog log(100);
  const std::string key = log.signer.VerifierKey();
  enum Form { kPlain, kHash, kEvent };
  auto lines = [&](Form form) {
    std::vector<std::string> out;
    for (size_t i = 0; i < log.leaves.size(); ++i) {
      const auto index = static_cast<int64_t>(i);
      const std::string& leaf = log.leaves[i];
      out.push_back(form == kEvent  ? FormatExportLine(index, leaf, HashLeaf(leaf))
                    : form == kHash ? EntryLineWithHash(index, leaf)
                                    : FormatEntryLine(index, leaf));
    }
    return out;
  };
  const std::string full = log.CheckpointAt(100);
  int cases = 0;
  for (Form form : {kPlain, kHash, kEvent}) {
    for (size_t k : {0, 1, 30, 31, 32, 33, 63, 64, 65, 95, 96, 98, 99}) {
      const std::string at = " at " + std::to_string(k) + " (form " + std::to_string(form) + ")";
      const auto index = static_cast<int64_t>(k);
      auto changed = lines(form);
      changed[k] = FormatEntryLine(index, log.leaves[k] + " ");
      ExpectSameAsTwoPasses(JoinLines(changed), full, key, {}, "changed leaf" + at);
      auto odd = lines(form);
      odd[k] = FormatExportLine(index, log.leaves[k], HashLeaf("other"));
      ExpectSameAsTwoPasses(JoinLines(odd), full, key, {}, "hash mismatch" + at);
      auto malformed = lines(form);
      malformed[k] = "nope";
      if (k > 0) malformed[k - 1] = FormatEntryLine(index - 1, "x");  // a failure before it
      ExpectSameAsTwoPasses(JoinLines(malformed), full, key, {}, "malformed line" + at);
      auto missing = lines(form);
      missing.erase(missing.begin() + static_cast<std::ptrdiff_t>(k));
      ExpectSameAsTwoPasses(JoinLines(missing), full, key, {}, "missing entry" + at);
      const auto size = static_cast<int64_t>(k) + 1;
      ExpectSameAsTwoPasses(JoinLines(lines(form)), log.CheckpointAt(size), key, {},
                            "checkpoint" + at);
      VerifyOptions trusted;
      trusted.trusted_checkpoint = log.CheckpointAt(size);
      ExpectSameAsTwoPasses(JoinLines(changed), log.CheckpointAt(std::min<int64_t>(size + 3, 100)),
                            key, trusted, "trusted checkpoint, changed leaf" + at);
      cases += 6;
    }
  }
  EXPECT_EQ(cases, 234);
  for (Form form : {kPlain, kHash, kEvent}) {
    EXPECT_EQ(ErrorOf(VerifyExport(JoinLines(lines(form)), full, key)), "ok");
  }
}

// Export lines with "event" (as `audit export` writes them) are read by the fast path, which
// checks the leaf's canonical form on the way; the verifier does not check it twice, and a line
// whose event is not a canonical leaf goes to the JSON reader, then fails the leaf check as a
// line without "event" would.
TEST(VerifyExport, ExportLinesWithTheEventAreCheckedAsStrictlyAsWithout) {
  TestLog log(5);
  std::string jsonl;
  for (int i = 0; i < 5; ++i) {
    jsonl += FormatExportLine(i, log.leaves[i], HashLeaf(log.leaves[i])) + "\n";
  }
  VerifyOptions options;
  ExpectSameAsTwoPasses(jsonl, log.CheckpointAt(5), log.signer.VerifierKey(), options, "events");
  EXPECT_EQ(ErrorOf(VerifyExport(jsonl, log.CheckpointAt(5), log.signer.VerifierKey())), "ok");

  TestLog odd(0);
  odd.leaves = {log.leaves[0], R"({"v":1})"};
  for (const std::string& leaf : odd.leaves) odd.range.Append(HashLeaf(leaf));
  const std::string note = odd.signer.Sign(Checkpoint{kOrigin, 2, odd.range.Root(), {}}).value();
  const std::string odd_line = R"({"index":1,"leaf":")" + Base64Encode(odd.leaves[1]) +
                               R"(","hash":")" + Base64Encode(HashLeaf(odd.leaves[1])) +
                               R"(","event":{"v":1}})";
  EXPECT_FALSE(ParseEntryLineFast(odd_line).has_value());
  const std::string odd_jsonl =
      FormatExportLine(0, odd.leaves[0], HashLeaf(odd.leaves[0])) + "\n" + odd_line + "\n";
  ExpectSameAsTwoPasses(odd_jsonl, note, odd.signer.VerifierKey(), options, "odd event");
  EXPECT_EQ(ErrorOf(VerifyExport(odd_jsonl, note, odd.signer.VerifierKey(), options)),
            "entry 1: " + CheckLeaf(odd.leaves[1]).error().message());
  options.check_leaf_format = false;
  ExpectSameAsTwoPasses(odd_jsonl, note, odd.signer.VerifierKey(), options, "odd, unchecked");
  EXPECT_EQ(ErrorOf(VerifyExport(odd_jsonl, note, odd.signer.VerifierKey(), options)), "ok");
}

TEST(VerifyExport, ReportsProgressLikeVerifyBundle) {
  TestLog log(10);
  std::string jsonl;
  for (size_t i = 0; i < log.leaves.size(); ++i) {
    jsonl += FormatEntryLine(static_cast<int64_t>(i), log.leaves[i]) + "\n\n";
  }
  std::vector<std::pair<int64_t, int64_t>> calls;
  VerifyOptions options;
  options.progress_every = 4;
  options.progress = [&](int64_t done, int64_t total) { calls.emplace_back(done, total); };
  ASSERT_TRUE(VerifyExport(jsonl, log.CheckpointAt(10), log.signer.VerifierKey(), options)
                  .has_value());
  const std::vector<std::pair<int64_t, int64_t>> want = {{4, 10}, {8, 10}, {10, 10}};
  EXPECT_EQ(calls, want);
}

void ExpectSameEntry(const BundleEntry& a, const BundleEntry& b, const std::string& line) {
  EXPECT_EQ(a.index, b.index) << line;
  EXPECT_EQ(a.leaf, b.leaf) << line;
  EXPECT_EQ(a.hash, b.hash) << line;
}

TEST(Entries, TheFastReadingAgreesWithJsonOnCanonicalAndMutatedLines) {
  const std::string leaf = "{\"v\":1}\xff\x00 ab";
  const std::string hash = Base64Encode(HashLeaf(leaf));
  std::vector<std::string> seeds = {
      FormatEntryLine(0, ""),
      FormatEntryLine(7, "a"),
      FormatEntryLine(42, "ab"),
      FormatEntryLine(123456, leaf),
      R"({"index":3,"leaf":"YWI=","hash":")" + hash + R"("})",
      R"({"index":3,"leaf":"YWI","hash":")" + hash + R"("})",
      R"({"index":3,"leaf":"YWJ=","hash":")" + hash + R"("})",  // non-canonical trailing bits
      R"({"index":10,"leaf":"YWJj","hash":"YWI="})",
      R"({"index":1,"leaf":"YW\/j"})",
      R"({"index":999999999999999999,"leaf":"YWJj"})",
      R"({"index":9999999999999999999,"leaf":"YWJj"})",
  };
  // Export lines with the decoded event (13.8), from a real event's leaf.
  const std::string event_leaf = TestLog(1).leaves[0];
  seeds.push_back(FormatExportLine(5, event_leaf, HashLeaf(event_leaf)));
  seeds.push_back(FormatExportLine(6, leaf, HashLeaf(leaf)));  // not an event: no "event"
  int fast = 0;
  for (const std::string& seed : seeds) {
    for (int variant = 0; variant < 2; ++variant) {
      // Mutate each position by deleting, replacing or inserting a character that matters to
      // JSON, to integers or to base64.
      const std::string_view bytes = variant == 0 ? "\"\\{},:0-.e" : "19A+/= a";
      for (size_t i = 0; i <= seed.size(); ++i) {
        std::vector<std::string> lines;
        if (i < seed.size()) lines.push_back(seed.substr(0, i) + seed.substr(i + 1));
        for (char c : bytes) {
          if (i < seed.size()) {
            std::string r = seed;
            r[i] = c;
            lines.push_back(std::move(r));
          }
          lines.push_back(seed.substr(0, i) + c + seed.substr(i));
        }
        if (i == 0) lines.push_back(seed);
        for (const std::string& line : lines) {
          if (line.empty()) continue;
          auto slow = ParseEntryLineJson(line);
          auto quick = ParseEntryLineFast(line);
          if (quick.has_value()) {
            ++fast;
            ASSERT_TRUE(slow.has_value()) << "fast path accepted invalid line " << line;
            ExpectSameEntry(*quick, *slow, line);
          }
          auto all = ParseEntries(line);
          ASSERT_EQ(all.has_value(), slow.has_value()) << line;
          if (slow.has_value()) {
            ASSERT_EQ(all->size(), 1u);
            ExpectSameEntry((*all)[0], *slow, line);
          } else {
            EXPECT_EQ(all.error().message(), slow.error().message());
          }
        }
      }
    }
  }
  EXPECT_GT(fast, 50);
  for (const std::string& seed : {seeds[0], seeds[1], seeds[3], seeds[4], seeds[seeds.size() - 2],
                                   seeds.back()}) {
    EXPECT_TRUE(ParseEntryLineFast(seed).has_value()) << seed;
  }
}

// Issue 13.8: a SIEM reads the event without a base64 decoder; the verifier checks the bytes.
TEST(Entries, ExportLinesCarryTheDecodedEventBesideTheLeaf) {
  TestLog log(3);
  const std::string line = FormatExportLine(2, log.leaves[2], HashLeaf(log.leaves[2]));
  nlohmann::json j = nlohmann::json::parse(line);
  EXPECT_EQ(j.at("index"), 2);
  EXPECT_EQ(Base64Decode(j.at("leaf").get<std::string>()), log.leaves[2]);
  EXPECT_EQ(j.at("event").at("type"), "request.created");
  EXPECT_EQ(j.at("event").at("actor"), "alice");
  EXPECT_EQ(j.at("event").at("request"), "req_2");
  EXPECT_EQ(j.at("event").at("details").at("reason"), "incident 2");
  EXPECT_EQ(j.at("event").dump(), log.leaves[2]) << "the event is the leaf's own JSON";
  // An edited "event" changes nothing the verifier checks: the leaf's bytes are what count.
  j["event"]["actor"] = "mallory";
  auto edited = ParseEntryLineJson(j.dump());
  ASSERT_TRUE(edited.has_value());
  EXPECT_EQ(edited->leaf, log.leaves[2]);
  EXPECT_FALSE(ParseEntryLineFast(j.dump()).has_value());
  // A bundle of export lines verifies; a changed leaf under an unchanged event is caught.
  std::string jsonl;
  for (int i = 0; i < 3; ++i) jsonl += FormatExportLine(i, log.leaves[i], HashLeaf(log.leaves[i])) + "\n";
  EXPECT_EQ(ErrorOf(VerifyExport(jsonl, log.CheckpointAt(3), log.signer.VerifierKey())), "ok");
  std::string changed = jsonl;
  const std::string b64 = Base64Encode(log.leaves[1]);
  changed.replace(changed.find(b64), b64.size(), Base64Encode(log.leaves[0]));
  EXPECT_EQ(ErrorOf(VerifyExport(changed, log.CheckpointAt(3), log.signer.VerifierKey())),
            "entry 1: leaf does not match its stored hash");
}

TEST(Entries, LeadingZerosAndSignsInTheIndexAreRefused) {
  for (const char* line : {R"({"index":01,"leaf":"YWI="})", R"({"index":+1,"leaf":"YWI="})",
                           R"({"index":00,"leaf":"YWI="})"}) {
    EXPECT_FALSE(ParseEntryLineFast(line).has_value()) << line;
    EXPECT_FALSE(ParseEntries(line).has_value()) << line;
  }
}

TEST(Entries, TheFastBase64ReadingMatchesTheEncoder) {
  std::string bytes;
  for (int n = 0; n < 70; ++n) {
    const std::string line = FormatEntryLine(n, bytes);
    auto quick = ParseEntryLineFast(line);
    ASSERT_TRUE(quick.has_value()) << line;
    EXPECT_EQ(quick->leaf, bytes);
    bytes += static_cast<char>(n * 37 + 11);
  }
}

// Issue 13.7. The server's leaves against its signed tree, with proofs served from its stored
// nodes, as GET /v1/audit/proof/inclusion does.
struct Served {
  explicit Served(const TestLog& log) : nodes(log.nodes), leaves(log.leaves) {}
  // Rewrites leaf k (and, with `hash_too`, its stored level-0 hash, as an attacker with the
  // database would).
  void Rewrite(int64_t k, bool hash_too) {
    leaves[static_cast<size_t>(k)] += " ";
    if (hash_too) nodes[{0, k}] = HashLeaf(leaves[static_cast<size_t>(k)]);
  }
  std::vector<std::string> Hashes() const {
    std::vector<std::string> out;
    for (const auto& l : leaves) out.push_back(HashLeaf(l));
    return out;
  }
  InclusionProofFn Proofs() const {
    return [this](int64_t index, int64_t size) {
      return InclusionProof(index, size, [this](int level, int64_t i) -> Result<std::string> {
        auto it = nodes.find({level, i});
        if (it == nodes.end()) return Error::NotFound("node");
        return it->second;
      });
    };
  }
  std::map<std::pair<int, int64_t>, std::string> nodes;
  std::vector<std::string> leaves;
};

TEST(LocateChange, AChangedLeafIsNamedExactlyWhereverItIs) {
  for (int n : {1, 2, 7, 32, 37, 40}) {
    TestLog log(n);
    for (int64_t k = 0; k < n; ++k) {
      Served s(log);
      s.Rewrite(k, /*hash_too=*/false);
      auto at = LocateChange(s.Hashes(), n, log.range.Root(), s.Proofs());
      ASSERT_TRUE(at.has_value()) << at.error().ToString();
      EXPECT_EQ(at->first, k) << "n=" << n;
      EXPECT_EQ(at->last, k) << "n=" << n;
    }
  }
}

// The binary search over consistency proofs named k - 1 for odd k here: the proof from k
// carries the rewritten hash of leaf k, so prefix k looked changed.
TEST(LocateChange, ALeafAndItsStoredHashRewrittenGiveARangeThatHoldsIt) {
  for (int n : {2, 7, 32, 37, 40}) {
    TestLog log(n);
    const int64_t perfect = n >= 32 ? 32 : (n >= 4 ? 4 : 2);  // the first perfect subtree
    for (int64_t k = 0; k < n; ++k) {
      Served s(log);
      s.Rewrite(k, /*hash_too=*/true);
      auto at = LocateChange(s.Hashes(), n, log.range.Root(), s.Proofs());
      ASSERT_TRUE(at.has_value()) << at.error().ToString();
      EXPECT_LE(at->first, k) << "n=" << n << " k=" << k;
      EXPECT_GE(at->last, k) << "n=" << n << " k=" << k;
      if (k < perfect) {
        // Only the pair under one stored node above it is left: the leaf or its sibling.
        EXPECT_EQ(at->first, k & ~int64_t{1}) << "n=" << n << " k=" << k;
        EXPECT_EQ(at->last, std::min<int64_t>(k | 1, n - 1)) << "n=" << n << " k=" << k;
      }
    }
  }
}

TEST(LocateChange, TheFirstOfSeveralChangesIsNamedAndALyingServerOnlyWidensTheRange) {
  TestLog log(40);
  Served s(log);
  s.Rewrite(9, false);
  s.Rewrite(30, false);
  auto at = LocateChange(s.Hashes(), 40, log.range.Root(), s.Proofs());
  ASSERT_TRUE(at.has_value());
  EXPECT_EQ(at->first, 9);
  EXPECT_TRUE(at->exact());

  Served liar(log);
  liar.Rewrite(21, false);
  InclusionProofFn lies = [](int64_t, int64_t) -> Result<std::vector<std::string>> {
    return std::vector<std::string>(6, std::string(32, 'x'));
  };
  at = LocateChange(liar.Hashes(), 40, log.range.Root(), lies);
  ASSERT_TRUE(at.has_value());
  EXPECT_EQ(at->first, 0);
  EXPECT_EQ(at->last, 39);
  InclusionProofFn down = [](int64_t, int64_t) -> Result<std::vector<std::string>> {
    return Error::Unavailable("server down");
  };
  at = LocateChange(liar.Hashes(), 40, log.range.Root(), down);
  ASSERT_TRUE(at.has_value());
  EXPECT_EQ(at->last - at->first, 39);

  Served intact(log);
  EXPECT_EQ(LocateChange(intact.Hashes(), 40, log.range.Root(), intact.Proofs()).error().code(),
            ErrorCode::kFailedPrecondition);
}

TEST(CheckpointConsistency, AProofBetweenTwoCheckpointsVerifies) {
  TestLog log(40);
  const std::string old_cp = log.CheckpointAt(13);
  const std::string new_cp = log.CheckpointAt(40);
  auto proof = ConsistencyProof(13, 40, log.Reader()).value();
  auto ok = VerifyCheckpointConsistency(old_cp, new_cp, log.signer.VerifierKey(), proof);
  ASSERT_TRUE(ok.has_value()) << ok.error().ToString();
  EXPECT_EQ(ok->first.size, 13);
  EXPECT_EQ(ok->second.size, 40);

  proof[0][0] ^= 1;
  auto bad = VerifyCheckpointConsistency(old_cp, new_cp, log.signer.VerifierKey(), proof);
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message().find("older checkpoint of size 13 is not a prefix"),
            std::string::npos);
  auto backwards = VerifyCheckpointConsistency(new_cp, old_cp, log.signer.VerifierKey(), {});
  ASSERT_FALSE(backwards.has_value());
  EXPECT_EQ(backwards.error().message(),
            "older checkpoint of size 40 is not a prefix: log was rewritten or truncated");
}

}  // namespace
}  // namespace bg::audit
