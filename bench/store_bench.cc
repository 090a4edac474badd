// Store micro benchmarks (SQLite backend, a file in a temp dir, synchronous=FULL):
//   BM_CommitRequests/N      one commit of N request inserts (durable: fsync per commit)
//   BM_CommitCommands/N      one commit of N service-like commands: a request insert, its audit
//                            leaf with two node hashes, a timer and an outbox job each
//   BM_GetRequest            one point read, with 100,000 requests stored
//   BM_ListRequestsPage      one newest-first page of 50, with 100,000 requests stored
//   BM_ListOpenRequests      all 100,000 stored requests, every one open (start-up worst case)
//   BM_ReviewQueuePage       the review queue's first page (open, soonest due, 100), with
//                            100,000 reviews stored (one per finished grant, 5 % still open)
//   BM_ReviewQueueByRequester  a person's open reviews past their deadline (the check that
//                            blocks new requests), same store
//   BM_CountOverdueReviews   the /metrics and `status` count of open reviews past due
// items_per_second counts requests (or commands); max_rss_mib is the process peak so far.
#include <benchmark/benchmark.h>
#include <stdlib.h>
#include <sys/resource.h>

#include <filesystem>
#include <memory>
#include <string>

#include "store/store.h"

namespace bg::store {
namespace {

class TempStore {
 public:
  TempStore() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "bg_store_bench_XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) std::abort();
    dir_ = tmpl;
    auto s = OpenStore("sqlite", dir_);
    if (!s.has_value()) {
      fprintf(stderr, "open: %s\n", s.error().ToString().c_str());
      std::abort();
    }
    store_ = std::move(*s);
  }
  ~TempStore() {
    store_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  Store& operator*() { return *store_; }
  Store* operator->() { return store_.get(); }

 private:
  std::string dir_;
  std::unique_ptr<Store> store_;
};

core::Request MakeRequest(int64_t n) {
  core::Request r;
  r.id = RequestId("req-" + std::to_string(n));
  r.requester = "user" + std::to_string(n % 50);
  r.resource = "db-prod";
  r.privilege = "read_only";
  r.connector = "postgres_role";
  r.tier = 2;
  r.reason = "investigating incident INC-1234: replica lag";
  r.ticket = "INC-1234";
  r.source_address = "10.0.0.7";
  r.duration = Seconds(1800);
  r.pool = "dba";
  r.required_approvals = 2;
  r.created_at = FromUnixSeconds(1'800'000'000 + n);
  r.updated_at = r.created_at;
  r.approval_deadline = r.created_at + Seconds(1800);
  return r;
}

double MaxRssMib() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;
}

void Check(const Status& s) {
  if (!s.has_value()) {
    fprintf(stderr, "commit: %s\n", s.error().ToString().c_str());
    std::abort();
  }
}

void BM_CommitRequests(benchmark::State& state) {
  TempStore store;
  const int64_t n = state.range(0);
  int64_t next = 0;
  for (auto _ : state) {
    WriteBatch b;
    for (int64_t i = 0; i < n; ++i) b.requests.push_back({MakeRequest(next++), 0});
    Check(store->Commit(b));
  }
  state.SetItemsProcessed(state.iterations() * n);
  state.counters["max_rss_mib"] = MaxRssMib();
}
BENCHMARK(BM_CommitRequests)->Arg(1)->Arg(100)->UseRealTime();

void BM_CommitCommands(benchmark::State& state) {
  TempStore store;
  const int64_t n = state.range(0);
  int64_t next = 0;
  for (auto _ : state) {
    WriteBatch b;
    for (int64_t i = 0; i < n; ++i, ++next) {
      core::Request r = MakeRequest(next);
      b.requests.push_back({r, 0});
      AuditAppend a;
      a.index = next;
      a.leaf = std::string(300, 'l');
      a.nodes.push_back({0, next, std::string(32, 'h')});
      if (next % 2 == 1) a.nodes.push_back({1, next / 2, std::string(32, 'g')});
      b.audit.push_back(std::move(a));
      b.timers.push_back({0, core::TimerKind::kApprovalTimeout, r.id, r.approval_deadline});
      b.outbox.push_back({0, "alert", r.id, R"({"kind":"approval_needed"})", 0, r.created_at, ""});
    }
    Check(store->Commit(b));
  }
  state.SetItemsProcessed(state.iterations() * n);
  state.counters["max_rss_mib"] = MaxRssMib();
}
BENCHMARK(BM_CommitCommands)->Arg(1)->Arg(100)->Arg(500)->UseRealTime();

constexpr int64_t kStored = 100'000;

// Fills a store with kStored requests in batches of 1000.
void Fill(Store& store) {
  for (int64_t base = 0; base < kStored; base += 1000) {
    WriteBatch b;
    for (int64_t i = base; i < base + 1000; ++i) b.requests.push_back({MakeRequest(i), 0});
    Check(store.Commit(b));
  }
}

void BM_GetRequest(benchmark::State& state) {
  TempStore store;
  Fill(*store);
  int64_t n = 0;
  for (auto _ : state) {
    auto r = store->GetRequest(RequestId("req-" + std::to_string(n++ * 7919 % kStored)));
    if (!r.has_value() || !r->has_value()) std::abort();
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["max_rss_mib"] = MaxRssMib();
}
BENCHMARK(BM_GetRequest)->UseRealTime();

void BM_ListRequestsPage(benchmark::State& state) {
  TempStore store;
  Fill(*store);
  RequestFilter f;
  f.limit = 50;
  f.requester = "user7";
  for (auto _ : state) {
    auto rs = store->ListRequests(f);
    if (!rs.has_value() || rs->size() != 50) std::abort();
    benchmark::DoNotOptimize(rs);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["max_rss_mib"] = MaxRssMib();
}
BENCHMARK(BM_ListRequestsPage)->UseRealTime();

// Every stored request is pending here: the worst case of the start-up load.
void BM_ListOpenRequests(benchmark::State& state) {
  TempStore store;
  Fill(*store);
  for (auto _ : state) {
    auto rs = store->ListOpenRequests();
    if (!rs.has_value() || rs->size() != static_cast<size_t>(kStored)) std::abort();
    benchmark::DoNotOptimize(rs);
  }
  state.SetItemsProcessed(state.iterations() * kStored);
  state.counters["max_rss_mib"] = MaxRssMib();
}
BENCHMARK(BM_ListOpenRequests)->Unit(benchmark::kMillisecond)->UseRealTime();

// 100,000 reviews of finished grants: every 20th still open, due over the next days or past.
void FillReviews(Store& store) {
  for (int64_t base = 0; base < kStored; base += 1000) {
    WriteBatch b;
    for (int64_t i = base; i < base + 1000; ++i) {
      core::Review r;
      r.id = "rev-" + std::to_string(i);
      r.request = RequestId("req-" + std::to_string(i));
      r.requester = "user" + std::to_string(i % 50);
      r.trigger = "expired";
      r.opened_at = FromUnixSeconds(1'700'000'000 + i * 60);
      r.due_at = r.opened_at + std::chrono::hours(72);
      r.state = i % 20 == 0 ? core::ReviewState::kOpen : core::ReviewState::kDone;
      b.reviews.push_back({r, 0});
    }
    Check(store.Commit(b));
  }
}

void BM_ReviewQueuePage(benchmark::State& state) {
  TempStore store;
  FillReviews(*store);
  ReviewFilter f;
  f.state = core::ReviewState::kOpen;
  f.limit = 100;
  for (auto _ : state) {
    auto rs = store->ListReviews(f);
    if (!rs.has_value() || rs->size() != 100) std::abort();
    benchmark::DoNotOptimize(rs);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["max_rss_mib"] = MaxRssMib();
}
BENCHMARK(BM_ReviewQueuePage)->UseRealTime();

void BM_ReviewQueueByRequester(benchmark::State& state) {
  TempStore store;
  FillReviews(*store);
  ReviewFilter f;
  f.state = core::ReviewState::kOpen;
  f.requester = "user0";
  f.due_before = FromUnixSeconds(1'700'000'000 + kStored * 30);  // half of them past due
  f.limit = 1000;
  for (auto _ : state) {
    auto rs = store->ListReviews(f);
    if (!rs.has_value() || rs->empty()) std::abort();
    benchmark::DoNotOptimize(rs);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["max_rss_mib"] = MaxRssMib();
}
BENCHMARK(BM_ReviewQueueByRequester)->UseRealTime();

void BM_CountOverdueReviews(benchmark::State& state) {
  TempStore store;
  FillReviews(*store);
  ReviewFilter f;
  f.state = core::ReviewState::kOpen;
  f.due_before = FromUnixSeconds(1'700'000'000 + kStored * 30);
  for (auto _ : state) {
    auto n = store->CountReviews(f);
    if (!n.has_value() || *n == 0) std::abort();
    benchmark::DoNotOptimize(n);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["max_rss_mib"] = MaxRssMib();
}
BENCHMARK(BM_CountOverdueReviews)->UseRealTime();

}  // namespace
}  // namespace bg::store

BENCHMARK_MAIN();
