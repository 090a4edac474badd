// OpenSSH keys (ssh/keys.h): public key lines as users paste them (`request ssh-cert`, the
// connector's configuration), public key blobs, and the Ed25519 private key files the kit and
// the CA read. The first byte picks: 0 a line, 1 a blob, 2 a private key file.
//
// Invariants: an accepted public key written again (ToLine, blob) reads back as the same key
// with the same comment, and a line never yields a key of another type than it names; an
// accepted private key file leaves its comment, writes back to a file that reads as the same
// key, and a refused one leaves the caller's comment untouched.
#include <string>

#include "fuzz/fuzz.h"
#include "ssh/keys.h"
#include "test/fakes/fake_random.h"

namespace {

using bg::ssh::PublicKey;

void CheckKey(const PublicKey& key) {
  auto again = PublicKey::ParseLine(key.ToLine());
  BG_FUZZ_CHECK(again.has_value() && *again == key && again->comment() == key.comment());
  auto blob = PublicKey::FromBlob(key.blob());
  BG_FUZZ_CHECK(blob.has_value() && *blob == key && blob->type() == key.type());
  BG_FUZZ_CHECK(key.blob().size() > key.fields().size());
  BG_FUZZ_CHECK(key.Fingerprint().rfind("SHA256:", 0) == 0);
}

void Line(std::string_view line) {
  auto key = PublicKey::ParseLine(line);
  bg::fuzz::CheckRefusal(key);
  if (!key) return;
  BG_FUZZ_CHECK(line.find(bg::ssh::ToString(key->type())) != std::string_view::npos);
  CheckKey(*key);
}

void Blob(std::string_view blob) {
  auto key = PublicKey::FromBlob(blob);
  bg::fuzz::CheckRefusal(key);
  if (!key) return;
  BG_FUZZ_CHECK(key->blob() == blob);
  CheckKey(*key);
}

void PrivateFile(std::string_view file) {
  std::string comment = "untouched";
  auto key = bg::ssh::Ed25519PrivateKey::FromOpenSshPrivateKeyFile(file, &comment);
  if (!key) {
    bg::fuzz::CheckError(key.error());
    BG_FUZZ_CHECK(comment == "untouched");
    return;
  }
  CheckKey(key->public_key());
  bg::testing::CountingRandom random;
  const bg::Secret written = key->ToOpenSshPrivateKeyFile(comment, random);
  std::string comment_again;
  auto again =
      bg::ssh::Ed25519PrivateKey::FromOpenSshPrivateKeyFile(written.Reveal(), &comment_again);
  BG_FUZZ_CHECK(again.has_value() && again->StorageBytes().Equals(key->StorageBytes()));
  BG_FUZZ_CHECK(comment_again == comment);
  // It signs, and its public key verifies what it signed.
  BG_FUZZ_CHECK(
      bg::ssh::VerifyEd25519Signature(key->public_key(), file, key->Sign(file)).has_value());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto [selector, rest] = bg::fuzz::Select(bg::fuzz::AsText(data, size));
  switch (selector % 3) {
    case 0:
      Line(rest);
      break;
    case 1:
      Blob(rest);
      break;
    case 2:
      PrivateFile(rest);
      break;
  }
  return 0;
}
