// ssh_ca_tool: drives bg_ssh from the shell for test/integration/sshd_test.sh.
//
//   ssh_ca_tool keygen OUT COMMENT        OpenSSH private key file OUT (0600) and OUT.pub
//   ssh_ca_tool sign CA_KEY USER_PUB SERIAL KEY_ID PRINCIPALS AFTER BEFORE [opt...]
//       PRINCIPALS comma-separated; AFTER/BEFORE Unix seconds; opt: force-command=CMD,
//       source-address=LIST, or an extension name (permit-pty, ...). Prints the certificate.
//   ssh_ca_tool krl CA_PUB KRL_VERSION NOW OUT [SERIAL...]    writes a KRL to OUT
//   ssh_ca_tool show CERT_FILE [CA_PUB]   parses and verifies, prints the fields
//   ssh_ca_tool fingerprint PUB_FILE
#include <sys/stat.h>

#include <charconv>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "ssh/certificate.h"
#include "ssh/keys.h"
#include "ssh/krl.h"
#include "util/time.h"
#include "util/fs.h"

namespace {

using bg::Result;
using bg::Status;

Result<std::string> ReadFile(const std::string& path) { return bg::fs::ReadWholeFile(path); }

// Atomically: a reader never sees half a key, certificate or KRL.
Status WriteFile(const std::string& path, std::string_view data, mode_t mode) {
  return bg::fs::ReplaceFile(path, data, mode);
}

Result<uint64_t> ParseU64(std::string_view s, std::string_view field) {
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) {
    return bg::Error::InvalidArgument(std::string(field), "not a number: " + std::string(s));
  }
  return v;
}

std::vector<std::string> Split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    const size_t i = s.find(sep, start);
    out.emplace_back(s.substr(start, i == s.npos ? s.npos : i - start));
    if (i == s.npos) return out;
    start = i + 1;
  }
}

Status Keygen(const std::vector<std::string>& a) {
  if (a.size() != 2) return bg::Error::InvalidArgument("args", "keygen OUT COMMENT");
  auto key = bg::ssh::Ed25519PrivateKey::Generate();
  BG_TRY(WriteFile(a[0], key.ToOpenSshPrivateKeyFile(a[1]).Reveal(), 0600));
  return WriteFile(a[0] + ".pub", key.PublicKeyLine(a[1]) + "\n", 0644);
}

Status Sign(const std::vector<std::string>& a) {
  if (a.size() < 7) return bg::Error::InvalidArgument("args", "sign: too few arguments");
  BG_ASSIGN_OR_RETURN(std::string ca_file, ReadFile(a[0]));
  BG_ASSIGN_OR_RETURN(auto ca, bg::ssh::Ed25519PrivateKey::FromOpenSshPrivateKeyFile(ca_file));
  BG_ASSIGN_OR_RETURN(std::string user_line, ReadFile(a[1]));
  BG_ASSIGN_OR_RETURN(auto user_key, bg::ssh::PublicKey::ParseLine(user_line));
  bg::ssh::CertificateSpec spec{.public_key = user_key};
  BG_ASSIGN_OR_RETURN(spec.serial, ParseU64(a[2], "serial"));
  spec.key_id = a[3];
  spec.principals = Split(a[4], ',');
  BG_ASSIGN_OR_RETURN(uint64_t after, ParseU64(a[5], "valid_after"));
  BG_ASSIGN_OR_RETURN(uint64_t before, ParseU64(a[6], "valid_before"));
  spec.valid_after = bg::FromUnixSeconds(static_cast<int64_t>(after));
  spec.valid_before = bg::FromUnixSeconds(static_cast<int64_t>(before));
  for (size_t i = 7; i < a.size(); ++i) {
    const std::string& opt = a[i];
    if (opt.rfind("force-command=", 0) == 0) {
      spec.force_command = opt.substr(14);
    } else if (opt.rfind("source-address=", 0) == 0) {
      spec.source_address = opt.substr(15);
    } else {
      BG_ASSIGN_OR_RETURN(auto ext, bg::ssh::ParseExtension(opt));
      spec.extensions.insert(ext);
    }
  }
  BG_ASSIGN_OR_RETURN(std::string line, bg::ssh::SignCertificate(spec, ca));
  std::cout << line << "\n";
  return bg::Ok();
}

Status Krl(const std::vector<std::string>& a) {
  if (a.size() < 4) return bg::Error::InvalidArgument("args", "krl CA_PUB VERSION NOW OUT [S...]");
  BG_ASSIGN_OR_RETURN(std::string ca_line, ReadFile(a[0]));
  BG_ASSIGN_OR_RETURN(auto ca_key, bg::ssh::PublicKey::ParseLine(ca_line));
  bg::ssh::KrlSpec spec{.ca_key = ca_key};
  BG_ASSIGN_OR_RETURN(spec.krl_version, ParseU64(a[1], "krl_version"));
  BG_ASSIGN_OR_RETURN(uint64_t now, ParseU64(a[2], "now"));
  spec.generated_at = bg::FromUnixSeconds(static_cast<int64_t>(now));
  spec.comment = "breakglass ssh_ca_tool";
  for (size_t i = 4; i < a.size(); ++i) {
    BG_ASSIGN_OR_RETURN(uint64_t serial, ParseU64(a[i], "serial"));
    spec.revoked_serials.insert(serial);
  }
  BG_ASSIGN_OR_RETURN(std::string krl, bg::ssh::BuildKrl(spec));
  return WriteFile(a[3], krl, 0644);
}

Status Show(const std::vector<std::string>& a) {
  if (a.empty() || a.size() > 2) return bg::Error::InvalidArgument("args", "show CERT [CA_PUB]");
  BG_ASSIGN_OR_RETURN(std::string text, ReadFile(a[0]));
  std::optional<bg::ssh::PublicKey> ca;
  if (a.size() == 2) {
    BG_ASSIGN_OR_RETURN(std::string ca_line, ReadFile(a[1]));
    BG_ASSIGN_OR_RETURN(ca, bg::ssh::PublicKey::ParseLine(ca_line));
  }
  BG_ASSIGN_OR_RETURN(auto cert, bg::ssh::ParseCertificate(text, ca ? &*ca : nullptr));
  std::cout << "type: " << bg::ssh::CertificateTypeName(cert.public_key.type()) << "\n"
            << "key: " << cert.public_key.Fingerprint() << "\n"
            << "ca: " << cert.signature_key.Fingerprint() << "\n"
            << "key_id: " << cert.key_id << "\n"
            << "serial: " << cert.serial << "\n"
            << "valid_after: " << cert.valid_after << "\n"
            << "valid_before: " << cert.valid_before << "\n";
  for (const auto& p : cert.principals) std::cout << "principal: " << p << "\n";
  for (const auto& [name, data] : cert.critical_options) {
    std::cout << "critical: " << name << " " << cert.CriticalOption(name).value_or("") << "\n";
  }
  for (const auto& [name, data] : cert.extensions) std::cout << "extension: " << name << "\n";
  return bg::Ok();
}

Status Fingerprint(const std::vector<std::string>& a) {
  if (a.size() != 1) return bg::Error::InvalidArgument("args", "fingerprint PUB_FILE");
  BG_ASSIGN_OR_RETURN(std::string line, ReadFile(a[0]));
  BG_ASSIGN_OR_RETURN(auto key, bg::ssh::PublicKey::ParseLine(line));
  std::cout << key.Fingerprint() << "\n";
  return bg::Ok();
}

}  // namespace

int main(int argc, char** argv) {
  bg::InitCrypto();
  if (argc < 2) {
    std::cerr << "usage: ssh_ca_tool keygen|sign|krl|show|fingerprint ...\n";
    return 2;
  }
  const std::string cmd = argv[1];
  const std::vector<std::string> args(argv + 2, argv + argc);
  Status status = bg::Error::InvalidArgument("command", "unknown command " + cmd);
  if (cmd == "keygen") status = Keygen(args);
  if (cmd == "sign") status = Sign(args);
  if (cmd == "krl") status = Krl(args);
  if (cmd == "show") status = Show(args);
  if (cmd == "fingerprint") status = Fingerprint(args);
  if (!status) {
    std::cerr << "ssh_ca_tool: " << status.error().ToString() << "\n";
    return 1;
  }
  return 0;
}
