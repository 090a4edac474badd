// LoginLimiter: counts failed logins per account and per source address and refuses further
// attempts when either is over its limit.
//
// - Account: `account_max_failures` failures within `account_window` lock the account for
//   `account_lockout`; each further lockout doubles the time, up to `account_lockout_max`.
//   The doubling starts over after a successful login, or once `account_lockout_max` has
//   passed since the later of the last failure and the end of the last lock. A success clears
//   the account's failures (never the source's).
// - Source address: at most `source_max_failures` failures in any `source_window` (a sliding
//   window); while over, the address is refused until its oldest counted failure ages out.
//   IPv6 addresses count per /64 (one host usually owns a whole /64); IPv4-mapped IPv6
//   addresses count as their IPv4 address; other strings are used as they are.
// Accounts that do not exist are counted like the rest, so refusals say nothing about which
// accounts exist. Refusals never say which factor of a login was wrong.
//
// Memory is bounded: each table keeps at most `max_entries` keys; entries with nothing left to
// remember are dropped as they age, and when a table is full the least recently failed entry
// goes first (preferring one that is not locked). A lockout evicted this way, or lost in a
// restart, is restored from the store with RestoreAccountLock; RecordFailure returns the
// lock to persist when it sets one.
//
// Time is passed in on every call. Thread-safe (one mutex).
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "util/result.h"
#include "util/time.h"

namespace bg::auth {

struct LoginLimiterConfig {
  int account_max_failures = 5;
  Seconds account_window{15 * 60};
  Seconds account_lockout{15 * 60};
  Seconds account_lockout_max{24 * 60 * 60};
  int source_max_failures = 20;
  Seconds source_window{15 * 60};
  size_t max_entries = 100'000;  // per table (accounts, sources)
};

// What the store keeps so a lockout survives a restart.
struct AccountLock {
  Timestamp locked_until;
  int lockouts = 0;  // lockouts so far in the current escalation (1 after the first)
  friend bool operator==(const AccountLock&, const AccountLock&) = default;
};

class LoginLimiter {
 public:
  explicit LoginLimiter(LoginLimiterConfig config = {});
  ~LoginLimiter();
  LoginLimiter(const LoginLimiter&) = delete;
  LoginLimiter& operator=(const LoginLimiter&) = delete;

  // Call before checking any credential. OK, or ResourceExhausted "too many failed login
  // attempts; try again after <RFC 3339 time> (in <duration>)" naming the later of the two
  // retry times, and not which of account or address is over its limit.
  Status Check(std::string_view account, std::string_view source, Timestamp now) const;

  // Call after a refused login (any factor wrong, or unknown account). Returns the account's
  // lock when this failure set one: persist it.
  std::optional<AccountLock> RecordFailure(std::string_view account, std::string_view source,
                                           Timestamp now);

  // Call after a successful login: forgets the account's failures and lockout history.
  void RecordSuccess(std::string_view account, Timestamp now);

  // The account's current lock, if it is locked at `now`.
  std::optional<AccountLock> LockedUntil(std::string_view account, Timestamp now) const;

  // Re-applies a persisted lock (at start-up, or when an account's row is read). A lock that
  // has already ended still restores the escalation count.
  void RestoreAccountLock(std::string_view account, const AccountLock& lock, Timestamp now);

  // Entries currently held (accounts + sources), for tests and metrics.
  size_t AccountEntries() const;
  size_t SourceEntries() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace bg::auth
