// Benchmarks of the audit log's pure parts (no storage): appending a leaf to the compact range
// and keeping its nodes in an in-memory map; inclusion and consistency proofs over a 1,000,000
// leaf log; the offline verifier over a 1,000,000-entry export, and its anchor: OpenSSL hashing
// exactly the bytes the verifier must hash (0x00 || leaf for each leaf, 0x01 || left || right for
// each interior node of the same tree), timed in the same run.
//
// Link: bg_audit (brings bg_util, OpenSSL, libsodium, fmt) and benchmark::benchmark_main.
#include <benchmark/benchmark.h>

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <time.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "audit/checkpoint.h"
#include "audit/event.h"
#include "audit/merkle.h"
#include "audit/verify.h"
#include "util/encoding.h"
#include "util/random.h"
#include "util/sha256.h"

namespace {

using bg::Result;
using bg::audit::CompactRange;
using bg::audit::HashLeaf;
using bg::audit::Node;
using bg::audit::NodeReader;

constexpr int64_t kMillion = 1'000'000;

uint64_t Key(int level, int64_t index) {
  return static_cast<uint64_t>(level) << 56 | static_cast<uint64_t>(index);
}

struct MemoryLog {
  CompactRange range;
  std::unordered_map<uint64_t, std::string> nodes;
  std::vector<std::string> leaves;

  void Append(std::string leaf) {
    for (Node& n : range.Append(HashLeaf(leaf))) nodes[Key(n.level, n.index)] = std::move(n.hash);
    leaves.push_back(std::move(leaf));
  }
  NodeReader Reader() const {
    return [this](int level, int64_t index) -> Result<std::string> {
      auto it = nodes.find(Key(level, index));
      if (it == nodes.end()) return bg::Error::NotFound("node");
      return it->second;
    };
  }
};

double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

std::string Leaf(int64_t i) {
  bg::core::AuditEvent e;
  e.type = "request.approved";
  e.actor = "approver" + std::to_string(i % 17);
  e.request = bg::RequestId("req_" + std::to_string(i / 4));
  e.details = {{"reason", "database primary down, failover " + std::to_string(i)}};
  return bg::audit::EncodeLeaf(e, bg::FromUnixSeconds(1795556623 + i));
}

const MemoryLog& MillionLeafLog() {
  static const MemoryLog* log = [] {
    auto* l = new MemoryLog;
    l->leaves.reserve(kMillion);
    for (int64_t i = 0; i < kMillion; ++i) l->Append(Leaf(i));
    return l;
  }();
  return *log;
}

void BM_AppendLeaf(benchmark::State& state) {
  MemoryLog log;
  const std::string leaf = Leaf(0);
  for (auto _ : state) {
    for (Node& n : log.range.Append(HashLeaf(leaf))) {
      log.nodes[Key(n.level, n.index)] = std::move(n.hash);
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AppendLeaf);

void BM_InclusionProof1M(benchmark::State& state) {
  const MemoryLog& log = MillionLeafLog();
  const NodeReader read = log.Reader();
  std::mt19937_64 rng(1);
  std::uniform_int_distribution<int64_t> index(0, kMillion - 1);
  for (auto _ : state) {
    auto proof = bg::audit::InclusionProof(index(rng), kMillion, read);
    benchmark::DoNotOptimize(proof);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_InclusionProof1M);

void BM_ConsistencyProof1M(benchmark::State& state) {
  const MemoryLog& log = MillionLeafLog();
  const NodeReader read = log.Reader();
  std::mt19937_64 rng(2);
  std::uniform_int_distribution<int64_t> first(1, kMillion);
  for (auto _ : state) {
    auto proof = bg::audit::ConsistencyProof(first(rng), kMillion, read);
    benchmark::DoNotOptimize(proof);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ConsistencyProof1M);

// Parse a 1,000,000-line export and verify it against a signed checkpoint. Arg 0: the canonical
// leaf check (on by default in `audit verify`); arg 1: lines carry "hash" as `audit export`
// writes them. Reports the parse and verify seconds separately.
void BM_VerifyExport1M(benchmark::State& state) {
  const MemoryLog& log = MillionLeafLog();
  bg::InitCrypto();
  const auto signer = bg::audit::NoteSigner::Generate("bench.example/log").value();
  const std::string note =
      signer.Sign(bg::audit::Checkpoint{"bench.example/log", kMillion, log.range.Root(), {}})
          .value();
  std::string jsonl;
  for (int64_t i = 0; i < kMillion; ++i) {
    const std::string& leaf = log.leaves[static_cast<size_t>(i)];
    std::string line = bg::audit::FormatEntryLine(i, leaf);
    if (state.range(1) != 0) {
      line.pop_back();
      line += R"(,"hash":")" + bg::Base64Encode(HashLeaf(leaf)) + R"("})";
    }
    jsonl += line;
    jsonl += '\n';
  }
  bg::audit::VerifyOptions options;
  options.check_leaf_format = state.range(0) != 0;
  double parse_s = 0, verify_s = 0;
  for (auto _ : state) {
    const double t0 = ThreadCpuSeconds();
    auto entries = bg::audit::ParseEntries(jsonl);
    const double t1 = ThreadCpuSeconds();
    if (!entries.has_value()) {
      state.SkipWithError(entries.error().message().c_str());
      break;
    }
    auto report = bg::audit::VerifyBundle(*entries, note, signer.VerifierKey(), options);
    const double t2 = ThreadCpuSeconds();
    if (!report.has_value()) state.SkipWithError(report.error().message().c_str());
    parse_s += t1 - t0;
    verify_s += t2 - t1;
  }
  // CPU seconds (this thread), comparable with `openssl speed`, which reports CPU time too.
  state.counters["parse_cpu_s"] = benchmark::Counter(parse_s, benchmark::Counter::kAvgIterations);
  state.counters["verify_cpu_s"] =
      benchmark::Counter(verify_s, benchmark::Counter::kAvgIterations);
  state.SetItemsProcessed(state.iterations() * kMillion);
}
// The export the one-pass verifier and its anchor read: the million-leaf log as
// {"index","leaf","hash"} lines, and a checkpoint signed over all of it.
struct SignedExport {
  std::string jsonl;
  std::string note;
  std::string verifier_key;
};

const SignedExport& MillionEntryExport() {
  static const SignedExport* exported = [] {
    const MemoryLog& log = MillionLeafLog();
    bg::InitCrypto();
    const auto signer = bg::audit::NoteSigner::Generate("bench.example/log").value();
    auto* e = new SignedExport;
    e->note =
        signer.Sign(bg::audit::Checkpoint{"bench.example/log", kMillion, log.range.Root(), {}})
            .value();
    e->verifier_key = signer.VerifierKey();
    for (int64_t i = 0; i < kMillion; ++i) {
      const std::string& leaf = log.leaves[static_cast<size_t>(i)];
      std::string line = bg::audit::FormatEntryLine(i, leaf);
      line.pop_back();
      e->jsonl += line + R"(,"hash":")" + bg::Base64Encode(HashLeaf(leaf)) + "\"}\n";
    }
    return e;
  }();
  return *exported;
}

// The same export verified in one pass (VerifyExport: what `audit verify --bundle` can call),
// with the leaf check on (the default) or off, lines with "hash".
void BM_VerifyExportStreaming1M(benchmark::State& state) {
  const SignedExport& e = MillionEntryExport();
  bg::audit::VerifyOptions options;
  options.check_leaf_format = state.range(0) != 0;
  double cpu_s = 0;
  for (auto _ : state) {
    const double t0 = ThreadCpuSeconds();
    auto report = bg::audit::VerifyExport(e.jsonl, e.note, e.verifier_key, options);
    cpu_s += ThreadCpuSeconds() - t0;
    if (!report.has_value()) state.SkipWithError(report.error().message().c_str());
  }
  state.counters["cpu_s"] = benchmark::Counter(cpu_s, benchmark::Counter::kAvgIterations);
  state.SetItemsProcessed(state.iterations() * kMillion);
}
BENCHMARK(BM_VerifyExportStreaming1M)
    ->Arg(0)
    ->Arg(1)
    ->ArgName("leaf_check")
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3);

// The anchor's input: what the verifier must hash for its leaves, 0x00 || leaf, laid out back to
// back before the clock starts (so the anchor pays for no parsing, decoding or copying).
struct LeafMessages {
  std::string bytes;
  std::vector<size_t> begin;  // kMillion + 1 offsets into bytes
};

const LeafMessages& MillionLeafMessages() {
  static const LeafMessages* messages = [] {
    const MemoryLog& log = MillionLeafLog();
    auto* m = new LeafMessages;
    m->begin.reserve(kMillion + 1);
    for (const std::string& leaf : log.leaves) {
      m->begin.push_back(m->bytes.size());
      m->bytes += '\0';
      m->bytes += leaf;
    }
    m->begin.push_back(m->bytes.size());
    return m;
  }();
  return *messages;
}

// libcrypto's SHA-256 three ways; the anchor is whichever is fastest in the run.
struct OneShotSha256 {  // SHA256(): the one-shot function
  void operator()(const unsigned char* data, size_t size, unsigned char* out) const {
    SHA256(data, size, out);
  }
};
class ReusedEvpSha256 {  // EVP with the digest fetched once and one context re-initialised
 public:
  ReusedEvpSha256() : md_(EVP_MD_fetch(nullptr, "SHA256", nullptr)), ctx_(EVP_MD_CTX_new()) {}
  ~ReusedEvpSha256() {
    EVP_MD_CTX_free(ctx_);
    EVP_MD_free(md_);
  }
  ReusedEvpSha256(const ReusedEvpSha256&) = delete;
  ReusedEvpSha256& operator=(const ReusedEvpSha256&) = delete;
  void operator()(const unsigned char* data, size_t size, unsigned char* out) const {
    EVP_DigestInit_ex2(ctx_, md_, nullptr);
    EVP_DigestUpdate(ctx_, data, size);
    EVP_DigestFinal_ex(ctx_, out, nullptr);
  }

 private:
  EVP_MD* md_;
  EVP_MD_CTX* ctx_;
};
class CopiedEvpSha256 {  // EVP with one reused context started as a copy of an initialised one
 public:
  CopiedEvpSha256()
      : md_(EVP_MD_fetch(nullptr, "SHA256", nullptr)),
        initialised_(EVP_MD_CTX_new()),
        ctx_(EVP_MD_CTX_new()) {
    EVP_DigestInit_ex2(initialised_, md_, nullptr);
  }
  ~CopiedEvpSha256() {
    EVP_MD_CTX_free(ctx_);
    EVP_MD_CTX_free(initialised_);
    EVP_MD_free(md_);
  }
  CopiedEvpSha256(const CopiedEvpSha256&) = delete;
  CopiedEvpSha256& operator=(const CopiedEvpSha256&) = delete;
  void operator()(const unsigned char* data, size_t size, unsigned char* out) const {
    EVP_MD_CTX_copy_ex(ctx_, initialised_);
    EVP_DigestUpdate(ctx_, data, size);
    EVP_DigestFinal_ex(ctx_, out, nullptr);
  }

 private:
  EVP_MD* md_;
  EVP_MD_CTX* initialised_;
  EVP_MD_CTX* ctx_;
};

// The RFC 6962 root of the million leaves by `hash` alone: each leaf message, then the n - 1
// interior nodes 0x01 || left || right level by level (an odd last node moves up unhashed,
// which gives the same tree as RFC 9162's split at the largest power of two). `level` is
// scratch space of kMillion digests, allocated by the caller.
template <typename Hash>
bg::Digest AnchorRoot(const LeafMessages& m, const Hash& hash, std::vector<bg::Digest>& level) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(m.bytes.data());
  for (size_t i = 0; i < level.size(); ++i) {
    hash(bytes + m.begin[i], m.begin[i + 1] - m.begin[i], level[i].data());
  }
  std::array<unsigned char, 1 + 2 * 32> node{};
  node[0] = 0x01;
  for (size_t n = level.size(); n > 1;) {
    size_t out = 0;
    for (size_t i = 0; i + 1 < n; i += 2) {
      std::memcpy(node.data() + 1, level[i].data(), 32);
      std::memcpy(node.data() + 33, level[i + 1].data(), 32);
      hash(node.data(), node.size(), level[out++].data());
    }
    if (n % 2 == 1) level[out++] = level[n - 1];
    n = out;
  }
  return level[0];
}

template <typename Hash>
double AnchorCpuSeconds(benchmark::State& state, const Hash& hash, std::vector<bg::Digest>& level) {
  const double t0 = ThreadCpuSeconds();
  const bg::Digest root = AnchorRoot(MillionLeafMessages(), hash, level);
  const double seconds = ThreadCpuSeconds() - t0;
  if (bg::AsBytes(root) != MillionLeafLog().range.Root()) {
    state.SkipWithError("the anchor's root is not the log's root");
  }
  return seconds;
}

// Issue 17's figure: VerifyExport over the export (canonical-leaf check on, the default) against
// OpenSSL hashing the same bytes, both timed in each iteration (the anchor being the fastest of
// the libcrypto calls); `ratio` is verify_cpu_s / anchor_cpu_s. CPU time of this thread.
void BM_VerifyVsOpenSsl1M(benchmark::State& state) {
  const SignedExport& e = MillionEntryExport();
  MillionLeafMessages();
  std::vector<bg::Digest> level(kMillion);
  const OneShotSha256 one_shot;
  const ReusedEvpSha256 evp;
  const CopiedEvpSha256 evp_copy;
  double verify_s = 0, one_shot_s = 0, evp_s = 0, evp_copy_s = 0, anchor_s = 0;
  for (auto _ : state) {
    const double o = AnchorCpuSeconds(state, one_shot, level);
    const double v = AnchorCpuSeconds(state, evp, level);
    const double c = AnchorCpuSeconds(state, evp_copy, level);
    const double t0 = ThreadCpuSeconds();
    auto report = bg::audit::VerifyExport(e.jsonl, e.note, e.verifier_key);
    verify_s += ThreadCpuSeconds() - t0;
    if (!report.has_value()) state.SkipWithError(report.error().message().c_str());
    one_shot_s += o;
    evp_s += v;
    evp_copy_s += c;
    anchor_s += std::min({o, v, c});
  }
  const auto avg = [](double s) {
    return benchmark::Counter(s, benchmark::Counter::kAvgIterations);
  };
  state.counters["verify_cpu_s"] = avg(verify_s);
  state.counters["sha256_oneshot_cpu_s"] = avg(one_shot_s);
  state.counters["sha256_evp_cpu_s"] = avg(evp_s);
  state.counters["sha256_evp_copy_cpu_s"] = avg(evp_copy_s);
  state.counters["anchor_cpu_s"] = avg(anchor_s);
  state.counters["ratio"] = verify_s / anchor_s;
  state.SetItemsProcessed(state.iterations() * kMillion);
}
BENCHMARK(BM_VerifyVsOpenSsl1M)->Unit(benchmark::kMillisecond)->Iterations(3);

BENCHMARK(BM_VerifyExport1M)
    ->ArgsProduct({{0, 1}, {0, 1}})
    ->ArgNames({"leaf_check", "hash"})
    ->Unit(benchmark::kMillisecond)->Iterations(1);

// The canonical-leaf check alone over 512 of the export's leaves (in L1), each way it is done:
// 0 byte by byte, 1 by the map of quotes, 2 what IsPlainCanonicalLeaf runs (by vectors where
// the CPU has AVX-512 VBMI2).
void BM_LeafCheck(benchmark::State& state) {
  std::vector<std::string> leaves;
  for (int64_t i = 0; i < 512; ++i) leaves.push_back(Leaf(i * 1951));
  const int64_t way = state.range(0);
  size_t i = 0;
  int64_t passed = 0;
  for (auto _ : state) {
    const std::string& leaf = leaves[i++ & 511];
    const bool ok = way == 0   ? bg::audit::internal::IsPlainCanonicalLeafByBytes(leaf)
                    : way == 1 ? bg::audit::internal::IsPlainCanonicalLeafByQuotes(leaf)
                               : bg::audit::IsPlainCanonicalLeaf(leaf);
    passed += ok ? 1 : 0;
  }
  if (passed != state.iterations()) state.SkipWithError("a canonical leaf was not recognised");
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_LeafCheck)->Arg(0)->Arg(1)->Arg(2)->ArgName("way");

// Issue 4's lower bound: 2,000,000 SHA-256 of 64 bytes (as `openssl speed -bytes 64 sha256`),
// fewer bytes than a 1,000,000-entry verify hashes (BM_VerifyVsOpenSsl1M's anchor is exact).
void BM_Sha256Bound1M(benchmark::State& state) {
  const std::string block(64, 'x');
  for (auto _ : state) {
    for (int64_t i = 0; i < 2 * kMillion; ++i) benchmark::DoNotOptimize(bg::Sha256(block));
  }
}
BENCHMARK(BM_Sha256Bound1M)->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace
