// `breakglass serve`: the server.
#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <condition_variable>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "api/api.h"
#include "api/attestation_routes.h"
#include "api/connector_routes.h"
#include "api/drill_routes.h"
#include "api/inventory_routes.h"
#include "api/page_routes.h"
#include "api/review_routes.h"
#include "api/session_routes.h"
#include "cli/common.h"
#include "cli/kit_io.h"
#include "cli/sealed.h"
#include "connectors/builtin.h"
#include "connectors/health.h"
#include "http/http_server.h"
#include "http/tls.h"
#include "log/json_log.h"
#include "metrics/metrics.h"
#include "notify/http_post.h"
#include "service/checkpointer.h"
#include "service/data_dir.h"
#include "service/service.h"
#include "service/sinks.h"
#include "store/pg_store.h"
#include "util/fs.h"

namespace bg::cli {
namespace {

// Exit status of a server that lost the background lease to another (EX_TEMPFAIL): its
// supervisor restarts it, and it serves on without the background work.
constexpr int kLeaseLost = 75;

// PostgreSQL: every server of an installation serves the API; one at a time does the
// background work (timers, the outbox, checkpoints, sinks, periodic checks), the one holding
// the installation's lease (PgStore::HoldServeLease). On a thread of its own: waits while
// another server holds the lease, then calls `take_over` (again each second until it succeeds).
// Losing the lease later ends this process at once, before it writes anything more.
class BackgroundLease {
 public:
  BackgroundLease(store::PgStore& pg, std::function<Status()> take_over)
      : thread_([this, &pg, take_over = std::move(take_over)] { Run(pg, take_over); }) {}
  ~BackgroundLease() { Stop(); }

  // Stops waiting; a lease held stays held until the process ends.
  void Stop() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  // Waits about a second; false once Stop was called.
  bool Pause() {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_; });
    return !stopping_;
  }

  void Run(store::PgStore& pg, const std::function<Status()>& take_over) {
    char host[256] = {0};
    gethostname(host, sizeof host - 1);
    const std::string me = fmt::format("{} pid {}", host, ::getpid());
    int64_t waits = 0;
    for (;;) {
      Status held = pg.HoldServeLease(
          me,
          [&](const std::string& holder) {
            // Said at once, then once a minute.
            if (waits++ % 60 == 0) {
              log::Info("server.standby",
                        {{"message",
                          "another server does the background work: serving the API, "
                          "ready to take the background work over"},
                         {"holder", holder}});
            }
            return Pause();
          },
          [](const std::string& why) {
            log::Error("server.lease_lost",
                       {{"message",
                         "this server lost the background lease: stopping at once, "
                         "nothing more is written"},
                        {"error", why}});
            spdlog::default_logger()->flush();
            std::_Exit(kLeaseLost);
          });
      if (held) break;
      {
        std::lock_guard lock(mu_);
        if (stopping_) return;  // stopped while waiting
      }
      log::Warn("server.lease_failed", {{"error", held.error().message()}});
      if (!Pause()) return;
    }
    log::Info("server.lease", {{"holder", me}, {"token", pg.lease_token()}});
    for (;;) {
      Status s = take_over();
      if (s) return;
      log::Error("server.background_failed",
                 {{"error", s.error().message()}, {"outcome", "trying again in a second"}});
      if (!Pause()) return;
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;  // last: starts once the rest is made
};

struct ServeFlags {
  LocalConfigFlags local;
  std::string policy;
  std::string listen;
  bool plain_http = false;
  std::vector<std::string> witnesses;
  std::string syslog;
  std::string checkpoint_interval;
  std::string storage;
  bool sealed = false;
};

bool IsLoopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

struct DemoUser {
  const char* name;
  std::vector<core::Role> roles;
};

// The people of the demo policy (examples/policy.toml), each with the roles that policy needs.
const std::vector<DemoUser>& DemoUsers() {
  using R = core::Role;
  static const std::vector<DemoUser> kUsers = {
      {"alice", {R::kRequester}},
      {"bob", {R::kRequester}},
      {"carol", {R::kRequester, R::kApprover}},
      {"dave", {R::kRequester, R::kApprover}},
      {"erin", {R::kRequester, R::kApprover}},
      {"frank", {R::kApprover}},
      {"sam", {R::kApprover, R::kAuditor}},
      {"grace", {R::kApprover}},
      {"heidi", {R::kApprover}},
      {"admin", {R::kAdmin, R::kAuditor}},
  };
  return kUsers;
}

// On the embedded default's first start, creates the demo people and writes their credentials
// to demo-credentials.txt (mode 0600) in the data directory; prints that file on every start.
Status EnsureDemoUsers(service::Service& svc, const std::string& data_dir) {
  const std::string path = data_dir + "/demo-credentials.txt";
  BG_ASSIGN_OR_RETURN(auto users, svc.ListUsers());
  if (users.empty()) {
    std::string text =
        "# DEMO ONLY: the embedded default's demo accounts. Never use these anywhere real.\n"
        "# user      password              TOTP secret (base32: oathtool --totp -b SECRET)\n";
    for (const auto& u : DemoUsers()) {
      std::string password = std::string(u.name) + "-demo-pass";
      BG_ASSIGN_OR_RETURN(auto nu, svc.AddUser("breakglass-demo", u.name, u.roles, Secret(password)));
      std::string uri = nu.otpauth_uri;
      auto pos = uri.find("secret=");
      std::string secret = uri.substr(pos + 7, uri.find('&', pos) - pos - 7);
      text += fmt::format("{:<10} {:<21} {}\n", u.name, password, secret);
      // Demo people have worked from this machine before: the walkthrough's first request
      // should not trip the new-source risk signal.
      for (const char* addr : {"127.0.0.1", "::1"}) BG_TRY(svc.MarkSourceKnown(u.name, addr));
    }
    BG_TRY(fs::ReplaceFile(path, text, 0600));
  }
  if (auto text = fs::ReadWholeFile(path)) {
    std::cout << "\nDemo accounts (" << path << "):\n" << *text << std::flush;
  }
  return Ok();
}

int RunServe(Globals& g, const ServeFlags& f) {
  auto config = LoadLocalConfig(f.local);
  if (!config) {
    Fail(g, config.error());
    return g.exit_code;
  }
  if (!f.policy.empty()) {
    config->policy = f.policy;
    config->demo = false;
  }
  if (!f.listen.empty()) config->listen = f.listen;
  if (f.plain_http) config->plain_http = true;
  if (!f.witnesses.empty()) config->witnesses = f.witnesses;
  if (!f.syslog.empty()) config->syslog = f.syslog;
  if (!f.storage.empty()) config->storage = f.storage;
  if (!f.checkpoint_interval.empty()) {
    auto d = ParseDuration(f.checkpoint_interval, "checkpoint-interval");
    if (!d || d->count() < 1) {
      Fail(g, Error::InvalidArgument("checkpoint-interval", "must be a duration of at least 1s"));
      return g.exit_code;
    }
    config->checkpoint_interval = *d;
  }
  auto listen = service::ParseListen(config->listen);
  if (!listen) {
    Fail(g, listen.error());
    return g.exit_code;
  }
  if (config->plain_http && !IsLoopback(listen->first)) {
    Fail(g, Error::InvalidArgument("listen", "plain HTTP is allowed only on a loopback address"));
    return g.exit_code;
  }
  if (config->demo && !IsLoopback(listen->first)) {
    // 13.33: the demo's accounts and passwords are printed and known; never on a network.
    Fail(g, Error::InvalidArgument("listen", "the demo (serve without --policy or a config) "
                                             "listens only on a loopback address: its accounts "
                                             "are public"));
    return g.exit_code;
  }
  // Everything the server creates is for its own user only, whatever umask it was started
  // with (the files also get explicit modes: 0600 files, 0700 directories).
  ::umask(077);
  // The demo's own ./breakglass-data is created when missing; a directory named by --data-dir
  // or the configuration file must exist unless --init says to create it.
  service::DataDirClaim claim;
  claim.use = service::DataDirUse::kCreate;
  claim.create_missing = f.local.init || (f.local.config.empty() && f.local.data_dir.empty());
  claim.command = "serve";
  auto lock = service::ClaimDataDir(*config, claim);
  if (!lock) {
    Fail(g, lock.error());
    return g.exit_code;
  }
  log::InstallJsonLogger(config->log_level);
  for (const std::string& w : config->warnings) {
    log::Warn("config.warning", {{"message", w}});
  }
  if (!EnsureDescriptorsFor(config->http_max_connections)) {
    // Accepting then fails (and is retried) before http_max_connections is reached.
    log::Warn("config.warning",
              {{"message", fmt::format("the open-file limit is below http_max_connections ({}) "
                                       "plus 256: raise it (ulimit -n, LimitNOFILE=)",
                                       config->http_max_connections)}});
  }

  // Signals are handled by the main thread alone: block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  // A full disk or a file-size limit must surface as a failed write (and so fail closed:
  // nothing is granted), not kill the server with SIGXFSZ.
  ::signal(SIGXFSZ, SIG_IGN);

  Unsealed unsealed;  // sealed mode: the master key from the keyholders' shares
  if (f.sealed) {
    auto u = WaitForUnseal(*config, *listen, signals);
    if (!u) {
      Fail(g, u.error());
      return g.exit_code;
    }
    if (!u->key) return 0;  // stopped while sealed
    unsealed = std::move(*u);
  }

  auto opened = store::OpenStore(config->storage, config->data_dir);
  if (!opened) {
    Fail(g, opened.error());
    return g.exit_code;
  }
  // Replicas on one PostgreSQL database: the background work waits for the lease.
  auto* pg = dynamic_cast<store::PgStore*>(opened->get());

  auto metrics = std::make_shared<metrics::Registry>();
  auto svc = service::Service::Open(*config, SystemClock::Get(), metrics,
                                     service::Service::Mode::kServer, std::move(*opened),
                                     connectors::RegisterBuiltinConnectors, std::move(unsealed.key));
  if (!svc) {
    Fail(g, svc.error());
    return g.exit_code;
  }
  // The notification sinks read the audit log from the store; stopped after the service, so
  // "server.stopped" reaches them too.
  auto sinks = service::Sinks::Create(*config, (*svc)->store(), metrics.get(),
                                      [s = svc->get()] { return s->policy(); },
                                      [s = svc->get()](const std::string& name,
                                                       const std::string& target,
                                                       const std::string& error) {
                                        // To the security contacts, through the other sinks.
                                        (void)s->RaiseAlert(
                                            "sink_failing",
                                            fmt::format("notification sink '{}' ({}) is failing: "
                                                        "{}",
                                                        name, target, error),
                                            {{"sink", name}});
                                      });
  if (!sinks) {
    Fail(g, sinks.error());
    return g.exit_code;
  }
  if (!(*sinks)->empty()) {
    if (!pg) (*sinks)->Start();
    (*svc)->SubscribeAudit([s = sinks->get()](int64_t, const std::string&) { s->Wake(); });
  }
  if (auto s = (*svc)->Start(/*background=*/pg == nullptr); !s) {
    Fail(g, s.error());
    return g.exit_code;
  }
  if (auto s = AuditUnseal(**svc, unsealed.events); !s) {
    Fail(g, s.error());
    return g.exit_code;
  }
  auto checkpointer = service::Checkpointer::ForService(
      **svc, [](const std::string& url, const std::string& note) {
        return notify::HttpPost(url, "text/plain; charset=utf-8", note);
      });
  if (!pg) checkpointer->Start();
  if (config->demo) {
    if (auto s = EnsureDemoUsers(**svc, config->data_dir); !s) {
      Fail(g, s.error());
      return g.exit_code;
    }
  }
  http::HttpServerOptions opts;
  opts.host = listen->first;
  opts.port = listen->second;
  opts.tls = !config->plain_http;
  opts.threads = config->http_threads;
  ApplyHttpLimits(*config, opts);
  std::string scheme = opts.tls ? "https" : "http";
  std::string fingerprint;
  if (opts.tls) {
    if (!config->tls_cert.empty()) {
      opts.cert_file = config->Resolve(config->tls_cert);
      opts.key_file = config->Resolve(config->tls_key.empty() ? "tls.key" : config->tls_key);
      auto fp = http::CertificateFingerprint(opts.cert_file);
      if (!fp) {
        Fail(g, fp.error());
        return g.exit_code;
      }
      fingerprint = *fp;
    } else {
      auto cert = http::EnsureSelfSignedCertificate(config->data_dir);
      if (!cert) {
        Fail(g, cert.error());
        return g.exit_code;
      }
      opts.cert_file = cert->cert_path;
      opts.key_file = cert->key_path;
      fingerprint = cert->sha256_fingerprint;
      if (cert->created) std::cout << "Created a self-signed TLS certificate: " << cert->cert_path << "\n";
    }
  }
  api::Api api(**svc);
  api::AddSessionRoutes(api, **svc);
  api::AddReviewRoutes(api, **svc);
  api::AddAttestationRoutes(api, **svc);
  api::AddDrillRoutes(api, **svc);
  connectors::ConnectorHealth health(**svc, config->probe_interval);
  health.Start();
  api::AddConnectorRoutes(api, **svc, &health);
  api::AddInventoryRoutes(api, **svc, &health);
  api::AddPageRoutes(api, **svc);
  api::AddSinkRoutes(api, sinks->get());
  opts.on_complete = [&api](const http::HttpRequest& r, int status, double s) {
    api.OnComplete(r, status, s);
  };
  opts.on_stream_dropped = [&api] { api.OnStreamDropped(); };
  opts.on_refused = [&api](http::Refusal r) { api.OnConnectionRefused(r); };
  opts.on_timeout = [&api](http::Deadline d) { api.OnConnectionTimeout(d); };
  opts.listen_fd = unsealed.listen_fd;  // after unsealing: the same socket, never closed
  auto server = http::HttpServer::Start(opts, [&api](http::HttpRequest r, std::shared_ptr<http::ResponseWriter> w) {
    api.Handle(std::move(r), std::move(w));
  });
  if (!server) {
    if (unsealed.listen_fd >= 0) ::close(unsealed.listen_fd);
    Fail(g, server.error());
    return g.exit_code;
  }
  if (unsealed.sealed_server) unsealed.sealed_server->Stop();  // its last answers are out
  (void)(*svc)->metrics().AddGaugeCallback(
      "breakglass_http_connections_open", "HTTP connections open now.",
      [s = server->get()] { return static_cast<double>(s->open_connections()); });
  std::string host = listen->first.find(':') != std::string::npos ? "[" + listen->first + "]" : listen->first;
  std::cout << fmt::format("breakglass listening on {}://{}:{}\n", scheme, host, (*server)->port());
  if (opts.tls) {
    std::cout << "TLS certificate SHA-256 fingerprint: " << fingerprint << "\n"
              << "Clients: export BREAKGLASS_CACERT="
              << std::filesystem::absolute(opts.cert_file).string() << "\n";
  }
  std::cout << std::flush;
  log::Info("server.listening",
            {{"address", fmt::format("{}:{}", host, (*server)->port())}, {"tls", opts.tls}});
  std::unique_ptr<BackgroundLease> lease;
  if (pg) {
    lease = std::make_unique<BackgroundLease>(
        *pg, [svc = svc->get(), cp = checkpointer.get(), sk = sinks->get()]() -> Status {
          BG_TRY(svc->StartBackground());
          cp->Start();
          sk->Start();
          return Ok();
        });
  }
  for (;;) {
    int sig = 0;
    sigwait(&signals, &sig);
    if (sig == SIGHUP) {
      if (auto s = (*svc)->ReloadPolicy(); !s) {
        log::Error("policy.reload_failed",
                   {{"keeping", "last good policy"}, {"error", s.error().message()}});
      }
      continue;
    }
    break;
  }
  log::Info("server.stopping");
  (*server)->Stop();
  if (lease) lease->Stop();
  health.Stop();
  (*svc)->Stop();
  // After the service: the last checkpoint and the sinks cover "server.stopped".
  checkpointer->Stop();
  (*sinks)->Stop();
  return 0;
}

}  // namespace

void AddServeCommand(CLI::App& app, Globals& g) {
  auto flags = std::make_shared<ServeFlags>();
  auto* cmd = app.add_subcommand(
      "serve",
      "Run the server. With no flags: the embedded default (SQLite in ./breakglass-data, the demo "
      "policy, demo users, HTTPS on 127.0.0.1:8443 with a self-signed certificate).");
  cmd->add_option("--config", flags->local.config, "Server configuration file (TOML)");
  cmd->add_option("--data-dir", flags->local.data_dir,
                  "Data directory (overrides the file); must exist unless --init");
  cmd->add_flag("--init", flags->local.init,
                "Create the data directory if it does not exist (without flags the embedded "
                "default creates its ./breakglass-data itself)");
  cmd->add_option("--policy", flags->policy, "Policy file (overrides the file)");
  cmd->add_option("--listen", flags->listen, "HOST:PORT to listen on (overrides the file)");
  cmd->add_option("--storage", flags->storage,
                  "sqlite, sqlite:PATH or postgresql://USER@HOST:PORT/DATABASE (overrides the "
                  "file; see docs/deploy-ha.md)");
  cmd->add_flag("--plain-http", flags->plain_http,
                "Serve plain HTTP instead of HTTPS (loopback addresses only)");
  cmd->add_option("--witness", flags->witnesses,
                  "POST each new audit checkpoint to this URL (repeatable; overrides the file)");
  cmd->add_option("--syslog", flags->syslog,
                  "Forward every audit event as RFC 5424 syslog: udp://HOST:PORT or tcp://HOST:PORT");
  cmd->add_option("--checkpoint-interval", flags->checkpoint_interval,
                  "Sign a new audit checkpoint at least this often while the log grows (10s)");
  cmd->add_flag("--sealed", flags->sealed,
                "Start sealed: serve only /healthz and /v1/sys/unseal until enough shares of "
                "master-kit.json (kit seal-master) restore the master key (breakglass unseal)");
  cmd->callback([&g, flags] { g.exit_code = RunServe(g, *flags); });
}

}  // namespace bg::cli
