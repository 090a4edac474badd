// Benchmarks of the audit log's pure parts (no storage): appending a leaf to the compact range
// and keeping its nodes in an in-memory map; inclusion and consistency proofs over a 1,000,000
// leaf log; the offline verifier over a 1,000,000-entry export, with the SHA-256 bound it is
// compared against (2 hashes per entry of about 64 bytes each, as `openssl speed -bytes 64`).
//
// Link: bg_audit (brings bg_util, OpenSSL, libsodium, fmt) and benchmark::benchmark_main.
#include <benchmark/benchmark.h>

#include <time.h>

#include <chrono>
#include <cstdint>
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
// The same export verified in one pass (VerifyExport: what `audit verify --bundle` can call),
// with the leaf check on (the default) or off, lines with "hash".
void BM_VerifyExportStreaming1M(benchmark::State& state) {
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
    line.pop_back();
    jsonl += line + R"(,"hash":")" + bg::Base64Encode(HashLeaf(leaf)) + "\"}\n";
  }
  bg::audit::VerifyOptions options;
  options.check_leaf_format = state.range(0) != 0;
  double cpu_s = 0;
  for (auto _ : state) {
    const double t0 = ThreadCpuSeconds();
    auto report = bg::audit::VerifyExport(jsonl, note, signer.VerifierKey(), options);
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

BENCHMARK(BM_VerifyExport1M)
    ->ArgsProduct({{0, 1}, {0, 1}})
    ->ArgNames({"leaf_check", "hash"})
    ->Unit(benchmark::kMillisecond)->Iterations(1);

// The bound: 2,000,000 SHA-256 of 64 bytes, the hashing a 1,000,000-entry verify needs.
void BM_Sha256Bound1M(benchmark::State& state) {
  const std::string block(64, 'x');
  for (auto _ : state) {
    for (int64_t i = 0; i < 2 * kMillion; ++i) benchmark::DoNotOptimize(bg::Sha256(block));
  }
}
BENCHMARK(BM_Sha256Bound1M)->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace
