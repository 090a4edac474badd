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

struct AccountEntry {
  std::vector<Timestamp> failures;  // oldest first, at most account_max_failures
  Timestamp last_failure{};
  Timestamp locked_until{};  // the epoch when never locked
  int lockouts = 0;
};

struct SourceEntry {
  std::vector<Timestamp> failures;  // oldest first, at most source_max_failures
};

// Failure lists hold at most the configured limit (5 or 20 by default), oldest first: a vector
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

}  // namespace

struct LoginLimiter::State {
  explicit State(const LoginLimiterConfig& c) : config(c) {}

  bool AccountIdle(const AccountEntry& e, Timestamp now) const {
    if (e.locked_until > now) return false;
    if (!e.failures.empty() && e.failures.back() > now - config.account_window) return false;
    return e.lockouts == 0 || EscalationExpired(e, now);
  }
  bool EscalationExpired(const AccountEntry& e, Timestamp now) const {
    return std::max(e.last_failure, e.locked_until) + config.account_lockout_max <= now;
  }
  bool SourceIdle(const SourceEntry& e, Timestamp now) const {
    return e.failures.empty() || e.failures.back() <= now - config.source_window;
  }
  Seconds LockoutFor(int lockouts) const {
    // account_lockout * 2^(lockouts-1), capped, without overflowing.
    Seconds d = config.account_lockout;
    for (int i = 1; i < lockouts && d < config.account_lockout_max; ++i) d *= 2;
    return std::min(d, config.account_lockout_max);
  }
  void Housekeep(Timestamp now) {
    auto account_idle = [&](const AccountEntry& e) { return AccountIdle(e, now); };
    auto source_idle = [&](const SourceEntry& e) { return SourceIdle(e, now); };
    accounts.DropIdleTail(kIdleDropsPerWrite, account_idle);
    sources.DropIdleTail(kIdleDropsPerWrite, source_idle);
    accounts.Trim(config.max_entries, [&](const AccountEntry& e) {
      if (AccountIdle(e, now)) return 2;
      return e.locked_until > now ? 0 : 1;
    });
    sources.Trim(config.max_entries, [&](const SourceEntry& e) {
      if (SourceIdle(e, now)) return 2;
      return static_cast<int>(e.failures.size()) >= config.source_max_failures ? 0 : 1;
    });
  }

  const LoginLimiterConfig config;
  mutable std::mutex mu;
  LruTable<AccountEntry> accounts;
  LruTable<SourceEntry> sources;
};

LoginLimiter::LoginLimiter(LoginLimiterConfig config) : state_(std::make_unique<State>(config)) {}
LoginLimiter::~LoginLimiter() = default;

Status LoginLimiter::Check(std::string_view account, std::string_view source, Timestamp now) const {
  std::lock_guard<std::mutex> lock(state_->mu);
  const LoginLimiterConfig& c = state_->config;
  Timestamp retry_at = now;
  if (const AccountEntry* a = state_->accounts.Find(std::string(account))) {
    retry_at = std::max(retry_at, a->locked_until);
  }
  if (const SourceEntry* s = state_->sources.Find(SourceKey(source))) {
    // The list holds at most the limit: full and all inside the window means over the limit.
    if (static_cast<int>(s->failures.size()) >= c.source_max_failures &&
        s->failures.front() > now - c.source_window) {
      retry_at = std::max(retry_at, s->failures.front() + c.source_window);
    }
  }
  if (retry_at <= now) return Ok();
  return Error::ResourceExhausted("too many failed login attempts; try again after " +
                                  FormatRfc3339(retry_at) + " (in " +
                                  FormatDuration(retry_at - now) + ")");
}

std::optional<AccountLock> LoginLimiter::RecordFailure(std::string_view account,
                                                       std::string_view source, Timestamp now) {
  std::lock_guard<std::mutex> lock(state_->mu);
  const LoginLimiterConfig& c = state_->config;
  std::optional<AccountLock> result;

  SourceEntry& s = state_->sources.Touch(SourceKey(source));
  DropOlderThan(s.failures, now - c.source_window);
  s.failures.push_back(now);
  KeepNewest(s.failures, c.source_max_failures);

  AccountEntry& a = state_->accounts.Touch(std::string(account));
  if (a.locked_until <= now) {  // attempts during a lock are refused by Check, not counted
    if (a.lockouts > 0 && state_->EscalationExpired(a, now)) a.lockouts = 0;
    DropOlderThan(a.failures, now - c.account_window);
    a.failures.push_back(now);
    a.last_failure = now;
    if (static_cast<int>(a.failures.size()) >= c.account_max_failures) {
      a.failures.clear();
      ++a.lockouts;
      a.locked_until = now + state_->LockoutFor(a.lockouts);
      result = AccountLock{a.locked_until, a.lockouts};
    }
  }
  state_->Housekeep(now);
  return result;
}

void LoginLimiter::RecordSuccess(std::string_view account, Timestamp now) {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->accounts.Erase(std::string(account));
  state_->Housekeep(now);
}

std::optional<AccountLock> LoginLimiter::LockedUntil(std::string_view account,
                                                     Timestamp now) const {
  std::lock_guard<std::mutex> lock(state_->mu);
  const AccountEntry* a = state_->accounts.Find(std::string(account));
  if (a == nullptr || a->locked_until <= now) return std::nullopt;
  return AccountLock{a->locked_until, a->lockouts};
}

void LoginLimiter::RestoreAccountLock(std::string_view account, const AccountLock& lock,
                                      Timestamp now) {
  std::lock_guard<std::mutex> guard(state_->mu);
  AccountEntry& a = state_->accounts.Touch(std::string(account));
  a.locked_until = std::max(a.locked_until, lock.locked_until);
  a.lockouts = std::max(a.lockouts, lock.lockouts);
  if (a.lockouts > 0 && state_->EscalationExpired(a, now)) a.lockouts = 0;
  state_->Housekeep(now);
}

size_t LoginLimiter::AccountEntries() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->accounts.size();
}

size_t LoginLimiter::SourceEntries() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->sources.size();
}

}  // namespace bg::auth
