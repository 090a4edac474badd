// `breakglass report evidence`: reads the audit log (a data directory offline, or a live server,
// as `audit export` does), builds one record per grant in the window from the log alone, and
// writes the report directory with the signed checkpoint and an inclusion proof of every
// entry it cites; `audit verify --report DIR` checks it with nothing else (docs/evidence.md).
#include "cli/report_cmds.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>

#include "audit/checkpoint.h"
#include "audit/event.h"
#include "audit/evidence.h"
#include "audit/evidence_report.h"
#include "audit/evidence_summary.h"
#include "audit/merkle.h"
#include "cli/audit_source.h"
#include "util/encoding.h"
#include "util/fs.h"
#include "util/time.h"

namespace bg::cli {
namespace {

using nlohmann::json;

// The type of a leaf in canonical form ("...,"type":"request.created","v":1}"), read without
// parsing it, so that the leaves no record is made of are not parsed at all. "" otherwise.
std::string_view LeafType(std::string_view leaf) {
  constexpr std::string_view kTail = "\",\"v\":1}";
  constexpr std::string_view kKey = "\"type\":\"";
  if (leaf.size() < kTail.size() || leaf.substr(leaf.size() - kTail.size()) != kTail) return {};
  const size_t end = leaf.size() - kTail.size();
  const size_t key = leaf.rfind(kKey, end);
  if (key == std::string_view::npos) return {};
  return leaf.substr(key + kKey.size(), end - key - kKey.size());
}

// The files of a report being written: each created 0600 in a directory of its own, written
// through a buffer, fsynced when closed.
class ReportFiles {
 public:
  explicit ReportFiles(std::string dir) : dir_(std::move(dir)) {}
  ReportFiles(const ReportFiles&) = delete;
  ReportFiles& operator=(const ReportFiles&) = delete;
  ~ReportFiles() {
    for (auto& [name, f] : files_) {
      if (f.fd >= 0) ::close(f.fd);
    }
  }

  Status Append(std::string_view name, std::string_view bytes) {
    auto it = files_.find(std::string(name));
    if (it == files_.end()) {
      const std::string path = dir_ + "/" + std::string(name);
      const int fd =
          ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
      if (fd < 0) return fs::OsError("create", path, errno, "out");
      if (::fchmod(fd, 0600) != 0) {
        const int err = errno;
        ::close(fd);
        return fs::OsError("chmod", path, err, "out");
      }
      it = files_.emplace(std::string(name), File{fd, path, {}}).first;
    }
    File& f = it->second;
    f.buffer.append(bytes);
    if (f.buffer.size() >= kFlushAt) BG_TRY(Flush(f));
    return Ok();
  }

  // Flushes, fsyncs and closes every file, then the directory.
  Status Close() {
    for (auto& [name, f] : files_) {
      BG_TRY(Flush(f));
      if (::fsync(f.fd) != 0) return fs::OsError("sync", f.path, errno, "out");
      const int fd = f.fd;
      f.fd = -1;
      if (::close(fd) != 0) return fs::OsError("close", f.path, errno, "out");
    }
    return fs::SyncDir(dir_);
  }

 private:
  static constexpr size_t kFlushAt = 1 << 20;
  struct File {
    int fd = -1;
    std::string path;
    std::string buffer;
  };
  static Status Flush(File& f) {
    std::string_view rest = f.buffer;
    while (!rest.empty()) {
      const ssize_t n = ::write(f.fd, rest.data(), rest.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return fs::OsError("write", f.path, errno, "out");
      rest.remove_prefix(static_cast<size_t>(n));
    }
    f.buffer.clear();
    return Ok();
  }

  std::string dir_;
  std::map<std::string, File> files_;
};

struct EvidenceFlags {
  LocalConfigFlags local;
  std::string since = "90d";
  std::string until;
  std::string out;
  std::string trusted;
  bool progress = false;
};

// The output directory must not hold anything yet (exit 6 when it does).
Status CheckOut(const std::string& out) {
  std::error_code ec;
  if (!std::filesystem::exists(out, ec)) return Ok();
  if (!std::filesystem::is_directory(out, ec)) {
    return Error::Conflict(fmt::format("--out {} exists and is not a directory", out));
  }
  if (!std::filesystem::is_empty(out, ec)) {
    return Error::Conflict(fmt::format("--out {} is not empty: give a new directory", out));
  }
  return Ok();
}

// What the log's entries [0, cp.size) give: the records and the tree.
struct ReadLog {
  audit::EvidenceBuilder::Output built;
  audit::MemoryTree tree;
};

Result<ReadLog> Read(LogSource& source, const audit::Checkpoint& cp, audit::EvidenceWindow window,
                     bool progress_shown) {
  ReadLog r;
  audit::EvidenceBuilder builder(window);
  int64_t changed = -1;
  Progress progress("reading", progress_shown);
  BG_TRY(source.Read(
      0, cp.size,
      [&](int64_t i, std::string leaf, const std::optional<std::string>& stored) -> Status {
        const std::string hash = audit::HashLeaf(leaf);
        if (stored && *stored != hash && changed < 0) changed = i;
        // The hash the store kept: so a changed leaf is named by its index, and proofs of the
        // other leaves still lead to the signed root.
        r.tree.Append(stored ? *stored : hash);
        if (audit::IsEvidenceEventType(LeafType(leaf))) {
          if (auto event = audit::ParseLeaf(leaf)) builder.Add(i, *event, leaf);
        }
        progress.Update(i + 1, cp.size);
        return Ok();
      }));
  progress.Finish();
  if (changed >= 0) {
    return Error::InvalidArgument(
        "entries", fmt::format("entry {}: the stored leaf does not match its stored hash: the log "
                               "was changed; no report written (`breakglass audit verify` checks "
                               "the whole log)",
                               changed));
  }
  BG_ASSIGN_OR_RETURN(std::string root, audit::RootAt(cp.size, r.tree.Reader()));
  if (root != cp.root) {
    std::vector<std::string> hashes;
    hashes.reserve(static_cast<size_t>(cp.size));
    for (int64_t i = 0; i < cp.size; ++i) hashes.push_back(*r.tree.Reader()(0, i));
    const audit::ChangedRange at = LocateChangedLeaf(source, hashes, cp);
    return Error::InvalidArgument(
        "entries",
        at.exact() ? fmt::format("entry {}: not the leaf the signed checkpoint holds; no report "
                                 "written",
                                 at.first)
                   : fmt::format("entries {}..{}: one of these is not the leaf the signed "
                                 "checkpoint holds; no report written",
                                 at.first, at.last));
  }
  r.built = std::move(builder).Finish();
  return r;
}

Result<json> RunEvidence(const Globals& g, const EvidenceFlags& f) {
  if (f.out.empty()) return Error::InvalidArgument("out", "give the report's directory: --out DIR");
  BG_ASSIGN_OR_RETURN(auto since, ParseTimeBound(f.since, "since"));
  BG_ASSIGN_OR_RETURN(auto until, ParseTimeBound(f.until, "until"));
  BG_TRY(CheckOut(f.out));
  BG_ASSIGN_OR_RETURN(auto trusted_note, ReadOptional(f.trusted));
  BG_ASSIGN_OR_RETURN(std::unique_ptr<LogSource> source, OpenSource(g, f.local));
  BG_ASSIGN_OR_RETURN(std::string note, source->CheckpointNote());
  BG_ASSIGN_OR_RETURN(std::string key, source->VerifierKey());
  BG_ASSIGN_OR_RETURN(audit::Checkpoint cp, audit::ParseAndVerifyCheckpoint(note, key));
  const bool live = dynamic_cast<ServerSource*>(source.get()) != nullptr;
  int64_t log_size = cp.size;
  if (!live) {
    BG_ASSIGN_OR_RETURN(log_size, source->Size());
  }

  std::optional<audit::Checkpoint> trusted;
  if (trusted_note) {
    auto t = audit::ParseAndVerifyCheckpoint(*trusted_note, key);
    if (!t) return Error::InvalidArgument("trusted_checkpoint", t.error().message());
    if (t->size > cp.size) {
      return Error::InvalidArgument(
          "trusted_checkpoint",
          fmt::format("the trusted checkpoint (size {}) is newer than the log's latest (size {})",
                      t->size, cp.size));
    }
    trusted = *t;
  }

  const auto t0 = std::chrono::steady_clock::now();
  BG_ASSIGN_OR_RETURN(ReadLog log, Read(*source, cp, {since, until}, ShowProgress(f.progress)));
  if (trusted) {
    BG_ASSIGN_OR_RETURN(std::string then, audit::RootAt(trusted->size, log.tree.Reader()));
    if (then != trusted->root) {
      return Error::InvalidArgument(
          "trusted_checkpoint",
          fmt::format("older checkpoint of size {} is not a prefix: log was rewritten or "
                      "truncated; no report written",
                      trusted->size));
    }
  }

  const int64_t grants = static_cast<int64_t>(log.built.grants.size());
  int64_t with_exceptions = 0;
  std::string failing;
  for (const audit::ControlStatus& c : audit::EvaluateControls(log.built.grants)) {
    if (c.grants_with_exceptions == 0) continue;
    ++with_exceptions;
    failing += fmt::format("\n      {} {}: {} ({} grants)", c.framework, c.id, c.requirement,
                           c.grants_with_exceptions);
  }
  const int64_t cited = static_cast<int64_t>(log.built.leaves.size());
  audit::EvidenceInput in;
  in.context.window = {since, until};
  in.context.checkpoint = cp;
  in.context.key_name = audit::VerifierKeyName(key);
  in.context.generated_at = FormatRfc3339(SystemClock::Get().Now());
  in.context.source = source->Describe();
  in.context.log_size = log_size;
  in.checkpoint_note = note;
  in.verifier_key = key;
  if (trusted) in.trusted_size = trusted->size;
  in.built = std::move(log.built);
  in.nodes = log.tree.Reader();

  // Written beside --out and renamed into place, so that a failed run leaves no half report.
  const std::string partial = fmt::format("{}.partial-{}", f.out, ::getpid());
  BG_TRY(fs::MakeDir(partial));  // 0700
  Status written = [&]() -> Status {
    ReportFiles files(partial);
    Progress progress("proving", ShowProgress(f.progress));
    BG_TRY(audit::WriteEvidenceReport(
        std::move(in),
        [&files](std::string_view name, std::string_view bytes) {
          return files.Append(name, bytes);
        },
        [&progress](int64_t done, int64_t total) { progress.Update(done, total); }));
    progress.Finish();
    BG_TRY(files.Close());
    if (std::rename(partial.c_str(), f.out.c_str()) != 0) {
      return fs::OsError("rename into place", f.out, errno, "out");
    }
    const std::string parent = std::filesystem::path(f.out).parent_path().string();
    return fs::SyncDir(parent.empty() ? "." : parent);
  }();
  if (!written) {
    std::error_code ec;
    std::filesystem::remove_all(partial, ec);
    return written.error();
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  json j = {{"out", f.out},
            {"grants", grants},
            {"cited_entries", cited},
            {"checkpoint_size", cp.size},
            {"log_size", log_size},
            {"since", since ? json(FormatRfc3339(*since)) : json(nullptr)},
            {"until", until ? json(FormatRfc3339(*until)) : json(nullptr)},
            {"controls_with_exceptions", with_exceptions},
            {"seconds", secs}};
  std::string human = fmt::format(
      "evidence for {} grants ({} to {}) written to {} in {:.2f} s: summary.md, summary.json, "
      "grants.jsonl, grants.csv, proofs.jsonl ({} cited entries), checkpoint.txt (size {}), "
      "key.txt",
      grants, since ? FormatRfc3339(*since) : "the start", until ? FormatRfc3339(*until) : "now",
      f.out, secs, cited, cp.size);
  if (trusted) human += fmt::format(", consistency.jsonl (from size {})", trusted->size);
  if (log_size > cp.size) {
    human += fmt::format(
        "\n    {} entries after the checkpoint are not in it: not signed yet (the server signs "
        "one within its checkpoint_interval)",
        log_size - cp.size);
  }
  human += with_exceptions == 0
               ? "\n    every control is met"
               : fmt::format("\n    {} controls have exceptions (summary.md lists them):{}",
                             with_exceptions, failing);
  j["summary"] = human;
  return j;
}

// A file mapped read-only: the proofs of 100,000 grants are more than a gigabyte, which the
// page cache can hold without the heap holding it too.
class MappedFile {
 public:
  static Result<std::unique_ptr<MappedFile>> Open(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Error::InvalidArgument("file", fs::OsError("read", path, errno).message());
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      const int err = errno;
      ::close(fd);
      return Error::InvalidArgument("file", fs::OsError("read", path, err).message());
    }
    auto m = std::unique_ptr<MappedFile>(new MappedFile());
    m->size_ = static_cast<size_t>(st.st_size);
    if (m->size_ > 0) {
      m->data_ = ::mmap(nullptr, m->size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (m->data_ == MAP_FAILED) {
        const int err = errno;
        m->data_ = nullptr;
        ::close(fd);
        return Error::InvalidArgument("file", fs::OsError("map", path, err).message());
      }
      ::madvise(m->data_, m->size_, MADV_SEQUENTIAL);
    }
    ::close(fd);
    return m;
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile() {
    if (data_ != nullptr) ::munmap(data_, size_);
  }
  std::string_view view() const {
    return data_ == nullptr ? std::string_view()
                            : std::string_view(static_cast<const char*>(data_), size_);
  }

 private:
  MappedFile() = default;
  void* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace

Result<json> VerifyReportDir(const VerifyReportFlags& f) {
  const std::string& d = f.dir;
  BG_ASSIGN_OR_RETURN(std::string checkpoint, ReadFile(d + "/checkpoint.txt"));
  BG_ASSIGN_OR_RETURN(auto proofs_file, MappedFile::Open(d + "/proofs.jsonl"));
  BG_ASSIGN_OR_RETURN(auto grants_file, MappedFile::Open(d + "/grants.jsonl"));
  const std::string_view proofs = proofs_file->view();
  const std::string_view grants = grants_file->view();
  BG_ASSIGN_OR_RETURN(std::string csv, ReadFile(d + "/grants.csv"));
  BG_ASSIGN_OR_RETURN(std::string summary_json, ReadFile(d + "/summary.json"));
  BG_ASSIGN_OR_RETURN(std::string summary_md, ReadFile(d + "/summary.md"));
  std::string consistency;
  if (std::filesystem::exists(d + "/consistency.jsonl")) {
    BG_ASSIGN_OR_RETURN(consistency, ReadFile(d + "/consistency.jsonl"));
  }
  const bool pinned = !f.key.empty();
  BG_ASSIGN_OR_RETURN(std::string key, ReadFile(pinned ? f.key : d + "/key.txt"));
  key = Trim(key);
  std::string report_key = key;
  if (pinned) {
    auto own = fs::ReadWholeFile(d + "/key.txt");
    report_key = own ? Trim(*own) : "";
  }
  BG_ASSIGN_OR_RETURN(auto trusted, ReadOptional(f.trusted));

  const auto t0 = std::chrono::steady_clock::now();
  Progress progress("verifying", ShowProgress(f.progress));
  audit::EvidenceVerifyOptions o;
  o.verifier_key = key;
  o.trusted_checkpoint = trusted;
  o.progress = [&progress](int64_t done, int64_t total) { progress.Update(done, total); };
  auto report = audit::VerifyEvidence(
      audit::EvidenceFiles{checkpoint, proofs, grants, csv, summary_json, summary_md, consistency},
      o);
  progress.Finish();
  if (!report) return report.error();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!f.save.empty()) BG_TRY(WriteWhole(f.save, checkpoint));

  const audit::Checkpoint& cp = report->checkpoint;
  json j = {{"ok", true},
            {"report", d},
            {"grants", report->grants},
            {"entries", report->entries},
            {"checkpoint_size", cp.size},
            {"origin", cp.origin},
            {"root", Base64Encode(cp.root)},
            {"key", pinned ? "pinned" : "report"},
            {"seconds", secs}};
  std::string summary = fmt::format(
      "OK: evidence report {} verified in {:.2f} s: {} grants re-derived from {} cited entries, "
      "each proved in checkpoint \"{}\" size {} root {} signed by {}",
      d, secs, report->grants, report->entries, cp.origin, cp.size, Base64Encode(cp.root),
      audit::VerifierKeyName(key));
  if (!pinned) {
    summary +=
        "\n    verified with the key in the report's own key.txt only: pin the log's key with "
        "--key FILE (from `GET /v1/audit/key` or a bundle you trust) to trust it independently";
  } else if (report_key != key) {
    summary += "\n    the report's key.txt is not the pinned key (it was not used)";
  }
  if (report->trusted) {
    j["trusted_size"] = report->trusted->size;
    summary +=
        fmt::format("\n    extends the trusted checkpoint of size {}", report->trusted->size);
  }
  if (!f.save.empty()) summary += "\n    checkpoint saved to " + f.save;
  j["summary"] = summary;
  return j;
}

void AddReportCommands(CLI::App& app, Globals& g) {
  auto* report = app.add_subcommand("report", "Reports for auditors, made from the audit log");
  report->require_subcommand(1);
  auto f = std::make_shared<EvidenceFlags>();
  auto* cmd = report->add_subcommand(
      "evidence",
      "Write the evidence of every grant in a window (who asked and why, who approved and with "
      "what MFA, credentials, sessions, the end, the review; each fact with its audit index), "
      "the signed checkpoint, an inclusion proof of every cited entry and a summary mapped to "
      "PCI DSS 8.2.2, NIST AC-2(2)/AU-9(3)/AU-10 and HIPAA 164.312(a)(2)(ii); `audit verify "
      "--report DIR` checks it offline");
  cmd->add_option("--since", f->since,
                  "Grants in use at or after this time (RFC 3339, or ago: 90d, 24h); default 90d");
  cmd->add_option("--until", f->until, "Grants that began before this time (default: no bound)");
  cmd->add_option("--out", f->out, "The report's directory (new or empty; written 0700/0600)")
      ->required();
  cmd->add_option("--trusted-checkpoint", f->trusted,
                  "A checkpoint saved earlier: the log must extend it, and the report carries the "
                  "consistency proof for `audit verify --report --trusted-checkpoint`");
  cmd->add_flag("--progress", f->progress, "Show progress on stderr even if it is not a terminal");
  AddLocalFlags(cmd, f->local);
  cmd->callback([&g, f] {
    auto r = RunEvidence(g, *f);
    if (!r) {
      if (r.error().code() == ErrorCode::kInvalidArgument &&
          (r.error().field() == "entries" || r.error().field() == "trusted_checkpoint")) {
        Report(g, r);  // the log does not verify: exit 1, as `audit verify` would
        return;
      }
      return Fail(g, r.error());
    }
    Print(g, *r, (*r)["summary"].get<std::string>());
  });
}

}  // namespace bg::cli
