#include "cli/kit_cmd.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "cli/kit_io.h"
#include "kit/kit.h"
#include "kit/offline_record.h"
#include "kit/share_line.h"
#include "kit/ssh_cert.h"
#include "util/random.h"
#include "util/time.h"
#include "cli/exit_codes.h"
#include "cli/text.h"
#include "util/fs.h"

namespace bg::cli {
namespace {

using nlohmann::json;

// README's exit codes (cli/exit_codes.h): a rejected share, kit or record is bad input, like a
// bad argument; a file error exits with its own code (5 missing, 6 exists, 4 not allowed, 8 other).
constexpr ExitCode kExitRejected = ExitCode::kUsage;
constexpr ExitCode kExitUsage = ExitCode::kUsage;
constexpr ExitCode kExitIo = ExitCode::kUnavailable;

// Prints one line to stderr and ends the subcommand with `code`.
[[noreturn]] void Fail(ExitCode code, std::string message) {
  std::cerr << "breakglass kit: " << TerminalSafe(message) << std::endl;
  throw CommandFailed(code);
}

// A library error: share-shaped errors are rejections (exit 2); file errors keep their code.
[[noreturn]] void FailWith(const Error& error, ExitCode code = kExitRejected) {
  Fail(code, error.message());
}
[[noreturn]] void FailIo(const Error& error, const std::string& suffix = "") {
  Fail(ExitCodeFor(error.code()), error.message() + suffix);
}

std::string ReadAll(std::istream& in) {
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string ReadFileOrFail(const std::string& path) {
  auto text = fs::ReadWholeFile(path);
  if (!text) FailIo(text.error());
  return std::move(text).value();
}

void WriteNewFileOrFail(const std::string& path, std::string_view bytes, mode_t mode) {
  if (auto s = fs::WriteNewFile(path, bytes, mode); !s) FailIo(s.error());
}

kit::KitManifest LoadManifestOrFail(const std::string& path) {
  auto manifest = kit::ParseManifest(ReadFileOrFail(path));
  if (!manifest) Fail(kExitRejected, fmt::format("{}: {}", path, manifest.error().message()));
  return std::move(manifest).value();
}

std::string RetiredNote(const kit::KitManifest& m) {
  return fmt::format("kit {} was retired at {} and replaced by kit {}", m.kit_id,
                     FormatRfc3339(*m.retired_at), m.replaced_by);
}

// ---- split and rotate ----------------------------------------------------------------

struct SplitArgs {
  int threshold = 0;
  int shares = 0;
  bool generate = false;
  std::string label;
  std::string out_dir;
  std::string secret_out;
  bool json = false;
  bool qr = false;
};

Secret ReadSecretOrFail(const SplitArgs& args) {
  if (args.generate) return Secret(SystemRandom::Get().Bytes(32));
  if (!args.secret_out.empty()) Fail(kExitUsage, "--secret-out needs --generate");
  std::string bytes = ReadAll(std::cin);
  Secret secret(bytes);
  sodium_memzero(bytes.data(), bytes.size());
  if (secret.empty()) {
    Fail(kExitUsage, "no secret on stdin (pipe it in, or use --generate for a random one)");
  }
  return secret;
}

// Splits and writes; prints the result. Returns the new kit's id.
std::string RunSplit(const SplitArgs& args, const std::optional<std::string>& retiring) {
  if (args.threshold < 2 || args.threshold > 255) {
    Fail(kExitUsage, "--threshold must be between 2 and 255");
  }
  if (args.shares < args.threshold || args.shares > 255) {
    Fail(kExitUsage, "--shares must be between the threshold and 255");
  }
  if (args.qr && args.out_dir.empty()) Fail(kExitUsage, "--qr needs --out-dir");
  const Secret secret = ReadSecretOrFail(args);
  auto kit = kit::SplitSecret(secret, {args.threshold, args.shares, args.label},
                              SystemClock::Get().Now(), SystemRandom::Get());
  if (!kit) FailWith(kit.error(), kExitUsage);
  const std::vector<Secret> lines = KitShareLines(*kit);

  std::vector<std::string> files;
  if (!args.out_dir.empty()) {
    auto written = WriteKitFiles(args.out_dir, *kit, lines, args.qr);
    if (!written) FailIo(written.error());
    files = std::move(written).value();
  }
  if (!args.secret_out.empty()) {
    WriteNewFileOrFail(args.secret_out, secret.Reveal(), 0600);
    files.push_back(args.secret_out);
  }

  const kit::KitManifest& m = kit->manifest;
  if (args.json) {
    json out = KitJson(*kit, lines);
    if (retiring) out["retired_kit_id"] = *retiring;
    std::cout << out.dump() << std::endl;
    return m.kit_id;
  }
  std::cout << fmt::format("kit {}{}: any {} of {} shares restore the secret\n", m.kit_id,
                           m.label.empty() ? "" : fmt::format(" (\"{}\")", m.label), m.threshold,
                           m.share_count);
  if (args.out_dir.empty()) {
    for (size_t i = 0; i < lines.size(); ++i) {
      std::cout << fmt::format("share {}: {}\n", kit->shares[i].index, lines[i].Reveal());
    }
    std::cout << "manifest (public; keep it with the kit):\n" << kit::FormatManifest(m);
  } else {
    for (const std::string& f : files) std::cout << "wrote " << f << "\n";
  }
  if (retiring) std::cout << fmt::format("kit {} is now retired\n", *retiring);
  std::cout << "Give each keyholder one share; check one with: breakglass kit check - "
               "--manifest manifest.json"
            << std::endl;
  return m.kit_id;
}

void AddSplitOptions(CLI::App* cmd, SplitArgs& args, bool rotate) {
  auto* m = cmd->add_option("--threshold,-m", args.threshold, "shares needed to restore (2..N)");
  auto* n = cmd->add_option("--shares,-n", args.shares, "shares to make (M..255)");
  if (!rotate) {
    m->required();
    n->required();
  }
  cmd->add_flag("--generate", args.generate,
                "generate a random 32-byte secret instead of reading stdin");
  cmd->add_option("--label", args.label, "a name for the kit, stored in the manifest");
  auto* out = cmd->add_option("--out-dir", args.out_dir,
                              "write share-K.txt (0600) and manifest.json into DIR");
  if (rotate) out->required();
  cmd->add_option("--secret-out", args.secret_out,
                  "with --generate: also write the secret to FILE (0600)");
  cmd->add_flag("--json", args.json, "print {\"kit_id\", \"shares\", \"manifest\"} as JSON");
  cmd->add_flag("--qr", args.qr, "with --out-dir: also write share-K.png QR codes");
}

void AddSplit(CLI::App* kit_cmd) {
  auto args = std::make_shared<SplitArgs>();
  auto* cmd = kit_cmd->add_subcommand(
      "split", "Split a secret (stdin, bytes as given) into N shares, any M of which restore it");
  AddSplitOptions(cmd, *args, /*rotate=*/false);
  cmd->footer(ExitCodesHelp());
  cmd->callback([args] { RunSplit(*args, std::nullopt); });
}

struct RotateArgs {
  SplitArgs split;
  std::string manifest;
};

void AddRotate(CLI::App* kit_cmd) {
  auto args = std::make_shared<RotateArgs>();
  auto* cmd = kit_cmd->add_subcommand(
      "rotate",
      "Make a new kit for a new secret and mark the old manifest retired (retired_at, "
      "replaced_by); threshold, shares and label default to the old kit's");
  cmd->add_option("--manifest", args->manifest, "the old kit's manifest.json (rewritten)")
      ->required();
  AddSplitOptions(cmd, args->split, /*rotate=*/true);
  cmd->footer(ExitCodesHelp());
  cmd->callback([args] {
    kit::KitManifest old = LoadManifestOrFail(args->manifest);
    if (old.retired_at) Fail(kExitRejected, RetiredNote(old) + "; rotate the current kit");
    if (old.protects) {
      // A new random secret would not be the key the server uses.
      Fail(kExitRejected,
           old.protects->kind == kit::kProtectsSshCa
               ? fmt::format("kit {} holds the SSH CA key of connector {}: old shares keep "
                             "restoring that key, so rotating it means a new CA key (see "
                             "docs/ssh-ca.md); to re-split the same key use breakglass ssh-ca kit",
                             old.kit_id, old.protects->connector)
               : fmt::format("kit {} holds the server's master key: it is re-split by "
                             "unsealing and running breakglass kit seal-master again",
                             old.kit_id));
    }
    SplitArgs split = args->split;
    if (split.threshold == 0) split.threshold = old.threshold;
    if (split.shares == 0) split.shares = std::max(old.share_count, split.threshold);
    if (split.label.empty()) split.label = old.label;
    const std::string new_id = RunSplit(split, old.kit_id);
    auto retired = kit::RetireManifest(old, new_id, SystemClock::Get().Now());
    if (!retired) FailWith(retired.error(), kExitRejected);
    struct stat st {};
    const mode_t mode = ::stat(args->manifest.c_str(), &st) == 0 ? (st.st_mode & 0777) : 0644;
    if (auto s = fs::ReplaceFile(args->manifest, kit::FormatManifest(old), mode); !s) {
      FailIo(s.error());
    }
  });
}

// ---- combine -------------------------------------------------------------------------

// Who used a kit and why, for the signed offline record.
struct RecordArgs {
  std::string path;
  std::string who;
  std::string why;
  std::string ticket;
  std::string signing_key;
};

void AddRecordOptions(CLI::App* cmd, RecordArgs& args, std::string_view record_help) {
  cmd->add_option("--record", args.path, std::string(record_help));
  cmd->add_option("--who", args.who, "who is using the kit (goes into the offline record)");
  cmd->add_option("--why", args.why, "why (goes into the offline record)");
  cmd->add_option("--ticket", args.ticket, "incident or ticket id (offline record)");
  cmd->add_option("--signing-key", args.signing_key,
                  "sign the offline record with FILE, a 32-byte Ed25519 seed (base64 or hex); "
                  "default: a fresh key whose public half is printed");
}

void AddSharesFrom(std::istream& in, const std::string& source_prefix,
                   std::vector<kit::SourcedShare>& out, bool prompt) {
  std::string line;
  int number = 0;
  if (prompt) std::cerr << "Type or paste share lines, one per line; an empty line ends.\n";
  while (true) {
    if (prompt) std::cerr << fmt::format("share {}: ", out.size() + 1) << std::flush;
    if (!std::getline(in, line)) break;
    ++number;
    const bool blank = line.find_first_not_of(" \t\r") == std::string::npos;
    if (blank) {
      if (prompt) break;
      continue;
    }
    const std::string source = fmt::format("{}line {}", source_prefix, number);
    kit::ShareDiagnostic diagnostic;
    auto share = kit::ParseShareLine(line, &diagnostic);
    sodium_memzero(line.data(), line.size());
    if (!share) {
      if (prompt) {
        std::cerr << source << ": " << share.error().message() << "; type it again\n";
        continue;
      }
      Fail(kExitRejected, source + ": " + share.error().message());
    }
    out.push_back({source, std::move(share).value()});
    if (prompt && static_cast<int>(out.size()) >= out.front().share.threshold) break;
  }
}

// Share lines from `files`, or stdin (prompting on a terminal), combined; warns on stderr when
// the manifest is retired.
kit::Combined CombineOrFail(const std::vector<std::string>& files,
                            const std::optional<kit::KitManifest>& manifest) {
  std::vector<kit::SourcedShare> shares;
  if (files.empty()) {
    AddSharesFrom(std::cin, "", shares, ::isatty(STDIN_FILENO) == 1);
  } else {
    for (const std::string& file : files) {
      std::string text = ReadFileOrFail(file);
      std::istringstream in(text);
      sodium_memzero(text.data(), text.size());
      AddSharesFrom(in, file + ":", shares, false);
    }
  }
  auto combined = kit::CombineShares(shares, manifest ? &*manifest : nullptr);
  if (!combined) FailWith(combined.error());
  if (manifest && manifest->retired_at) std::cerr << "warning: " << RetiredNote(*manifest) << "\n";
  return std::move(combined).value();
}

// A record of this use of `combined`, not yet signed.
kit::OfflineRecord NewRecord(const RecordArgs& args, const kit::Combined& combined,
                             const std::optional<kit::KitManifest>& manifest) {
  kit::OfflineRecord record;
  record.record_id = NewId("kor");
  record.kit_id = combined.kit_id;
  record.kit_label = manifest ? manifest->label : "";
  record.who = args.who;
  record.when = SystemClock::Get().Now();
  record.why = args.why;
  record.ticket = args.ticket;
  record.share_indices = combined.indices;
  return record;
}

// Signs `record` and writes it to `path` (which must not exist yet), fsynced.
void WriteRecordOrFail(const RecordArgs& args, const std::string& path,
                       kit::OfflineRecord& record) {
  std::optional<kit::SigningKey> key;
  bool fresh = false;
  if (!args.signing_key.empty()) {
    std::string text = ReadFileOrFail(args.signing_key);
    auto parsed = kit::SigningKey::Parse(text);
    sodium_memzero(text.data(), text.size());
    if (!parsed) Fail(kExitUsage, args.signing_key + ": " + parsed.error().message());
    key = std::move(parsed).value();
  } else {
    key = kit::SigningKey::Generate(SystemRandom::Get());
    fresh = true;
  }
  auto signed_ok = kit::SignOfflineRecord(record, *key);
  if (!signed_ok) Fail(kExitUsage, signed_ok.error().message());
  WriteNewFileOrFail(path, kit::OfflineRecordToJson(record).dump(2) + "\n", 0644);
  std::cerr << fmt::format("offline record {} written to {}, signed by {}key {}\n",
                           record.record_id, path, fresh ? "the fresh " : "", record.public_key);
  if (fresh) {
    std::cerr << "Write that public key down with the incident notes: it is how the record "
                 "will be checked when it is reconciled.\n";
  }
}

struct CombineArgs {
  std::vector<std::string> files;
  std::string manifest;
  bool hex = false;
  RecordArgs record;
};

void AddCombine(CLI::App* kit_cmd) {
  auto args = std::make_shared<CombineArgs>();
  auto* cmd = kit_cmd->add_subcommand(
      "combine",
      "Restore the secret from share lines (stdin or FILEs, one a line, blank lines ignored; "
      "prompts when stdin is a terminal) and write its bytes to stdout");
  cmd->add_option("files", args->files, "files of share lines (default: stdin)");
  cmd->add_option("--manifest", args->manifest, "also check every share against this kit manifest");
  cmd->add_flag("--hex", args->hex, "print the secret as hex and a newline");
  AddRecordOptions(cmd, args->record,
                   "write a signed offline record (who, when, why, shares) to FILE; needs --who "
                   "and --why");
  cmd->footer(ExitCodesHelp());
  cmd->callback([args] {
    const RecordArgs& rec = args->record;
    if (!rec.path.empty() && (rec.who.empty() || rec.why.empty())) {
      Fail(kExitUsage, "--record needs --who and --why");
    }
    if (rec.path.empty() && (!rec.who.empty() || !rec.why.empty())) {
      Fail(kExitUsage, "--who and --why go with --record FILE");
    }
    std::optional<kit::KitManifest> manifest;
    if (!args->manifest.empty()) manifest = LoadManifestOrFail(args->manifest);
    const kit::Combined combined = CombineOrFail(args->files, manifest);
    if (!rec.path.empty()) {
      kit::OfflineRecord record = NewRecord(rec, combined, manifest);
      WriteRecordOrFail(rec, rec.path, record);
    }
    if (args->hex) {
      std::string hex(combined.secret.size() * 2 + 1, '\0');
      sodium_bin2hex(hex.data(), hex.size(), combined.secret.data(), combined.secret.size());
      hex.back() = '\n';
      std::cout << hex << std::flush;
      sodium_memzero(hex.data(), hex.size());
    } else {
      std::cout.write(combined.secret.Reveal().data(),
                      static_cast<std::streamsize>(combined.secret.size()));
      std::cout.flush();
    }
    if (!std::cout) Fail(kExitIo, "cannot write the secret to stdout");
  });
}

// ---- ssh-cert ------------------------------------------------------------------------

struct SshCertArgs {
  std::vector<std::string> files;
  std::string manifest;
  std::string public_key;
  std::vector<std::string> principals;
  std::string valid_for = "1h";
  std::vector<std::string> extensions = {"permit-pty"};
  std::string source_address;
  std::string force_command;
  std::string out;
  bool json = false;
  RecordArgs record;
};

// id_ed25519.pub -> id_ed25519-cert.pub, where `ssh -i id_ed25519` looks for it.
std::string DefaultCertificatePath(const std::string& public_key_path) {
  std::string base = public_key_path;
  if (base.size() > 4 && base.compare(base.size() - 4, 4, ".pub") == 0) base.resize(base.size() - 4);
  return base + "-cert.pub";
}

void RunSshCert(const SshCertArgs& a) {
  const RecordArgs& rec = a.record;
  if (rec.who.empty() || rec.why.empty()) {
    Fail(kExitUsage, "--who and --why are required: every offline use is recorded");
  }
  if (a.principals.empty()) Fail(kExitUsage, "--principal is required (at least one)");
  auto valid_for = ParseDuration(a.valid_for, "valid-for");
  if (!valid_for) Fail(kExitUsage, "--valid-for: " + valid_for.error().message());
  std::string key_text = ReadFileOrFail(a.public_key);
  while (!key_text.empty() && (key_text.back() == '\n' || key_text.back() == '\r')) key_text.pop_back();
  auto user_key = ssh::PublicKey::ParseLine(key_text);
  if (!user_key) Fail(kExitUsage, a.public_key + ": " + user_key.error().message());
  kit::EmergencyCertificateOptions options{*user_key};
  options.principals = a.principals;
  options.valid_for = *valid_for;
  options.extensions.clear();
  for (const std::string& name : a.extensions) {
    auto e = ssh::ParseExtension(name);
    if (!e) Fail(kExitUsage, "--extension: " + e.error().message());
    options.extensions.insert(*e);
  }
  if (!a.source_address.empty()) options.source_address = a.source_address;
  if (!a.force_command.empty()) options.force_command = a.force_command;

  const kit::KitManifest manifest = LoadManifestOrFail(a.manifest);
  if (!manifest.protects || manifest.protects->kind != kit::kProtectsSshCa) {
    Fail(kExitRejected, fmt::format("{}: kit {} does not hold an SSH CA key (make one with "
                                    "breakglass ssh-ca kit)",
                                    a.manifest, manifest.kit_id));
  }
  const kit::Combined combined = CombineOrFail(a.files, manifest);
  auto ca = kit::SshCaKeyFromSecret(combined.secret, manifest);
  if (!ca) FailWith(ca.error());

  kit::OfflineRecord record = NewRecord(rec, combined, manifest);
  options.record_id = record.record_id;
  options.who = rec.who;
  auto cert = kit::SignEmergencyCertificate(*ca, options, record.when, SystemRandom::Get());
  if (!cert) Fail(kExitUsage, cert.error().message());
  record.ssh_certificate = cert->use;
  // The record is on disk before the certificate leaves: no use without its record.
  const std::string record_path = rec.path.empty() ? record.record_id + ".json" : rec.path;
  WriteRecordOrFail(rec, record_path, record);

  const std::string cert_path = a.out.empty() ? DefaultCertificatePath(a.public_key) : a.out;
  if (cert_path == "-") {
    std::cout << cert->line << "\n" << std::flush;
  } else if (auto s = fs::ReplaceFile(cert_path, cert->line + "\n", 0644); !s) {
    FailIo(s.error(), " (the offline record " + record_path + " was written)");
  }
  const kit::SshCertificateUse& use = cert->use;
  if (a.json && cert_path != "-") {
    std::cout << json{{"certificate", cert->line},
                      {"certificate_file", cert_path},
                      {"serial", use.serial},
                      {"key_id", use.key_id},
                      {"principals", use.principals},
                      {"valid_after", FormatRfc3339(use.valid_after)},
                      {"valid_before", FormatRfc3339(use.valid_before)},
                      {"ca_public_key", use.ca_public_key},
                      {"record_id", record.record_id},
                      {"record_file", record_path},
                      {"record_signer", record.public_key}}
                     .dump()
              << std::endl;
    return;
  }
  std::string principals;
  for (const std::string& p : use.principals) principals += (principals.empty() ? "" : ",") + p;
  std::cerr << fmt::format(
      "emergency certificate for {} ({}) serial {}, valid {} to {}{}\n"
      "Reconcile {} with breakglass kit reconcile once the service is back; kit {} must then "
      "be rotated.\n",
      principals, use.key_fingerprint, use.serial, FormatRfc3339(use.valid_after),
      FormatRfc3339(use.valid_before), cert_path == "-" ? "" : ", written to " + cert_path,
      record_path, manifest.kit_id);
}

void AddSshCert(CLI::App* kit_cmd) {
  auto args = std::make_shared<SshCertArgs>();
  auto* cmd = kit_cmd->add_subcommand(
      "ssh-cert",
      "Sign an emergency SSH user certificate with the CA key restored from M shares of an "
      "ssh-ca kit (breakglass ssh-ca kit), with no server; the signed offline record is written "
      "first");
  cmd->add_option("files", args->files, "files of share lines (default: stdin)");
  cmd->add_option("--manifest", args->manifest, "the kit's manifest.json (names the CA)")
      ->required();
  cmd->add_option("--public-key", args->public_key,
                  "the user's public key file (e.g. ~/.ssh/id_ed25519.pub)")
      ->required();
  cmd->add_option("--principal", args->principals,
                  "a principal (login, or name in AuthorizedPrincipalsFile); repeatable")
      ->required();
  cmd->add_option("--valid-for", args->valid_for, "lifetime, 1m to 24h (default 1h)");
  cmd->add_option("--extension", args->extensions,
                  "OpenSSH extension, repeatable (default: permit-pty)");
  cmd->add_option("--source-address", args->source_address,
                  "critical option source-address (CIDR list)");
  cmd->add_option("--force-command", args->force_command, "critical option force-command");
  cmd->add_option("--out,-o", args->out,
                  "certificate file (default: KEY-cert.pub beside the public key; - for stdout)");
  cmd->add_flag("--json", args->json, "print the certificate and record details as JSON");
  AddRecordOptions(cmd, args->record,
                   "offline record file (default: ./<record id>.json); --who and --why required");
  cmd->footer(ExitCodesHelp());
  cmd->callback([args] { RunSshCert(*args); });
}

// ---- check ---------------------------------------------------------------------------

struct CheckArgs {
  std::string share;
  std::string manifest;
  bool json = false;
};

void AddCheck(CLI::App* kit_cmd) {
  auto args = std::make_shared<CheckArgs>();
  auto* cmd = kit_cmd->add_subcommand(
      "check",
      "Check that one share is intact and belongs to the kit in MANIFEST, without any other "
      "share and without revealing the secret");
  cmd->add_option("share", args->share,
                  "the share line, or - to read it from stdin (keeps it out of ps and history)")
      ->required();
  cmd->add_option("--manifest", args->manifest, "the kit's manifest.json")->required();
  cmd->add_flag("--json", args->json, "print the result as JSON");
  cmd->footer(ExitCodesHelp());
  cmd->callback([args] {
    const kit::KitManifest manifest = LoadManifestOrFail(args->manifest);
    std::string line = args->share;
    if (line == "-") std::getline(std::cin, line);
    auto share = kit::ParseShareLine(line);
    sodium_memzero(line.data(), line.size());
    Status verdict = share ? kit::CheckShare(*share, manifest) : Status(share.error());
    if (args->json) {
      json out = {{"ok", verdict.has_value()}, {"kit_id", manifest.kit_id}};
      if (share) out["index"] = share->index;
      if (!verdict) out["error"] = verdict.error().message();
      if (manifest.retired_at) {
        out["retired_at"] = FormatRfc3339(*manifest.retired_at);
        out["replaced_by"] = manifest.replaced_by;
      }
      std::cout << out.dump() << std::endl;
    }
    if (!verdict) Fail(kExitRejected, "share rejected: " + verdict.error().message());
    if (!args->json) {
      std::cout << fmt::format(
          "ok: share {} is intact and belongs to kit {}{} ({} of {})\n", share->index,
          manifest.kit_id, manifest.label.empty() ? "" : fmt::format(" (\"{}\")", manifest.label),
          manifest.threshold, manifest.share_count);
      if (manifest.retired_at) std::cout << "note: " << RetiredNote(manifest) << "\n";
    }
  });
}

// ---- verify-record -------------------------------------------------------------------

struct VerifyRecordArgs {
  std::string file;
  std::string public_key;
  bool json = false;
};

void AddVerifyRecord(CLI::App* kit_cmd) {
  auto args = std::make_shared<VerifyRecordArgs>();
  auto* cmd = kit_cmd->add_subcommand(
      "verify-record", "Check the signature of an offline record written by combine --record");
  cmd->add_option("record", args->file, "the record's JSON file")->required();
  cmd->add_option("--public-key", args->public_key,
                  "require this signer (base64 Ed25519 public key)");
  cmd->add_flag("--json", args->json, "print the record as JSON when it verifies");
  cmd->footer(ExitCodesHelp());
  cmd->callback([args] {
    auto record = kit::ParseOfflineRecord(ReadFileOrFail(args->file));
    if (!record) Fail(kExitRejected, args->file + ": " + record.error().message());
    auto ok = kit::VerifyOfflineRecord(*record, args->public_key);
    if (!ok) Fail(kExitRejected, args->file + ": " + ok.error().message());
    if (args->json) {
      std::cout << kit::OfflineRecordToJson(*record).dump() << std::endl;
      return;
    }
    std::string indices;
    for (int i : record->share_indices) indices += (indices.empty() ? "" : ",") + std::to_string(i);
    std::cout << fmt::format(
        "ok: record {} signed by {}\n  kit {} used by {} at {} with shares {}\n  why: {}{}\n",
        record->record_id, record->public_key, record->kit_id, record->who,
        FormatRfc3339(record->when), indices, record->why,
        record->ticket.empty() ? "" : " (ticket " + record->ticket + ")");
  });
}

}  // namespace

void AddKitCommands(CLI::App& app) {
  auto* kit_cmd =
      app.add_subcommand("kit", "Offline emergency kit: Shamir M-of-N shares of a root secret");
  kit_cmd->require_subcommand(1);
  kit_cmd->footer(ExitCodesHelp());
  AddSplit(kit_cmd);
  AddCombine(kit_cmd);
  AddCheck(kit_cmd);
  AddRotate(kit_cmd);
  AddVerifyRecord(kit_cmd);
  AddSshCert(kit_cmd);
}

}  // namespace bg::cli
