#include "cli/sealed.h"

#include <CLI/CLI.hpp>
#include <fcntl.h>
#include <fmt/format.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <future>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>

#include "api/api.h"
#include "api/sealed_routes.h"
#include "cli/client.h"
#include "cli/common.h"
#include "cli/kit_io.h"
#include "http/http_server.h"
#include "http/tls.h"
#include "kit/kit.h"
#include "kit/offline_record.h"
#include "kit/share_line.h"
#include "kit/unseal.h"
#include "service/service.h"
#include "service/reviews.h"
#include "service/writer.h"
#include "store/store.h"
#include "util/encoding.h"
#include "util/random.h"
#include "util/sha256.h"
#include "util/time.h"
#include "util/fs.h"

namespace bg::cli {
namespace {

using nlohmann::json;

constexpr char kAuditSigningKeyMeta[] = "audit.signing_key";  // service/audit_log.cc

std::string MasterKeyPath(const service::ServerConfig& c) { return c.data_dir + "/master.key"; }
std::string ManifestPath(const service::ServerConfig& c) {
  return c.data_dir + "/" + kMasterKitFile;
}

bool Exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

Result<kit::KitManifest> LoadMasterManifest(const service::ServerConfig& config) {
  const std::string path = ManifestPath(config);
  if (!Exists(path)) {
    return Error::FailedPrecondition(fmt::format(
        "{} does not exist: this data directory is not sealed (run breakglass kit seal-master)",
        path));
  }
  BG_ASSIGN_OR_RETURN(std::string text, fs::ReadWholeFile(path));
  auto manifest = kit::ParseManifest(text);
  if (!manifest) {
    return Error::FailedPrecondition(fmt::format("{}: {}", path, manifest.error().message()));
  }
  return manifest;
}

// Ok when `candidate` is the key that sealed the store's audit signing key.
Status OpensAuditKey(store::Store& store, const Secret& candidate) {
  BG_ASSIGN_OR_RETURN(auth::MasterKey key, auth::MasterKey::FromBytes(candidate));
  BG_ASSIGN_OR_RETURN(auto sealed, store.GetMeta(kAuditSigningKeyMeta));
  if (!sealed) {
    return Error::FailedPrecondition(
        "the store holds no sealed audit key (was this data directory ever started?)");
  }
  auto opened = auth::Open(key, *sealed, kAuditSigningKeyMeta);
  if (!opened) return Error::PermissionDenied("it does not open the store's sealed audit key");
  return Ok();
}

// The events say which share and from where, never the share itself.
core::AuditEvent UnsealEvent(std::string_view line, const std::string& source,
                             const Result<kit::UnsealProgress>& outcome, Timestamp at) {
  core::AuditEvent e;
  e.type = "sys.unseal";
  e.actor = "keyholder@" + source;
  e.details["source"] = source;
  e.details["submitted_at"] = FormatRfc3339(at);
  if (auto share = kit::ParseShareLine(line); share) {
    e.details["kit_id"] = share->kit_id;
    e.details["share_index"] = std::to_string(share->index);
  }
  if (outcome) {
    e.details["outcome"] = outcome->unsealed ? "unsealed" : "accepted";
    e.details["shares_received"] = std::to_string(outcome->unsealed ? outcome->threshold
                                                                     : outcome->received);
    e.details["threshold"] = std::to_string(outcome->threshold);
  } else {
    e.details["outcome"] = "refused";
    e.details["error"] = outcome.error().message();
  }
  return e;
}

http::HttpResponse JsonOk(const json& body) { return api::Api::JsonResponse(200, body.dump()); }

// Parses {"share": "<line>"} strictly.
Result<std::string> ShareFromBody(const std::string& body) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return Error::InvalidArgument("body", "expected a JSON object {\"share\": \"<share line>\"}");
  }
  for (const auto& [k, v] : j.items()) {
    if (k != "share") return Error::InvalidArgument(k, "unknown field");
  }
  if (!j.contains("share") || !j["share"].is_string()) {
    return Error::InvalidArgument("share", "required: the share line as a string");
  }
  return j["share"].get<std::string>();
}

}  // namespace

Result<Unsealed> WaitForUnseal(const service::ServerConfig& config,
                               const std::pair<std::string, uint16_t>& listen,
                               const sigset_t& signals) {
  BG_ASSIGN_OR_RETURN(kit::KitManifest manifest, LoadMasterManifest(config));
  if (Exists(MasterKeyPath(config))) {
    return Error::FailedPrecondition(fmt::format(
        "{} exists next to {}: a sealed server keeps no key on disk; remove the key file or "
        "start without --sealed",
        MasterKeyPath(config), ManifestPath(config)));
  }
  // What the sealed server's handlers use, owned with them: the server may outlive this
  // function (it finishes its last answers while the service opens).
  struct State {
    State(kit::KitManifest m, std::unique_ptr<store::Store> s)
        : manifest(std::move(m)),
          store(std::move(s)),
          unsealer(manifest, [this](const Secret& k) { return OpensAuditKey(*store, k); }) {}
    const kit::KitManifest manifest;
    const std::unique_ptr<store::Store> store;
    kit::Unsealer unsealer;
    std::mutex events_mu;
    std::vector<core::AuditEvent> events;
    std::atomic<bool> answered{false};  // the response that unsealed has been written
  };
  // `serve` holds the directory's lock already: this only reads.
  BG_ASSIGN_OR_RETURN(service::OfflineStore opened,
                      service::OpenOfflineStore(
                          config, OfflineClaim(service::DataDirUse::kRead, "serve --sealed")));
  auto st = std::make_shared<State>(manifest, std::move(opened.store));

  http::HttpServerOptions opts;
  opts.host = listen.first;
  opts.port = listen.second;
  opts.tls = !config.plain_http;
  opts.threads = 1;
  ApplyHttpLimits(config, opts);
  if (opts.tls) {
    if (!config.tls_cert.empty()) {
      opts.cert_file = config.Resolve(config.tls_cert);
      opts.key_file = config.Resolve(config.tls_key.empty() ? "tls.key" : config.tls_key);
    } else {
      BG_ASSIGN_OR_RETURN(auto cert, http::EnsureSelfSignedCertificate(config.data_dir));
      opts.cert_file = cert.cert_path;
      opts.key_file = cert.key_path;
    }
  }
  opts.on_complete = [st](const http::HttpRequest& r, int status, double) {
    if (r.path == "/v1/sys/unseal" && status == 200 && st->unsealer.unsealed()) st->answered = true;
  };
  auto status_json = [st] {
    return json{{"status", st->unsealer.unsealed() ? "unsealed" : "sealed"},
                {"shares_received", st->unsealer.received()},
                {"threshold", st->unsealer.threshold()},
                {"kit_id", st->manifest.kit_id}};
  };
  auto health = [status_json](api::Call& c) { c.w->Send(JsonOk(status_json())); };
  auto unseal = [st, status_json](api::Call& c) {
    http::HttpRequest& req = c.req;
    auto& w = c.w;
      auto line = ShareFromBody(req.body);
      if (!line) {
        w->Send(api::Api::ErrorResponse(line.error()));
        return;
      }
      auto outcome = st->unsealer.Submit(*line);
      {
        std::lock_guard lock(st->events_mu);
        st->events.push_back(
            UnsealEvent(*line, req.remote_address, outcome, SystemClock::Get().Now()));
      }
      sodium_memzero(line->data(), line->size());
      req.body.assign(req.body.size(), '\0');
      if (!outcome) {
        w->Send(api::Api::ErrorResponse(outcome.error()));
        return;
      }
      json body = status_json();
      body["index"] = outcome->index;
      if (outcome->unsealed) body["shares_received"] = outcome->threshold;
      w->Send(JsonOk(body));
  };
  auto router = std::make_shared<const api::Router>(api::SealedRouter(health, unseal));
  auto handler = [router](http::HttpRequest req, std::shared_ptr<http::ResponseWriter> w) {
    router->Handle(req, w);
  };
  BG_ASSIGN_OR_RETURN(auto server, http::HttpServer::Start(opts, handler));
  const std::string host =
      listen.first.find(':') != std::string::npos ? "[" + listen.first + "]" : listen.first;
  std::cout << fmt::format(
                   "breakglass sealed on {}://{}:{}: waiting for {} of {} shares of kit {} "
                   "(breakglass unseal)\n",
                   opts.tls ? "https" : "http", host, server->port(), manifest.threshold,
                   manifest.share_count, manifest.kit_id)
            << std::flush;

  Unsealed out;
  for (;;) {
    if (st->answered) break;
    timespec wait{0, 100 * 1000 * 1000};
    const int sig = sigtimedwait(&signals, nullptr, &wait);
    if (sig > 0 && sig != SIGHUP) {
      server->Stop();
      return out;  // no key: stopped while sealed
    }
  }
  // The listener goes to the real server still listening; this one stays up (not accepting)
  // until the caller has started that server, so no client is refused in between and the
  // answer that unsealed is not cut off.
  auto fd = server->ReleaseListener();
  if (!fd) {
    server->Stop();
    return fd.error();
  }
  out.listen_fd = *fd;
  out.sealed_server = std::move(server);
  auto secret = st->unsealer.TakeSecret();
  if (!secret) return Error::Internal("unsealed without a key");
  BG_ASSIGN_OR_RETURN(auth::MasterKey key, auth::MasterKey::FromBytes(std::move(*secret)));
  out.key = std::make_unique<auth::MasterKey>(std::move(key));
  {
    // Submissions after this one are refused ("already unsealed") and not logged.
    std::lock_guard lock(st->events_mu);
    out.events = std::move(st->events);
  }
  std::cout << fmt::format("unsealed with {} shares of kit {}\n", manifest.threshold,
                           manifest.kit_id)
            << std::flush;
  return out;
}

Status AuditUnseal(service::Service& svc, const std::vector<core::AuditEvent>& events) {
  for (const core::AuditEvent& e : events) BG_TRY(svc.AppendAudit(e));
  return Ok();
}

namespace {

// ---- kit seal-master ------------------------------------------------------------------

struct SealArgs {
  LocalConfigFlags local;
  int threshold = 0;
  int shares = 0;
  std::string label = "breakglass master key";
  std::string out_dir;
};

Status SealMaster(Globals& g, const SealArgs& a) {
  if (a.threshold < 2 || a.threshold > 255) {
    return Error::InvalidArgument("threshold", "must be between 2 and 255");
  }
  if (a.shares < a.threshold || a.shares > 255) {
    return Error::InvalidArgument("shares", "must be between the threshold and 255");
  }
  BG_ASSIGN_OR_RETURN(service::ServerConfig config, LoadLocalConfig(a.local));
  // Held until the key file is gone: two seal-masters cannot both split and remove it.
  BG_ASSIGN_OR_RETURN(service::OfflineStore data,
                      service::OpenOfflineStore(
                          config, OfflineClaim(service::DataDirUse::kModify, "kit seal-master")));
  const std::string key_path = MasterKeyPath(config);
  const std::string manifest_path = ManifestPath(config);
  if (Exists(manifest_path)) {
    return Error::FailedPrecondition(fmt::format(
        "{} exists: this data directory is already sealed (rotate the kit with breakglass kit "
        "rotate on a combined key, or move the old manifest away first)",
        manifest_path));
  }
  if (!Exists(key_path)) {
    return Error::FailedPrecondition(fmt::format(
        "no master key at {} (start the server once to create it, or check --data-dir)",
        key_path));
  }
  // LoadOrCreate only loads here (the file exists); it also enforces mode 0600 and the size.
  BG_ASSIGN_OR_RETURN(auth::MasterKey key, auth::LoadOrCreateMasterKey(key_path));
  BG_TRY(OpensAuditKey(*data.store, key.bytes()));
  BG_ASSIGN_OR_RETURN(kit::Kit made,
                      kit::SplitSecret(key.bytes(),
                                       {a.threshold, a.shares, a.label,
                                        kit::KitProtects{std::string(kit::kProtectsMasterKey), "", ""}},
                                       SystemClock::Get().Now(), SystemRandom::Get()));
  // The shares must give back the key before the key may go.
  std::vector<kit::SourcedShare> check;
  for (int i = 0; i < a.threshold; ++i) {
    const kit::Share& s = made.shares[static_cast<size_t>(i)];
    check.push_back({"share", kit::Share{s.kit_id, s.index, s.threshold, s.salt, s.payload}});
  }
  BG_ASSIGN_OR_RETURN(kit::Combined round_trip, kit::CombineShares(check, &made.manifest));
  if (!round_trip.secret.Equals(key.bytes())) return Error::Internal("the shares do not restore the key");
  // Logged before any share leaves (the key file is still there to open the log).
  BG_TRY(LocalWrite(config, nullptr, [&](service::Tx& tx, store::Store&) -> Status {
    tx.Audit(KitCreatedEvent(made.manifest));
    return Ok();
  }));

  const std::vector<Secret> lines = KitShareLines(made);
  std::vector<std::string> files;
  if (!a.out_dir.empty()) {
    BG_ASSIGN_OR_RETURN(files, WriteKitFiles(a.out_dir, made, lines, /*qr=*/false));
  } else {
    // The shares go to stdout: written means flushed without error.
    if (g.json) {
      json out = KitJson(made, lines);
      out["manifest_path"] = manifest_path;
      std::cout << out.dump() << "\n";
    } else {
      for (size_t i = 0; i < lines.size(); ++i) {
        std::cout << fmt::format("share {}: {}\n", made.shares[i].index, lines[i].Reveal());
      }
    }
    std::cout.flush();
    if (!std::cout) return Error::Unavailable("cannot write the shares to stdout; the key was kept");
  }
  BG_TRY(fs::WriteNewFile(manifest_path, kit::FormatManifest(made.manifest), 0644));
  BG_TRY(fs::SyncDir(config.data_dir));
  if (::unlink(key_path.c_str()) != 0) {
    return Error::Unavailable(fmt::format("the kit is written but {} could not be removed: {}",
                                          key_path, std::strerror(errno)));
  }
  BG_TRY(fs::SyncDir(config.data_dir));
  const kit::KitManifest& m = made.manifest;
  if (g.json && a.out_dir.empty()) return Ok();  // printed above
  json j = {{"kit_id", m.kit_id},       {"threshold", m.threshold}, {"share_count", m.share_count},
            {"manifest_path", manifest_path}, {"files", files}, {"removed", key_path}};
  std::string human;
  for (const std::string& f : files) human += "wrote " + f + "\n";
  human += fmt::format(
      "sealed: the master key is now kit {} (any {} of {} shares); manifest {}\n"
      "removed {}; start the server with breakglass serve --sealed and unseal it with "
      "breakglass unseal\n",
      m.kit_id, m.threshold, m.share_count, manifest_path, key_path);
  Print(g, j, human);
  return Ok();
}

// ---- kit reconcile --------------------------------------------------------------------

struct ReconcileArgs {
  LocalConfigFlags local;
  std::string record;
  std::string public_key;
  std::string shares;
};

std::string RecordMetaKey(const std::string& hash) { return "kit.record." + hash; }

// The key for a sealed data directory, from share lines in `path` ("-": stdin).
Result<std::unique_ptr<auth::MasterKey>> KeyFromShares(const service::ServerConfig& config,
                                                       const std::string& path) {
  BG_ASSIGN_OR_RETURN(kit::KitManifest manifest, LoadMasterManifest(config));
  std::string text;
  if (path == "-") {
    std::ostringstream in;
    in << std::cin.rdbuf();
    text = in.str();
  } else {
    BG_ASSIGN_OR_RETURN(text, fs::ReadWholeFile(path));
  }
  BG_ASSIGN_OR_RETURN(service::OfflineStore data,
                      service::OpenOfflineStore(
                          config, OfflineClaim(service::DataDirUse::kRead, "unseal")));
  kit::Unsealer unsealer(manifest,
                         [&data](const Secret& s) { return OpensAuditKey(*data.store, s); });
  std::istringstream lines(text);
  sodium_memzero(text.data(), text.size());
  std::string line;
  while (!unsealer.unsealed() && std::getline(lines, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto r = unsealer.Submit(line);
    sodium_memzero(line.data(), line.size());
    if (!r) return r.error();
  }
  auto secret = unsealer.TakeSecret();
  if (!secret) {
    return Error::FailedPrecondition(fmt::format("{} holds {} valid shares; kit {} needs {}",
                                                 path, unsealer.received(), manifest.kit_id,
                                                 manifest.threshold));
  }
  BG_ASSIGN_OR_RETURN(auth::MasterKey key, auth::MasterKey::FromBytes(std::move(*secret)));
  return std::make_unique<auth::MasterKey>(std::move(key));
}

}  // namespace

Status LocalWrite(const service::ServerConfig& config, std::unique_ptr<auth::MasterKey> key,
                  const std::function<Status(service::Tx&, store::Store&)>& write) {
  BG_ASSIGN_OR_RETURN(auto svc, service::Service::Open(config, SystemClock::Get(), nullptr,
                                                       service::Service::Mode::kAdmin, nullptr,
                                                       nullptr, std::move(key)));
  BG_TRY(svc->Start());
  std::promise<Status> done;
  store::Store& store = svc->store();
  svc->SubmitWrite([&](service::Tx& tx) { return write(tx, store); },
                   [&done](Status s) { done.set_value(std::move(s)); });
  Status result = done.get_future().get();
  svc->Stop();
  return result;
}

core::AuditEvent KitCreatedEvent(const kit::KitManifest& m) {
  core::AuditEvent e;
  e.type = "kit.created";
  e.actor = LocalActor();
  e.details = {{"kit_id", m.kit_id},
               {"label", m.label},
               {"threshold", std::to_string(m.threshold)},
               {"share_count", std::to_string(m.share_count)},
               {"manifest_sha256", HexEncode(AsBytes(Sha256(kit::FormatManifest(m))))}};
  if (m.protects) {
    e.details["protects"] = m.protects->kind;
    if (!m.protects->connector.empty()) e.details["connector"] = m.protects->connector;
    if (!m.protects->public_key.empty()) e.details["ca_public_key"] = m.protects->public_key;
  }
  return e;
}

Result<std::unique_ptr<auth::MasterKey>> SealedKeyIfNeeded(const service::ServerConfig& config,
                                                           const std::string& shares_path) {
  if (Exists(MasterKeyPath(config)) || !Exists(ManifestPath(config))) {
    return std::unique_ptr<auth::MasterKey>();
  }
  if (shares_path.empty()) {
    return Error::FailedPrecondition(fmt::format(
        "{} is sealed (no master.key, {} present): give --shares FILE (or -) with enough "
        "share lines of its kit",
        config.data_dir, kMasterKitFile));
  }
  return KeyFromShares(config, shares_path);
}

namespace {

Status Reconcile(Globals& g, const ReconcileArgs& a) {
  BG_ASSIGN_OR_RETURN(std::string text, fs::ReadWholeFile(a.record));
  auto record = kit::ParseOfflineRecord(text);
  if (!record) return Error::InvalidArgument("record", a.record + ": " + record.error().message());
  BG_TRY(kit::VerifyOfflineRecord(*record, a.public_key));
  // The hash of the canonical form: the same record reformatted is still the same record.
  const std::string hash = HexEncode(AsBytes(Sha256(kit::OfflineRecordToJson(*record).dump())));

  BG_ASSIGN_OR_RETURN(service::ServerConfig config, LoadLocalConfig(a.local));
  BG_ASSIGN_OR_RETURN(auto lock, service::ClaimDataDir(config, OfflineClaim(
                                                                   service::DataDirUse::kModify,
                                                                   "kit reconcile")));
  BG_ASSIGN_OR_RETURN(std::unique_ptr<auth::MasterKey> key, SealedKeyIfNeeded(config, a.shares));
  std::string indices;
  for (int i : record->share_indices) indices += (indices.empty() ? "" : ",") + std::to_string(i);
  core::AuditEvent e;
  e.type = "kit.offline_use";
  e.actor = record->who;
  e.details = {{"record_id", record->record_id},
               {"record_sha256", hash},
               {"kit_id", record->kit_id},
               {"kit_label", record->kit_label},
               {"who", record->who},
               {"when", FormatRfc3339(record->when)},
               {"why", record->why},
               {"ticket", record->ticket},
               {"share_indices", indices},
               {"signer_public_key", record->public_key},
               {"signature", record->signature},
               {"needs_review", "true"},
               {"kit_rotation", "required"}};
  if (const auto& c = record->ssh_certificate) {
    std::string principals;
    for (const std::string& p : c->principals) principals += (principals.empty() ? "" : ",") + p;
    e.details["ssh_cert_serial"] = c->serial;
    e.details["ssh_cert_key_id"] = c->key_id;
    e.details["ssh_cert_principals"] = principals;
    e.details["ssh_cert_valid_after"] = FormatRfc3339(c->valid_after);
    e.details["ssh_cert_valid_before"] = FormatRfc3339(c->valid_before);
    e.details["ssh_cert_ca_public_key"] = c->ca_public_key;
    e.details["ssh_cert_key_fingerprint"] = c->key_fingerprint;
  }
  const std::string now = FormatRfc3339(SystemClock::Get().Now());
  BG_TRY(LocalWrite(config, std::move(key), [&](service::Tx& tx, store::Store& store) -> Status {
    BG_ASSIGN_OR_RETURN(auto seen, store.GetMeta(RecordMetaKey(hash)));
    if (seen) {
      return Error::Conflict(fmt::format("offline record {} was already reconciled ({})",
                                         record->record_id, *seen));
    }
    tx.Audit(e);
    tx.PutMeta(RecordMetaKey(hash), fmt::format("{} at {}", record->record_id, now));
    tx.PutMeta("kit." + record->kit_id + ".rotate", "required");
    // Its post-incident review, due when a rule's would be by default.
    service::Reviews::OpenOfflineUse(
        tx, core::OfflineUse{record->record_id, record->who, record->kit_id, record->ticket},
        core::Rule{}.review_within);
    return Ok();
  }));
  json j = {{"record_id", record->record_id}, {"record_sha256", hash},
            {"kit_id", record->kit_id},       {"needs_review", true},
            {"kit_rotation", "required"}};
  Print(g, j,
        fmt::format("reconciled offline record {} (kit {} used by {} at {}, shares {}) into "
                    "the audit log as kit.offline_use; it needs a post-incident review and "
                    "kit {} must be rotated",
                    record->record_id, record->kit_id, record->who, FormatRfc3339(record->when),
                    indices, record->kit_id));
  return Ok();
}

// ---- unseal (client) ------------------------------------------------------------------

Status Unseal(Globals& g, std::string line) {
  if (line.empty() || line == "-") {
    if (::isatty(STDIN_FILENO) == 1) std::cerr << "share: " << std::flush;
    std::getline(std::cin, line);
  }
  Client client(ResolveClientOptions(g.client));
  auto r = client.Json("POST", "/v1/sys/unseal", json{{"share", line}}, /*auth=*/false);
  sodium_memzero(line.data(), line.size());
  if (!r) return r.error();
  const json& j = *r;
  std::string human =
      j.value("status", "") == "unsealed"
          ? fmt::format("share {} accepted: the server is unsealed", j.value("index", 0))
          : fmt::format("share {} accepted: {} of {} shares received; the server is still sealed",
                        j.value("index", 0), j.value("shares_received", 0), j.value("threshold", 0));
  Print(g, j, human);
  return Ok();
}

}  // namespace

void AddSealedCommands(CLI::App& app, Globals& g) {
  CLI::App* kit_cmd = app.get_subcommand("kit");

  auto seal = std::make_shared<SealArgs>();
  auto* s = kit_cmd->add_subcommand(
      "seal-master",
      "Split the server's master key into a kit of N shares (any M unseal the server), keep the "
      "public manifest as <data-dir>/master-kit.json and remove master.key");
  s->add_option("--threshold,-m", seal->threshold, "shares needed to unseal (2..N)")->required();
  s->add_option("--shares,-n", seal->shares, "shares to make (M..255)")->required();
  s->add_option("--data-dir", seal->local.data_dir, "Data directory of the server");
  s->add_option("--config", seal->local.config, "Server configuration file");
  s->add_option("--label", seal->label, "the kit's name in its manifest");
  s->add_option("--out-dir", seal->out_dir,
                "write share-K.txt (0600) and manifest.json into DIR instead of printing the "
                "shares");
  s->add_flag("--json", g.json, "print {\"kit_id\", \"shares\", \"manifest\", \"manifest_path\"}");
  s->callback([&g, seal] {
    if (auto r = SealMaster(g, *seal); !r) Fail(g, r.error());
  });

  auto rec = std::make_shared<ReconcileArgs>();
  auto* r = kit_cmd->add_subcommand(
      "reconcile",
      "Append a signed offline record (kit combine --record) to the audit log as "
      "kit.offline_use, mark it for post-incident review and flag the kit for rotation; a "
      "record is reconciled once");
  r->add_option("record", rec->record, "the offline record's JSON file")->required();
  r->add_option("--data-dir", rec->local.data_dir, "Data directory of the server");
  r->add_option("--config", rec->local.config, "Server configuration file");
  r->add_option("--public-key", rec->public_key, "require this signer (base64 Ed25519 key)");
  r->add_option("--shares", rec->shares,
                "for a sealed data directory: FILE (or -) of share lines of its master kit");
  r->add_flag("--json", g.json, "print the result as JSON");
  r->callback([&g, rec] {
    if (auto res = Reconcile(g, *rec); !res) Fail(g, res.error());
  });

  auto line = std::make_shared<std::string>();
  auto* u = app.add_subcommand(
      "unseal", "Submit one share of the master kit to a sealed server (POST /v1/sys/unseal)");
  u->add_option("share", *line, "the share line, or - (default) to read it from stdin");
  u->callback([&g, line] {
    if (auto res = Unseal(g, *line); !res) Fail(g, res.error());
  });
}

}  // namespace bg::cli
