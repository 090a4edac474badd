#include "service/audit_log.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "audit/event.h"
#include "log/json_log.h"
#include "util/random.h"

namespace bg::service {
namespace {

constexpr char kSigningKeyMeta[] = "audit.signing_key";
constexpr char kHmacKeyMeta[] = "audit.hmac_key";

// Loads a secret sealed under the master key from the store's meta table, creating it with
// `make` on first use.
Result<Secret> LoadOrCreateSealed(store::Store& store, const auth::MasterKey& master,
                                  const std::string& key, const std::function<Secret()>& make) {
  BG_ASSIGN_OR_RETURN(auto sealed, store.GetMeta(key));
  if (sealed) return auth::Open(master, *sealed, key);
  Secret fresh = make();
  store::WriteBatch batch;
  batch.meta.emplace_back(key, auth::Seal(master, fresh, key));
  BG_TRY(store.Commit(batch));
  return fresh;
}

}  // namespace

store::AuditAppend AuditAppender::Append(std::string leaf) {
  store::AuditAppend out;
  out.index = range_.Size();
  for (auto& n : range_.Append(audit::HashLeaf(leaf))) {
    out.nodes.push_back({n.level, n.index, std::move(n.hash)});
  }
  out.leaf = std::move(leaf);
  return out;
}

int64_t AuditAppender::size() const { return range_.Size(); }

AuditLog::AuditLog(store::Store& store, std::string origin, audit::NoteSigner signer,
                   Secret hmac_key)
    : store_(store),
      origin_(std::move(origin)),
      signer_(std::move(signer)),
      hmac_key_(std::move(hmac_key)) {}

Result<std::unique_ptr<AuditLog>> AuditLog::Open(store::Store& store,
                                                 const auth::MasterKey& master_key,
                                                 std::string origin) {
  if (!audit::IsValidKeyName(origin)) {
    return Error::InvalidArgument("audit.origin",
                                  "must be a non-empty name without spaces or '+'");
  }
  std::optional<Error> gen_error;
  BG_ASSIGN_OR_RETURN(Secret signer_key,
                      LoadOrCreateSealed(store, master_key, kSigningKeyMeta, [&] {
                        auto s = audit::NoteSigner::Generate(origin);
                        if (!s) {
                          gen_error = s.error();
                          return Secret();
                        }
                        return s->SignerKey();
                      }));
  if (gen_error) return *gen_error;
  BG_ASSIGN_OR_RETURN(audit::NoteSigner signer, audit::NoteSigner::FromSignerKey(signer_key));
  BG_ASSIGN_OR_RETURN(Secret hmac_key, LoadOrCreateSealed(store, master_key, kHmacKeyMeta, [] {
                        return Secret(SystemRandom::Get().Bytes(32));
                      }));
  std::string name = signer.name();  // the key's name is the log's origin, stable across restarts
  std::unique_ptr<AuditLog> log(
      new AuditLog(store, std::move(name), std::move(signer), std::move(hmac_key)));
  BG_TRY(log->Reload());
  return log;
}

Status AuditLog::Reload() {
  BG_ASSIGN_OR_RETURN(int64_t size, store_.AuditSize());
  audit::CompactRange range;
  {
    std::lock_guard lock(mu_);
    if (size <= range_.Size()) return Ok();
    range = range_;
  }
  constexpr int64_t kCatchUpLeaves = 4096;
  if (size - range.Size() <= kCatchUpLeaves) {
    // Another writer appended a few: one read of their leaves extends the edge (a rebuild
    // would read popcount(size) nodes, one round trip each, while replicas wait for this
    // writer). The leaves are the ones stored: hashing them gives the nodes stored for them.
    BG_ASSIGN_OR_RETURN(auto leaves, store_.AuditLeaves(range.Size(), size));
    if (static_cast<int64_t>(leaves.size()) != size - range.Size()) {
      return Error::Internal("the audit log's leaves are not all in the store");
    }
    for (const std::string& leaf : leaves) range.Append(audit::HashLeaf(leaf));
  } else {
    BG_ASSIGN_OR_RETURN(range, audit::CompactRange::Load(size, [this](int level, int64_t index) {
                          return store_.AuditNodeHash(level, index);
                        }));
  }
  std::lock_guard lock(mu_);
  if (range.Size() >= range_.Size()) range_ = std::move(range);
  return Ok();
}

AuditAppender AuditLog::Appender() const {
  std::lock_guard lock(mu_);
  return AuditAppender(range_);
}

void AuditLog::Adopt(const AuditAppender& committed) {
  std::lock_guard lock(mu_);
  range_ = committed.range();
}

std::string AuditLog::Encode(const core::AuditEvent& event, Timestamp now) const {
  return audit::EncodeLeaf(event, now);
}

std::string AuditLog::Hmac(std::string_view value) const {
  return audit::HmacField(hmac_key_, value);
}

int64_t AuditLog::Size() const {
  std::lock_guard lock(mu_);
  return range_.Size();
}

Result<SignedCheckpoint> AuditLog::Checkpoint() {
  // Signing and storing run under checkpoint_mu_ alone, never under mu_: the writer needs mu_
  // (Adopt) while it may hold the store, and the store commit below may wait for the writer.
  std::lock_guard serial(checkpoint_mu_);
  audit::Checkpoint cp;
  {
    std::lock_guard lock(mu_);
    // Never a smaller one than was handed out (the stored one only grows).
    if (!last_.note.empty() && last_.size >= range_.Size()) return last_;
    cp = audit::Checkpoint{origin_, range_.Size(), range_.Root(), {}};
  }
  BG_ASSIGN_OR_RETURN(std::string note, signer_.Sign(cp));
  store::WriteBatch batch;
  batch.meta.emplace_back(kLatestCheckpointMeta, note);
  batch.meta.emplace_back(kVerifierKeyMeta, signer_.VerifierKey());
  BG_TRY(store_.Commit(batch));
  std::lock_guard lock(mu_);
  last_ = SignedCheckpoint{cp.size, cp.root, std::move(note)};
  return last_;
}

std::string AuditLog::VerifierKey() const { return signer_.VerifierKey(); }

Result<std::vector<std::string>> AuditLog::InclusionProof(int64_t index, int64_t size) {
  const int64_t n = Size();
  if (size > n) return Error::InvalidArgument("size", "exceeds the log size");
  return audit::InclusionProof(index, size, [this](int level, int64_t i) {
    return store_.AuditNodeHash(level, i);
  });
}

Result<AuditTrail> AuditLog::TrailOf(const RequestId& id, int limit) {
  AuditTrail trail;
  BG_ASSIGN_OR_RETURN(trail.checkpoint, Checkpoint());
  const int64_t size = trail.checkpoint.size;
  BG_ASSIGN_OR_RETURN(auto indexes, store_.AuditIndexesOf(id, limit));
  for (int64_t i : indexes) {
    if (i >= size) break;
    BG_ASSIGN_OR_RETURN(auto leaf, store_.AuditLeaves(i, i + 1));
    if (leaf.empty()) continue;
    BG_ASSIGN_OR_RETURN(auto proof, InclusionProof(i, size));
    trail.entries.push_back({i, std::move(leaf.front()), std::move(proof)});
  }
  return trail;
}

Status VerifyTrail(const AuditTrail& trail, std::string_view verifier_key) {
  BG_ASSIGN_OR_RETURN(audit::Checkpoint cp,
                      audit::ParseAndVerifyCheckpoint(trail.checkpoint.note, verifier_key));
  for (const AuditTrail::Entry& e : trail.entries) {
    Status s = audit::VerifyInclusion(audit::HashLeaf(e.leaf), e.index, cp.size, e.proof, cp.root);
    if (!s) {
      return Error::Internal(
          fmt::format("audit entry {} does not verify against the checkpoint of size {}: {}",
                      e.index, cp.size, s.error().message()));
    }
  }
  return Ok();
}

Result<std::vector<std::string>> AuditLog::ConsistencyProof(int64_t first, int64_t second) {
  const int64_t n = Size();
  if (second > n) return Error::InvalidArgument("second", "exceeds the log size");
  return audit::ConsistencyProof(first, second, [this](int level, int64_t i) {
    return store_.AuditNodeHash(level, i);
  });
}

Result<std::unique_ptr<AuditFollower>> AuditFollower::Open(store::Store& store, AuditLog& log,
                                                           Deliver deliver) {
  BG_ASSIGN_OR_RETURN(int64_t size, store.AuditSize());
  BG_ASSIGN_OR_RETURN(auto mark, store.GetMeta(kForwardedMeta));
  int64_t next = size, stored = -1;
  if (mark) {
    int64_t v = -1;
    auto [p, ec] = std::from_chars(mark->data(), mark->data() + mark->size(), v);
    if (ec == std::errc() && p == mark->data() + mark->size() && v >= 0 && v <= size) {
      next = stored = v;
    }
  }
  return std::unique_ptr<AuditFollower>(
      new AuditFollower(store, log, std::move(deliver), next, stored));
}

AuditFollower::AuditFollower(store::Store& store, AuditLog& log, Deliver deliver, int64_t next,
                             int64_t stored_mark)
    : store_(store),
      log_(log),
      deliver_(std::move(deliver)),
      next_(next),
      stored_mark_(stored_mark) {}

AuditFollower::~AuditFollower() { Stop(); }

int64_t AuditFollower::next() const {
  std::lock_guard lock(mu_);
  return next_;
}

Status AuditFollower::DeliverUpTo(int64_t end) {
  constexpr int64_t kPage = 1000;
  while (next_ < end) {
    BG_ASSIGN_OR_RETURN(auto leaves, store_.AuditLeaves(next_, std::min(end, next_ + kPage)));
    if (leaves.empty()) return Error::Internal(fmt::format("no audit leaf {} in the store", next_));
    for (const std::string& leaf : leaves) deliver_(next_++, leaf, true);
  }
  return Ok();
}

void AuditFollower::OnCommitted(int64_t index, const std::string& leaf) {
  std::lock_guard lock(mu_);
  if (index < next_) return;  // already delivered by a poll
  // Leaves before it that another process appended: from the store first, in order.
  if (index > next_ && !DeliverUpTo(index).has_value()) return;  // the next poll retries
  deliver_(index, leaf, false);
  next_ = index + 1;
}

Status AuditFollower::Poll() {
  BG_ASSIGN_OR_RETURN(int64_t size, store_.AuditSize());
  if (size > log_.Size()) BG_TRY(log_.Reload());
  {
    std::lock_guard lock(mu_);
    BG_TRY(DeliverUpTo(size));
  }
  if (!store_mark_.load()) return Ok();
  return StoreMark();
}

Status AuditFollower::StoreMark() {
  const int64_t at = next();
  if (at == stored_mark_) return Ok();
  store::WriteBatch batch;
  batch.meta.emplace_back(kForwardedMeta, std::to_string(at));
  BG_TRY(store_.Commit(batch));
  stored_mark_ = at;
  return Ok();
}

void AuditFollower::PollOrWarn() {
  if (auto s = Poll(); !s) log::Warn("audit.follow_failed", {{"error", s.error().message()}});
}

void AuditFollower::Start(std::chrono::milliseconds interval) {
  if (polling_.exchange(true)) return;
  poller_.Start(interval);
}

void AuditFollower::Wake() { poller_.Wake(); }

void AuditFollower::Stop() {
  if (!polling_.exchange(false)) return;
  poller_.Stop();
  PollOrWarn();
}

}  // namespace bg::service
