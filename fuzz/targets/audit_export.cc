// Exports and bundles of the audit log as `audit verify --bundle` reads them (audit/verify.h,
// audit/event.h). The first byte picks:
//   0  one export line: the fast reader and the JSON reader
//   1  leaf bytes: ParseLeaf and CheckLeaf, and each way of CheckLeaf's one-scan check
//   2  a whole entries.jsonl, verified against a checkpoint the target signs over the first
//      entries it parsed (how many: the first byte / 3), with or without the leaf format check
//
// Invariants (each promised by the headers): whenever the fast reader takes a line the JSON
// reader gives the same entry; an entry written again by FormatEntryLine or FormatExportLine
// reads back the same; CheckLeaf and ParseLeaf agree, and an accepted leaf is EncodeLeaf of
// what was read; VerifyExport over the text gives the same result, or the same first error, as
// ParseEntries then VerifyBundle; a bundle that verifies is one whose leaves hash to the root.
#include <string>

#include "audit/checkpoint.h"
#include "audit/event.h"
#include "audit/merkle.h"
#include "audit/verify.h"
#include "fuzz/fuzz.h"
#include "test/fakes/fake_random.h"

namespace {

namespace a = bg::audit;

const a::NoteSigner& TestSigner() {
  static const a::NoteSigner signer = [] {
    bg::testing::SeededRandom random("fuzz audit_export");
    return a::NoteSigner::Generate("breakglass.example/audit", random).value();
  }();
  return signer;
}

bool Same(const a::BundleEntry& x, const a::BundleEntry& y) {
  return x.index == y.index && x.leaf == y.leaf && x.hash == y.hash;
}

void Line(std::string_view line) {
  auto json = a::ParseEntryLineJson(line, 7);
  bg::fuzz::CheckRefusal(json);
  if (auto fast = a::ParseEntryLineFast(line)) {
    BG_FUZZ_CHECK(json.has_value() && Same(*fast, *json));
  }
  if (!json) {
    BG_FUZZ_CHECK(json.error().field() == "entries");
    BG_FUZZ_CHECK(json.error().message().rfind("line 7: ", 0) == 0);
    return;
  }
  const std::string plain = a::FormatEntryLine(json->index, json->leaf);
  auto back = a::ParseEntryLineFast(plain);
  BG_FUZZ_CHECK(back.has_value() && back->index == json->index && back->leaf == json->leaf &&
                !back->hash.has_value());
  const a::BundleEntry exported{json->index, json->leaf, a::HashLeaf(json->leaf)};
  const std::string full = a::FormatExportLine(json->index, json->leaf, *exported.hash);
  auto full_back = a::ParseEntryLineFast(full);
  BG_FUZZ_CHECK(full_back.has_value() && Same(*full_back, exported));
  auto full_json = a::ParseEntryLineJson(full);
  BG_FUZZ_CHECK(full_json.has_value() && Same(*full_json, exported));
}

void Leaf(std::string_view leaf) {
  auto parsed = a::ParseLeaf(leaf);
  auto checked = a::CheckLeaf(leaf);
  BG_FUZZ_CHECK(parsed.has_value() == checked.has_value());
  // Every way of the one-scan check gives the byte scan's verdict; it vouches only for leaves
  // ParseLeaf accepts.
  const bool by_bytes = a::internal::IsPlainCanonicalLeafByBytes(leaf);
  BG_FUZZ_CHECK(a::IsPlainCanonicalLeaf(leaf) == by_bytes);
  BG_FUZZ_CHECK(!by_bytes || parsed.has_value());
  if (leaf.size() <= a::internal::kQuoteMapMaxBytes) {
    BG_FUZZ_CHECK(a::internal::IsPlainCanonicalLeafByQuotes(leaf) == by_bytes);
  }
  if (auto by_vectors = a::internal::IsPlainCanonicalLeafByVectors(leaf)) {
    BG_FUZZ_CHECK(*by_vectors == by_bytes);
  }
  if (!parsed) {
    bg::fuzz::CheckError(parsed.error());
    BG_FUZZ_CHECK(parsed.error().field() == "leaf");
    BG_FUZZ_CHECK(checked.error().message() == parsed.error().message());
    return;
  }
  BG_FUZZ_CHECK(a::EncodeLeaf(*parsed) == leaf);
  BG_FUZZ_CHECK(parsed->version == a::kLeafVersion);
}

bool SameReport(const a::VerifyReport& x, const a::VerifyReport& y) {
  return x.checkpoint == y.checkpoint && x.trusted == y.trusted && x.entries == y.entries &&
         x.unsigned_tail == y.unsigned_tail;
}

void Bundle(std::string_view jsonl, uint8_t selector) {
  auto entries = a::ParseEntries(jsonl);
  a::Checkpoint cp;
  cp.origin = "breakglass.example/audit";
  a::CompactRange range;
  const int64_t covered = selector / 3 % 8;
  if (entries) {
    for (const auto& e : *entries) {
      if (range.Size() == covered) break;
      range.Append(a::HashLeaf(e.leaf));
    }
  }
  cp.size = range.Size();
  cp.root = range.Root();
  const std::string note = TestSigner().Sign(cp).value();
  a::VerifyOptions options;
  options.check_leaf_format = (selector & 0x80) == 0;

  auto streamed = a::VerifyExport(jsonl, note, TestSigner().VerifierKey(), options);
  if (!entries) {
    bg::fuzz::CheckError(entries.error());
    BG_FUZZ_CHECK(!streamed && streamed.error().message() == entries.error().message());
    return;
  }
  auto bundled = a::VerifyBundle(*entries, note, TestSigner().VerifierKey(), options);
  BG_FUZZ_CHECK(streamed.has_value() == bundled.has_value());
  if (!bundled) {
    bg::fuzz::CheckError(bundled.error());
    BG_FUZZ_CHECK(streamed.error().message() == bundled.error().message() &&
                  streamed.error().field() == bundled.error().field());
    return;
  }
  BG_FUZZ_CHECK(SameReport(*streamed, *bundled));
  BG_FUZZ_CHECK(bundled->entries == static_cast<int64_t>(entries->size()));
  BG_FUZZ_CHECK(bundled->unsigned_tail == bundled->entries - cp.size);
  for (size_t i = 0; i < entries->size(); ++i) {
    BG_FUZZ_CHECK((*entries)[i].index == static_cast<int64_t>(i));
    if (options.check_leaf_format) BG_FUZZ_CHECK(a::CheckLeaf((*entries)[i].leaf).has_value());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto [selector, rest] = bg::fuzz::Select(bg::fuzz::AsText(data, size));
  switch (selector % 3) {
    case 0:
      Line(rest);
      break;
    case 1:
      Leaf(rest);
      break;
    case 2:
      Bundle(rest, selector);
      break;
  }
  return 0;
}
