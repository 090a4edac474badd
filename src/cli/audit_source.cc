#include "cli/audit_source.h"

#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <charconv>
#include <cstdio>
#include <iostream>

#include "audit/merkle.h"
#include "service/data_dir.h"
#include "store/store.h"
#include "util/encoding.h"
#include "util/fs.h"

namespace bg::cli {
namespace {

using nlohmann::json;

constexpr char kLatestCheckpointMeta[] = "audit.checkpoint.latest";
constexpr char kVerifierKeyMeta[] = "audit.verifier_key";

// Offline and read-only: the store of a data directory.
class StoreSource final : public LogSource {
 public:
  static Result<std::unique_ptr<StoreSource>> Open(const service::ServerConfig& c) {
    BG_ASSIGN_OR_RETURN(service::OfflineStore data,
                        service::OpenOfflineStore(c, OfflineClaim(service::DataDirUse::kRead, "audit")));
    return std::unique_ptr<StoreSource>(new StoreSource(std::move(data.store), c.data_dir));
  }
  std::string Describe() const override { return data_dir_; }
  Result<std::string> CheckpointNote() override { return Meta(kLatestCheckpointMeta); }
  Result<std::string> VerifierKey() override { return Meta(kVerifierKeyMeta); }
  Result<int64_t> Size() override { return store_->AuditSize(); }
  Status Read(int64_t start, int64_t end, const EntryFn& fn) override {
    constexpr int64_t kPage = 10000;
    for (int64_t at = start; at < end;) {
      BG_ASSIGN_OR_RETURN(auto leaves, store_->AuditLeaves(at, std::min(end, at + kPage)));
      if (leaves.empty()) return Error::Internal(fmt::format("no leaf {} in the store", at));
      for (auto& leaf : leaves) {
        BG_ASSIGN_OR_RETURN(std::string hash, store_->AuditNodeHash(0, at));
        BG_TRY(fn(at++, std::move(leaf), hash));
      }
    }
    return Ok();
  }
  Result<std::vector<std::string>> InclusionProof(int64_t index, int64_t size) override {
    return audit::InclusionProof(index, size, [this](int level, int64_t i) {
      return store_->AuditNodeHash(level, i);
    });
  }

 private:
  StoreSource(std::unique_ptr<store::Store> s, std::string dir)
      : store_(std::move(s)), data_dir_(std::move(dir)) {}
  Result<std::string> Meta(const std::string& key) {
    BG_ASSIGN_OR_RETURN(auto v, store_->GetMeta(key));
    if (!v) {
      return Error::FailedPrecondition(
          fmt::format("{} has no signed checkpoint yet ({}): run the server (it signs one within "
                      "its checkpoint_interval) or export from it with --server",
                      data_dir_, key));
    }
    return *v;
  }
  std::unique_ptr<store::Store> store_;
  std::string data_dir_;
};

}  // namespace

Status OutFile::Open(const std::string& path) {
  path_ = path;
  tmp_ = path + ".tmp";
  f_ = std::fopen(tmp_.c_str(), "wb");
  if (f_ == nullptr) return Error::InvalidArgument("out", "cannot write " + path);
  return Ok();
}

void OutFile::Line(std::string_view s) {
  std::fwrite(s.data(), 1, s.size(), f_);
  std::fputc('\n', f_);
}

Status OutFile::Commit() {
  bool ok = std::fflush(f_) == 0 && fsync(fileno(f_)) == 0;
  ok = std::fclose(f_) == 0 && ok;
  f_ = nullptr;
  if (!ok || std::rename(tmp_.c_str(), path_.c_str()) != 0) {
    return Error::Unavailable("cannot write " + path_);
  }
  return Ok();
}

OutFile::~OutFile() {
  if (f_ != nullptr) {
    std::fclose(f_);
    std::remove(tmp_.c_str());
  }
}

Progress::Progress(std::string label, bool enabled)
    : label_(std::move(label)), enabled_(enabled), tty_(isatty(STDERR_FILENO) != 0) {}

void Progress::Update(int64_t done, int64_t total) {
  if (!enabled_ || total <= 0) return;
  int pct = static_cast<int>(done * 100 / total);
  if (tty_ ? pct == last_ : pct / 10 == last_ / 10) return;
  last_ = pct;
  constexpr int kWidth = 30;
  int fill = pct * kWidth / 100;
  std::string bar = std::string(static_cast<size_t>(fill), '=') +
                    std::string(static_cast<size_t>(kWidth - fill), ' ');
  std::cerr << fmt::format("{}{} [{}] {:3d}% {}/{}{}", tty_ ? "\r" : "", label_, bar, pct, done,
                           total, tty_ ? "" : "\n")
            << std::flush;
  drawn_ = true;
}

void Progress::Finish() {
  if (enabled_ && tty_ && drawn_) std::cerr << "\n";
}

Result<std::string> ServerSource::CheckpointNote() { return Text("/v1/audit/checkpoint"); }

Result<std::string> ServerSource::VerifierKey() {
  BG_ASSIGN_OR_RETURN(std::string k, Text("/v1/audit/key"));
  while (!k.empty() && (k.back() == '\n' || k.back() == '\r')) k.pop_back();
  return k;
}

Result<int64_t> ServerSource::Size() {
  BG_ASSIGN_OR_RETURN(json j, client_.Json("GET", "/v1/audit/entries?start=0&end=0"));
  if (!j.contains("size") || !j["size"].is_number_integer()) {
    return Error::Internal("the server's answer has no log size");
  }
  return j["size"].get<int64_t>();
}

Status ServerSource::Read(int64_t start, int64_t end, const EntryFn& fn) {
  std::string path = fmt::format("/v1/audit/entries?start={}&end={}", start, end);
  int64_t expect = start;
  while (expect < end) {
    BG_ASSIGN_OR_RETURN(json j, client_.Json("GET", path));
    if (!j.contains("entries") || !j["entries"].is_array() || j["entries"].empty()) {
      return Error::Internal(fmt::format("the server sent no entry {}", expect));
    }
    for (const auto& e : j["entries"]) {
      auto leaf = e.contains("leaf") && e["leaf"].is_string()
                      ? Base64Decode(e["leaf"].get<std::string>())
                      : std::nullopt;
      if (!leaf || e.value("index", int64_t{-1}) != expect) {
        return Error::Internal(fmt::format("the server sent a malformed entry {}", expect));
      }
      BG_TRY(fn(expect++, std::move(*leaf), std::nullopt));
    }
    if (!j.contains("next") || !j["next"].is_string()) break;
    path = j["next"].get<std::string>();
  }
  if (expect < end) return Error::Internal(fmt::format("the server stopped at entry {}", expect));
  return Ok();
}

Result<std::vector<std::string>> ServerSource::ConsistencyProof(int64_t first, int64_t second) {
  return Proof(fmt::format("/v1/audit/proof/consistency?first={}&second={}", first, second),
               "consistency");
}

Result<std::vector<std::string>> ServerSource::InclusionProof(int64_t index, int64_t size) {
  return Proof(fmt::format("/v1/audit/proof/inclusion?index={}&size={}", index, size),
               "inclusion");
}

Result<std::string> ServerSource::Text(const std::string& path) {
  BG_ASSIGN_OR_RETURN(ApiResponse r, client_.Send("GET", path));
  return r.body;
}

Result<std::vector<std::string>> ServerSource::Proof(const std::string& path,
                                                     std::string_view kind) {
  BG_ASSIGN_OR_RETURN(ApiResponse r, client_.Send("GET", path));
  return audit::ParseProofAnswer(r.body, kind);
}


// A bundle or export that cannot be read is a bad argument (exit 2, as audit_test holds).
Result<std::string> ReadFile(const std::string& path) {
  auto text = fs::ReadWholeFile(path, "file");
  if (!text) return Error::InvalidArgument("file", text.error().message());
  return text;
}

Status WriteWhole(const std::string& path, std::string_view text) {
  OutFile f;
  BG_TRY(f.Open(path));
  f.Line(text.substr(0, text.size() - (!text.empty() && text.back() == '\n' ? 1 : 0)));
  return f.Commit();
}

bool ShowProgress(bool forced) { return forced || isatty(STDERR_FILENO) != 0; }


// "entry 17: ..." -> 17
std::optional<int64_t> EntryIndexOf(const std::string& message) {
  constexpr std::string_view kPrefix = "entry ";
  if (message.rfind(kPrefix, 0) != 0) return std::nullopt;
  int64_t index = 0;
  const char* begin = message.data() + kPrefix.size();
  auto [ptr, ec] = std::from_chars(begin, message.data() + message.size(), index);
  if (ec != std::errc() || ptr == begin) return std::nullopt;
  return index;
}

// "entries 3..4: ..." -> (3, 4)
std::optional<std::pair<int64_t, int64_t>> EntryRangeOf(const std::string& message) {
  constexpr std::string_view kPrefix = "entries ";
  if (message.rfind(kPrefix, 0) != 0) return std::nullopt;
  const char* p = message.data() + kPrefix.size();
  const char* end = message.data() + message.size();
  int64_t first = 0, last = 0;
  auto [q, ec] = std::from_chars(p, end, first);
  if (ec != std::errc() || q == p || end - q < 2 || q[0] != '.' || q[1] != '.') return std::nullopt;
  auto [r, ec2] = std::from_chars(q + 2, end, last);
  if (ec2 != std::errc() || r == q + 2 || r == end || *r != ':') return std::nullopt;
  return std::make_pair(first, last);
}

Result<std::optional<Timestamp>> ParseTimeBound(const std::string& text, const char* field) {
  if (text.empty()) return std::optional<Timestamp>();
  if (auto t = ParseRfc3339(text, field)) return std::optional<Timestamp>(*t);
  // Days ("90d", "7d12h") as well as the h, m and s of every other duration.
  int64_t days = 0;
  std::string_view rest = text;
  const size_t d_at = rest.find('d');
  if (d_at != std::string_view::npos && d_at > 0 && d_at <= 5 &&
      rest.find_first_not_of("0123456789") == d_at) {
    for (char c : rest.substr(0, d_at)) days = days * 10 + (c - '0');
    rest.remove_prefix(d_at + 1);
  }
  auto d = rest.empty() && days > 0 ? Result<Seconds>(Seconds(0)) : ParseDuration(rest, field);
  if (!d) {
    return Error::InvalidArgument(field,
                                  "must be an RFC 3339 time or a duration ago (90d, 24h, 90m)");
  }
  return std::optional<Timestamp>(SystemClock::Get().Now() - *d - std::chrono::days(days));
}

Result<std::optional<std::string>> ReadOptional(const std::string& path) {
  if (path.empty()) return std::optional<std::string>();
  BG_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  return std::optional<std::string>(std::move(text));
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

bool IsLocal(const LocalConfigFlags& f) { return !f.config.empty() || !f.data_dir.empty(); }

Result<std::unique_ptr<LogSource>> OpenSource(const Globals& g, const LocalConfigFlags& local) {
  if (IsLocal(local)) {
    BG_ASSIGN_OR_RETURN(auto config, LoadLocalConfig(local));
    BG_ASSIGN_OR_RETURN(auto src, StoreSource::Open(config));
    return std::unique_ptr<LogSource>(std::move(src));
  }
  ClientOptions o = ResolveClientOptions(g.client);
  if (o.server.empty()) {
    return Error::InvalidArgument(
        "server", "say where the log is: --data-dir DIR, --config FILE or --server URL");
  }
  return std::unique_ptr<LogSource>(std::make_unique<ServerSource>(std::move(o)));
}


audit::ChangedRange LocateChangedLeaf(LogSource& source,
                                      const std::vector<std::string>& leaf_hashes,
                                      const audit::Checkpoint& cp) {
  auto at = audit::LocateChange(leaf_hashes, cp.size, cp.root, [&](int64_t i, int64_t n) {
    return source.InclusionProof(i, n);
  });
  return at ? *at : audit::ChangedRange{0, cp.size - 1};
}

void AddLocalFlags(CLI::App* cmd, LocalConfigFlags& local) {
  cmd->add_option("--data-dir", local.data_dir, "Read the log offline from this data directory");
  cmd->add_option("--config", local.config,
                  "Read the log offline from the data directory of this server configuration");
}

// Prints the outcome of a verification and sets the exit code.
void Report(Globals& g, const Result<nlohmann::json>& r) {
  if (r) {
    Print(g, *r, (*r)["summary"].get<std::string>());
    return;
  }
  const Error& e = r.error();
  if (e.code() != ErrorCode::kInvalidArgument ||
      (e.field() != "entries" && e.field() != "trusted_checkpoint" && e.field() != "checkpoint" &&
       e.field() != "proof")) {
    Fail(g, e);
    return;
  }
  nlohmann::json j = {{"ok", false}, {"error", e.message()}};
  if (auto i = EntryIndexOf(e.message())) j["first_bad_index"] = *i;
  if (auto range = EntryRangeOf(e.message())) j["bad_range"] = {range->first, range->second};
  if (g.json) std::cout << j.dump() << "\n";
  std::cerr << "breakglass: verification FAILED: " << e.message() << "\n";
  g.exit_code = kVerifyFailed;
}

}  // namespace bg::cli
