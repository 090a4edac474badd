// How each record of the store is laid out in SQL columns, shared by the SQL backends (sqlite,
// postgres): the column lists, the values a record is written as (in column order), and the
// reading of a row back into the record.
//
// A Row is anything with Text(col), Int(col), OptInt(col) and Blob(col) for 0-based columns
// (sqlite::Stmt; pg::Row). Values are written through each backend's own binding.
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "store/codec.h"
#include "store/store.h"

namespace bg::store::rows {

struct Blob {
  std::string bytes;
};
// NULL, an integer, text, or bytes (BLOB / bytea).
using Value = std::variant<std::monostate, int64_t, std::string, Blob>;

inline Value Opt(const std::optional<Timestamp>& t) {
  if (!t) return std::monostate{};
  return ToUnixSeconds(*t);
}

// Adds what was being done to an error, keeping its code.
inline Error Context(const Error& e, std::string_view what) {
  return Error(e.code(), fmt::format("{}: {}", what, e.message()), e.field());
}

// ---- requests -------------------------------------------------------------------------------

// `drill` (1 for a drill's request, else 0) keeps drills apart in statistics (metrics); readers
// take the request from `body`.
inline constexpr std::string_view kRequestColumns =
    "id, requester, state, created_at, ends_at, version, body, drill";

inline std::vector<Value> RequestValues(const core::Request& r, int64_t version) {
  return {r.id.value(),
          r.requester,
          std::string(StoredName(r.state)),
          ToUnixSeconds(r.created_at),
          Opt(r.ends_at),
          version,
          EncodeRequestBody(r),
          int64_t{r.drill_id.empty() ? 0 : 1}};
}

template <typename Row>
Result<core::Request> ReadRequest(const Row& s) {
  core::Request r;
  r.id = RequestId(s.Text(0));
  r.requester = s.Text(1);
  auto state = ParseStoredState(s.Text(2), "requests.state");
  if (!state) return Context(state.error(), fmt::format("request '{}'", r.id.value()));
  r.state = *state;
  r.created_at = FromUnixSeconds(s.Int(3));
  if (auto ends = s.OptInt(4)) r.ends_at = FromUnixSeconds(*ends);
  r.version = s.Int(5);
  Status body = DecodeRequestBody(s.Text(6), "requests.body", r);
  if (!body) return Context(body.error(), fmt::format("request '{}'", r.id.value()));
  return r;
}

// ---- reviews --------------------------------------------------------------------------------

inline constexpr std::string_view kReviewColumns =
    "id, subject, request, requester, state, opened_at, due_at, overdue_alerted, version, body";

inline std::vector<Value> ReviewValues(const core::Review& r, int64_t version) {
  return {r.id,
          r.Subject(),
          r.request.value(),
          r.requester,
          std::string(core::ToString(r.state)),
          ToUnixSeconds(r.opened_at),
          ToUnixSeconds(r.due_at),
          int64_t{r.overdue_alerted ? 1 : 0},
          version,
          EncodeReviewBody(r)};
}

template <typename Row>
Result<core::Review> ReadReview(const Row& s) {
  core::Review r;
  r.id = s.Text(0);
  r.request = RequestId(s.Text(2));
  r.requester = s.Text(3);
  auto state = ParseStoredReviewState(s.Text(4), "reviews.state");
  if (!state) return Context(state.error(), fmt::format("review '{}'", r.id));
  r.state = *state;
  r.opened_at = FromUnixSeconds(s.Int(5));
  r.due_at = FromUnixSeconds(s.Int(6));
  r.overdue_alerted = s.Int(7) != 0;
  r.version = s.Int(8);
  Status body = DecodeReviewBody(s.Text(9), "reviews.body", r);
  if (!body) return Context(body.error(), fmt::format("review '{}'", r.id));
  return r;
}

// ---- drills ---------------------------------------------------------------------------------

inline constexpr std::string_view kDrillColumns =
    "id, resource, state, started_at, finished_at, version, body";

inline std::vector<Value> DrillValues(const DrillRecord& d, int64_t version) {
  return {d.id,    d.resource,        d.state, ToUnixSeconds(d.started_at), Opt(d.finished_at),
          version, EncodeDrillBody(d)};
}

template <typename Row>
Result<DrillRecord> ReadDrill(const Row& s) {
  DrillRecord d;
  d.id = s.Text(0);
  d.resource = s.Text(1);
  d.state = s.Text(2);
  if (d.state != "running" && d.state != "ok" && d.state != "failed") {
    return Error::Internal(fmt::format("drill '{}': unknown stored state", d.id));
  }
  d.started_at = FromUnixSeconds(s.Int(3));
  if (auto f = s.OptInt(4)) d.finished_at = FromUnixSeconds(*f);
  d.version = s.Int(5);
  Status body = DecodeDrillBody(s.Text(6), "drills.body", d);
  if (!body) return Context(body.error(), fmt::format("drill '{}'", d.id));
  return d;
}

// ---- attestation campaigns ------------------------------------------------------------------

inline constexpr std::string_view kCampaignColumns =
    "id, scope, state, opened_at, due_at, version, body";

inline std::vector<Value> CampaignValues(const core::Campaign& c, int64_t version) {
  return {c.id,
          std::string(core::ToString(c.scope)),
          std::string(core::ToString(c.state)),
          ToUnixSeconds(c.opened_at),
          ToUnixSeconds(c.due_at),
          version,
          EncodeCampaignBody(c)};
}

template <typename Row>
Result<core::Campaign> ReadCampaign(const Row& s) {
  core::Campaign c;
  c.id = s.Text(0);
  auto scope = core::ParseAttestScope(s.Text(1));
  auto state = core::ParseCampaignState(s.Text(2));
  if (!scope || !state) {
    return Error::Internal(fmt::format("campaign '{}': unknown stored scope or state", c.id));
  }
  c.scope = *scope;
  c.state = *state;
  c.opened_at = FromUnixSeconds(s.Int(3));
  c.due_at = FromUnixSeconds(s.Int(4));
  c.version = s.Int(5);
  Status body = DecodeCampaignBody(s.Text(6), "campaigns.body", c);
  if (!body) return Context(body.error(), fmt::format("campaign '{}'", c.id));
  return c;
}

// ---- users, tokens, timers, outbox, sessions --------------------------------------------------

inline constexpr std::string_view kUserColumns =
    "name, roles, password_hash, totp_secret_enc, totp_last_step, disabled, created_at, "
    "mfa_verified_at, failed_logins, locked_until, unlocked_at, email, passkeys";

inline std::vector<Value> UserValues(const UserRecord& u) {
  return {u.name,
          EncodeRoles(u.roles),
          u.password_hash,
          u.totp_secret_enc,
          u.totp_last_step,
          int64_t{u.disabled ? 1 : 0},
          ToUnixSeconds(u.created_at),
          Opt(u.mfa_verified_at),
          int64_t{u.failed_logins},
          Opt(u.locked_until),
          Opt(u.unlocked_at),
          u.email,
          EncodePasskeys(u.passkeys)};
}

// An int column that must fit an int (a counter).
template <typename Row>
Result<int> SmallCount(const Row& s, int col, std::string_view what) {
  const int64_t v = s.Int(col);
  if (v < 0 || v > std::numeric_limits<int>::max()) {
    return Error::Internal(fmt::format("{} out of range", what));
  }
  return static_cast<int>(v);
}

template <typename Row>
Result<UserRecord> ReadUser(const Row& s) {
  UserRecord u;
  u.name = s.Text(0);
  auto roles = DecodeRoles(s.Text(1), "users.roles");
  if (!roles) return Context(roles.error(), fmt::format("user '{}'", u.name));
  u.roles = std::move(*roles);
  u.password_hash = s.Text(2);
  u.totp_secret_enc = s.Text(3);
  u.totp_last_step = s.Int(4);
  u.disabled = s.Int(5) != 0;
  u.created_at = FromUnixSeconds(s.Int(6));
  if (auto t = s.OptInt(7)) u.mfa_verified_at = FromUnixSeconds(*t);
  BG_ASSIGN_OR_RETURN(u.failed_logins,
                      SmallCount(s, 8, fmt::format("user '{}': users.failed_logins", u.name)));
  if (auto t = s.OptInt(9)) u.locked_until = FromUnixSeconds(*t);
  if (auto t = s.OptInt(10)) u.unlocked_at = FromUnixSeconds(*t);
  u.email = s.Text(11);
  auto passkeys = DecodePasskeys(s.Text(12), "users.passkeys");
  if (!passkeys) return Context(passkeys.error(), fmt::format("user '{}'", u.name));
  u.passkeys = std::move(*passkeys);
  return u;
}

// `user` is quoted: a reserved word in PostgreSQL, an identifier either way.
inline constexpr std::string_view kTokenColumns =
    "token_hash, \"user\", issued_at, expires_at, source_address, scope, family_started_at, "
    "mfa_verified_at, step_up_failures";

inline std::vector<Value> TokenValues(const TokenRecord& t) {
  return {t.token_hash,
          t.user,
          ToUnixSeconds(t.issued_at),
          ToUnixSeconds(t.expires_at),
          t.source_address,
          t.scope,
          Opt(t.family_started_at),
          Opt(t.mfa_verified_at),
          int64_t{t.step_up_failures}};
}

template <typename Row>
Result<TokenRecord> ReadToken(const Row& s) {
  TokenRecord t;
  t.token_hash = s.Text(0);
  t.user = s.Text(1);
  t.issued_at = FromUnixSeconds(s.Int(2));
  t.expires_at = FromUnixSeconds(s.Int(3));
  t.source_address = s.Text(4);
  t.scope = s.Text(5);
  if (auto v = s.OptInt(6)) t.family_started_at = FromUnixSeconds(*v);
  if (auto v = s.OptInt(7)) t.mfa_verified_at = FromUnixSeconds(*v);
  BG_ASSIGN_OR_RETURN(
      t.step_up_failures,
      SmallCount(s, 8, fmt::format("token of user '{}': step_up_failures", t.user)));
  return t;
}

inline constexpr std::string_view kTimerColumns = "id, kind, request, at";

template <typename Row>
Result<TimerRecord> ReadTimer(const Row& s) {
  TimerRecord t;
  t.id = s.Int(0);
  auto kind = ParseStoredTimerKind(s.Text(1), "timers.kind");
  if (!kind) return Context(kind.error(), fmt::format("timer {}", t.id));
  t.kind = *kind;
  t.request = RequestId(s.Text(2));
  t.at = FromUnixSeconds(s.Int(3));
  return t;
}

inline constexpr std::string_view kOutboxColumns =
    "id, kind, request, payload, attempts, next_attempt, last_error";

template <typename Row>
Result<OutboxJob> ReadOutbox(const Row& s) {
  OutboxJob j;
  j.id = s.Int(0);
  j.kind = s.Text(1);
  j.request = RequestId(s.Text(2));
  j.payload = s.Text(3);
  BG_ASSIGN_OR_RETURN(j.attempts,
                      SmallCount(s, 4, fmt::format("outbox job {}: outbox.attempts", j.id)));
  j.next_attempt = FromUnixSeconds(s.Int(5));
  j.last_error = s.Text(6);
  return j;
}

inline constexpr std::string_view kSessionColumns =
    "id, request, \"user\", started_at, ended_at, complete, header, chunks, bytes, "
    "last_event_us, end_reason";

inline std::vector<Value> SessionValues(const SessionRecord& r) {
  return {r.id.value(),    r.request.value(),
          r.user,          ToUnixSeconds(r.started_at),
          Opt(r.ended_at), int64_t{r.complete ? 1 : 0},
          r.header,        r.chunks,
          r.bytes,         r.last_event_us,
          r.end_reason};
}

template <typename Row>
SessionRecord ReadSession(const Row& s) {
  SessionRecord r;
  r.id = SessionId(s.Text(0));
  r.request = RequestId(s.Text(1));
  r.user = s.Text(2);
  r.started_at = FromUnixSeconds(s.Int(3));
  if (auto t = s.OptInt(4)) r.ended_at = FromUnixSeconds(*t);
  r.complete = s.Int(5) != 0;
  r.header = s.Text(6);
  r.chunks = s.Int(7);
  r.bytes = s.Int(8);
  r.last_event_us = s.Int(9);
  r.end_reason = s.Text(10);
  return r;
}

}  // namespace bg::store::rows
