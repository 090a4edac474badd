#include "auth/rate_limit.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <list>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

namespace bg::auth {
namespace {

// Entries scanned from the cold end for one that is safe to drop before giving up and dropping
// the coldest one anyway: keeps eviction O(1) while rarely losing a live lock.
constexpr int kEvictionScan = 16;
// Idle entries dropped from the cold end on each write, so memory shrinks as traffic calms.
constexpr int kIdleDropsPerWrite = 2;

// Least-recently-written map: front of order_ is the most recent. order_ points at the keys
// stored in map_ (an unordered_map's nodes do not move), so each key is held once.
template <typename V>
class LruTable {
 public:
  const V* Find(const std::string& key) const {
    auto it = map_.find(key);
    return it == map_.end() ? nullptr : &it->second.value;
  }
  V& Touch(const std::string& key) {
    auto it = map_.find(key);
    if (it != map_.end()) {
      order_.splice(order_.begin(), order_, it->second.pos);
      return it->second.value;
    }
    it = map_.emplace(key, Slot{}).first;
    order_.push_front(&it->first);
    it->second.pos = order_.begin();
    return it->second.value;
  }
  void Erase(const std::string& key) {
    auto it = map_.find(key);
    if (it == map_.end()) return;
    order_.erase(it->second.pos);
    map_.erase(it);
  }
  size_t size() const { return map_.size(); }

  template <typename IsIdle>
  void DropIdleTail(int n, IsIdle is_idle) {
    while (n-- > 0 && !order_.empty()) {
      auto it = map_.find(*order_.back());
      if (!is_idle(it->second.value)) return;
      order_.pop_back();
      map_.erase(it);
    }
  }

  // Drops entries while over `cap`. Among the kEvictionScan coldest, the one with the highest
  // rank(value) goes first (2 = nothing to remember, 1 = cheap to forget, 0 = keep if at all
  // possible); ties go to the colder one. With every candidate at 0 the coldest goes anyway.
  template <typename Rank>
  void Trim(size_t cap, Rank rank) {
    while (map_.size() > cap && !order_.empty()) {
      auto victim = std::prev(order_.end());
      int best = -1;
      auto probe = victim;
      for (int i = 0; i < kEvictionScan; ++i) {
        int r = rank(map_.find(**probe)->second.value);
        if (r > best) {
          best = r;
          victim = probe;
          if (r == 2) break;
        }
        if (probe == order_.begin()) break;
        --probe;
      }
      auto it = map_.find(**victim);
      order_.erase(victim);
      map_.erase(it);
    }
  }

 private:
  struct Slot {
    V value;
    typename std::list<const std::string*>::iterator pos;
  };
  std::list<const std::string*> order_;
  std::unordered_map<std::string, Slot> map_;
};

struct PairEntry {
  int failures = 0;  // counted failures, capped (the wait stops growing at pair_backoff_max)
  Timestamp last_failure{};
  // The unlock already applied to `failures`. Times are whole seconds: failures recorded after
  // an unlock in the same second as it must count, so an unlock is applied once, not compared
  // with every later failure's time.
  Timestamp reset_applied{};
};

struct SourceEntry {
  std::vector<Timestamp> failures;  // oldest first, at most source_max_failures
};

struct AccountEntry {
  std::vector<Timestamp> failures;  // oldest first, at most account_alert_failures
  Timestamp last_alert{};           // the epoch when never alerted
};

// Failure lists hold at most the configured limit (20 or 10 by default), oldest first: a vector
// is smaller than a deque (whose first node alone is 512 bytes) and erasing its head is cheap.
void DropOlderThan(std::vector<Timestamp>& failures, Timestamp cutoff) {
  auto keep =
      std::find_if(failures.begin(), failures.end(), [cutoff](Timestamp t) { return t > cutoff; });
  failures.erase(failures.begin(), keep);
}

void KeepNewest(std::vector<Timestamp>& failures, int limit) {
  if (static_cast<int>(failures.size()) > limit) {
    failures.erase(failures.begin(), failures.end() - limit);
  }
}

// IPv6 per /64 and IPv4-mapped as IPv4; anything unparsable as given.
std::string SourceKey(std::string_view source) {
  std::string text(source);
  in6_addr a6{};
  if (inet_pton(AF_INET6, text.c_str(), &a6) != 1) return text;
  static constexpr uint8_t kV4Mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  char buf[INET6_ADDRSTRLEN];
  if (std::memcmp(a6.s6_addr, kV4Mapped, sizeof kV4Mapped) == 0) {
    in_addr a4{};
    std::memcpy(&a4, a6.s6_addr + 12, 4);
    return inet_ntop(AF_INET, &a4, buf, sizeof buf) ? std::string(buf) : text;
  }
  std::memset(a6.s6_addr + 8, 0, 8);
  return inet_ntop(AF_INET6, &a6, buf, sizeof buf) ? std::string(buf) + "/64" : text;
}

// One key per (account, source): the account as given, a NUL (never in an account name), the
// source's key.
std::string PairKey(std::string_view account, const std::string& source_key) {
  std::string k(account);
  k.push_back('\0');
  k += source_key;
  return k;
}

}  // namespace

struct LoginLimiter::State {
  explicit State(const LoginLimiterConfig& c) : config(c) {}

  // A pair's failures that still count at `now`: 0 once forgotten or reset by an unlock.
  int PairFailures(const PairEntry& e, Timestamp now, Timestamp reset_at) const {
    const bool unlocked_since = reset_at > e.reset_applied && e.last_failure <= reset_at;
    if (unlocked_since || e.last_failure + config.pair_memory <= now) return 0;
    return e.failures;
  }
  bool SourceOverCap(const SourceEntry& e, Timestamp now) const {
    // The list holds at most the cap: full and all inside the window means over the cap.
    return static_cast<int>(e.failures.size()) >= config.source_max_failures &&
           e.failures.front() > now - config.source_window;
  }
  // When a pair with `failures` counted failures, the last at `last`, may try again.
  Timestamp RetryAt(int failures, Timestamp last, bool source_over_cap) const {
    const int free = source_over_cap ? 0 : config.pair_free_failures;
    const int excess = failures - free;
    if (excess <= 0) return last;
    // pair_backoff_base * 2^(excess-1), capped, without overflowing.
    Seconds d = config.pair_backoff_base;
    for (int i = 1; i < excess && d < config.pair_backoff_max; ++i) d *= 2;
    return last + std::min(d, config.pair_backoff_max);
  }
  bool PairIdle(const PairEntry& e, Timestamp now) const {
    return e.last_failure + config.pair_memory <= now;
  }
  bool SourceIdle(const SourceEntry& e, Timestamp now) const {
    return e.failures.empty() || e.failures.back() <= now - config.source_window;
  }
  bool AccountIdle(const AccountEntry& e, Timestamp now) const {
    const bool quiet = e.failures.empty() || e.failures.back() <= now - config.account_window;
    return quiet && e.last_alert + config.account_alert_every <= now;
  }
  void Housekeep(Timestamp now) {
    pairs.DropIdleTail(kIdleDropsPerWrite, [&](const PairEntry& e) { return PairIdle(e, now); });
    sources.DropIdleTail(kIdleDropsPerWrite,
                         [&](const SourceEntry& e) { return SourceIdle(e, now); });
    accounts.DropIdleTail(kIdleDropsPerWrite,
                          [&](const AccountEntry& e) { return AccountIdle(e, now); });
    pairs.Trim(config.max_entries, [&](const PairEntry& e) {
      if (PairIdle(e, now)) return 2;
      return RetryAt(e.failures, e.last_failure, false) > now ? 0 : 1;
    });
    sources.Trim(config.max_entries, [&](const SourceEntry& e) {
      if (SourceIdle(e, now)) return 2;
      return SourceOverCap(e, now) ? 0 : 1;
    });
    accounts.Trim(config.max_entries, [&](const AccountEntry& e) {
      if (AccountIdle(e, now)) return 2;
      return 1;
    });
  }

  const LoginLimiterConfig config;
  mutable std::mutex mu;
  LruTable<PairEntry> pairs;
  LruTable<SourceEntry> sources;
  LruTable<AccountEntry> accounts;
};

LoginLimiter::LoginLimiter(LoginLimiterConfig config) : state_(std::make_unique<State>(config)) {}
LoginLimiter::~LoginLimiter() = default;

Status LoginLimiter::Check(std::string_view account, std::string_view source, Timestamp now,
                           Timestamp reset_at) const {
  std::lock_guard<std::mutex> lock(state_->mu);
  const std::string source_key = SourceKey(source);
  const PairEntry* p = state_->pairs.Find(PairKey(account, source_key));
  if (p == nullptr) return Ok();
  const int failures = state_->PairFailures(*p, now, reset_at);
  if (failures == 0) return Ok();
  const SourceEntry* s = state_->sources.Find(source_key);
  const bool over_cap = s != nullptr && state_->SourceOverCap(*s, now);
  const Timestamp retry_at = state_->RetryAt(failures, p->last_failure, over_cap);
  if (retry_at <= now) return Ok();
  const Seconds wait = retry_at - now;
  Error e = Error::ResourceExhausted("too many failed attempts; try again after " +
                                     FormatRfc3339(retry_at) + " (in " + FormatDuration(wait) +
                                     ")");
  e.set_retry_after_seconds(wait.count());
  return e;
}

FailureOutcome LoginLimiter::RecordFailure(std::string_view account, std::string_view source,
                                           Timestamp now, Timestamp reset_at) {
  std::lock_guard<std::mutex> lock(state_->mu);
  const LoginLimiterConfig& c = state_->config;
  FailureOutcome out;
  const std::string source_key = SourceKey(source);

  SourceEntry& s = state_->sources.Touch(source_key);
  DropOlderThan(s.failures, now - c.source_window);
  s.failures.push_back(now);
  KeepNewest(s.failures, c.source_max_failures);
  const bool over_cap = state_->SourceOverCap(s, now);

  PairEntry& p = state_->pairs.Touch(PairKey(account, source_key));
  p.failures = state_->PairFailures(p, now, reset_at);
  p.reset_applied = std::max(p.reset_applied, reset_at);
  // Beyond this many the wait no longer grows; the cap keeps the count from overflowing.
  constexpr int kMaxCounted = 64;
  p.failures = std::min(p.failures + 1, kMaxCounted);
  p.last_failure = now;
  out.retry_at = state_->RetryAt(p.failures, now, over_cap);

  AccountEntry& a = state_->accounts.Touch(std::string(account));
  DropOlderThan(a.failures, std::max(now - c.account_window, reset_at));
  a.failures.push_back(now);
  KeepNewest(a.failures, c.account_alert_failures);
  out.account_failures = static_cast<int>(a.failures.size());
  if (out.account_failures >= c.account_alert_failures &&
      (a.last_alert == Timestamp{} || a.last_alert + c.account_alert_every <= now)) {
    out.alert = true;
    a.last_alert = now;
  }
  state_->Housekeep(now);
  return out;
}

void LoginLimiter::RecordSuccess(std::string_view account, std::string_view source,
                                 Timestamp now) {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->pairs.Erase(PairKey(account, SourceKey(source)));
  state_->Housekeep(now);
}

const LoginLimiterConfig& LoginLimiter::config() const { return state_->config; }

size_t LoginLimiter::PairEntries() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->pairs.size();
}

size_t LoginLimiter::SourceEntries() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->sources.size();
}

size_t LoginLimiter::AccountEntries() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->accounts.size();
}

}  // namespace bg::auth
