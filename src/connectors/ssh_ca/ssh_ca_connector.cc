#include "connectors/ssh_ca/ssh_ca_connector.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "connectors/common/process.h"
#include "service/recording_check.h"
#include "util/fs.h"
#include "ssh/krl.h"

namespace bg::connectors {

using nlohmann::json;

namespace {

constexpr std::string_view kCaKey = "ca_key";
constexpr std::string_view kNextSerial = "next_serial";
constexpr std::string_view kRevoked = "revoked";
std::string GrantKey(const RequestId& id) { return "grant/" + id.value(); }

// A grant's certificates: the serials issued (as inclusive ranges) and the latest valid-before.
struct GrantRecord {
  bool revoked = false;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  int64_t until = 0;

  std::string ToJson() const {
    json r = json::array();
    for (auto [lo, hi] : ranges) r.push_back({lo, hi});
    return json{{"revoked", revoked}, {"ranges", r}, {"until", until}}.dump();
  }
  static Result<GrantRecord> FromJson(const std::string& text) {
    try {
      json j = json::parse(text);
      GrantRecord g;
      g.revoked = j.at("revoked").get<bool>();
      g.until = j.at("until").get<int64_t>();
      for (const auto& r : j.at("ranges")) {
        g.ranges.emplace_back(r.at(0).get<uint64_t>(), r.at(1).get<uint64_t>());
      }
      return g;
    } catch (const json::exception&) {
      return Error::Internal("ssh_ca: stored grant record is corrupt");
    }
  }
};

}  // namespace

std::string CertificateKeyId(const core::Request& grant) {
  return ssh::PrintableKeyId(fmt::format("breakglass:{}:{}", grant.id.value(), grant.requester));
}

SshCaConnector::SshCaConnector(ConnectorState state, const Clock& clock, Random& random,
                               ssh::Ed25519PrivateKey ca)
    : state_(std::move(state)), clock_(clock), random_(random), ca_(std::move(ca)) {}

Result<std::unique_ptr<SshCaConnector>> SshCaConnector::Create(const connector::PluginConfig& config,
                                                               const connector::ConnectorContext& context,
                                                               bool create_ca) {
  BG_ASSIGN_OR_RETURN(Options opts, Options::Parse(config, {"extensions", "force_command",
                                                            "source_address", "backdate"}));
  BG_ASSIGN_OR_RETURN(auto ext_names, opts.StringArray("extensions", {}));
  std::set<ssh::Extension> extensions;
  for (const auto& name : ext_names) {
    auto e = ssh::ParseExtension(name);
    if (!e) return Error::InvalidArgument(opts.Field("extensions"), e.error().message());
    extensions.insert(*e);
  }
  std::optional<std::string> force_command, source_address;
  if (opts.Has("force_command")) {
    BG_ASSIGN_OR_RETURN(force_command, opts.String("force_command", std::nullopt));
  }
  if (opts.Has("source_address")) {
    BG_ASSIGN_OR_RETURN(source_address, opts.String("source_address", std::nullopt));
  }
  BG_ASSIGN_OR_RETURN(Seconds backdate, opts.Duration("backdate", Seconds(120)));
  if (backdate > Seconds(3600)) {
    return Error::InvalidArgument(opts.Field("backdate"), "must be at most 1h");
  }

  ConnectorState state(config.name, context.state);
  BG_ASSIGN_OR_RETURN(auto sealed, state.GetSealed(kCaKey));
  std::optional<ssh::Ed25519PrivateKey> ca;
  if (sealed) {
    auto k = ssh::Ed25519PrivateKey::FromStorageBytes(*sealed);
    if (!k) return Error::Internal("ssh_ca " + config.name + ": stored CA key is unusable");
    ca.emplace(std::move(*k));
  } else if (!create_ca) {
    return Error::FailedPrecondition("ssh_ca " + config.name +
                                     ": no CA key yet (it is created when the server starts)");
  } else {
    ca.emplace(ssh::Ed25519PrivateKey::Generate(context.random));
    BG_TRY(state.Put(kCaKey, state.Seal(kCaKey, ca->StorageBytes())));
  }
  std::unique_ptr<SshCaConnector> c(new SshCaConnector(std::move(state), context.clock, context.random, std::move(*ca)));
  c->extensions_ = std::move(extensions);
  c->force_command_ = std::move(force_command);
  c->source_address_ = std::move(source_address);
  c->backdate_ = backdate;
  BG_TRY(c->LoadRevoked());
  // The options are checked once here, on a throwaway certificate, so a bad source_address
  // fails the server start instead of every issuance.
  ssh::CertificateSpec probe{ca->public_key(), 1, "probe", {"probe"}, context.clock.Now(),
                             context.clock.Now() + Seconds(60)};
  probe.force_command = c->force_command_;
  probe.source_address = c->source_address_;
  probe.extensions = c->extensions_;
  if (auto s = ssh::ValidateCertificateSpec(probe); !s) {
    return Error::InvalidArgument("connectors." + config.name, s.error().message());
  }
  return c;
}

Status SshCaConnector::LoadRevoked() {
  BG_ASSIGN_OR_RETURN(auto next, state_.Get(kNextSerial));
  BG_ASSIGN_OR_RETURN(auto revoked, state_.Get(kRevoked));
  std::lock_guard lock(mu_);
  next_serial_ = next ? std::stoull(*next) : 1;
  revoked_.clear();
  krl_version_ = 0;
  if (revoked) {
    try {
      json j = json::parse(*revoked);
      krl_version_ = j.at("version").get<uint64_t>();
      for (const auto& r : j.at("ranges")) {
        const uint64_t lo = r.at(0).get<uint64_t>(), hi = r.at(1).get<uint64_t>();
        if (hi < lo) return Error::Internal("ssh_ca: stored revoked range is inverted");
        // Written so that hi = 2^64-1 (an offline serial can be) ends the loop.
        for (uint64_t s = lo;; ++s) {
          revoked_[s] = r.at(2).get<int64_t>();
          if (s == hi) break;
        }
      }
    } catch (const json::exception&) {
      return Error::Internal("ssh_ca " + state_.instance() + ": stored revoked set is corrupt");
    }
  }
  return Ok();
}

std::string SshCaConnector::PublicKeyLine() const {
  return ca_.PublicKeyLine("breakglass-ca:" + state_.instance());
}

Status SshCaConnector::Grant(const core::Request&) { return Probe(); }

Status SshCaConnector::Probe() {
  static constexpr std::string_view kMessage = "breakglass ssh_ca probe";
  // The stored key must still open and be the one in memory.
  BG_ASSIGN_OR_RETURN(auto sealed, state_.GetSealed(kCaKey));
  if (!sealed || !sealed->Equals(ca_.StorageBytes())) {
    return Error::Internal("ssh_ca " + state_.instance() + ": stored CA key changed or vanished");
  }
  return ssh::VerifyEd25519Signature(ca_.public_key(), kMessage, ca_.Sign(kMessage));
}

Result<IssuedCertificate> SshCaConnector::IssueCertificate(const core::Request& grant,
                                                           std::string_view public_key_line) {
  auto key = ssh::PublicKey::ParseLine(public_key_line);
  if (!key) return Error::InvalidArgument("public_key", key.error().message());
  const Timestamp now = clock_.Now();
  if (grant.state != core::RequestState::kActive || !grant.starts_at || !grant.ends_at ||
      now >= *grant.ends_at) {
    return Error::FailedPrecondition("the grant is not active");
  }
  const bool drill = !grant.drill_id.empty();
  if (drill && (!grant.drill_target || grant.drill_target->principal.empty())) {
    return Error::FailedPrecondition("the drill grant has no drill principal");
  }
  ssh::CertificateSpec spec{*key, 0, CertificateKeyId(grant),
                            {drill ? grant.drill_target->principal : grant.privilege},
                            *grant.starts_at - backdate_,
                            *grant.ends_at};
  const bool required = !drill && grant.recording == core::Recording::kRequired;
  if (required && !(force_command_ && service::RunsRecorder(*force_command_))) {
    return Error::FailedPrecondition(
        "the rule requires recorded sessions (recording = \"required\") and connector " +
        state_.instance() + " does not force the recorder (force_command)");
  }
  if (force_command_ && !drill) {
    std::string cmd = *force_command_;
    for (size_t p = cmd.find("%g"); p != std::string::npos; p = cmd.find("%g", p)) {
      cmd.replace(p, 2, grant.id.value());
      p += grant.id.value().size();
    }
    // The certificate carries the rule's choice, so the recorder knows it even when it cannot
    // reach the server: right after `record`, before any `--` and the program.
    if (required) {
      const size_t at = cmd.find(" record");
      if (at != std::string::npos) cmd.insert(at + 7, " --recording required");
    }
    spec.force_command = std::move(cmd);
  }
  spec.source_address = source_address_;
  spec.extensions = extensions_;

  std::lock_guard lock(mu_);
  // Serials are reserved per grant in blocks: the block is stored (counter and grant record in
  // one commit) before any certificate from it leaves, so revocation covers every serial that
  // may have been issued, and most issuances need no write at all.
  Cursor& cur = cursors_[grant.id.value()];
  if (cur.revoked) return Error::FailedPrecondition("the grant was revoked");
  const int64_t valid_before = ToUnixSeconds(spec.valid_before);
  if (cur.next > cur.last || valid_before > cur.until) {
    BG_ASSIGN_OR_RETURN(auto stored, state_.Get(GrantKey(grant.id)));
    GrantRecord record;
    if (stored) {
      BG_ASSIGN_OR_RETURN(record, GrantRecord::FromJson(*stored));
    }
    if (record.revoked) return Error::FailedPrecondition("the grant was revoked");
    std::vector<std::pair<std::string, std::string>> writes;
    uint64_t next = next_serial_;
    if (cur.next > cur.last) {
      record.ranges.emplace_back(next_serial_, next_serial_ + kSerialBlock - 1);
      next = next_serial_ + kSerialBlock;
      writes.emplace_back(std::string(kNextSerial), std::to_string(next));
    }
    record.until = std::max(record.until, valid_before);
    writes.emplace_back(GrantKey(grant.id), record.ToJson());
    BG_TRY(state_.Put(writes));
    if (cur.next > cur.last) {
      cur.next = next_serial_;
      cur.last = next - 1;
    }
    cur.until = record.until;
    next_serial_ = next;
  }
  spec.serial = cur.next;
  BG_ASSIGN_OR_RETURN(std::string line, ssh::SignCertificate(spec, ca_, random_));
  ++cur.next;
  return IssuedCertificate{std::move(line), spec.serial, spec.valid_after, spec.valid_before};
}

Status SshCaConnector::Revoke(const core::Request& grant) {
  std::lock_guard lock(mu_);
  BG_ASSIGN_OR_RETURN(auto stored, state_.Get(GrantKey(grant.id)));
  GrantRecord record;
  if (stored) {
    BG_ASSIGN_OR_RETURN(record, GrantRecord::FromJson(*stored));
  }
  const int64_t now = ToUnixSeconds(clock_.Now());
  auto next_revoked = revoked_;
  bool changed = false;
  for (auto [lo, hi] : record.ranges) {
    for (uint64_t s = lo; s <= hi; ++s) {
      if (record.until > now && !next_revoked.count(s)) {
        next_revoked[s] = record.until;
        changed = true;
      }
    }
  }
  std::vector<std::pair<std::string, std::string>> writes;
  if (!record.revoked) {
    record.revoked = true;
    writes.emplace_back(GrantKey(grant.id), record.ToJson());
  }
  BG_TRY(CommitRevoked(std::move(next_revoked), changed, std::move(writes)));
  cursors_[grant.id.value()] = Cursor{1, 0, 0, /*revoked=*/true};
  return Ok();
}

Status SshCaConnector::RevokeSerial(uint64_t serial, Timestamp valid_before) {
  if (serial == 0) return Error::InvalidArgument("serial", "must be non-zero");
  std::lock_guard lock(mu_);
  const int64_t until = ToUnixSeconds(valid_before);
  auto next_revoked = revoked_;
  bool changed = false;
  if (until > ToUnixSeconds(clock_.Now())) {
    auto it = next_revoked.find(serial);
    if (it == next_revoked.end()) {
      next_revoked.emplace(serial, until);
      changed = true;
    } else if (it->second < until) {
      it->second = until;
      changed = true;
    }
  }
  return CommitRevoked(std::move(next_revoked), changed, {});
}

Status SshCaConnector::CommitRevoked(std::map<uint64_t, int64_t> next_revoked, bool changed,
                                     std::vector<std::pair<std::string, std::string>> writes) {
  const int64_t now = ToUnixSeconds(clock_.Now());
  // Certificates past their valid-before need no KRL entry: sshd refuses them anyway.
  for (auto it = next_revoked.begin(); it != next_revoked.end();) {
    if (it->second <= now) {
      it = next_revoked.erase(it);
      changed = true;
    } else {
      ++it;
    }
  }
  uint64_t version = krl_version_ + (changed ? 1 : 0);
  if (changed) {
    json ranges = json::array();
    for (auto it = next_revoked.begin(); it != next_revoked.end();) {
      uint64_t lo = it->first, hi = it->first;
      int64_t until = it->second;
      auto jt = std::next(it);
      while (jt != next_revoked.end() && jt->first == hi + 1 && jt->second == until) {
        hi = jt->first;
        ++jt;
      }
      ranges.push_back({lo, hi, until});
      it = jt;
    }
    writes.emplace_back(kRevoked, json{{"version", version}, {"ranges", ranges}}.dump());
  }
  if (!writes.empty()) BG_TRY(state_.Put(writes));
  revoked_ = std::move(next_revoked);
  krl_version_ = version;
  return Ok();
}

Result<std::string> SshCaConnector::Krl() {
  ssh::KrlSpec spec{ca_.public_key()};
  const int64_t now = ToUnixSeconds(clock_.Now());
  {
    std::lock_guard lock(mu_);
    for (auto [serial, until] : revoked_) {
      if (until > now) spec.revoked_serials.insert(serial);
    }
    spec.krl_version = krl_version_;
  }
  spec.generated_at = clock_.Now();
  spec.comment = "breakglass " + state_.instance();
  return ssh::BuildKrl(spec);
}

uint64_t SshCaConnector::krl_version() {
  std::lock_guard lock(mu_);
  return krl_version_;
}

namespace {

// A private temporary directory (0700), removed with everything in it on destruction.
class TempDir {
 public:
  static Result<TempDir> Make() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base != nullptr && *base != '\0' ? base : "/tmp") +
                       "/breakglass-drill-XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) return fs::OsError("create", tmpl, errno);
    return TempDir(std::move(tmpl));
  }
  TempDir(TempDir&& o) noexcept : path_(std::move(o.path_)) { o.path_.clear(); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  TempDir& operator=(TempDir&&) = delete;
  ~TempDir() {
    if (path_.empty()) return;
    for (const char* name : {"key", "key.pub", "key-cert.pub", "known_hosts", "known_hosts.old"}) {
      unlink((path_ + "/" + name).c_str());
    }
    rmdir(path_.c_str());
  }
  std::string File(std::string_view name) const { return path_ + "/" + std::string(name); }

 private:
  explicit TempDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

constexpr std::chrono::seconds kDrillSshTimeout{30};

std::string Trimmed(std::string line) {
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  return line.substr(0, 300);
}
std::string FirstLine(const std::string& text) { return Trimmed(text.substr(0, text.find('\n'))); }
// ssh says why it gave up last ("Host key verification failed."), after banners of '@'.
std::string Reason(const std::string& err) {
  std::string reason;
  size_t start = 0;
  while (start < err.size()) {
    size_t end = err.find('\n', start);
    if (end == std::string::npos) end = err.size();
    std::string line = Trimmed(err.substr(start, end - start));
    if (line.find_first_not_of("@ ") != std::string::npos) reason = line;
    start = end + 1;
  }
  return reason;
}

Result<ProcessResult> Run(const std::vector<std::string>& argv, std::string_view what) {
  BG_ASSIGN_OR_RETURN(ProcessResult r, RunProcess(argv, "", kDrillSshTimeout));
  if (r.timed_out) {
    return Error::Unavailable(fmt::format("{} timed out after {}s", what, kDrillSshTimeout.count()));
  }
  if (r.exit_code != 0) {
    std::string why = Reason(r.err);
    return Error::Unavailable(fmt::format("{} exited with {}{}{}", what,
                                          r.exit_code < 0 ? std::string("a signal")
                                                          : "status " + std::to_string(r.exit_code),
                                          why.empty() ? "" : ": ", why));
  }
  return r;
}

}  // namespace

Result<connector::DrillUse> SshCaConnector::UseDrillGrant(const core::Request& grant,
                                                          const Issued& issued) {
  if (grant.drill_id.empty() || !grant.drill_target) {
    return Error::FailedPrecondition("not a drill grant");
  }
  const core::DrillTarget& target = *grant.drill_target;
  BG_ASSIGN_OR_RETURN(TempDir dir, TempDir::Make());
  BG_TRY(Run({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "breakglass-drill " +
              grant.drill_id, "-f", dir.File("key")},
             "ssh-keygen"));
  BG_ASSIGN_OR_RETURN(std::string pub, fs::ReadWholeFile(dir.File("key.pub")));
  while (!pub.empty() && (pub.back() == '\n' || pub.back() == '\r')) pub.pop_back();
  BG_ASSIGN_OR_RETURN(IssuedCertificate cert, IssueCertificate(grant, pub));
  connector::DrillCredential made;
  made.kind = connector::DrillCredential::Kind::kSshCertificate;
  made.public_key_line = pub;
  made.certificate = cert;
  made.principals = {target.principal};
  BG_TRY(issued(made));
  BG_TRY(fs::WriteNewFile(dir.File("key-cert.pub"), cert.certificate + "\n", 0600));
  const bool pinned = !target.known_hosts.empty();
  const std::string known = pinned ? target.known_hosts : dir.File("known_hosts");
  std::vector<std::string> argv = {
      "ssh", "-F", "/dev/null", "-i", dir.File("key"), "-o", "CertificateFile=" +
      dir.File("key-cert.pub"), "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none", "-o",
      "BatchMode=yes", "-o", "PasswordAuthentication=no", "-o", "KbdInteractiveAuthentication=no",
      "-o", "GSSAPIAuthentication=no", "-o", "ConnectTimeout=10", "-o",
      std::string("StrictHostKeyChecking=") + (pinned ? "yes" : "accept-new"), "-o",
      "UserKnownHostsFile=" + known, "-o", "GlobalKnownHostsFile=/dev/null", "-o",
      "HashKnownHosts=no", "-o", "LogLevel=ERROR", "-l", target.user, "-p",
      std::to_string(target.port), "--", target.host, "true"};
  BG_TRY(Run(argv, fmt::format("ssh {}@{} -p {} true", target.user, target.host, target.port)));
  connector::DrillUse use;
  use.detail = fmt::format("ssh {}@{} -p {} true, certificate serial {} for principal {}",
                           target.user, target.host, target.port, cert.serial, target.principal);
  if (!pinned) {
    BG_ASSIGN_OR_RETURN(ProcessResult fp, Run({"ssh-keygen", "-l", "-f", known}, "ssh-keygen -l"));
    // "256 SHA256:... host (ED25519)"
    std::string line = FirstLine(fp.out);
    size_t a = line.find(' ');
    size_t b = a == std::string::npos ? a : line.find(' ', a + 1);
    if (a != std::string::npos && b != std::string::npos) {
      use.host_key = line.substr(a + 1, b - a - 1);
      size_t paren = line.rfind('(');
      if (paren != std::string::npos) use.host_key += " " + line.substr(paren);
    }
  }
  return use;
}

}  // namespace bg::connectors
