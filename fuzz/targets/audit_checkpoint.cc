// Signed checkpoints and verifier keys of the audit log (audit/checkpoint.h), as `audit verify`
// reads them from a bundle, the server or a file the auditor kept. The first byte picks:
//   0  "NOTE <sep> VERIFIER KEY" as given (mutations of real notes and keys)
//   1  a checkpoint body that the target signs with a test key, so that the body parser is
//      reached behind the signature check
//   2  a verifier key alone
// (<sep> is fuzz.h's kSeparator line.)
//
// Invariants: an opened checkpoint is exactly what its signed body says (CheckpointBody gives
// the body back byte for byte); a note whose last signature is changed opens to the same checkpoint
// or not at all; a parsed verifier key is written back by FormatVerifierKey (its key id in either
// case); refusals name "checkpoint" or "key".
#include <sodium.h>

#include <string>

#include "audit/checkpoint.h"
#include "fuzz/fuzz.h"
#include "util/encoding.h"

namespace {

// A note signing key known to the target: name, seed-derived key pair.
struct TestKey {
  std::string name = "breakglass.example/audit";
  unsigned char pk[crypto_sign_PUBLICKEYBYTES];
  unsigned char sk[crypto_sign_SECRETKEYBYTES];
  std::string verifier;
  TestKey() {
    unsigned char seed[crypto_sign_SEEDBYTES] = {7};
    crypto_sign_seed_keypair(pk, sk, seed);
    verifier = bg::audit::FormatVerifierKey(
        name, std::string_view(reinterpret_cast<char*>(pk), sizeof pk));
  }
  // `body` + blank line + this key's signature line over `body`.
  std::string Sign(std::string_view body) const {
    const uint32_t id =
        bg::audit::NoteKeyId(name, std::string_view(reinterpret_cast<const char*>(pk), sizeof pk));
    std::string blob = {static_cast<char>(id >> 24), static_cast<char>(id >> 16),
                        static_cast<char>(id >> 8), static_cast<char>(id)};
    unsigned char sig[crypto_sign_BYTES];
    crypto_sign_detached(sig, nullptr, reinterpret_cast<const unsigned char*>(body.data()),
                         body.size(), sk);
    blob.append(reinterpret_cast<char*>(sig), sizeof sig);
    return std::string(body) + "\n\xE2\x80\x94 " + name + " " + bg::Base64Encode(blob) + "\n";
  }
};

const TestKey& Key() {
  static const TestKey key;
  return key;
}

void Opened(std::string_view note, std::string_view key) {
  auto cp = bg::audit::ParseAndVerifyCheckpoint(note, key);
  if (!cp) {
    bg::fuzz::CheckError(cp.error());
    BG_FUZZ_CHECK(cp.error().field() == "checkpoint" || cp.error().field() == "key");
    return;
  }
  BG_FUZZ_CHECK(cp->root.size() == 32 && cp->size >= 0);
  const size_t split = note.rfind("\n\n");
  BG_FUZZ_CHECK(split != std::string_view::npos);
  auto body = bg::audit::CheckpointBody(*cp);
  BG_FUZZ_CHECK(body.has_value() && *body == note.substr(0, split + 1));
  std::string tampered(note);
  char& last = tampered[tampered.size() - 2];  // the last character before the final '\n'
  last = last == 'A' ? 'B' : 'A';
  auto again = bg::audit::ParseAndVerifyCheckpoint(tampered, key);
  if (again) BG_FUZZ_CHECK(*again == *cp);
}

// The note's last blank line is the one before its signature, so Opened compares the checkpoint
// with exactly `body`.
void Signed(std::string_view body) { Opened(Key().Sign(body), Key().verifier); }

void VerifierKey(std::string_view text) {
  auto v = bg::audit::ParseVerifierKey(text);
  bg::fuzz::CheckRefusal(v);
  if (!v) return;
  std::string expected(text);
  const size_t plus = expected.find('+');
  for (size_t i = plus + 1; i < plus + 9; ++i) {
    if (expected[i] >= 'A' && expected[i] <= 'F')
      expected[i] = static_cast<char>(expected[i] - 'A' + 'a');
  }
  BG_FUZZ_CHECK(bg::audit::FormatVerifierKey(v->name, v->public_key) == expected);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto [selector, rest] = bg::fuzz::Select(bg::fuzz::AsText(data, size));
  switch (selector % 3) {
    case 0: {
      auto parts = bg::fuzz::Parts(rest, 2);
      Opened(parts[0], parts[1]);
      break;
    }
    case 1:
      Signed(rest);
      break;
    case 2:
      VerifierKey(rest);
      break;
  }
  return 0;
}
