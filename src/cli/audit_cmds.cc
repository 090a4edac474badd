// `breakglass audit export|verify|show`: the audit log from a live server or, offline and
// read-only, from a data directory; bundles that `audit verify` checks without trusting us.
#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>

#include "audit/checkpoint.h"
#include "audit/event.h"
#include "audit/merkle.h"
#include "audit/verify.h"
#include "cli/common.h"
#include "cli/text.h"
#include "notify/cef.h"
#include "store/store.h"
#include "util/encoding.h"
#include "util/time.h"
#include "util/fs.h"
#include "service/data_dir.h"

namespace bg::cli {
namespace {

using nlohmann::json;

constexpr char kLatestCheckpointMeta[] = "audit.checkpoint.latest";
constexpr char kVerifierKeyMeta[] = "audit.verifier_key";
constexpr int kVerifyFailed = 1;  // "verification failed", distinct from usage errors (2)

// ---- small I/O helpers ----

// A bundle or export that cannot be read is a bad argument (exit 2, as audit_test holds).
Result<std::string> ReadFile(const std::string& path) {
  auto text = fs::ReadWholeFile(path, "file");
  if (!text) return Error::InvalidArgument("file", text.error().message());
  return text;
}

// Writes through a temporary file renamed into place, so a failed export leaves no half file.
class OutFile {
 public:
  Status Open(const std::string& path) {
    path_ = path;
    tmp_ = path + ".tmp";
    f_ = std::fopen(tmp_.c_str(), "wb");
    if (f_ == nullptr) return Error::InvalidArgument("out", "cannot write " + path);
    return Ok();
  }
  bool open() const { return f_ != nullptr; }
  void Line(std::string_view s) {
    std::fwrite(s.data(), 1, s.size(), f_);
    std::fputc('\n', f_);
  }
  Status Commit() {
    bool ok = std::fflush(f_) == 0 && fsync(fileno(f_)) == 0;
    ok = std::fclose(f_) == 0 && ok;
    f_ = nullptr;
    if (!ok || std::rename(tmp_.c_str(), path_.c_str()) != 0) {
      return Error::Unavailable("cannot write " + path_);
    }
    return Ok();
  }
  ~OutFile() {
    if (f_ != nullptr) {
      std::fclose(f_);
      std::remove(tmp_.c_str());
    }
  }

 private:
  std::string path_, tmp_;
  FILE* f_ = nullptr;
};

Status WriteWhole(const std::string& path, std::string_view text) {
  OutFile f;
  BG_TRY(f.Open(path));
  f.Line(text.substr(0, text.size() - (!text.empty() && text.back() == '\n' ? 1 : 0)));
  return f.Commit();
}

// A progress bar on stderr: redrawn in place on a terminal, one line per 10% otherwise.
class Progress {
 public:
  Progress(std::string label, bool enabled)
      : label_(std::move(label)), enabled_(enabled), tty_(isatty(STDERR_FILENO) != 0) {}
  void Update(int64_t done, int64_t total) {
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
  void Finish() {
    if (enabled_ && tty_ && drawn_) std::cerr << "\n";
  }

 private:
  std::string label_;
  bool enabled_;
  bool tty_;
  int last_ = -1;
  bool drawn_ = false;
};

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

// ---- where the log comes from ----

using EntryFn = std::function<Status(int64_t index, std::string leaf,
                                     const std::optional<std::string>& stored_hash)>;

class LogSource {
 public:
  virtual ~LogSource() = default;
  virtual std::string Describe() const = 0;
  virtual Result<std::string> CheckpointNote() = 0;
  virtual Result<std::string> VerifierKey() = 0;
  virtual Result<int64_t> Size() = 0;
  // Entries [start, end) in order; `stored_hash` is the hash the store kept, when known.
  virtual Status Read(int64_t start, int64_t end, const EntryFn& fn) = 0;
};

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

// A live server, through the API (auditors and admins).
class ServerSource final : public LogSource {
 public:
  explicit ServerSource(ClientOptions o) : client_(std::move(o)) {}
  std::string Describe() const override { return client_.options().server; }
  Result<std::string> CheckpointNote() override { return Text("/v1/audit/checkpoint"); }
  Result<std::string> VerifierKey() override {
    BG_ASSIGN_OR_RETURN(std::string k, Text("/v1/audit/key"));
    while (!k.empty() && (k.back() == '\n' || k.back() == '\r')) k.pop_back();
    return k;
  }
  Result<int64_t> Size() override {
    BG_ASSIGN_OR_RETURN(json j, client_.Json("GET", "/v1/audit/entries?start=0&end=0"));
    if (!j.contains("size") || !j["size"].is_number_integer()) {
      return Error::Internal("the server's answer has no log size");
    }
    return j["size"].get<int64_t>();
  }
  Status Read(int64_t start, int64_t end, const EntryFn& fn) override {
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
  Result<std::vector<std::string>> ConsistencyProof(int64_t first, int64_t second) {
    return Proof(fmt::format("/v1/audit/proof/consistency?first={}&second={}", first, second),
                 "consistency");
  }
  Result<std::vector<std::string>> InclusionProof(int64_t index, int64_t size) {
    return Proof(fmt::format("/v1/audit/proof/inclusion?index={}&size={}", index, size),
                 "inclusion");
  }

 private:
  Result<std::string> Text(const std::string& path) {
    BG_ASSIGN_OR_RETURN(ApiResponse r, client_.Send("GET", path));
    return r.body;
  }
  Result<std::vector<std::string>> Proof(const std::string& path, std::string_view kind) {
    BG_ASSIGN_OR_RETURN(json j, client_.Json("GET", path));
    std::vector<std::string> out;
    if (!j.contains("hashes") || !j["hashes"].is_array()) {
      return Error::Internal(fmt::format("the server's {} proof has no hashes", kind));
    }
    for (const auto& h : j["hashes"]) {
      auto raw = h.is_string() ? Base64Decode(h.get<std::string>()) : std::nullopt;
      if (!raw) return Error::Internal(fmt::format("the server's {} proof is not base64", kind));
      out.push_back(std::move(*raw));
    }
    return out;
  }
  Client client_;
};

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

// The server's entries do not hash to its signed root: which entry (or, where its proofs
// cannot single one out, which range) differs from the signed tree. Proofs are checked against
// the signed root (audit::LocateChange), so a server can widen the answer but not move it.
audit::ChangedRange LocateChangedLeaf(ServerSource& server,
                                      const std::vector<std::string>& leaf_hashes,
                                      const audit::Checkpoint& cp) {
  auto at = audit::LocateChange(leaf_hashes, cp.size, cp.root, [&](int64_t i, int64_t n) {
    return server.InclusionProof(i, n);
  });
  return at ? *at : audit::ChangedRange{0, cp.size - 1};
}

// ---- export ----

struct ExportFlags {
  LocalConfigFlags local;
  std::string format = "jsonl";
  std::string since, until, out, bundle;
  bool progress = false;
};

Result<std::optional<Timestamp>> ParseTimeBound(const std::string& text, const char* field) {
  if (text.empty()) return std::optional<Timestamp>();
  if (auto t = ParseRfc3339(text, field)) return std::optional<Timestamp>(*t);
  auto d = ParseDuration(text, field);
  if (!d) {
    return Error::InvalidArgument(field, "must be an RFC 3339 time or a duration ago (24h, 90m)");
  }
  return std::optional<Timestamp>(SystemClock::Get().Now() - *d);
}

int RunExport(Globals& g, const ExportFlags& f) {
  auto fail = [&](const Error& e) {
    Fail(g, e);
    return g.exit_code;
  };
  if (f.format != "jsonl" && f.format != "cef") {
    return fail(Error::InvalidArgument("format", "must be jsonl or cef"));
  }
  auto since = ParseTimeBound(f.since, "since");
  if (!since) return fail(since.error());
  auto until = ParseTimeBound(f.until, "until");
  if (!until) return fail(until.error());
  auto src = OpenSource(g, f.local);
  if (!src) return fail(src.error());
  LogSource& source = **src;
  auto note = source.CheckpointNote();
  if (!note) return fail(note.error());
  auto key = source.VerifierKey();
  if (!key) return fail(key.error());
  auto cp = audit::ParseAndVerifyCheckpoint(*note, *key);
  if (!cp) return fail(cp.error());
  const bool live = dynamic_cast<ServerSource*>(&source) != nullptr;
  // From a server: exactly the entries the checkpoint signs. From a store: all of them (entries
  // after the latest checkpoint are reported by `audit verify` as not yet signed).
  int64_t size = cp->size;
  if (!live) {
    auto s = source.Size();
    if (!s) return fail(s.error());
    size = *s;
  }

  OutFile out, bundle_entries;
  const bool to_stdout = f.out.empty() && f.bundle.empty();
  if (!f.out.empty()) {
    if (auto s = out.Open(f.out); !s) return fail(s.error());
  }
  if (!f.bundle.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(f.bundle, ec);
    if (auto s = bundle_entries.Open(f.bundle + "/entries.jsonl"); !s) return fail(s.error());
  }
  auto emit = [&](std::string_view line) {
    if (to_stdout) {
      std::cout << line << '\n';
    } else if (out.open()) {
      out.Line(line);
    }
  };

  Progress progress("exporting", ShowProgress(f.progress));
  audit::CompactRange range;
  std::vector<std::string> leaf_hashes;
  int64_t exported = 0, skipped_invalid = 0, changed_in_store = -1;
  auto status = source.Read(
      0, size,
      [&](int64_t i, std::string leaf, const std::optional<std::string>& stored) -> Status {
        std::string hash = audit::HashLeaf(leaf);
        if (stored && *stored != hash && changed_in_store < 0) changed_in_store = i;
        // A local export keeps the store's own hash (so `audit verify` names a changed leaf); a
        // live one the computed hash, vouched for by the signed root checked below.
        const std::string& line_hash = stored ? *stored : hash;
        if (live) {
          range.Append(hash);
          leaf_hashes.push_back(hash);
        }
        const std::string line = audit::FormatExportLine(i, leaf, line_hash);
        if (bundle_entries.open()) bundle_entries.Line(line);
        auto event = audit::ParseLeaf(leaf);
        bool in_window = true;
        if (event && ((*since && event->time < **since) || (*until && event->time >= **until))) {
          in_window = false;
        }
        if (in_window && (to_stdout || out.open())) {
          if (f.format == "jsonl") {
            emit(line);
            ++exported;
          } else if (event) {
            emit(notify::FormatCef(i, *event));
            ++exported;
          } else {
            ++skipped_invalid;
          }
        }
        progress.Update(i + 1, size);
        return Ok();
      });
  progress.Finish();
  if (!status) return fail(status.error());
  if (live && range.Root() != cp->root) {
    const auto at = LocateChangedLeaf(static_cast<ServerSource&>(source), leaf_hashes, *cp);
    std::cerr << "breakglass: the server's entries do not hash to its signed checkpoint of size "
              << cp->size << ": "
              << (at.exact() ? fmt::format("entry {} differs from the signed tree", at.first)
                             : fmt::format("one of entries {}..{} differs from the signed tree "
                                           "(the server's proofs do not single it out)",
                                           at.first, at.last))
              << "\n";
    return kVerifyFailed;
  }
  if (out.open()) {
    if (auto s = out.Commit(); !s) return fail(s.error());
  }
  if (bundle_entries.open()) {
    if (auto s = bundle_entries.Commit(); !s) return fail(s.error());
    if (auto s = WriteWhole(f.bundle + "/checkpoint.txt", *note); !s) return fail(s.error());
    if (auto s = WriteWhole(f.bundle + "/key.txt", *key); !s) return fail(s.error());
  }
  if (skipped_invalid > 0) {
    std::cerr << fmt::format(
        "breakglass: {} leaves are not valid audit events: not in the CEF "
        "export (run `breakglass audit verify`)\n",
        skipped_invalid);
  }
  if (changed_in_store >= 0) {
    std::cerr << fmt::format(
        "breakglass: warning: stored leaf {} does not match its stored "
        "hash; `breakglass audit verify` will fail\n",
        changed_in_store);
  }
  if (!to_stdout) {
    json j = {{"source", source.Describe()},
              {"entries", size},
              {"exported", exported},
              {"format", f.format},
              {"checkpoint_size", cp->size}};
    if (!f.out.empty()) j["out"] = f.out;
    if (!f.bundle.empty()) j["bundle"] = f.bundle;
    std::string human =
        fmt::format("{} of {} entries exported from {}", exported, size, source.Describe());
    if (!f.out.empty()) human += fmt::format(" to {} ({})", f.out, f.format);
    if (!f.bundle.empty()) {
      human += fmt::format(
          "\nbundle {}: entries.jsonl ({} entries), checkpoint.txt (size {}), "
          "key.txt",
          f.bundle, size, cp->size);
    }
    Print(g, j, human);
  }
  return 0;
}

// ---- verify ----

struct VerifyFlags {
  std::string bundle, trusted, key, save;
  bool proof_only = false;
  bool progress = false;
};

// Prints the outcome of a verification and sets the exit code.
void Report(Globals& g, const Result<json>& r) {
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
  json j = {{"ok", false}, {"error", e.message()}};
  if (auto i = EntryIndexOf(e.message())) j["first_bad_index"] = *i;
  if (auto range = EntryRangeOf(e.message())) j["bad_range"] = {range->first, range->second};
  if (g.json) std::cout << j.dump() << "\n";
  std::cerr << "breakglass: verification FAILED: " << e.message() << "\n";
  g.exit_code = kVerifyFailed;
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

Result<json> VerifyBundleDir(const VerifyFlags& f) {
  BG_ASSIGN_OR_RETURN(std::string text, ReadFile(f.bundle + "/entries.jsonl"));
  BG_ASSIGN_OR_RETURN(std::string note, ReadFile(f.bundle + "/checkpoint.txt"));
  BG_ASSIGN_OR_RETURN(std::string key, ReadFile(f.key.empty() ? f.bundle + "/key.txt" : f.key));
  key = Trim(key);
  BG_ASSIGN_OR_RETURN(auto trusted, ReadOptional(f.trusted));
  const auto t0 = std::chrono::steady_clock::now();
  Progress progress("verifying", ShowProgress(f.progress));
  audit::VerifyOptions o;
  o.trusted_checkpoint = trusted;
  o.progress = [&](int64_t done, int64_t total) { progress.Update(done, total); };
  o.progress_every = 4096;
  // One pass over the export (parse and verify together, no copy of the entries in memory).
  auto report = audit::VerifyExport(text, note, key, o);
  progress.Finish();
  if (!report) return report.error();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!f.save.empty()) BG_TRY(WriteWhole(f.save, note));
  json j = {{"ok", true},
            {"entries", report->entries},
            {"checkpoint_size", report->checkpoint.size},
            {"origin", report->checkpoint.origin},
            {"root", Base64Encode(report->checkpoint.root)},
            {"unsigned_tail", report->unsigned_tail},
            {"seconds", secs}};
  std::string summary = fmt::format(
      "OK: {} entries verified in {:.2f} s; checkpoint \"{}\" size {} root {} signed by {}",
      report->entries, secs, report->checkpoint.origin, report->checkpoint.size,
      Base64Encode(report->checkpoint.root), key.substr(0, key.find('+')));
  if (report->trusted) {
    j["trusted_size"] = report->trusted->size;
    summary +=
        report->trusted->size <= report->checkpoint.size
            ? fmt::format("\n    extends the trusted checkpoint of size {}", report->trusted->size)
            : fmt::format("\n    its first {} entries hash to the trusted checkpoint, which is "
                          "newer than the bundle's own",
                          report->trusted->size);
  }
  if (report->unsigned_tail > 0) {
    summary += fmt::format(
        "\n    {} entries after the checkpoint are well formed but not yet "
        "signed",
        report->unsigned_tail);
  }
  j["summary"] = summary;
  return j;
}

Result<json> VerifyServer(const Globals& g, const VerifyFlags& f) {
  ClientOptions o = ResolveClientOptions(g.client);
  if (o.server.empty()) {
    return Error::InvalidArgument("server", "give --bundle DIR, or --server URL for a live check");
  }
  ServerSource server(o);
  BG_ASSIGN_OR_RETURN(std::string served_key, server.VerifierKey());
  std::string key = served_key;
  if (!f.key.empty()) {
    BG_ASSIGN_OR_RETURN(std::string pinned, ReadFile(f.key));
    key = Trim(pinned);
    if (key != served_key) {
      return Error::InvalidArgument("checkpoint",
                                    "the server's verifier key differs from the pinned --key");
    }
  }
  BG_ASSIGN_OR_RETURN(auto trusted, ReadOptional(f.trusted));
  BG_ASSIGN_OR_RETURN(std::string note, server.CheckpointNote());
  BG_ASSIGN_OR_RETURN(audit::Checkpoint cp, [&]() -> Result<audit::Checkpoint> {
    auto c = audit::ParseAndVerifyCheckpoint(note, key);
    if (!c) return Error::InvalidArgument("checkpoint", c.error().message());
    return c;
  }());
  json j = {{"ok", true},
            {"server", o.server},
            {"checkpoint_size", cp.size},
            {"origin", cp.origin},
            {"root", Base64Encode(cp.root)}};
  std::string summary = fmt::format("OK: checkpoint \"{}\" size {} root {}", cp.origin, cp.size,
                                    Base64Encode(cp.root));
  std::optional<audit::Checkpoint> old;
  if (trusted) {
    BG_ASSIGN_OR_RETURN(auto parsed, audit::ParseAndVerifyCheckpoint(*trusted, key));
    BG_ASSIGN_OR_RETURN(auto proof,
                        parsed.size <= cp.size
                            ? server.ConsistencyProof(parsed.size, cp.size)
                            : Result<std::vector<std::string>>(std::vector<std::string>{}));
    BG_ASSIGN_OR_RETURN(auto pair, audit::VerifyCheckpointConsistency(*trusted, note, key, proof));
    old = pair.first;
    j["trusted_size"] = old->size;
    summary += fmt::format(
        "\n    consistent with the trusted checkpoint of size {} (proof of {} "
        "hashes)",
        old->size, proof.size());
  } else {
    summary += "\n    no --trusted-checkpoint: the log's history is checked only against itself";
  }
  if (!f.proof_only) {
    std::vector<audit::BundleEntry> entries;
    entries.reserve(static_cast<size_t>(cp.size));
    Progress download("downloading", ShowProgress(f.progress));
    BG_TRY(server.Read(0, cp.size, [&](int64_t i, std::string leaf, const auto&) {
      entries.push_back(audit::BundleEntry{i, std::move(leaf), std::nullopt});
      download.Update(i + 1, cp.size);
      return Ok();
    }));
    download.Finish();
    audit::VerifyOptions vo;
    vo.trusted_checkpoint = trusted;
    auto report = audit::VerifyBundle(entries, note, key, vo);
    if (!report) {
      const Error& e = report.error();
      if (EntryIndexOf(e.message())) return e;
      std::vector<std::string> hashes;
      hashes.reserve(entries.size());
      for (const auto& e2 : entries) hashes.push_back(audit::HashLeaf(e2.leaf));
      const auto at = LocateChangedLeaf(server, hashes, cp);
      if (at.exact()) {
        return Error::InvalidArgument(
            "entries", fmt::format("entry {}: the server's leaf is not the one its signed tree "
                                   "holds ({})",
                                   at.first, e.message()));
      }
      return Error::InvalidArgument(
          "entries",
          fmt::format("entries {}..{}: one of these leaves is not the one the signed tree holds; "
                      "the server's proofs narrow it to this range but no further (its stored "
                      "hashes there were changed too) ({})",
                      at.first, at.last, e.message()));
    }
    j["entries"] = report->entries;
    summary += fmt::format("\n    all {} entries hash to the signed root", report->entries);
  }
  if (!f.save.empty()) {
    BG_TRY(WriteWhole(f.save, note));
    summary += "\n    checkpoint saved to " + f.save;
  }
  j["summary"] = summary;
  return j;
}

// ---- show ----

struct ShowFlags {
  LocalConfigFlags local;
  std::string id;
};

void RunShow(Globals& g, const ShowFlags& f) {
  auto src = OpenSource(g, f.local);
  if (!src) return Fail(g, src.error());
  auto size = (*src)->Size();
  if (!size) return Fail(g, size.error());
  json events = json::array();
  std::string human;
  auto status = (*src)->Read(0, *size, [&](int64_t i, std::string leaf, const auto&) {
    auto e = audit::ParseLeaf(leaf);
    if (!e || !e->request || e->request->value() != f.id) return Ok();
    json details = json::object();
    std::string kv;
    for (const auto& [k, v] : e->details) {
      details[k] = v;
      kv += fmt::format("{}{}={}", kv.empty() ? "" : " ", k,
                        v.find(' ') == std::string::npos ? v : json(v).dump());
    }
    std::string time = FormatRfc3339(e->time);
    events.push_back({{"index", i},
                      {"time", time},
                      {"type", e->type},
                      {"actor", e->actor},
                      {"details", details}});
    human += fmt::format("{}  #{:<6} {:<24} {:<10} {}\n", time, i, TerminalSafe(e->type),
                         TerminalSafe(e->actor), TerminalSafe(kv));
    return Ok();
  });
  if (!status) return Fail(g, status.error());
  if (events.empty()) {
    return Fail(g, Error::NotFound(fmt::format("no audit events for request {}", f.id)));
  }
  Print(g, {{"request", f.id}, {"events", events}},
        fmt::format("request {}: {} events\n{}", f.id, events.size(), human));
}

void AddLocalFlags(CLI::App* cmd, LocalConfigFlags& local) {
  cmd->add_option("--data-dir", local.data_dir, "Read the log offline from this data directory");
  cmd->add_option("--config", local.config,
                  "Read the log offline from the data directory of this server configuration");
}

}  // namespace

void AddAuditCommands(CLI::App& app, Globals& g) {
  auto* audit = app.add_subcommand("audit", "Export, verify and read the tamper-evident audit log");
  audit->require_subcommand(1);
  {
    auto f = std::make_shared<ExportFlags>();
    auto* cmd = audit->add_subcommand(
        "export",
        "Export the log as JSON lines or CEF, from a server (--server) or offline from a data "
        "directory (--data-dir, --config); --bundle DIR also writes what `audit verify` checks");
    cmd->add_option("--format", f->format, "jsonl (default) or cef");
    cmd->add_option("--since", f->since,
                    "Only events at or after this time (RFC 3339, or 24h ago)");
    cmd->add_option("--until", f->until, "Only events before this time (RFC 3339, or 1h ago)");
    cmd->add_option("--out", f->out, "Write the export to this file (default: stdout)");
    cmd->add_option("--bundle", f->bundle,
                    "Also write entries.jsonl (all entries), checkpoint.txt and key.txt here");
    cmd->add_flag("--progress", f->progress,
                  "Show progress on stderr even if it is not a terminal");
    AddLocalFlags(cmd, f->local);
    cmd->callback([&g, f] { g.exit_code = RunExport(g, *f); });
  }
  {
    auto f = std::make_shared<VerifyFlags>();
    auto* cmd = audit->add_subcommand(
        "verify",
        "Verify an exported bundle offline (--bundle DIR) or a live server (--server URL): "
        "signature, root, and consistency with a checkpoint trusted from before. Exit 1 when "
        "verification fails");
    cmd->add_option("--bundle", f->bundle,
                    "Bundle directory (entries.jsonl, checkpoint.txt, key.txt)");
    cmd->add_option("--trusted-checkpoint", f->trusted,
                    "A checkpoint saved earlier: the log must extend it");
    cmd->add_option("--key", f->key,
                    "Pinned verifier key file (default: the bundle's or server's key)");
    cmd->add_option("--save-checkpoint", f->save,
                    "After success, save the verified checkpoint here");
    cmd->add_flag("--proof-only", f->proof_only,
                  "Live: check only the consistency proof, do not download the entries");
    cmd->add_flag("--progress", f->progress,
                  "Show progress on stderr even if it is not a terminal");
    cmd->callback(
        [&g, f] { Report(g, f->bundle.empty() ? VerifyServer(g, *f) : VerifyBundleDir(*f)); });
  }
  {
    auto f = std::make_shared<ShowFlags>();
    auto* cmd = audit->add_subcommand("show", "The timeline of one request, from the audit log");
    cmd->add_option("REQUEST_ID", f->id, "Request id")->required();
    AddLocalFlags(cmd, f->local);
    cmd->callback([&g, f] { RunShow(g, *f); });
  }
}

}  // namespace bg::cli
