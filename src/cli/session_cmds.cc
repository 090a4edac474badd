// Session commands: record (the recorder, also as an SSH forced command), shell, replay,
// sessions list, sessions upload.
#include <CLI/CLI.hpp>
#include <curl/curl.h>
#include <fmt/format.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include <chrono>
#include <iostream>
#include <thread>

#include "cli/common.h"
#include "cli/text.h"
#include "core/policy.h"
#include "session/grant.h"
#include "session/recorder.h"
#include "session/replay.h"
#include "session/shipper.h"
#include "session/spool.h"
#include "util/random.h"
#include "util/fs.h"

namespace bg::cli {
namespace {

// The recorder's way to the server: the CLI's client.
class ClientTransport final : public session::Transport {
 public:
  explicit ClientTransport(ClientOptions o) : options_(std::move(o)) {}
  Result<std::string> Call(const std::string& method, const std::string& path,
                           const std::string& body) override {
    Client c(options_);
    BG_ASSIGN_OR_RETURN(ApiResponse r, c.Send(method, path, body));
    return std::move(r.body);
  }

 private:
  const ClientOptions options_;
};

Result<int64_t> DurationSeconds(const std::string& text, const std::string& field) {
  BG_ASSIGN_OR_RETURN(Seconds d, ParseDuration(text, field));
  return d.count();
}

struct RecordFlags {
  std::string grant;
  std::string token_file;
  std::string until;
  std::string warn_before = "5m";
  std::string grace = "5s";
  std::string poll = "1s";
  std::string spool_dir;
  std::string output;
  std::string upload_wait = "10s";
  std::string shell;
  std::string recording = "best_effort";
  bool no_input = false;
  std::vector<std::string> command;
};

Result<std::string> ReadTokenFile(const std::string& path) {
  BG_ASSIGN_OR_RETURN(std::string text, fs::ReadWholeFile(path, "token-file"));
  std::string token = text.substr(0, text.find('\n'));
  while (!token.empty() && (token.back() == '\r' || token.back() == ' ')) token.pop_back();
  if (token.empty()) return Error::InvalidArgument("token-file", path + " is empty");
  return token;
}

// Starts `breakglass sessions upload --session ID --retry-for N` detached from the session (its
// own session id, no terminal, standard descriptors on /dev/null, so sshd and the terminal do
// not wait for it), with the server, CA and recording credential in its environment. False when
// it could not be started.
bool StartBackgroundUpload(const ClientOptions& co, const std::string& session_id,
                           const std::string& spool_root, int64_t retry_for_seconds) {
  char self[4096];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return false;
  self[n] = '\0';
  const pid_t pid = fork();
  if (pid < 0) return false;
  if (pid == 0) {
    setsid();
    if (fork() != 0) _exit(0);  // the uploader is nobody's child: no zombie, no waiting
    const int null = open("/dev/null", O_RDWR);
    for (int fd = 0; fd < 3; ++fd) dup2(null, fd);
    close_range(3, ~0U, 0);
    setenv("BREAKGLASS_SERVER", co.server.c_str(), 1);
    if (!co.cacert.empty()) setenv("BREAKGLASS_CACERT", co.cacert.c_str(), 1);
    setenv("BREAKGLASS_TOKEN", co.token.c_str(), 1);
    const std::string retry = std::to_string(retry_for_seconds);
    execl(self, "breakglass", "sessions", "upload", "--session", session_id.c_str(),
          "--spool-dir", spool_root.c_str(), "--retry-for", retry.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

// Runs a recorded session; returns the program's exit code.
Result<int> Record(Globals& g, const RecordFlags& f) {
  if (f.grant.empty() && f.output.empty()) {
    return Error::InvalidArgument("grant", "name the grant (--grant REQUEST_ID) or --output FILE");
  }
  auto policy = core::ParseRecording(f.recording);
  if (!policy) {
    return Error::InvalidArgument("recording", "must be \"required\" or \"best_effort\"");
  }
  bool required = *policy == core::Recording::kRequired;
  curl_global_init(CURL_GLOBAL_DEFAULT);
  session::RecorderOptions ro;
  BG_ASSIGN_OR_RETURN(ro.warn_before_seconds, DurationSeconds(f.warn_before, "warn-before"));
  BG_ASSIGN_OR_RETURN(int64_t grace, DurationSeconds(f.grace, "grace"));
  ro.grace = std::chrono::seconds(grace);
  BG_ASSIGN_OR_RETURN(int64_t poll, DurationSeconds(f.poll, "poll"));
  BG_ASSIGN_OR_RETURN(int64_t upload_wait, DurationSeconds(f.upload_wait, "upload-wait"));
  ro.argv = f.command;
  ro.shell = f.shell;
  ro.record_input = !f.no_input;
  if (const char* c = getenv("SSH_ORIGINAL_COMMAND"); c && *c && f.command.empty()) {
    ro.ssh_original_command = c;
  }
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  ro.header.host = host;
  ro.header.session_id = NewId("ses");
  const char* login = getenv("USER");
  ro.header.user = login ? login : "";

  ClientOptions co = g.client;
  if (!f.token_file.empty()) {
    BG_ASSIGN_OR_RETURN(co.token, ReadTokenFile(f.token_file));
  }
  co = ResolveClientOptions(co);
  ClientTransport transport(co);
  session::GrantState grant;
  if (!f.until.empty()) {
    BG_ASSIGN_OR_RETURN(Timestamp until, ParseRfc3339(f.until, "until"));
    grant.SetEndsAt(ToUnixSeconds(until));
  }

  const std::string spool_root = f.spool_dir.empty() ? session::DefaultSpoolRoot() : f.spool_dir;
  std::vector<session::ChunkSink*> sinks;
  std::unique_ptr<session::Shipper> shipper;
  std::unique_ptr<session::GrantWatcher> watcher;
  // The shipper's lines: while a PTY session holds the terminal in raw mode they need "\r\n";
  // without a terminal they are plain stderr lines.
  const bool pty = session::UsePty(ro);
  auto notice = [pty](const std::string& line) {
    std::cerr << (pty ? "\r\n" + line + "\r\n" : line + "\n") << std::flush;
  };
  if (!f.grant.empty()) {
    ro.header.request_id = f.grant;
    auto state = session::GrantWatcher::PollOnce(transport, f.grant, grant);
    if (state && *state != "active") {
      return Error::FailedPrecondition(
          fmt::format("request {} is {}, not active: no session", f.grant, *state));
    }
    if (!state && required) {
      return Error::Unavailable(fmt::format(
          "request {} requires a recorded session (recording = \"required\") and the server "
          "cannot be reached or verified ({}): the session does not start",
          f.grant, state.error().message()));
    }
    if (!state && state.error().code() != ErrorCode::kUnavailable) return state.error();
    required = required || grant.recording_required();
    if (state) {
      if (auto me = Client(co).Json("GET", "/v1/me")) ro.header.user = me->value("user", "");
    } else {
      std::cerr << "breakglass: the server is unreachable (" << state.error().message()
                << "); recording to the local spool and uploading when it is back\n";
    }
    session::ShipperOptions so;
    so.session_id = ro.header.session_id;
    so.request_id = f.grant;
    so.spool_dir = spool_root + "/" + so.session_id;
    BG_ASSIGN_OR_RETURN(shipper, session::Shipper::Start(transport, so, notice));
    sinks.push_back(shipper.get());
    if (required) {
      session::Shipper* s = shipper.get();
      const std::string grant_id = f.grant;
      ro.start_gate = [s, grant_id, upload_wait]() -> Status {
        if (s->WaitUploaded(1, std::chrono::seconds(upload_wait))) return Ok();
        return Error::Unavailable(fmt::format(
            "request {} requires a recorded session (recording = \"required\") and the server "
            "did not commit its first chunk ({}): the session does not start",
            grant_id, s->stats().last_error.empty() ? "no answer" : s->stats().last_error));
      };
    }
    watcher = std::make_unique<session::GrantWatcher>(transport, f.grant, grant,
                                                      std::chrono::seconds(poll));
  }
  std::unique_ptr<session::CastFile> file;
  if (!f.output.empty()) {
    BG_ASSIGN_OR_RETURN(file, session::CastFile::Open(f.output));
    sinks.push_back(file.get());
  }
  session::TeeSink sink(sinks);
  ro.child_env["BREAKGLASS_SESSION"] = ro.header.session_id;
  if (!f.grant.empty()) ro.child_env["BREAKGLASS_REQUEST"] = f.grant;
  if (!f.grant.empty()) {
    std::string until = grant.ends_at() > 0
                            ? " until " + FormatRfc3339(FromUnixSeconds(grant.ends_at()))
                            : "";
    std::cerr << fmt::format("breakglass: recording session {} under request {}{}\n",
                             ro.header.session_id, f.grant, until)
              << std::flush;
  }
  auto result = session::RunRecorder(ro, sink, f.grant.empty() ? nullptr : &grant);
  watcher.reset();
  if (!result) {
    if (shipper) {
      // Nothing ran: the session's spool (its header chunk) goes with it.
      shipper->Stop();
      std::error_code ec;
      std::filesystem::remove_all(shipper->spool_dir(), ec);
    }
    return result.error();
  }
  if (shipper) {
    if (shipper->Drain(std::chrono::seconds(upload_wait))) {
      std::cerr << fmt::format("breakglass: session {} recorded ({} chunks, {})\n",
                               ro.header.session_id, result->chunks, result->end_reason);
      shipper->Stop();
    } else {
      shipper->Stop();
      // The recording credential lasts until the grant's end plus an hour: keep trying as long.
      const int64_t now = static_cast<int64_t>(time(nullptr));
      const int64_t retry_for =
          std::max<int64_t>(600, grant.ends_at() > 0 ? grant.ends_at() + 3600 - now : 3600);
      const bool started = StartBackgroundUpload(co, ro.header.session_id, spool_root, retry_for);
      std::cerr << fmt::format(
          "breakglass: session {} is not fully uploaded yet; it is kept in {}{}\n",
          ro.header.session_id, shipper->spool_dir(),
          started ? " and sent in the background as soon as the server is reachable"
                  : " (send it with `breakglass sessions upload`)");
    }
  }
  return result->exit_code;
}

void AddRecordFlags(CLI::App* cmd, RecordFlags& f) {
  cmd->add_option("--token-file", f.token_file, "Read the bearer token from this file");
  cmd->add_option("--until", f.until,
                  "The grant's end (RFC 3339), enforced even while the server is unreachable");
  cmd->add_option("--warn-before", f.warn_before, "Warn this long before the grant ends")
      ->capture_default_str();
  cmd->add_option("--grace", f.grace, "Between SIGHUP and SIGKILL at the end")
      ->capture_default_str();
  cmd->add_option("--poll", f.poll, "How often to ask the server about the grant")
      ->capture_default_str();
  cmd->add_option("--spool-dir", f.spool_dir, "Local spool (default ~/.local/state/breakglass/spool)");
  cmd->add_option("--output", f.output, "Also write the recording to this .cast file");
  cmd->add_option("--upload-wait", f.upload_wait, "At the end, wait this long for the upload")
      ->capture_default_str();
  cmd->add_option("--shell", f.shell, "The shell to run (default $SHELL)");
  cmd->add_flag("--no-input", f.no_input, "Do not record keystrokes (output only)");
  cmd->add_option("--recording", f.recording,
                  "required: start only once the server has committed the first chunk (refuse "
                  "when it cannot be reached or verified); best_effort: start anyway and spool. "
                  "The rule's choice (in the certificate's force-command, or from the server) "
                  "wins when stricter")
      ->capture_default_str();
  cmd->add_option("command", f.command, "The program to run (default: a login shell)");
}

Result<std::string> LoadRecording(Globals& g, const std::string& what) {
  if (access(what.c_str(), R_OK) == 0) return fs::ReadWholeFile(what);
  Client c(ResolveClientOptions(g.client));
  BG_ASSIGN_OR_RETURN(ApiResponse r, c.Send("GET", "/v1/sessions/" + UrlPart(what) + "/recording"));
  return std::move(r.body);
}

}  // namespace

void AddSessionCommands(CLI::App& app, Globals& g) {
  {
    auto f = std::make_shared<RecordFlags>();
    auto* cmd = app.add_subcommand(
        "record",
        "Run a program (default: the login shell; $SSH_ORIGINAL_COMMAND when set) recorded, "
        "streaming the recording to the server: under a pseudo-terminal when stdin and stdout "
        "are terminals, else with pipes that pass the bytes unchanged. As an SSH forced "
        "command: breakglass record --grant ID --server URL");
    cmd->add_option("--grant", f->grant, "The request whose grant this session runs under");
    AddRecordFlags(cmd, *f);
    cmd->callback([&g, f] {
      auto r = Record(g, *f);
      if (!r) return Fail(g, r.error());
      g.exit_code = *r;
    });
  }
  {
    auto f = std::make_shared<RecordFlags>();
    auto* cmd = app.add_subcommand("shell", "Open a recorded shell under an active grant");
    cmd->add_option("request", f->grant, "The request id")->required();
    AddRecordFlags(cmd, *f);
    cmd->callback([&g, f] {
      auto r = Record(g, *f);
      if (!r) return Fail(g, r.error());
      g.exit_code = *r;
    });
  }
  {
    auto what = std::make_shared<std::string>();
    auto opts = std::make_shared<session::PlayOptions>();
    auto cat = std::make_shared<bool>(false);
    auto* cmd = app.add_subcommand("replay", "Play a recorded session (a session id or a .cast file)");
    cmd->add_option("session", *what, "Session id, or a .cast file")->required();
    cmd->add_option("--speed", opts->speed, "Speed factor")->capture_default_str();
    cmd->add_option("--idle-limit", opts->idle_limit,
                    "Cut pauses longer than this many seconds (0: keep them)")
        ->capture_default_str();
    cmd->add_flag("--cat", *cat, "Print the whole output at once");
    cmd->callback([&g, what, opts, cat] {
      if (auto s = session::CheckPlayOptions(*opts); !s) return Fail(g, s.error());
      auto text = LoadRecording(g, *what);
      if (!text) return Fail(g, text.error());
      auto cast = session::ParseCast(*text);
      if (!cast) return Fail(g, cast.error());
      if (*cat) {
        std::cout << session::CatText(*cast) << std::flush;
        return;
      }
      (void)session::Play(
          *cast, *opts, [](std::string_view s) { std::cout.write(s.data(), s.size()).flush(); },
          [](int64_t us) { std::this_thread::sleep_for(std::chrono::microseconds(us)); });
    });
  }
  {
    auto* sessions = app.add_subcommand("sessions", "Recorded sessions");
    sessions->require_subcommand(1);
    auto request = std::make_shared<std::string>();
    auto* list = sessions->add_subcommand("list", "List the recorded sessions of a request");
    list->add_option("--request", *request, "The request id")->required();
    list->callback([&g, request] {
      Client c(ResolveClientOptions(g.client));
      auto r = c.Json("GET", "/v1/sessions?request=" + UrlPart(*request));
      if (!r) return Fail(g, r.error());
      std::string human;
      for (const auto& s : (*r)["sessions"]) {
        human += fmt::format("{}  {}  {} .. {}  {}\n", TerminalSafe(s.value("id", "")),
                             TerminalSafe(s.value("user", "")),
                             TerminalSafe(s.value("started_at", "")),
                             TerminalSafe(s.value("ended_at", "-")),
                             s.value("complete", false) ? "complete" : "incomplete");
      }
      if (human.empty()) human = "no sessions\n";
      Print(g, *r, human);
    });
    auto spool = std::make_shared<std::string>();
    auto only = std::make_shared<std::string>();
    auto retry_for = std::make_shared<std::string>("0s");
    auto* upload = sessions->add_subcommand("upload", "Send recordings left in the local spool");
    upload->add_option("--spool-dir", *spool, "The spool (default ~/.local/state/breakglass/spool)");
    upload->add_option("--session", *only, "Only this session's recording");
    upload->add_option("--retry-for", *retry_for,
                       "With --session: while the server is unreachable, retry with backoff "
                       "(1s doubling to 30s) for this long")
        ->capture_default_str();
    upload->callback([&g, spool, only, retry_for] {
      ClientTransport t(ResolveClientOptions(g.client));
      const std::string root = spool->empty() ? session::DefaultSpoolRoot() : *spool;
      auto retry = ParseDuration(*retry_for, "retry-for");
      if (!retry) return Fail(g, retry.error());
      if (only->empty() && retry->count() > 0) {
        return Fail(g, Error::InvalidArgument("retry-for", "needs --session"));
      }
      Result<session::UploadReport> r = session::UploadReport{};
      if (!only->empty()) {
        if (only->find('/') != std::string::npos || *only == "." || *only == "..") {
          return Fail(g, Error::InvalidArgument("session", "is not a session id"));
        }
        session::RetryOptions ro;
        ro.retry_for = std::chrono::duration_cast<std::chrono::milliseconds>(*retry);
        r = session::UploadSessionUntilDone(t, root + "/" + *only, ro, [](auto d) {
          std::this_thread::sleep_for(d);
        });
      } else {
        r = session::UploadSpool(t, root);
      }
      if (!r) return Fail(g, r.error());
      nlohmann::json j = {{"uploaded", r->uploaded}, {"pending", r->pending},
                          {"rejected", r->rejected}};
      Print(g, j, fmt::format("uploaded {} chunks; {} pending; {} refused", r->uploaded,
                              r->pending, r->rejected));
      if (r->pending > 0 || r->rejected > 0) g.exit_code = r->rejected > 0 ? 6 : 8;
    });
  }
}

}  // namespace bg::cli
