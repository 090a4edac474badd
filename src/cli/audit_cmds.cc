// `breakglass audit export|verify|show`: the audit log from a live server or, offline and
// read-only, from a data directory; bundles that `audit verify` checks without trusting us.
#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>

#include "audit/checkpoint.h"
#include "audit/event.h"
#include "audit/merkle.h"
#include "audit/verify.h"
#include "cli/audit_source.h"
#include "cli/common.h"
#include "cli/report_cmds.h"
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

// ---- export ----

struct ExportFlags {
  LocalConfigFlags local;
  std::string format = "jsonl";
  std::string since, until, out, bundle;
  bool progress = false;
};

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
    const auto at = LocateChangedLeaf(source, leaf_hashes, *cp);
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
  std::string bundle, report, trusted, key, save;
  bool proof_only = false;
  bool progress = false;
};

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
        "Verify an exported bundle offline (--bundle DIR), an evidence report offline (--report "
        "DIR) or a live server (--server URL): signature, root, and consistency with a "
        "checkpoint trusted from before. Exit 1 when verification fails");
    auto* bundle = cmd->add_option("--bundle", f->bundle,
                                   "Bundle directory (entries.jsonl, checkpoint.txt, key.txt)");
    cmd->add_option("--report", f->report,
                    "Evidence report directory (`breakglass report evidence --out DIR`)")
        ->excludes(bundle);
    cmd->add_option("--trusted-checkpoint", f->trusted,
                    "A checkpoint saved earlier: the log must extend it");
    cmd->add_option("--key", f->key,
                    "Pinned verifier key file (default: the bundle's, report's or server's key)");
    cmd->add_option("--save-checkpoint", f->save,
                    "After success, save the verified checkpoint here");
    cmd->add_flag("--proof-only", f->proof_only,
                  "Live: check only the consistency proof, do not download the entries");
    cmd->add_flag("--progress", f->progress,
                  "Show progress on stderr even if it is not a terminal");
    cmd->callback([&g, f] {
      if (!f->report.empty()) {
        return Report(g, VerifyReportDir({f->report, f->key, f->trusted, f->save, f->progress}));
      }
      Report(g, f->bundle.empty() ? VerifyServer(g, *f) : VerifyBundleDir(*f));
    });
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
