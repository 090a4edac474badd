#include "audit/evidence_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <vector>

#include "audit/event.h"
#include "audit/evidence.h"
#include "audit/evidence_summary.h"
#include "audit/merkle.h"
#include "util/encoding.h"

namespace bg::audit {
namespace {

using Json = nlohmann::json;

// Calls fn(line, line_no) for each non-blank line (a final '\r' removed) until it fails.
template <typename Fn>
Status ForEachLine(std::string_view text, Fn&& fn) {
  int64_t line_no = 0;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    BG_TRY(fn(line, line_no));
  }
  return Ok();
}

Json ParseJson(std::string_view text) {
  return Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
}

bool NonNegativeInt(const Json& j, const char* key, int64_t* out) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer() || it->get<int64_t>() < 0) return false;
  *out = it->get<int64_t>();
  return true;
}

Result<std::vector<std::string>> Hashes(const Json& j, const std::string& what) {
  auto it = j.find("hashes");
  if (it == j.end() || !it->is_array())
    return Error::InvalidArgument("proof", what + ": no hashes");
  std::vector<std::string> out;
  for (const Json& h : *it) {
    std::optional<std::string> raw;
    if (h.is_string()) raw = Base64Decode(h.get<std::string>());
    if (!raw || raw->size() != kHashSize) {
      return Error::InvalidArgument("proof", what + ": a hash is not base64 of 32 bytes");
    }
    out.push_back(std::move(*raw));
  }
  return out;
}

struct ProofLine {
  int64_t index = 0;
  int64_t size = 0;
  std::string leaf;
  std::vector<std::string> hashes;
};

// The exact line ProofJsonLine writes, read without a JSON library (a report cites ten entries
// or so per grant); false for anything else, which the JSON parser then decides.
class LineScanner {
 public:
  explicit LineScanner(std::string_view s) : s_(s) {}
  bool Literal(std::string_view t) {
    if (s_.substr(0, t.size()) != t) return false;
    s_.remove_prefix(t.size());
    return true;
  }
  // A non-negative integer as fmt writes it: no sign, no leading zero, at most 18 digits.
  bool Index(int64_t* out) {
    size_t n = 0;
    while (n < s_.size() && n < 19 && s_[n] >= '0' && s_[n] <= '9') ++n;
    if (n == 0 || n > 18 || (n > 1 && s_[0] == '0')) return false;
    int64_t v = 0;
    for (size_t i = 0; i < n; ++i) v = v * 10 + (s_[i] - '0');
    *out = v;
    s_.remove_prefix(n);
    return true;
  }
  // A quoted base64 string (base64 has no escapes: a backslash fails the decoding).
  bool Base64(std::string* out) {
    if (!Literal("\"")) return false;
    const size_t quote = s_.find('"');
    if (quote == std::string_view::npos || !Base64DecodeInto(s_.substr(0, quote), *out)) {
      return false;
    }
    s_.remove_prefix(quote + 1);
    return true;
  }
  bool AtEnd() const { return s_.empty(); }

 private:
  std::string_view s_;
};

bool ParseProofLineFast(std::string_view line, ProofLine& p) {
  LineScanner sc(line);
  p.hashes.clear();
  if (!sc.Literal(R"({"hashes":[)")) return false;
  if (!sc.Literal("]")) {
    do {
      std::string hash;
      if (!sc.Base64(&hash) || hash.size() != kHashSize) return false;
      p.hashes.push_back(std::move(hash));
    } while (sc.Literal(","));
    if (!sc.Literal("]")) return false;
  }
  return sc.Literal(R"(,"index":)") && sc.Index(&p.index) && sc.Literal(R"(,"leaf":)") &&
         sc.Base64(&p.leaf) && sc.Literal(R"(,"size":)") && sc.Index(&p.size) && sc.Literal("}") &&
         sc.AtEnd();
}

Result<ProofLine> ParseProofLine(std::string_view line, int64_t line_no) {
  if (ProofLine fast; ParseProofLineFast(line, fast)) return fast;
  const std::string what = fmt::format("proofs.jsonl line {}", line_no);
  Json j = ParseJson(line);
  if (j.is_discarded() || !j.is_object() || j.size() != 4) {
    return Error::InvalidArgument("proof", what + ": not an object of hashes, index, leaf, size");
  }
  ProofLine p;
  if (!NonNegativeInt(j, "index", &p.index) || !NonNegativeInt(j, "size", &p.size)) {
    return Error::InvalidArgument("proof", what + ": index and size must be integers");
  }
  auto leaf = j.find("leaf");
  std::optional<std::string> raw;
  if (leaf != j.end() && leaf->is_string()) raw = Base64Decode(leaf->get<std::string>());
  if (!raw) return Error::InvalidArgument("proof", what + ": \"leaf\" is not base64");
  p.leaf = std::move(*raw);
  BG_ASSIGN_OR_RETURN(p.hashes, Hashes(j, what));
  return p;
}

Result<Checkpoint> CheckTrusted(std::string_view trusted_note, std::string_view consistency,
                                const std::string& key, const Checkpoint& cp) {
  auto parsed = ParseAndVerifyCheckpoint(trusted_note, key);
  if (!parsed) return Error::InvalidArgument("trusted_checkpoint", parsed.error().message());
  const Checkpoint& t = *parsed;
  if (t.size == cp.size) {
    if (t.root != cp.root) return NotAPrefix(t.size);
    return t;
  }
  if (t.size > cp.size) {
    return Error::InvalidArgument(
        "trusted_checkpoint",
        fmt::format("the trusted checkpoint (size {}) is newer than the report's (size {}): the "
                    "report cannot show that it extends it; make the report again, or verify it "
                    "against a checkpoint no newer than its own",
                    t.size, cp.size));
  }
  if (t.size == 0) {
    if (t.root != EmptyRoot()) return NotAPrefix(0);
    return t;
  }
  bool found = false;
  Status checked = Ok();
  BG_TRY(ForEachLine(consistency, [&](std::string_view line, int64_t line_no) -> Status {
    Json j = ParseJson(line);
    int64_t first = 0, second = 0;
    if (j.is_discarded() || !j.is_object() || !NonNegativeInt(j, "first", &first) ||
        !NonNegativeInt(j, "second", &second)) {
      return Error::InvalidArgument("proof",
                                    fmt::format("consistency.jsonl line {}: malformed", line_no));
    }
    if (found || first != t.size || second != cp.size) return Ok();
    found = true;
    BG_ASSIGN_OR_RETURN(auto hashes, Hashes(j, fmt::format("consistency.jsonl line {}", line_no)));
    if (!VerifyConsistency(first, second, hashes, t.root, cp.root)) checked = NotAPrefix(t.size);
    return Ok();
  }));
  if (!found) {
    return Error::InvalidArgument(
        "trusted_checkpoint",
        fmt::format("the report holds no consistency proof from size {} to its checkpoint's {}: "
                    "make the report with `breakglass report evidence --trusted-checkpoint FILE`",
                    t.size, cp.size));
  }
  BG_TRY(checked);
  return t;
}

std::optional<Timestamp> WindowBound(const Json& summary, const char* key) {
  auto w = summary.find("window");
  if (w == summary.end() || !w->is_object()) return std::nullopt;
  auto v = w->find(key);
  if (v == w->end() || !v->is_string()) return std::nullopt;
  auto t = ParseRfc3339(v->get<std::string>());
  return t ? std::optional<Timestamp>(*t) : std::nullopt;
}

std::string Short(const Json& j) {
  std::string s = j.dump(-1, ' ', false, Json::error_handler_t::replace);
  return s.size() > 120 ? s.substr(0, 117) + "..." : s;
}

struct Difference {
  std::string path;
  Json expected, actual;
  int64_t audit_index = -1;
};

// The first place (in key order) where `actual` departs from `expected`, and the audit index
// of the innermost fact around it.
std::optional<Difference> FirstDifference(const Json& expected, const Json& actual,
                                          const std::string& path, int64_t index) {
  if (expected.is_object() && expected.contains("audit_index") &&
      expected["audit_index"].is_number_integer()) {
    index = expected["audit_index"].get<int64_t>();
  }
  if (expected.is_object() && actual.is_object()) {
    for (auto it = expected.begin(); it != expected.end(); ++it) {
      const std::string sub = path.empty() ? it.key() : path + "." + it.key();
      if (!actual.contains(it.key())) return Difference{sub, it.value(), Json("(absent)"), index};
      if (auto d = FirstDifference(it.value(), actual[it.key()], sub, index)) return d;
    }
    for (auto it = actual.begin(); it != actual.end(); ++it) {
      if (!expected.contains(it.key())) {
        return Difference{path.empty() ? it.key() : path + "." + it.key(), Json("(absent)"),
                          it.value(), index};
      }
    }
    return std::nullopt;
  }
  if (expected.is_array() && actual.is_array()) {
    for (size_t i = 0; i < expected.size() && i < actual.size(); ++i) {
      if (auto d = FirstDifference(expected[i], actual[i], fmt::format("{}[{}]", path, i), index)) {
        return d;
      }
    }
    if (expected.size() != actual.size()) {
      return Difference{path + ".length", Json(expected.size()), Json(actual.size()), index};
    }
    return std::nullopt;
  }
  if (expected != actual) return Difference{path, expected, actual, index};
  return std::nullopt;
}

Status CompareGrants(std::string_view grants_jsonl, const std::vector<GrantRecord>& grants) {
  size_t i = 0;
  BG_TRY(ForEachLine(grants_jsonl, [&](std::string_view line, int64_t line_no) -> Status {
    if (i == grants.size()) {
      return Error::InvalidArgument(
          "entries", fmt::format("grants.jsonl line {}: a grant no signed entry of the report "
                                 "gives",
                                 line_no));
    }
    const GrantRecord& g = grants[i++];
    const std::string want = GrantJsonLine(g);
    if (line == want) return Ok();
    const Json actual = ParseJson(line);
    const std::string where = fmt::format("grants.jsonl line {} (grant {})", line_no, g.request);
    if (actual.is_discarded()) {
      return EntryError(g.asked.fact.audit_index, where + ": not valid JSON");
    }
    if (actual.is_object() && actual.contains("request") && actual["request"] != g.request) {
      return EntryError(
          g.asked.fact.audit_index,
          fmt::format("grants.jsonl line {} holds grant {} where the signed entries "
                      "give grant {}",
                      line_no,
                      actual["request"].is_string() ? actual["request"].get<std::string>()
                                                    : Short(actual["request"]),
                      g.request));
    }
    auto d = FirstDifference(ParseJson(want), actual, "", g.asked.fact.audit_index);
    if (!d) {
      return EntryError(g.asked.fact.audit_index, where + ": not in the form the report writes");
    }
    return EntryError(d->audit_index, fmt::format("{}: {} says {}, the signed entry says {}", where,
                                                  d->path, Short(d->actual), Short(d->expected)));
  }));
  if (i < grants.size()) {
    return EntryError(grants[i].asked.fact.audit_index,
                      fmt::format("grants.jsonl has no line for grant {}", grants[i].request));
  }
  return Ok();
}

Status CompareText(const char* file, std::string_view actual, std::string_view expected) {
  if (actual == expected) return Ok();
  int64_t line_no = 1;
  while (true) {
    const size_t a = actual.find('\n'), e = expected.find('\n');
    std::string_view al = actual.substr(0, a), el = expected.substr(0, e);
    if (al != el || a == std::string_view::npos || e == std::string_view::npos) {
      auto cut = [](std::string_view s) {
        return std::string(s.size() > 100 ? s.substr(0, 97) : s) + (s.size() > 100 ? "..." : "");
      };
      return Error::InvalidArgument(
          "entries", fmt::format("{} line {} is not what the signed entries give: it says \"{}\", "
                                 "they give \"{}\"",
                                 file, line_no, cut(al), cut(el)));
    }
    actual.remove_prefix(a + 1);
    expected.remove_prefix(e + 1);
    ++line_no;
  }
}

}  // namespace

std::string ConsistencyJsonLine(int64_t first, int64_t second,
                                const std::vector<std::string>& hashes) {
  Json j;
  j["first"] = first;
  j["second"] = second;
  Json h = Json::array();
  for (const auto& x : hashes) h.push_back(Base64Encode(x));
  j["hashes"] = h;
  return j.dump();
}

std::string VerifierKeyName(std::string_view verifier_key) {
  auto v = ParseVerifierKey(verifier_key);
  if (!v) return "";
  return fmt::format("{}+{:08x}", v->name, v->key_id);
}

Status WriteEvidenceReport(EvidenceInput in, const EvidenceSink& sink, const ProgressFn& progress) {
  const Checkpoint& cp = in.context.checkpoint;
  in.context.cited_entries = static_cast<int64_t>(in.built.leaves.size());
  BG_TRY(sink("checkpoint.txt", in.checkpoint_note));
  BG_TRY(sink("key.txt", in.verifier_key + "\n"));
  const auto total = static_cast<int64_t>(in.built.leaves.size());
  int64_t done = 0;
  std::string line;
  for (const auto& [index, leaf] : in.built.leaves) {
    BG_ASSIGN_OR_RETURN(auto hashes, InclusionProof(index, cp.size, in.nodes));
    line = ProofJsonLine(index, cp.size, leaf, hashes);
    line += '\n';
    BG_TRY(sink("proofs.jsonl", line));
    if (progress && ++done % 4096 == 0) progress(done, total);
  }
  if (progress) progress(total, total);
  BG_TRY(sink("grants.csv", GrantCsvHeader() + "\n"));
  for (const GrantRecord& g : in.built.grants) {
    BG_TRY(sink("grants.jsonl", GrantJsonLine(g) + "\n"));
    BG_TRY(sink("grants.csv", GrantCsvRow(g) + "\n"));
  }
  if (in.built.grants.empty()) BG_TRY(sink("grants.jsonl", ""));
  if (total == 0) BG_TRY(sink("proofs.jsonl", ""));
  BG_TRY(sink("summary.json", SummaryJson(in.built.grants, in.context)));
  BG_TRY(sink("summary.md", SummaryMarkdown(in.built.grants, in.context)));
  if (in.trusted_size && *in.trusted_size > 0 && *in.trusted_size < cp.size) {
    BG_ASSIGN_OR_RETURN(auto hashes, ConsistencyProof(*in.trusted_size, cp.size, in.nodes));
    BG_TRY(
        sink("consistency.jsonl", ConsistencyJsonLine(*in.trusted_size, cp.size, hashes) + "\n"));
  }
  return Ok();
}

Result<EvidenceVerifyReport> VerifyEvidence(const EvidenceFiles& files,
                                            const EvidenceVerifyOptions& o) {
  EvidenceVerifyReport report;
  {
    auto cp = ParseAndVerifyCheckpoint(files.checkpoint, o.verifier_key);
    if (!cp) return Error::InvalidArgument("checkpoint", cp.error().message());
    report.checkpoint = std::move(*cp);
  }
  const Checkpoint& cp = report.checkpoint;
  if (o.trusted_checkpoint) {
    BG_ASSIGN_OR_RETURN(report.trusted,
                        CheckTrusted(*o.trusted_checkpoint, files.consistency, o.verifier_key, cp));
  }
  const Json summary = ParseJson(files.summary_json);
  if (summary.is_discarded() || !summary.is_object()) {
    return Error::InvalidArgument("entries", "summary.json is not a JSON object");
  }
  EvidenceContext context;
  context.window = {WindowBound(summary, "since"), WindowBound(summary, "until")};
  context.checkpoint = cp;
  context.key_name = VerifierKeyName(o.verifier_key);
  if (auto g = summary.find("generated"); g != summary.end() && g->is_object()) {
    context.generated_at = g->value("at", "");
    context.source = g->value("source", "");
    context.log_size = g->value("log_size", int64_t{0});
  }

  EvidenceBuilder builder(context.window, /*keep_leaves=*/false);
  std::vector<int64_t> proved;
  const auto total =
      static_cast<int64_t>(std::count(files.proofs.begin(), files.proofs.end(), '\n'));
  BG_TRY(ForEachLine(files.proofs, [&](std::string_view line, int64_t line_no) -> Status {
    BG_ASSIGN_OR_RETURN(ProofLine p, ParseProofLine(line, line_no));
    if (!proved.empty() && p.index <= proved.back()) {
      return EntryError(p.index, "proofs.jsonl repeats it or lists it out of order");
    }
    if (p.size != cp.size) {
      return EntryError(p.index, fmt::format("its proof is for a tree of {} entries; the "
                                             "checkpoint's has {}",
                                             p.size, cp.size));
    }
    if (!VerifyInclusion(HashLeaf(p.leaf), p.index, p.size, p.hashes, cp.root)) {
      return EntryError(p.index,
                        "its leaf and inclusion proof do not lead to the signed root: "
                        "the leaf or its proof was changed");
    }
    auto event = ParseLeaf(p.leaf);
    if (!event) return EntryError(p.index, "the signed leaf is not a canonical audit event");
    builder.Add(p.index, *event, p.leaf);
    proved.push_back(p.index);
    if (o.progress && static_cast<int64_t>(proved.size()) % o.progress_every == 0) {
      o.progress(static_cast<int64_t>(proved.size()), total);
    }
    return Ok();
  }));
  EvidenceBuilder::Output out = std::move(builder).Finish();
  for (size_t i = 0; i < proved.size(); ++i) {
    if (i >= out.leaves.size() || out.leaves[i].first != proved[i]) {
      return EntryError(proved[i], "proofs.jsonl holds it, but no grant of the report cites it");
    }
  }
  BG_TRY(CompareGrants(files.grants, out.grants));
  context.cited_entries = static_cast<int64_t>(proved.size());
  BG_TRY(CompareText("summary.json", files.summary_json, SummaryJson(out.grants, context)));
  BG_TRY(CompareText("summary.md", files.summary_md, SummaryMarkdown(out.grants, context)));
  std::string csv = GrantCsvHeader() + "\n";
  for (const GrantRecord& g : out.grants) csv += GrantCsvRow(g) + "\n";
  BG_TRY(CompareText("grants.csv", files.grants_csv, csv));
  if (o.progress) o.progress(total, total);
  report.entries = static_cast<int64_t>(proved.size());
  report.grants = static_cast<int64_t>(out.grants.size());
  return report;
}

}  // namespace bg::audit
