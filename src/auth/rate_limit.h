// LoginLimiter: slows the guessing of passwords and TOTP codes without ever letting a guesser
// lock somebody else out. It throttles the pair (account, source address), not the account:
//
// - Pair: the first `pair_free_failures` failures of an (account, source) pair cost nothing;
//   after the n-th failure beyond those the pair waits pair_backoff_base * 2^(n-1), at most
//   `pair_backoff_max`, before its next attempt is even checked (attempts refused while it
//   waits are not counted). A pair's failures are forgotten after a success from that pair, or
//   `pair_memory` after its last failure. A correct password + TOTP from a source with no
//   failures for that account always gets through, however many other sources are failing.
// - Source address, across accounts: a source with `source_max_failures` failures within the
//   sliding `source_window` is over its cap; while it is, its pairs get no free failures (each
//   account guessed from there waits from its first failure on). The cap slows spraying but
//   never refuses a pair without failures, so everyone else behind a shared NAT or proxy still
//   logs in. IPv6 addresses count per /64 (one host usually owns a whole /64); IPv4-mapped
//   IPv6 addresses count as their IPv4 address; other strings are used as they are.
// - Account, across sources: `account_alert_failures` failures within `account_window` mean
//   the account is being guessed. RecordFailure then says so (the caller alerts the security
//   contacts), at most once per `account_alert_every` for one account. The account itself is
//   never refused.
// `reset_at` (when an operator last ran `user unlock` for the account): failures at or before
// it are ignored, once: failures recorded after the unlock count, even within its second. Accounts that do not exist are throttled like the rest, so refusals say
// nothing about which accounts exist, and a refusal never says which factor was wrong.
//
// Memory is bounded: each table keeps at most `max_entries` keys; entries with nothing left to
// remember are dropped as they age, and when a table is full the least recently failed entry
// goes first (preferring one that is not waiting). Nothing is persisted: a restart forgets.
//
// Time is passed in on every call. Thread-safe (one mutex).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "util/result.h"
#include "util/time.h"

namespace bg::auth {

struct LoginLimiterConfig {
  int pair_free_failures = 3;
  Seconds pair_backoff_base{2};
  Seconds pair_backoff_max{15 * 60};
  Seconds pair_memory{24 * 60 * 60};
  int source_max_failures = 20;
  Seconds source_window{15 * 60};
  int account_alert_failures = 10;
  Seconds account_window{15 * 60};
  Seconds account_alert_every{60 * 60};
  size_t max_entries = 100'000;  // per table (pairs, sources, accounts)
};

// What one recorded failure means.
struct FailureOutcome {
  // When the pair may try again (== now when it still has free failures).
  Timestamp retry_at;
  // The account crossed account_alert_failures within account_window: alert about it.
  bool alert = false;
  // Failures of the account, from any source, within account_window (at most
  // account_alert_failures are remembered).
  int account_failures = 0;
};

class LoginLimiter {
 public:
  explicit LoginLimiter(LoginLimiterConfig config = {});
  ~LoginLimiter();
  LoginLimiter(const LoginLimiter&) = delete;
  LoginLimiter& operator=(const LoginLimiter&) = delete;

  // Call before checking any credential. OK, or ResourceExhausted "too many failed attempts;
  // try again after <RFC 3339 time> (in <duration>)" with Error::retry_after_seconds set,
  // naming neither the account nor the address nor the factor.
  Status Check(std::string_view account, std::string_view source, Timestamp now,
               Timestamp reset_at = {}) const;

  // Call after a refused login or step-up code (any factor wrong, or an unknown account).
  FailureOutcome RecordFailure(std::string_view account, std::string_view source, Timestamp now,
                               Timestamp reset_at = {});

  // Call after a successful login: forgets the failures of this pair (never those of the
  // account's other sources, nor the source's count across accounts).
  void RecordSuccess(std::string_view account, std::string_view source, Timestamp now);

  const LoginLimiterConfig& config() const;

  // Entries currently held, for tests and metrics.
  size_t PairEntries() const;
  size_t SourceEntries() const;
  size_t AccountEntries() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace bg::auth
