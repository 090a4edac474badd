// Moving an installation to PostgreSQL:
//   breakglass migrate --from sqlite[:PATH] --to postgresql://USER@HOST:PORT/DB [--data-dir DIR]
// The server must be stopped (the data directory is locked while this runs). Every table is
// copied in one PostgreSQL transaction into an empty database; then the audit log is verified
// on both sides: the same entries byte for byte, the same root recomputed from the entries and
// read from the stored tree, and the latest signed checkpoint verified against the copy.
// Exit 0 when moved and verified, 1 when the verification failed, 2 on bad arguments.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "audit/checkpoint.h"
#include "audit/merkle.h"
#include "cli/audit_source.h"
#include "cli/common.h"
#include "service/data_dir.h"
#include "store/migrate.h"
#include "store/pg_store.h"
#include "store/store.h"
#include "util/encoding.h"

namespace bg::cli {
namespace {

using nlohmann::json;

struct MigrateFlags {
  LocalConfigFlags local;
  std::string from = "sqlite";
  std::string to;
  bool progress = false;
};

struct LogCheck {
  int64_t size = 0;
  std::string root;              // hex
  int64_t checkpoint_size = -1;  // -1: the installation has no signed checkpoint yet
};

// The two logs hold the same entries and the copy's tree, read back, has the root the entries
// give; the latest signed checkpoint verifies against the copy.
Result<LogCheck> CompareLogs(store::Store& from, store::Store& to, Progress& progress) {
  BG_ASSIGN_OR_RETURN(int64_t size, from.AuditSize());
  BG_ASSIGN_OR_RETURN(int64_t copied, to.AuditSize());
  if (size != copied) {
    return Error::FailedPrecondition(
        fmt::format("the copy's audit log has {} entries, the original {}", copied, size));
  }
  std::optional<audit::Checkpoint> cp;
  BG_ASSIGN_OR_RETURN(auto note, to.GetMeta("audit.checkpoint.latest"));
  BG_ASSIGN_OR_RETURN(auto key, to.GetMeta("audit.verifier_key"));
  if (note && key) {
    auto parsed = audit::ParseAndVerifyCheckpoint(*note, *key);
    if (!parsed) {
      return Error::FailedPrecondition("the copy's latest checkpoint does not verify: " +
                                       parsed.error().message());
    }
    cp = *parsed;
  }
  audit::CompactRange range;
  std::optional<std::string> root_at_checkpoint;
  if (cp && cp->size == 0) root_at_checkpoint = range.Root();
  constexpr int64_t kPage = 10000;
  for (int64_t at = 0; at < size;) {
    const int64_t end = std::min(size, at + kPage);
    BG_ASSIGN_OR_RETURN(auto a, from.AuditLeaves(at, end));
    BG_ASSIGN_OR_RETURN(auto b, to.AuditLeaves(at, end));
    if (a.size() != static_cast<size_t>(end - at) || b.size() != a.size()) {
      return Error::FailedPrecondition(fmt::format("entries {}..{} are missing", at, end - 1));
    }
    for (size_t i = 0; i < a.size(); ++i, ++at) {
      if (a[i] != b[i]) {
        return Error::FailedPrecondition(fmt::format("entry {} differs in the copy", at));
      }
      range.Append(audit::HashLeaf(b[i]));
      if (cp && at + 1 == cp->size) root_at_checkpoint = range.Root();
    }
    progress.Update(at, size);
  }
  progress.Finish();
  const std::string root = range.Root();
  for (store::Store* s : {&from, &to}) {
    BG_ASSIGN_OR_RETURN(std::string stored, audit::RootAt(size, [s](int level, int64_t i) {
                          return s->AuditNodeHash(level, i);
                        }));
    if (stored != root) {
      return Error::FailedPrecondition(
          fmt::format("the {}'s stored tree has a root other than its entries give",
                      s == &from ? "original" : "copy"));
    }
  }
  LogCheck out;
  out.size = size;
  out.root = HexEncode(root);
  if (cp) {
    if (!root_at_checkpoint || *root_at_checkpoint != cp->root) {
      return Error::FailedPrecondition(fmt::format(
          "the copy's entries do not give the root of the signed checkpoint at size {}", cp->size));
    }
    out.checkpoint_size = cp->size;
  }
  return out;
}

int RunMigrate(Globals& g, const MigrateFlags& f) {
  auto fail = [&](const Error& e) {
    Fail(g, e);
    return g.exit_code;
  };
  if (f.to.rfind("postgresql://", 0) != 0 && f.to.rfind("postgres://", 0) != 0) {
    return fail(Error::InvalidArgument(
        "to", "must be a PostgreSQL URI: postgresql://USER@HOST:PORT/DATABASE"));
  }
  if (f.from != "sqlite" && f.from.rfind("sqlite:", 0) != 0) {
    return fail(Error::InvalidArgument("from", "must be sqlite or sqlite:PATH"));
  }
  auto config = LoadLocalConfig(f.local);
  if (!config) return fail(config.error());
  config->storage = f.from;
  const std::string path = service::DatabasePath(*config);
  // The server must be stopped: nothing may change the original while it is copied.
  service::DataDirClaim claim = OfflineClaim(service::DataDirUse::kModify, "migrate");
  claim.beside_server = false;
  auto lock = service::ClaimDataDir(*config, claim);
  if (!lock) return fail(lock.error());
  auto target = store::ParsePostgresSpec(f.to, config->data_dir);
  if (!target) return fail(Error(target.error().code(), target.error().message(), "to"));

  const bool show = ShowProgress(f.progress);
  std::string current;
  Progress copying("copying", show);
  auto report = store::CopySqliteToPostgres(
      path, *target, [&](std::string_view table, int64_t done, int64_t total) {
        if (!show) return;
        if (table != current) {
          copying.Finish();
          current = std::string(table);
          copying = Progress(fmt::format("copying {}", table), true);
        }
        copying.Update(done, std::max<int64_t>(total, 1));
      });
  copying.Finish();
  if (!report) return fail(report.error());

  auto from = store::OpenStore(f.from, config->data_dir);
  if (!from) return fail(from.error());
  auto to = store::OpenStore(f.to, config->data_dir);
  if (!to) return fail(Error(to.error().code(), to.error().message(), "to"));
  Progress verifying("verifying the audit log", show);
  auto check = CompareLogs(**from, **to, verifying);
  if (!check) {
    std::cerr << "breakglass: the copy does not verify: " << check.error().message() << "\n";
    g.exit_code = kVerifyFailed;
    return g.exit_code;
  }
  if (g.json) {
    json tables = json::object();
    for (const auto& [name, rows] : report->tables) tables[name] = rows;
    json out = {{"ok", true},
                {"schema_version", report->schema_version},
                {"tables", tables},
                {"audit", {{"size", check->size}, {"root", check->root}}}};
    out["audit"]["checkpoint_size"] =
        check->checkpoint_size >= 0 ? json(check->checkpoint_size) : json(nullptr);
    std::cout << out.dump() << "\n";
    return 0;
  }
  int64_t rows = 0;
  for (const auto& t : report->tables) rows += t.second;
  std::cout << fmt::format("moved {} rows of {} tables (schema version {}) to PostgreSQL\n", rows,
                           report->tables.size(), report->schema_version);
  for (const auto& [name, n] : report->tables) std::cout << fmt::format("  {:<16} {}\n", name, n);
  std::cout << fmt::format("audit log: {} entries, root {}, the same on both sides", check->size,
                           check->root);
  if (check->checkpoint_size >= 0) {
    std::cout << fmt::format("; the signed checkpoint at size {} verifies against the copy",
                             check->checkpoint_size);
  } else {
    std::cout << "; no signed checkpoint yet";
  }
  std::cout << "\nset storage = \"<the --to URI>\" in the configuration and start the server\n";
  return 0;
}

}  // namespace

void AddMigrateCommand(CLI::App& app, Globals& g) {
  auto f = std::make_shared<MigrateFlags>();
  auto* cmd = app.add_subcommand(
      "migrate",
      "Move an installation from its SQLite database to an empty PostgreSQL database, audit log "
      "included, and verify the log after the move (exit 1 when it does not verify); the "
      "server must be stopped");
  cmd->add_option("--from", f->from,
                  "The database to move: sqlite (the data directory's) or sqlite:PATH")
      ->capture_default_str();
  cmd->add_option("--to", f->to,
                  "postgresql://USER@HOST:PORT/DATABASE (the password in the URI, in "
                  "?password_file=PATH or in PGPASSFILE)")
      ->required();
  cmd->add_option("--config", f->local.config, "Server configuration file (for data_dir)");
  cmd->add_option("--data-dir", f->local.data_dir, "Data directory (default: the configuration's)");
  cmd->add_flag("--progress", f->progress, "Show progress even when stderr is not a terminal");
  cmd->callback([f, &g] { g.exit_code = RunMigrate(g, *f); });
}

}  // namespace bg::cli
