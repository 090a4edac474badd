// Connector commands: `ssh-ca public-key|krl`, `ssh`, `credentials`, `probe`, and the
// connector-health view of `status` without an id.
#include <CLI/CLI.hpp>
#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>

#include "auth/master_key.h"
#include "cli/common.h"
#include "cli/exit_codes.h"
#include "cli/kit_io.h"
#include "cli/sealed.h"
#include "cli/text.h"
#include "ssh/keys.h"
#include "connectors/ssh_ca/ssh_ca_connector.h"
#include "kit/kit.h"
#include "kit/offline_record.h"
#include "kit/ssh_cert.h"
#include "service/connector_state.h"
#include "service/writer.h"
#include "store/store.h"
#include "util/fs.h"

namespace bg::cli {
namespace {

struct SshCaFlags {
  LocalConfigFlags local;
  std::string connector;
  std::string output;
  std::string shares;  // share lines of the master kit, for a sealed data directory
};

// The ssh_ca connector read straight from the data directory (no server needed).
// `use`: kRead to show the CA key or KRL, kModify for the kit (it is audited).
Result<std::unique_ptr<connectors::SshCaConnector>> OpenLocalCa(const SshCaFlags& f,
                                                                service::DataDirUse use,
                                                                service::OfflineStore& data,
                                                                std::unique_ptr<auth::MasterKey>& key,
                                                                service::ServerConfig& config) {
  BG_ASSIGN_OR_RETURN(config, LoadLocalConfig(f.local));
  connector::PluginConfig pc{f.connector, "ssh_ca", "{}"};
  if (auto it = config.connectors.find(f.connector); it != config.connectors.end()) {
    pc = it->second;
  } else if (f.connector.empty()) {
    int n = 0;
    for (const auto& [name, c] : config.connectors) {
      if (c.kind == "ssh_ca") pc = c, ++n;
    }
    if (n != 1) {
      return Error::InvalidArgument("connector", n == 0 ? "no ssh_ca connector in the configuration: "
                                                          "name it with --connector"
                                                        : "several ssh_ca connectors: name one");
    }
  }
  if (pc.kind != "ssh_ca") return Error::InvalidArgument("connector", pc.name + " is not ssh_ca");
  BG_ASSIGN_OR_RETURN(key, SealedKeyIfNeeded(config, f.shares));
  if (!key) {
    const std::string key_path = config.data_dir + "/master.key";
    if (!std::filesystem::exists(key_path)) {
      return Error::FailedPrecondition("no master key in " + config.data_dir +
                                       " (has the server run there?)");
    }
    BG_ASSIGN_OR_RETURN(auto k, auth::LoadOrCreateMasterKey(key_path));
    key = std::make_unique<auth::MasterKey>(std::move(k));
  }
  BG_ASSIGN_OR_RETURN(data, service::OpenOfflineStore(
                                config, OfflineClaim(use, use == service::DataDirUse::kRead
                                                              ? "ssh ca"
                                                              : "ssh ca kit")));
  connector::ConnectorContext ctx =
      service::MakeConnectorHost(*key, *data.store, config, SystemClock::Get(), SystemRandom::Get())
          .For(pc.name);
  return connectors::SshCaConnector::Create(pc, ctx, /*create_ca=*/false);
}

Status WriteOutput(const std::string& path, const std::string& bytes) {
  if (path.empty() || path == "-") {
    std::cout.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    std::cout.flush();
    return Ok();
  }
  return fs::ReplaceFile(path, bytes, 0644);  // atomically: sshd may read the file at any moment
}

struct CaKitFlags {
  SshCaFlags ca;
  int threshold = 0;
  int shares = 0;
  std::string label;
  std::string out_dir;
  bool qr = false;
};

// Splits the CA key of an ssh_ca connector into an offline kit whose manifest names the CA.
Status SplitCaKit(Globals& g, const CaKitFlags& f) {
  if (f.threshold < 2 || f.threshold > 255) {
    return Error::InvalidArgument("threshold", "must be between 2 and 255");
  }
  if (f.shares < f.threshold || f.shares > 255) {
    return Error::InvalidArgument("shares", "must be between the threshold and 255");
  }
  if (f.qr && f.out_dir.empty()) return Error::InvalidArgument("qr", "--qr needs --out-dir");
  service::OfflineStore data;  // its lock is held until the kit is written and audited
  std::unique_ptr<auth::MasterKey> key;
  service::ServerConfig config;
  BG_ASSIGN_OR_RETURN(auto conn, OpenLocalCa(f.ca, service::DataDirUse::kModify, data, key, config));
  const ssh::Ed25519PrivateKey& ca = conn->CaKeyForKit();
  const std::string connector = conn->instance();
  const std::string label =
      f.label.empty() ? fmt::format("breakglass SSH CA ({})", connector) : f.label;
  BG_ASSIGN_OR_RETURN(kit::Kit made, kit::SplitSecret(ca.StorageBytes(),
                                                      {f.threshold, f.shares, label,
                                                       kit::SshCaProtects(connector, ca)},
                                                      SystemClock::Get().Now(),
                                                      SystemRandom::Get()));
  // The kit must give back this CA before anyone relies on it.
  std::vector<kit::SourcedShare> first;
  for (int i = 0; i < f.threshold; ++i) {
    const kit::Share& s = made.shares[static_cast<size_t>(f.threshold - 1 - i)];
    first.push_back({"share", kit::Share{s.kit_id, s.index, s.threshold, s.salt, s.payload}});
  }
  BG_ASSIGN_OR_RETURN(kit::Combined back, kit::CombineShares(first, &made.manifest));
  BG_ASSIGN_OR_RETURN(ssh::Ed25519PrivateKey restored,
                      kit::SshCaKeyFromSecret(back.secret, made.manifest));
  if (!(restored.public_key() == ca.public_key())) {
    return Error::Internal("the kit does not restore the CA key");
  }
  const std::string fingerprint = ca.public_key().Fingerprint();
  conn.reset();
  data.store.reset();
  // Logged before any share leaves; with a sealed directory `key` is the unsealed master key.
  BG_TRY(LocalWrite(config, std::move(key), [&made](service::Tx& tx, store::Store&) -> Status {
    tx.Audit(KitCreatedEvent(made.manifest));
    return Ok();
  }));
  const std::vector<Secret> lines = KitShareLines(made);
  const kit::KitManifest& m = made.manifest;
  if (f.out_dir.empty()) {
    if (g.json) {
      std::cout << KitJson(made, lines).dump() << std::endl;
      return Ok();
    }
    for (size_t i = 0; i < lines.size(); ++i) {
      std::cout << fmt::format("share {}: {}\n", made.shares[i].index, lines[i].Reveal());
    }
    std::cout << "manifest (public; keep it with the kit and on the laptops that sign):\n"
              << kit::FormatManifest(m) << std::flush;
    return Ok();
  }
  BG_ASSIGN_OR_RETURN(auto files, WriteKitFiles(f.out_dir, made, lines, f.qr));
  std::string human;
  for (const std::string& file : files) human += "wrote " + file + "\n";
  human += fmt::format(
      "kit {}: any {} of {} shares restore the CA key of connector {} ({}); sign an emergency "
      "certificate with breakglass kit ssh-cert --manifest {}/manifest.json",
      m.kit_id, m.threshold, m.share_count, connector, fingerprint, f.out_dir);
  Print(g,
        {{"kit_id", m.kit_id},
         {"threshold", m.threshold},
         {"share_count", m.share_count},
         {"connector", connector},
         {"ca_public_key", m.protects->public_key},
         {"files", files}},
        human);
  return Ok();
}

struct CaRevokeFlags {
  std::string record;
  std::string serial;
  std::string valid_before;
  std::string reason;
  std::string connector;
};

// The serial and end of the certificate to revoke: from an offline record, or given.
Status RevokeCertificate(Globals& g, const CaRevokeFlags& f) {
  std::string serial = f.serial, valid_before = f.valid_before;
  if (!f.record.empty()) {
    if (!serial.empty() || !valid_before.empty()) {
      return Error::InvalidArgument("record", "give --record or --serial/--valid-before, not both");
    }
    BG_ASSIGN_OR_RETURN(std::string text, fs::ReadWholeFile(f.record));
    BG_ASSIGN_OR_RETURN(kit::OfflineRecord rec, kit::ParseOfflineRecord(text));
    BG_TRY(kit::VerifyOfflineRecord(rec));
    if (!rec.ssh_certificate) {
      return Error::InvalidArgument("record", f.record + " records no SSH certificate");
    }
    serial = rec.ssh_certificate->serial;
    valid_before = FormatRfc3339(rec.ssh_certificate->valid_before);
    // The serial means something only for the CA that signed it.
    Client ca_client(ResolveClientOptions(g.client));
    std::string path = "/v1/ssh/ca";
    if (!f.connector.empty()) path += "?connector=" + UrlPart(f.connector);
    BG_ASSIGN_OR_RETURN(auto ca, ca_client.Send("GET", path, "", /*auth=*/false));
    while (!ca.body.empty() && (ca.body.back() == '\n' || ca.body.back() == '\r')) ca.body.pop_back();
    BG_ASSIGN_OR_RETURN(ssh::PublicKey server_ca, ssh::PublicKey::ParseLine(ca.body));
    auto record_ca = ssh::PublicKey::ParseLine(rec.ssh_certificate->ca_public_key);
    if (!record_ca || !(*record_ca == server_ca)) {
      return Error::FailedPrecondition(fmt::format(
          "{}: the certificate was signed by CA {}, not by this connector's CA {}", f.record,
          record_ca ? record_ca->Fingerprint() : "?", server_ca.Fingerprint()));
    }
  }
  if (serial.empty() || valid_before.empty()) {
    return Error::InvalidArgument("serial", "give --record FILE, or --serial and --valid-before");
  }
  nlohmann::json body = {{"serial", serial}, {"valid_before", valid_before}, {"reason", f.reason}};
  if (!f.connector.empty()) body["connector"] = f.connector;
  Client c(ResolveClientOptions(g.client));
  BG_ASSIGN_OR_RETURN(nlohmann::json r, c.Json("POST", "/v1/ssh/revoke", body));
  Print(g, r,
        fmt::format("revoked serial {} of {} until {} (KRL version {}); sshd refuses it once its "
                    "RevokedKeys file is refreshed from /v1/ssh/krl",
                    r.value("serial", ""), r.value("connector", ""), r.value("valid_before", ""),
                    r.value("krl_version", 0)));
  return Ok();
}

void AddCaRevokeCommand(CLI::App* ca, Globals& g) {
  auto f = std::make_shared<CaRevokeFlags>();
  auto* c = ca->add_subcommand(
      "revoke",
      "Revoke one certificate of the CA by serial (e.g. an emergency certificate from kit "
      "ssh-cert, with --record): it goes into the KRL until it ends; needs the admin role");
  c->add_option("--record", f->record, "the offline record kit ssh-cert wrote");
  c->add_option("--serial", f->serial, "the certificate's serial (decimal)");
  c->add_option("--valid-before", f->valid_before, "the certificate's end (RFC 3339)");
  c->add_option("--reason", f->reason, "why")->required();
  c->add_option("--connector", f->connector, "The ssh_ca connector (if several)");
  c->callback([&g, f] {
    if (auto s = RevokeCertificate(g, *f); !s) Fail(g, s.error());
  });
}

void AddCaKitCommand(CLI::App* ca, Globals& g) {
  auto f = std::make_shared<CaKitFlags>();
  auto* c = ca->add_subcommand(
      "kit",
      "Split the CA private key into an offline kit of N shares (any M sign an emergency "
      "certificate with breakglass kit ssh-cert when the server is down); reads the local data "
      "directory, the key stays in the server");
  c->add_option("--threshold,-m", f->threshold, "shares needed to restore the key (2..N)")
      ->required();
  c->add_option("--shares,-n", f->shares, "shares to make (M..255)")->required();
  c->add_option("--data-dir", f->ca.local.data_dir, "Data directory of the server");
  c->add_option("--config", f->ca.local.config, "Server configuration file");
  c->add_option("--connector", f->ca.connector, "The ssh_ca connector (if several)");
  c->add_option("--master-shares", f->ca.shares,
                "for a sealed data directory: FILE (or -) of share lines of its master kit");
  c->add_option("--label", f->label, "the kit's name in its manifest");
  c->add_option("--out-dir", f->out_dir,
                "write share-K.txt (0600) and manifest.json into DIR instead of printing");
  c->add_flag("--qr", f->qr, "with --out-dir: also write share-K.png QR codes");
  c->add_flag("--json", g.json, "print {\"kit_id\", \"shares\", \"manifest\"} (or, with "
                                "--out-dir, the files written) as JSON");
  c->callback([&g, f] {
    if (auto s = SplitCaKit(g, *f); !s) Fail(g, s.error());
  });
}

void AddSshCaCommands(CLI::App& app, Globals& g) {
  auto* ca = app.add_subcommand("ssh-ca", "The SSH user CA: public key and revocation list");
  ca->require_subcommand(1);
  for (bool krl : {false, true}) {
    auto f = std::make_shared<SshCaFlags>();
    auto* c = ca->add_subcommand(
        krl ? "krl" : "public-key",
        krl ? "The KRL for sshd's RevokedKeys (binary); from the server, or with --data-dir/"
              "--config from the local data directory"
            : "The CA line for sshd's TrustedUserCAKeys; from the server, or with --data-dir/"
              "--config from the local data directory");
    c->add_option("--data-dir", f->local.data_dir, "Read the local data directory");
    c->add_option("--config", f->local.config, "Read the data directory of this configuration");
    c->add_option("--connector", f->connector, "The ssh_ca connector (if several)");
    c->add_option("-o,--output", f->output, "Write to this file (atomically) instead of stdout");
    c->add_option("--master-shares", f->shares,
                  "for a sealed data directory: FILE (or -) of share lines of its master kit");
    c->callback([&g, f, krl] {
      std::string bytes;
      if (!f->local.data_dir.empty() || !f->local.config.empty()) {
        service::OfflineStore data;
        std::unique_ptr<auth::MasterKey> key;
        service::ServerConfig config;
        auto conn = OpenLocalCa(*f, service::DataDirUse::kRead, data, key, config);
        if (!conn) return Fail(g, conn.error());
        if (krl) {
          auto k = (*conn)->Krl();
          if (!k) return Fail(g, k.error());
          bytes = std::move(*k);
        } else {
          bytes = (*conn)->PublicKeyLine() + "\n";
        }
      } else {
        Client client(ResolveClientOptions(g.client));
        std::string path = krl ? "/v1/ssh/krl" : "/v1/ssh/ca";
        if (!f->connector.empty()) path += "?connector=" + UrlPart(f->connector);
        auto r = client.Send("GET", path, "", /*auth=*/false);
        if (!r) return Fail(g, r.error());
        bytes = std::move(r->body);
      }
      if (auto s = WriteOutput(f->output, bytes); !s) Fail(g, s.error());
    });
  }
  AddCaKitCommand(ca, g);
  AddCaRevokeCommand(ca, g);
}

// Runs `argv` and waits; returns its exit status (255 when it could not run, as ssh does).
// `recording_token`: the child's BREAKGLASS_TOKEN (empty: the variable is removed, so the
// person's own token can never be sent on by SendEnv).
int RunAndWait(const std::vector<std::string>& argv, const std::string& recording_token) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = fork();
  if (pid < 0) return 255;
  if (pid == 0) {
    if (recording_token.empty()) {
      unsetenv("BREAKGLASS_TOKEN");
    } else {
      setenv("BREAKGLASS_TOKEN", recording_token.c_str(), 1);
    }
    execvp(args[0], args.data());
    _exit(127);
  }
  // The terminal's Ctrl-C reaches ssh (same process group); we only wait and clean up.
  struct sigaction ignore {}, old_int {}, old_quit {};
  ignore.sa_handler = SIG_IGN;
  sigaction(SIGINT, &ignore, &old_int);
  sigaction(SIGQUIT, &ignore, &old_quit);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGQUIT, &old_quit, nullptr);
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

void AddSshCommand(CLI::App& app, Globals& g) {
  auto* cmd = app.add_subcommand(
      "ssh",
      "Log in with the grant's SSH certificate: an ephemeral key made in memory, certified for the "
      "grant window, used by the system's ssh, then deleted");
  auto id = std::make_shared<std::string>();
  auto dest = std::make_shared<std::string>();
  auto extra = std::make_shared<std::vector<std::string>>();
  auto program = std::make_shared<std::string>("ssh");
  cmd->add_option("REQUEST_ID", *id, "The active grant")->required();
  cmd->add_option("DESTINATION", *dest, "[user@]host")->required();
  cmd->add_option("SSH_ARGS", *extra, "After --: more ssh arguments (options, a command)");
  cmd->add_option("--ssh-program", *program, "The ssh to run (default: ssh from PATH)");
  cmd->callback([&g, id, dest, extra, program] {
    auto key = ssh::Ed25519PrivateKey::Generate();
    Client c(ResolveClientOptions(g.client));
    auto r = c.Json("POST", "/v1/requests/" + UrlPart(*id) + "/ssh-cert",
                    {{"public_key", key.PublicKeyLine("breakglass-ephemeral")}});
    if (!r) return Fail(g, r.error());
    char tmpl[] = "/tmp/breakglass-ssh.XXXXXX";
    const char* dir_c = mkdtemp(tmpl);
    if (dir_c == nullptr) return Fail(g, Error::Unavailable("cannot create a temporary directory"));
    const std::string dir = dir_c;
    const std::string key_path = dir + "/id_ed25519", cert_path = dir + "/id_ed25519-cert.pub";
    Status written = fs::WriteNewFile(key_path, key.ToOpenSshPrivateKeyFile("breakglass").Reveal(), 0600);
    if (written) {
      written = fs::WriteNewFile(cert_path, (*r)["certificate"].get<std::string>() + "\n", 0600);
    }
    if (!written) {
      std::filesystem::remove_all(dir);
      return Fail(g, written.error());
    }
    std::cerr << fmt::format("breakglass: certificate valid until {}\n",
                             (*r).value("valid_before", std::string("?")));
    // The recorder on the target authenticates with a credential good only for recording
    // this grant, sent in the environment (SendEnv: never on a command line).
    std::string recording_token;
    if (auto rt = c.Json("POST", "/v1/requests/" + UrlPart(*id) + "/recording-token",
                         nlohmann::json::object());
        rt) {
      recording_token = rt->value("token", "");
    } else {
      std::cerr << "breakglass: no recording credential (" << rt.error().message()
                << "); a target that records sessions will refuse the login\n";
    }
    std::vector<std::string> argv = {*program,
                                     "-i",
                                     key_path,
                                     "-o",
                                     "CertificateFile=" + cert_path,
                                     "-o",
                                     "IdentitiesOnly=yes",
                                     "-o",
                                     "IdentityAgent=none",
                                     "-o",
                                     "SendEnv=BREAKGLASS_TOKEN",
                                     *dest};
    argv.insert(argv.end(), extra->begin(), extra->end());
    int rc = RunAndWait(argv, recording_token);
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    g.exit_code = rc;
  });
}

void AddRecordingTokenCommand(CLI::App& app, Globals& g) {
  auto* cmd = app.add_subcommand(
      "recording-token",
      "A credential that only records the sessions of your active grant, for the target's "
      "recorder (export BREAKGLASS_TOKEN=... and ssh -o SendEnv=BREAKGLASS_TOKEN); breakglass "
      "ssh does this itself");
  auto id = std::make_shared<std::string>();
  cmd->add_option("ID", *id, "The active grant")->required();
  cmd->callback([&g, id] {
    Client c(ResolveClientOptions(g.client));
    auto r = c.Json("POST", "/v1/requests/" + UrlPart(*id) + "/recording-token",
                    nlohmann::json::object());
    if (!r) return Fail(g, r.error());
    Print(g, *r, r->value("token", ""));
  });
}

void AddCredentialsCommand(CLI::App& app, Globals& g) {
  auto* cmd = app.add_subcommand(
      "credentials", "Fetch the grant's credential (e.g. a PostgreSQL login); shown only once");
  auto id = std::make_shared<std::string>();
  cmd->add_option("ID", *id, "The active grant")->required();
  cmd->callback([&g, id] {
    Client c(ResolveClientOptions(g.client));
    auto r = c.Json("GET", "/v1/requests/" + UrlPart(*id) + "/credentials");
    if (!r) return Fail(g, r.error());
    std::string human;
    for (const auto& [k, v] : r->items()) {
      human += fmt::format("{:<12} {}\n", TerminalSafe(k + ":"),
                           TerminalSafe(v.is_string() ? v.get<std::string>() : v.dump()));
    }
    if (r->contains("username") && r->contains("password") && r->contains("host")) {
      human += fmt::format(
          "psql: PGPASSWORD=... psql 'host={} port={} dbname={} user={}'\n",
          r->value("host", ""), r->value("port", ""), r->value("dbname", ""),
          r->value("username", ""));
    }
    human += "This is shown once; it is not stored in clear anywhere.\n";
    Print(g, *r, human);
  });
}

std::string HealthText(const nlohmann::json& j) {
  std::string out = fmt::format("{:<18} {:<14} {:<9} {:<14} {:<21} {}\n", "CONNECTOR", "KIND",
                                "STATE", "SESSIONS", "LAST PROBE", "ERROR");
  for (const auto& c : j.value("connectors", nlohmann::json::array())) {
    out += fmt::format("{:<18} {:<14} {:<9} {:<14} {:<21} {}\n", TerminalSafe(c.value("connector", "")),
                       TerminalSafe(c.value("kind", "")), TerminalSafe(c.value("state", "")),
                       TerminalSafe(c.value("sessions", "-")),
                       c["last_probe"].is_string() ? TerminalSafe(c["last_probe"].get<std::string>())
                                                   : "never",
                       TerminalSafe(c.value("error", "")));
  }
  for (const auto& c : j.value("connectors", nlohmann::json::array())) {
    if (c.value("sessions", "") == "not_forced") {
      out += fmt::format(
          "\nwarning: {} does not force the recorder: its SSH sessions are not recorded and "
          "revoking a grant does not end a session already open.\n",
          c.value("connector", ""));
    }
  }
  if (j.contains("failing_jobs")) {
    const auto& jobs = j["failing_jobs"];
    if (jobs.empty()) {
      out += "\nNo connector job is failing.\n";
    } else {
      out += "\nFailing connector jobs (kept queued and retried; revocations are never dropped):\n";
      for (const auto& f : jobs) {
        out += fmt::format("  {:<7} {:<28} attempts {:<3} next {}  {}\n",
                           TerminalSafe(f.value("kind", "")), TerminalSafe(f.value("request_id", "")),
                           f.value("attempts", 0), TerminalSafe(f.value("next_attempt", "")),
                           TerminalSafe(f.value("last_error", "")));
      }
    }
  }
  return out;
}

// When a connector (`probe`: its probe's "ok" is false; else its state is "failing") or a job is
// failing: one line on stderr naming them, and exit code 8 (unavailable).
void FailIfUnhealthy(Globals& g, const nlohmann::json& j, bool probe) {
  std::string names;
  for (const auto& c : j.value("connectors", nlohmann::json::array())) {
    bool failing = probe ? !c.value("ok", false) : c.value("state", "") == "failing";
    if (failing) names += (names.empty() ? "" : ", ") + TerminalSafe(c.value("connector", "?"));
  }
  size_t jobs = j.value("failing_jobs", nlohmann::json::array()).size();
  if (names.empty() && jobs == 0) return;
  std::string what = names.empty() ? "" : "failing connector(s): " + names;
  if (jobs > 0) what += fmt::format("{}{} failing connector job(s)", what.empty() ? "" : "; ", jobs);
  std::cerr << "breakglass: " << what << "\n";
  g.exit_code = static_cast<int>(ExitCode::kUnavailable);
}

void AddProbeCommand(CLI::App& app, Globals& g) {
  auto* cmd = app.add_subcommand("probe", "Probe connectors now (admins and auditors)");
  auto name = std::make_shared<std::string>();
  cmd->add_option("CONNECTOR", *name, "Only this connector");
  cmd->callback([&g, name] {
    Client c(ResolveClientOptions(g.client));
    std::string path = "/v1/connectors/probe";
    if (!name->empty()) path += "?connector=" + UrlPart(*name);
    auto r = c.Json("POST", path, nlohmann::json::object());
    if (!r) return Fail(g, r.error());
    Print(g, *r, HealthText(*r));
    FailIfUnhealthy(g, *r, /*probe=*/true);
  });
}

// `status` with no id (or --health): connector health and failing jobs. The request view of
// `status ID` is defined with the other request commands; this only widens it.
void ExtendStatusCommand(CLI::App& app, Globals& g) {
  CLI::App* status = nullptr;
  try {
    status = app.get_subcommand("status");
  } catch (const CLI::OptionNotFound&) {
    return;
  }
  CLI::Option* id = status->get_option_no_throw("ID");
  if (id == nullptr) return;
  id->required(false);
  auto health = std::make_shared<bool>(false);
  status->add_flag("--health", *health, "Show connector health and failing connector jobs");
  status->description("Show one request; without an ID (or with --health): connector health");
  CLI::Option* json_flag = app.get_option_no_throw("--json");
  status->parse_complete_callback([&g, id, health, json_flag] {
    if (id->count() > 0 && !*health) return;
    // Global flags after the subcommand are not applied yet at this point.
    if (json_flag != nullptr && json_flag->count() > 0) g.json = true;
    Client c(ResolveClientOptions(g.client));
    auto r = c.Json("GET", "/v1/connectors");
    if (!r) {
      Fail(g, r.error());
    } else {
      // Auditors and admins also see the review queue's state (overdue reviews escalate).
      Print(g, *r, HealthText(*r) + (g.json ? "" : OpenReviewsLine(c)));
      FailIfUnhealthy(g, *r, /*probe=*/false);
    }
    // Done: the request view must not run.
    if (g.exit_code == 0) throw CLI::Success();
    throw CommandFailed(g.exit_code);
  });
}

}  // namespace

void AddConnectorCommands(CLI::App& app, Globals& g) {
  AddSshCaCommands(app, g);
  AddSshCommand(app, g);
  AddCredentialsCommand(app, g);
  AddRecordingTokenCommand(app, g);
  AddProbeCommand(app, g);
  ExtendStatusCommand(app, g);
}

}  // namespace bg::cli
