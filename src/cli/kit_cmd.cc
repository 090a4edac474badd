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

#include "kit/kit.h"
#include "kit/offline_record.h"
#include "kit/qr_png.h"
#include "kit/share_line.h"
#include "util/random.h"
#include "util/time.h"

namespace bg::cli {
namespace {

using nlohmann::json;

constexpr int kExitRejected = 1;
constexpr int kExitUsage = 2;
constexpr int kExitIo = 3;

constexpr const char* kExitCodesHelp =
    "Exit codes: 0 success; 1 a share, kit or record was rejected (corrupted, mixed kits, "
    "duplicate index, too few shares, not in the manifest, bad signature); 2 bad arguments or "
    "input; 3 a file could not be read or written; 100-127 command-line syntax errors.";

// Prints one line to stderr and ends the subcommand with `code`.
[[noreturn]] void Fail(int code, std::string message) {
  for (char& c : message) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  std::cerr << "breakglass kit: " << message << std::endl;
  throw CLI::RuntimeError(code);
}

// Exit code for a library error: argument-shaped codes are usage errors only where the
// caller says so; everything about shares is a rejection.
[[noreturn]] void FailWith(const Error& error, int code = kExitRejected) {
  Fail(code, error.message());
}

std::string ReadAll(std::istream& in) {
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string ReadFileOrFail(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) Fail(kExitIo, fmt::format("cannot read {}: {}", path, std::strerror(errno)));
  std::string out;
  char buf[4096];
  ssize_t n = 0;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  const int read_errno = errno;
  ::close(fd);
  sodium_memzero(buf, sizeof buf);
  if (n < 0) Fail(kExitIo, fmt::format("cannot read {}: {}", path, std::strerror(read_errno)));
  return out;
}

// Creates `path` with `mode`; refuses to replace an existing file.
void WriteNewFileOrFail(const std::string& path, std::string_view bytes, mode_t mode) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) Fail(kExitIo, fmt::format("cannot create {}: {}", path, std::strerror(errno)));
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int write_errno = errno;
      ::close(fd);
      Fail(kExitIo, fmt::format("cannot write {}: {}", path, std::strerror(write_errno)));
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    Fail(kExitIo, fmt::format("cannot write {}: {}", path, std::strerror(errno)));
  }
}

// Replaces `path` atomically (temporary file + rename), keeping `mode`.
void ReplaceFileOrFail(const std::string& path, std::string_view bytes, mode_t mode) {
  const std::string tmp = path + ".tmp";
  ::unlink(tmp.c_str());
  WriteNewFileOrFail(tmp, bytes, mode);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    Fail(kExitIo, fmt::format("cannot replace {}: {}", path, std::strerror(errno)));
  }
}

void MakeDirOrFail(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    Fail(kExitIo, fmt::format("cannot create directory {}: {}", dir, std::strerror(errno)));
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    Fail(kExitIo, fmt::format("{} is not a directory", dir));
  }
}

kit::KitManifest LoadManifestOrFail(const std::string& path) {
  auto manifest = kit::ParseManifest(ReadFileOrFail(path));
  if (!manifest) Fail(kExitIo, fmt::format("{}: {}", path, manifest.error().message()));
  return std::move(manifest).value();
}

std::string RetiredNote(const kit::KitManifest& m) {
  return fmt::format("kit {} was retired at {} and replaced by kit {}", m.kit_id,
                     FormatRfc3339(*m.retired_at), m.replaced_by);
}

std::string Upper(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
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

// Writes share-K.txt (0600), share-K.png with --qr (0600) and manifest.json (0644).
std::vector<std::string> WriteKitFiles(const SplitArgs& args, const kit::Kit& kit,
                                       const std::vector<Secret>& lines) {
  std::vector<std::string> written;
  MakeDirOrFail(args.out_dir);
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string base = fmt::format("{}/share-{}", args.out_dir, kit.shares[i].index);
    std::string text(lines[i].Reveal());
    text += '\n';
    WriteNewFileOrFail(base + ".txt", text, 0600);
    sodium_memzero(text.data(), text.size());
    written.push_back(base + ".txt");
    if (args.qr) {
      std::string upper = Upper(lines[i].Reveal());
      auto png = kit::QrPng(upper);
      sodium_memzero(upper.data(), upper.size());
      if (!png) FailWith(png.error(), kExitUsage);
      WriteNewFileOrFail(base + ".png", png->Reveal(), 0600);
      written.push_back(base + ".png");
    }
  }
  const std::string manifest_path = args.out_dir + "/manifest.json";
  WriteNewFileOrFail(manifest_path, kit::FormatManifest(kit.manifest), 0644);
  written.push_back(manifest_path);
  return written;
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
  std::vector<Secret> lines;
  for (const kit::Share& s : kit->shares) lines.push_back(kit::FormatShareLine(s));

  std::vector<std::string> files;
  if (!args.out_dir.empty()) files = WriteKitFiles(args, *kit, lines);
  if (!args.secret_out.empty()) {
    WriteNewFileOrFail(args.secret_out, secret.Reveal(), 0600);
    files.push_back(args.secret_out);
  }

  const kit::KitManifest& m = kit->manifest;
  if (args.json) {
    json shares = json::array();
    for (const Secret& line : lines) shares.push_back(std::string(line.Reveal()));
    json out = {{"kit_id", m.kit_id}, {"shares", shares}, {"manifest", kit::ManifestToJson(m)}};
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
  cmd->footer(kExitCodesHelp);
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
  cmd->footer(kExitCodesHelp);
  cmd->callback([args] {
    kit::KitManifest old = LoadManifestOrFail(args->manifest);
    if (old.retired_at) Fail(kExitRejected, RetiredNote(old) + "; rotate the current kit");
    SplitArgs split = args->split;
    if (split.threshold == 0) split.threshold = old.threshold;
    if (split.shares == 0) split.shares = std::max(old.share_count, split.threshold);
    if (split.label.empty()) split.label = old.label;
    const std::string new_id = RunSplit(split, old.kit_id);
    auto retired = kit::RetireManifest(old, new_id, SystemClock::Get().Now());
    if (!retired) FailWith(retired.error(), kExitRejected);
    struct stat st {};
    const mode_t mode = ::stat(args->manifest.c_str(), &st) == 0 ? (st.st_mode & 0777) : 0644;
    ReplaceFileOrFail(args->manifest, kit::FormatManifest(old), mode);
  });
}

// ---- combine -------------------------------------------------------------------------

struct CombineArgs {
  std::vector<std::string> files;
  std::string manifest;
  bool hex = false;
  std::string record;
  std::string who;
  std::string why;
  std::string ticket;
  std::string signing_key;
};

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

void WriteRecordOrFail(const CombineArgs& args, const kit::Combined& combined,
                       const std::optional<kit::KitManifest>& manifest) {
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
  kit::OfflineRecord record;
  record.record_id = NewId("kor");
  record.kit_id = combined.kit_id;
  record.kit_label = manifest ? manifest->label : "";
  record.who = args.who;
  record.when = SystemClock::Get().Now();
  record.why = args.why;
  record.ticket = args.ticket;
  record.share_indices = combined.indices;
  auto signed_ok = kit::SignOfflineRecord(record, *key);
  if (!signed_ok) Fail(kExitUsage, signed_ok.error().message());
  WriteNewFileOrFail(args.record, kit::OfflineRecordToJson(record).dump(2) + "\n", 0644);
  std::cerr << fmt::format("offline record {} written to {}, signed by {}key {}\n",
                           record.record_id, args.record, fresh ? "the fresh " : "",
                           record.public_key);
  if (fresh) {
    std::cerr << "Write that public key down with the incident notes: it is how the record "
                 "will be checked when it is reconciled.\n";
  }
}

void AddCombine(CLI::App* kit_cmd) {
  auto args = std::make_shared<CombineArgs>();
  auto* cmd = kit_cmd->add_subcommand(
      "combine",
      "Restore the secret from share lines (stdin or FILEs, one a line, blank lines ignored; "
      "prompts when stdin is a terminal) and write its bytes to stdout");
  cmd->add_option("files", args->files, "files of share lines (default: stdin)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--manifest", args->manifest, "also check every share against this kit manifest");
  cmd->add_flag("--hex", args->hex, "print the secret as hex and a newline");
  cmd->add_option("--record", args->record,
                  "write a signed offline record (who, when, why, shares) to FILE");
  cmd->add_option("--who", args->who, "with --record: who is using the kit");
  cmd->add_option("--why", args->why, "with --record: why");
  cmd->add_option("--ticket", args->ticket, "with --record: incident or ticket id");
  cmd->add_option("--signing-key", args->signing_key,
                  "with --record: FILE holding a 32-byte Ed25519 seed (base64 or hex); default: "
                  "a fresh key whose public half is printed");
  cmd->footer(kExitCodesHelp);
  cmd->callback([args] {
    if (!args->record.empty() && (args->who.empty() || args->why.empty())) {
      Fail(kExitUsage, "--record needs --who and --why");
    }
    if (args->record.empty() && (!args->who.empty() || !args->why.empty())) {
      Fail(kExitUsage, "--who and --why go with --record FILE");
    }
    std::optional<kit::KitManifest> manifest;
    if (!args->manifest.empty()) manifest = LoadManifestOrFail(args->manifest);
    std::vector<kit::SourcedShare> shares;
    if (args->files.empty()) {
      AddSharesFrom(std::cin, "", shares, ::isatty(STDIN_FILENO) == 1);
    } else {
      for (const std::string& file : args->files) {
        std::string text = ReadFileOrFail(file);
        std::istringstream in(text);
        sodium_memzero(text.data(), text.size());
        AddSharesFrom(in, file + ":", shares, false);
      }
    }
    auto combined = kit::CombineShares(shares, manifest ? &*manifest : nullptr);
    if (!combined) FailWith(combined.error());
    if (manifest && manifest->retired_at)
      std::cerr << "warning: " << RetiredNote(*manifest) << "\n";
    if (!args->record.empty()) WriteRecordOrFail(*args, *combined, manifest);
    if (args->hex) {
      std::string hex(combined->secret.size() * 2 + 1, '\0');
      sodium_bin2hex(hex.data(), hex.size(), combined->secret.data(), combined->secret.size());
      hex.back() = '\n';
      std::cout << hex << std::flush;
      sodium_memzero(hex.data(), hex.size());
    } else {
      std::cout.write(combined->secret.Reveal().data(),
                      static_cast<std::streamsize>(combined->secret.size()));
      std::cout.flush();
    }
    if (!std::cout) Fail(kExitIo, "cannot write the secret to stdout");
  });
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
  cmd->footer(kExitCodesHelp);
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
  cmd->footer(kExitCodesHelp);
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
  kit_cmd->footer(kExitCodesHelp);
  AddSplit(kit_cmd);
  AddCombine(kit_cmd);
  AddCheck(kit_cmd);
  AddRotate(kit_cmd);
  AddVerifyRecord(kit_cmd);
}

}  // namespace bg::cli
