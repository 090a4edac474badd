// OpenSSH certificates (ssh/certificate.h) as ParseCertificate reads them back: lines and
// blobs. The first byte picks: 0 a line or blob as given; 1 the rest is the signed part of a
// certificate up to its CA key, which the target completes with a test CA's key and signature,
// so the fuzzer also reaches what is read after the signature check (principals, options,
// extensions).
//
// Invariants: an accepted certificate written again (ToLine, its blob) reads back with the same
// fields; a changed signature byte is refused; with another CA expected it is refused with
// PermissionDenied; a refusal names the field "certificate".
#include <string>

#include "fuzz/fuzz.h"
#include "ssh/certificate.h"
#include "ssh/ssh_wire.h"
#include "test/fakes/fake_random.h"

namespace {

using bg::ssh::Certificate;

const bg::ssh::Ed25519PrivateKey& TestCa(uint8_t which) {
  static const bg::ssh::Ed25519PrivateKey a = [] {
    bg::testing::SeededRandom random("fuzz ssh_cert ca a");
    return bg::ssh::Ed25519PrivateKey::Generate(random);
  }();
  static const bg::ssh::Ed25519PrivateKey b = [] {
    bg::testing::SeededRandom random("fuzz ssh_cert ca b");
    return bg::ssh::Ed25519PrivateKey::Generate(random);
  }();
  return which == 0 ? a : b;
}

bool SameFields(const Certificate& a, const Certificate& b) {
  return a.public_key == b.public_key && a.nonce == b.nonce && a.serial == b.serial &&
         a.type == b.type && a.key_id == b.key_id && a.principals == b.principals &&
         a.valid_after == b.valid_after && a.valid_before == b.valid_before &&
         a.critical_options == b.critical_options && a.extensions == b.extensions &&
         a.signature_key == b.signature_key && a.blob == b.blob;
}

void Check(std::string_view input) {
  auto cert = bg::ssh::ParseCertificate(input);
  if (!cert) {
    bg::fuzz::CheckError(cert.error());
    BG_FUZZ_CHECK(cert.error().field() == "certificate");
    return;
  }
  BG_FUZZ_CHECK(cert->type == bg::ssh::kUserCertificate || cert->type == bg::ssh::kHostCertificate);
  auto line = bg::ssh::ParseCertificate(cert->ToLine());
  BG_FUZZ_CHECK(line.has_value() && SameFields(*line, *cert) && line->comment == cert->comment);
  auto blob = bg::ssh::ParseCertificate(cert->blob);
  BG_FUZZ_CHECK(blob.has_value() && SameFields(*blob, *cert));
  auto same_ca = bg::ssh::ParseCertificate(cert->blob, &cert->signature_key);
  BG_FUZZ_CHECK(same_ca.has_value());
  const bg::ssh::PublicKey& other =
      TestCa(cert->signature_key == TestCa(0).public_key() ? 1 : 0).public_key();
  auto other_ca = bg::ssh::ParseCertificate(cert->blob, &other);
  BG_FUZZ_CHECK(!other_ca && other_ca.error().code() == bg::ErrorCode::kPermissionDenied);
  // The signature is the last bytes of the blob.
  std::string tampered = cert->blob;
  tampered.back() = static_cast<char>(tampered.back() ^ 0x01);
  BG_FUZZ_CHECK(!bg::ssh::ParseCertificate(tampered).has_value());
  // What the connector and the kit read from it.
  (void)cert->CriticalOption("force-command");
  (void)cert->CriticalOption("source-address");
  (void)cert->HasExtension("permit-pty");
}

void Signed(std::string_view to_sign) {
  const auto& ca = TestCa(0);
  bg::ssh::WireWriter w;
  w.Raw(to_sign);
  w.String(ca.public_key().blob());
  const std::string signature = ca.Sign(w.data());
  w.String(signature);
  Check(w.data());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto [selector, rest] = bg::fuzz::Select(bg::fuzz::AsText(data, size));
  if (selector % 2 == 0) {
    Check(rest);
  } else {
    Signed(rest);
  }
  return 0;
}
