// The Store interface: every byte the service keeps goes through it, so a PostgreSQL backend can
// follow without touching the core or the service.
//
// Writes are whole WriteBatches committed atomically (all or nothing); the service's single
// writer groups many commands into one batch (group commit). Reads may run concurrently with
// the writer from any thread. Implementations: sqlite (embedded default).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/attestation.h"
#include "core/request.h"
#include "core/review.h"
#include "util/result.h"
#include "util/time.h"

namespace bg::store {

// A passkey (WebAuthn credential) of an account: what auth/webauthn.h verifies assertions with.
struct PasskeyRecord {
  std::string id;          // the raw credential id
  int alg = 0;             // COSE algorithm: -7 (ES256) or -8 (EdDSA)
  std::string public_key;  // raw public key bytes (webauthn::Credential::public_key)
  uint32_t sign_count = 0;
  std::string name;  // what its owner called it ("laptop")
  Timestamp created_at;
  std::optional<Timestamp> last_used_at;
};

struct UserRecord {
  std::string name;
  std::vector<core::Role> roles;
  std::string password_hash;    // Argon2id encoded string (crypto_pwhash_str)
  std::string totp_secret_enc;  // TOTP seed, AEAD-encrypted under the master key
  int64_t totp_last_step = -1;  // the last accepted TOTP time step (replay refusal)
  bool disabled = false;
  Timestamp created_at;
  std::optional<Timestamp> mfa_verified_at;
  int failed_logins = 0;                  // failed logins since the last success (informative)
  std::optional<Timestamp> locked_until;  // unused since logins are throttled per source
  // The last `breakglass user unlock`: login throttling forgets the account's failures before it.
  std::optional<Timestamp> unlocked_at;
  // Where person-addressed notifications go over SMTP (`user add --email`); empty: none.
  std::string email = {};
  // Registered passkeys (schema v6), oldest first.
  std::vector<PasskeyRecord> passkeys = {};
};

struct TokenRecord {
  std::string token_hash;  // hex SHA-256 of the bearer token; the token itself is never stored
  std::string user;
  Timestamp issued_at;
  Timestamp expires_at;
  std::string source_address;
  // Empty: the person's own token. "recording:<request id>": a recording credential, good
  // only for recording that grant's sessions (service::IssueRecordingToken).
  std::string scope = {};
  // The token family: the login that started it (kept across renewals, which a family's maximum
  // lifetime counts from) and the last TOTP verified with this family (at that login or at a
  // later step-up with this token): MFA freshness belongs to the token, not to the account.
  std::optional<Timestamp> family_started_at = {};  // unset: issued_at
  std::optional<Timestamp> mfa_verified_at = {};
  // Wrong step-up codes presented with this token; too many and it can no longer step up.
  int step_up_failures = 0;
};

struct TimerRecord {
  int64_t id = 0;  // assigned by the store on insert
  core::TimerKind kind;
  RequestId request;
  Timestamp at;
};

struct OutboxJob {
  int64_t id = 0;    // assigned by the store on insert
  std::string kind;  // "grant", "revoke", "alert"
  RequestId request;
  std::string payload;  // JSON, kind-specific
  int attempts = 0;
  Timestamp next_attempt;
  std::string last_error;
};

// One stored Merkle tree node: the hash of the perfect subtree of 2^level leaves starting at
// leaf index * 2^level. Leaves are level 0. Computed by the audit module, stored as given.
struct AuditNode {
  int level = 0;
  int64_t index = 0;
  std::string hash;  // 32 raw bytes
};

struct AuditAppend {
  int64_t index = 0;             // must equal the current log size (checked: appends are gap-free)
  std::string leaf;              // the exact leaf bytes that were hashed
  std::string request;           // the leaf's request id, indexed (AuditIndexesOf); empty for none
  std::vector<AuditNode> nodes;  // the leaf hash and every subtree this append completed
};

// A recorded terminal session (asciicast v2): its header and bookkeeping; the events are in
// SessionChunks. Times are Unix seconds at the storage edge, like everything else.
struct SessionRecord {
  SessionId id;
  RequestId request;
  std::string user;  // the person whose grant the session ran under
  Timestamp started_at;
  std::optional<Timestamp> ended_at;
  bool complete = false;      // the recorder's final chunk arrived; no more chunks accepted
  std::string header;         // the asciicast header line (JSON object), no newline
  int64_t chunks = 0;         // chunks stored, so also the next expected sequence number
  int64_t bytes = 0;          // event bytes stored
  int64_t last_event_us = 0;  // time of the last stored event, microseconds since start
  std::string end_reason;     // "exit", "expired", "revoked", ... once complete
};

// A drill (service/drills.h): the whole path run for real against a resource's drill target, and
// what each step took. `state` is "running", "ok" or "failed".
struct DrillStep {
  std::string name;  // "request", "approval 1 (carol)", "credential", "use", "revoke"
  bool ok = false;
  int64_t ms = 0;      // milliseconds from the drill's start to the end of this step
  std::string detail;  // what failed, or what was seen (a host key fingerprint)
};
struct DrillRecord {
  std::string id;      // "dr_<n>"
  int64_t number = 0;  // n: the drill's request carries the ticket DRILL-<n>
  std::string resource;
  std::string privilege;
  int tier = 0;
  RequestId request;
  std::string started_by;  // the person, or "schedule"
  bool scheduled = false;
  std::string state = "running";
  Timestamp started_at;
  std::optional<Timestamp> finished_at;
  std::vector<DrillStep> steps;
  std::optional<int64_t> time_to_access_ms;  // request to verified use, when it got there
  std::string failure;                       // the first failed step's detail
  std::string host_key;                      // ssh: the fingerprint accepted on first use
  int64_t version = 0;
};

struct DrillFilter {
  std::optional<std::string> resource;
  std::optional<Timestamp> since;  // started_at >= since
  int limit = 100;                 // newest first, at most 1000
};

// One piece of a recording: asciicast event lines, each ending in '\n'.
struct SessionChunk {
  SessionId session;
  int64_t seq = 0;
  std::string data;
  std::string sha256;  // lower-case hex SHA-256 of data
  Timestamp received_at;
};

struct SessionFilter {
  std::optional<RequestId> request;
  std::optional<std::string> user;
  int limit = 100;  // oldest first
};

// A single atomic unit of change.
struct WriteBatch {
  // Requests to insert or replace. `expected_version` 0 inserts (fails if the id exists);
  // otherwise the stored version must equal it. The stored version becomes expected + 1.
  struct RequestWrite {
    core::Request request;
    int64_t expected_version = 0;
  };
  std::vector<RequestWrite> requests;
  std::vector<UserRecord> users;            // insert or replace by name
  std::vector<TokenRecord> tokens;          // insert
  std::vector<TokenRecord> tokens_updated;  // replace by token_hash; nothing if it is gone
  std::vector<std::string> tokens_deleted;  // by token_hash
  std::vector<TimerRecord> timers;          // insert (id ignored)
  std::vector<int64_t> timers_deleted;
  std::vector<OutboxJob> outbox;                          // insert when id == 0, else update
  std::vector<int64_t> outbox_deleted;                    // done
  std::vector<AuditAppend> audit;                         // appended in order
  std::vector<std::pair<std::string, std::string>> meta;  // key/value settings, upsert
  struct SourceUse {
    std::string user;
    std::string address;
    Timestamp at;
  };
  std::vector<SourceUse> sources;  // upsert (user, address) -> last seen

  // Sessions: `expected_chunks` < 0 inserts (Conflict if the id exists); otherwise the stored
  // chunk count must equal it (Conflict if not, or if the session is missing). Chunks are
  // inserted after the sessions of the batch; a (session, seq) already stored or a session
  // that does not exist is Conflict.
  struct SessionWrite {
    SessionRecord session;
    int64_t expected_chunks = -1;
  };
  std::vector<SessionWrite> sessions;
  std::vector<SessionChunk> chunks;

  // Post-incident reviews: `expected_version` 0 inserts (Conflict if the id or the subject
  // already has one: one review per request); otherwise the stored version must equal it.
  struct ReviewWrite {
    core::Review review;
    int64_t expected_version = 0;
  };
  std::vector<ReviewWrite> reviews = {};

  // Attestation campaigns: `expected_version` 0 inserts (Conflict if the id exists); otherwise
  // the stored version must equal it.
  struct CampaignWrite {
    core::Campaign campaign;
    int64_t expected_version = 0;
  };
  std::vector<CampaignWrite> campaigns = {};

  // Drills: `expected_version` 0 inserts (Conflict if the id exists); otherwise the stored
  // version must equal it.
  struct DrillWrite {
    DrillRecord drill;
    int64_t expected_version = 0;
  };
  std::vector<DrillWrite> drills = {};

  bool empty() const;
};

struct RequestFilter {
  std::optional<core::RequestState> state;
  std::optional<std::string> requester;
  std::optional<Timestamp> created_since;
  int limit = 100;        // newest first
  std::string before_id;  // paging: only requests created before this one
};

struct ReviewFilter {
  std::optional<core::ReviewState> state;
  std::optional<std::string> requester;
  std::optional<std::string> subject;   // core::Review::Subject()
  std::optional<Timestamp> due_before;  // due_at < this
  std::optional<bool> overdue_alerted;
  int limit = 100;       // soonest due first (ties by id)
  std::string after_id;  // paging: only reviews after this one in that order
};

class Store {
 public:
  virtual ~Store() = default;

  // Atomic: every write of the batch or none. Conflict on a version mismatch or duplicate id,
  // FailedPrecondition on an audit index that is not the log size, Unavailable on I/O failure.
  virtual Status Commit(const WriteBatch& batch) = 0;

  // A store that other processes write to at the same time (PostgreSQL, replicas) calls
  // `changed` on a thread of its own soon after any of them committed audit leaves, timers or
  // outbox jobs, and after it reconnected (changes may have been missed), so pollers need not
  // wait for their next round. Best effort: pollers still poll. The default calls nothing.
  // Setting another (nullptr: none) waits for a call in progress; the store stops calling it
  // when destroyed.
  virtual void WatchChanges(std::function<void()> changed) { (void)changed; }

  // A database that several servers write to: from BeginExclusive until EndExclusive no other
  // server's BeginExclusive returns, so a writer that reads, decides and commits inside it
  // meets no commit of another in between (without it, writers racing for the audit log's end
  // may each keep losing to the others). True when held; false when it could not be had in
  // time (the holder hangs) or the store has no such thing: the default, for a database with
  // one writing server. Without it the caller goes on, its commit still checked as always.
  virtual bool BeginExclusive() { return false; }
  virtual void EndExclusive() {}

  virtual Result<std::optional<core::Request>> GetRequest(const RequestId& id) = 0;
  virtual Result<std::vector<core::Request>> ListRequests(const RequestFilter& filter) = 0;
  // Requests not in a terminal state (loaded at start to rebuild in-memory indexes).
  virtual Result<std::vector<core::Request>> ListOpenRequests() = 0;
  // Counts at most `at_most` (so a burst check stays cheap however many requests exist).
  virtual Result<int64_t> CountRequestsSince(const std::string& requester, Timestamp since,
                                             int64_t at_most) = 0;
  // {state name -> count}, for /metrics: of drills' requests (`drills`), or of all others.
  virtual Result<std::vector<std::pair<std::string, int64_t>>> CountRequestsByState(
      bool drills) = 0;

  virtual Result<std::optional<UserRecord>> GetUser(const std::string& name) = 0;
  virtual Result<std::vector<UserRecord>> ListUsers() = 0;

  virtual Result<std::optional<TokenRecord>> GetToken(const std::string& token_hash) = 0;

  virtual Result<std::vector<TimerRecord>> ListTimers() = 0;
  virtual Result<std::vector<OutboxJob>> ListOutbox() = 0;

  virtual Result<bool> HasUsedSource(const std::string& user, const std::string& address) = 0;

  virtual Result<std::optional<std::string>> GetMeta(const std::string& key) = 0;

  // Audit log.
  virtual Result<int64_t> AuditSize() = 0;
  // Leaves [start, end), at most `end - start`; fewer if the log is shorter.
  virtual Result<std::vector<std::string>> AuditLeaves(int64_t start, int64_t end) = 0;
  // Stored node hashes; a missing node is NotFound.
  virtual Result<std::string> AuditNodeHash(int level, int64_t index) = 0;
  // The indexes of the leaves about request `id`, ascending (at most `limit`).
  virtual Result<std::vector<int64_t>> AuditIndexesOf(const RequestId& id, int limit) = 0;

  // Post-incident reviews.
  virtual Result<std::optional<core::Review>> GetReview(const std::string& id) = 0;
  virtual Result<std::vector<core::Review>> ListReviews(const ReviewFilter& filter) = 0;
  // How many reviews match `filter` (its limit and after_id ignored), for /metrics and status.
  virtual Result<int64_t> CountReviews(const ReviewFilter& filter) = 0;

  // Attestation campaigns. ListCampaigns: oldest first (by opening), at most `limit`, only those
  // in `state` when given.
  virtual Result<std::optional<core::Campaign>> GetCampaign(const std::string& id) = 0;
  virtual Result<std::vector<core::Campaign>> ListCampaigns(
      std::optional<core::CampaignState> state, int limit) = 0;

  // Drills. LastSuccessfulDrills: {resource -> when its latest successful drill finished}.
  virtual Result<std::optional<DrillRecord>> GetDrill(const std::string& id) = 0;
  virtual Result<std::vector<DrillRecord>> ListDrills(const DrillFilter& filter) = 0;
  virtual Result<std::map<std::string, Timestamp>> LastSuccessfulDrills() = 0;

  // Recorded sessions. The defaults answer FailedPrecondition (a backend, or a test wrapper,
  // that keeps no recordings); every real backend overrides all three.
  virtual Result<std::optional<SessionRecord>> GetSession(const SessionId& id);
  // Oldest first by start time (ties in insertion order), at most filter.limit (<= 1000).
  virtual Result<std::vector<SessionRecord>> ListSessions(const SessionFilter& filter);
  // Chunks with seq in [from_seq, from_seq + limit), in order.
  virtual Result<std::vector<SessionChunk>> GetSessionChunks(const SessionId& id, int64_t from_seq,
                                                             int64_t limit);
};

// Opens (creating if needed) the store named by `spec`: "sqlite" (the file breakglass.db in
// data_dir), "sqlite:PATH", or "postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?…]" (also
// "postgres://"; a query parameter password_file=PATH, relative to data_dir, holds the password
// instead, or libpq's PGPASSFILE). Applies schema migrations. Unknown kinds are InvalidArgument.
Result<std::unique_ptr<Store>> OpenStore(const std::string& spec, const std::string& data_dir);

}  // namespace bg::store
