#include "service/audit_log.h"

#include "audit/event.h"
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
  BG_ASSIGN_OR_RETURN(audit::CompactRange range,
                      audit::CompactRange::Load(size, [this](int level, int64_t index) {
                        return store_.AuditNodeHash(level, index);
                      }));
  std::lock_guard lock(mu_);
  range_ = std::move(range);
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

Result<std::vector<std::string>> AuditLog::ConsistencyProof(int64_t first, int64_t second) {
  const int64_t n = Size();
  if (second > n) return Error::InvalidArgument("second", "exceeds the log size");
  return audit::ConsistencyProof(first, second, [this](int level, int64_t i) {
    return store_.AuditNodeHash(level, i);
  });
}

}  // namespace bg::service
