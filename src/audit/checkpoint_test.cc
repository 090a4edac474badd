#include "audit/checkpoint.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <string>

#include <fmt/format.h>

#include "audit/merkle.h"
#include "util/encoding.h"
#include "test/fakes/fake_random.h"

namespace bg::audit {
namespace {

// The key pair of golang.org/x/mod/sumdb/note's note_test.go (TestNewVerifier, TestNewSigner).
constexpr char kGoSignerKey[] =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
constexpr char kGoVerifierKey[] =
    "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";

// Signs arbitrary note text with `key`, as note.Sign would, to reach the body checks.
std::string SignText(const NoteSigner& key, const std::string& text) {
  const std::string skey(key.SignerKey().Reveal());
  const std::string seed = Base64Decode(skey.substr(skey.rfind('+') + 1)).value().substr(1);
  unsigned char pk[crypto_sign_PUBLICKEYBYTES];
  unsigned char sk[crypto_sign_SECRETKEYBYTES];
  crypto_sign_seed_keypair(pk, sk, reinterpret_cast<const unsigned char*>(seed.data()));
  unsigned char sig[crypto_sign_BYTES];
  crypto_sign_detached(sig, nullptr, reinterpret_cast<const unsigned char*>(text.data()),
                       text.size(), sk);
  uint32_t id = key.key_id();
  std::string blob = {static_cast<char>(id >> 24), static_cast<char>(id >> 16),
                      static_cast<char>(id >> 8), static_cast<char>(id)};
  blob.append(reinterpret_cast<const char*>(sig), sizeof sig);
  return text + "\n\xE2\x80\x94 " + key.name() + " " + Base64Encode(blob) + "\n";
}

Checkpoint Sample(int64_t size = 20852163) {
  return Checkpoint{"example.com/behind-the-sofa", size, std::string(kHashSize, '\x07'), {}};
}

NoteSigner Key(std::string name = "example.com/behind-the-sofa", uint8_t seed = 1) {
  bg::testing::CountingRandom random(seed);
  return NoteSigner::Generate(name, random).value();
}

TEST(NoteKeys, GoSignerKeyGivesGoVerifierKey) {
  auto signer = NoteSigner::FromSignerKey(Secret(std::string_view(kGoSignerKey)));
  ASSERT_TRUE(signer.has_value()) << signer.error().ToString();
  EXPECT_EQ(signer->name(), "PeterNeumann");
  EXPECT_EQ(signer->key_id(), 0xc74f20a3u);
  EXPECT_EQ(signer->VerifierKey(), kGoVerifierKey);
  EXPECT_EQ(signer->SignerKey().Reveal(), kGoSignerKey);
  auto v = ParseVerifierKey(kGoVerifierKey);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->key_id, 0xc74f20a3u);
  EXPECT_EQ(NoteKeyId(v->name, v->public_key), 0xc74f20a3u);
}

TEST(NoteKeys, SignerKeyRoundTrips) {
  NoteSigner key = Key();
  auto again = NoteSigner::FromSignerKey(key.SignerKey());
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->VerifierKey(), key.VerifierKey());
  EXPECT_EQ(again->Sign(Sample()).value(), key.Sign(Sample()).value());
}

TEST(NoteKeys, MalformedKeysAreRefused) {
  const char* bad_verifiers[] = {
      "",
      "PeterNeumann",
      "PeterNeumann+c74f20a3",
      "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  // id mismatch
      "PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",   // 7 hex digits
      "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  // space in name
      "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T",   // bad base64
      // From note_test.go: a key of the wrong length and an unknown algorithm.
      "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
      "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
  };
  for (const char* k : bad_verifiers) {
    auto v = ParseVerifierKey(k);
    EXPECT_FALSE(v.has_value()) << k;
    if (!v.has_value()) {
      EXPECT_EQ(v.error().field(), "key") << k;
    }
  }
  const char* bad_signers[] = {
      "PRIVATE+KEY+PeterNeumann+c74f20a4+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
      "PRIVATE+KEYS+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
      "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr",
      "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
  };
  for (const char* k : bad_signers) {
    EXPECT_FALSE(NoteSigner::FromSignerKey(Secret(std::string_view(k))).has_value()) << k;
  }
  bg::testing::CountingRandom random(0);
  EXPECT_EQ(NoteSigner::Generate("a+b", random).error().field(), "name");
  EXPECT_EQ(NoteSigner::Generate("", random).error().field(), "name");
  EXPECT_FALSE(IsValidKeyName("a\xE2\x80\x83" "b"));  // U+2003 EM SPACE
  EXPECT_FALSE(IsValidKeyName("a\xff"));
  EXPECT_TRUE(IsValidKeyName("breakglass.example/audit"));
}

TEST(Checkpoint, SignedNoteHasTheC2spLayout) {
  NoteSigner key = Key();
  const std::string note = key.Sign(Sample()).value();
  const std::string body = "example.com/behind-the-sofa\n20852163\n" +
                           Base64Encode(std::string(kHashSize, '\x07')) + "\n";
  ASSERT_EQ(note.substr(0, body.size()), body);
  const std::string sig_line = note.substr(body.size());
  ASSERT_EQ(sig_line.substr(0, 1), "\n");
  const std::string prefix = "\n\xE2\x80\x94 example.com/behind-the-sofa ";
  ASSERT_EQ(sig_line.substr(0, prefix.size()), prefix);
  ASSERT_EQ(sig_line.back(), '\n');
  auto blob = Base64Decode(sig_line.substr(prefix.size(), sig_line.size() - prefix.size() - 1));
  ASSERT_TRUE(blob.has_value());
  ASSERT_EQ(blob->size(), 68u);
  EXPECT_EQ(HexEncode(blob->substr(0, 4)), fmt::format("{:08x}", key.key_id()));
}

TEST(Checkpoint, SignThenVerifyRoundTrips) {
  NoteSigner key = Key();
  for (int64_t size : {int64_t{0}, int64_t{1}, int64_t{20852163}, int64_t{9223372036854775807}}) {
    Checkpoint cp = Sample(size);
    auto got = ParseAndVerifyCheckpoint(key.Sign(cp).value(), key.VerifierKey());
    ASSERT_TRUE(got.has_value()) << got.error().ToString();
    EXPECT_EQ(*got, cp);
  }
  Checkpoint with_ext = Sample();
  with_ext.extensions = {"ext one", "ext two"};
  EXPECT_EQ(ParseAndVerifyCheckpoint(key.Sign(with_ext).value(), key.VerifierKey()).value(),
            with_ext);
}

TEST(Checkpoint, GoSignedCheckpointVerifies) {
  // Signed with kGoSignerKey; Ed25519 is deterministic so our signer must produce the same.
  auto go = NoteSigner::FromSignerKey(Secret(std::string_view(kGoSignerKey))).value();
  Checkpoint cp{"PeterNeumann", 8,
                HexDecode("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")
                    .value(),
                {}};
  auto got = ParseAndVerifyCheckpoint(go.Sign(cp).value(), kGoVerifierKey);
  ASSERT_TRUE(got.has_value()) << got.error().ToString();
  EXPECT_EQ(*got, cp);
}

TEST(Checkpoint, ATamperedBodyFailsTheSignature) {
  NoteSigner key = Key();
  const std::string note = key.Sign(Sample()).value();
  const std::string body_end = "\n\n";
  const size_t body_len = note.find(body_end) + 1;
  for (size_t i = 0; i < body_len; ++i) {
    std::string bad = note;
    if (bad[i] == '\n') continue;
    bad[i] = bad[i] == '3' ? '4' : '3';
    auto got = ParseAndVerifyCheckpoint(bad, key.VerifierKey());
    ASSERT_FALSE(got.has_value()) << "byte " << i;
    EXPECT_EQ(got.error().field(), "checkpoint");
  }
  std::string bigger = note;
  bigger.replace(bigger.find("20852163"), 8, "20852164");
  EXPECT_EQ(ParseAndVerifyCheckpoint(bigger, key.VerifierKey()).error().message(),
            "checkpoint signature does not verify");
}

TEST(Checkpoint, AWrongKeyIsRefused) {
  NoteSigner key = Key();
  NoteSigner other_same_name = Key("example.com/behind-the-sofa", 99);
  NoteSigner other_name = Key("other.example", 1);
  const std::string note = key.Sign(Sample()).value();
  auto a = ParseAndVerifyCheckpoint(note, other_same_name.VerifierKey());
  ASSERT_FALSE(a.has_value());
  EXPECT_NE(a.error().message().find("not signed by key"), std::string::npos);
  EXPECT_FALSE(ParseAndVerifyCheckpoint(note, other_name.VerifierKey()).has_value());
  // A signature claiming our key's name and id but made by another key.
  const std::string forged_sig = other_same_name.Sign(Sample()).value();
  std::string forged = note.substr(0, note.find("\n\n") + 2) +
                       forged_sig.substr(forged_sig.find("\n\n") + 2);
  // Same name, different id: ignored, so "not signed".
  EXPECT_FALSE(ParseAndVerifyCheckpoint(forged, key.VerifierKey()).has_value());
}

TEST(Checkpoint, UnknownSignaturesAreIgnoredButOursIsNeeded) {
  NoteSigner key = Key();
  NoteSigner witness = Key("witness.example", 7);
  const std::string ours = key.Sign(Sample()).value();
  const std::string theirs = witness.Sign(Sample()).value();
  const std::string cosigned = ours + theirs.substr(theirs.find("\n\n") + 2);
  EXPECT_EQ(ParseAndVerifyCheckpoint(cosigned, key.VerifierKey()).value(), Sample());
  EXPECT_EQ(ParseAndVerifyCheckpoint(cosigned, witness.VerifierKey()).value(), Sample());
}

TEST(Checkpoint, MalformedNotesAreRefused) {
  NoteSigner key = Key();
  const std::string good = key.Sign(Sample()).value();
  const size_t sigs = good.find("\n\n") + 2;
  const std::string body = good.substr(0, sigs - 1);
  const std::string sig_line = good.substr(sigs);
  struct Case {
    const char* name;
    std::string note;
  };
  const Case cases[] = {
      {"empty", ""},
      {"no blank line", body + sig_line},
      {"no signature", body + "\n"},
      {"signature without final newline", body + "\n" + sig_line.substr(0, sig_line.size() - 1)},
      {"hyphen instead of em dash", body + "\n- " + sig_line.substr(4)},
      {"extra blank line in signatures", body + "\n" + sig_line + "\n"},
      {"garbage after signature", body + "\n" + sig_line + "hello\n"},
      {"bad base64 signature", body + "\n\xE2\x80\x94 example.com/behind-the-sofa !!!!\n"},
      {"short signature blob", body + "\n\xE2\x80\x94 example.com/behind-the-sofa AAAA\n"},
      {"control character", "a\tb" + good},
      {"invalid UTF-8", "\xff" + good},
      {"truncated", good.substr(0, good.size() / 2)},
  };
  for (const Case& c : cases) {
    auto got = ParseAndVerifyCheckpoint(c.note, key.VerifierKey());
    EXPECT_FALSE(got.has_value()) << c.name;
    if (!got.has_value()) {
      EXPECT_EQ(got.error().field(), "checkpoint") << c.name;
    }
  }
  std::string too_many = good;
  const std::string other = "\xE2\x80\x94 x " + Base64Encode(std::string(68, 'x')) + "\n";
  for (int i = 0; i < 100; ++i) too_many += other;
  EXPECT_FALSE(ParseAndVerifyCheckpoint(too_many, key.VerifierKey()).has_value());
}

TEST(Checkpoint, MalformedBodiesAreRefusedEvenWhenSigned) {
  NoteSigner key = Key();
  const char* bodies[] = {
      "o\n1\n",                                              // two lines
      "o\n01\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n",  // leading zero
      "o\n-1\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n",  // negative
      "o\n-0\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n",  // a sign (fuzz/audit_checkpoint)
      "o\n+1\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n",
      "o\n1 \nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n",  // trailing space
      "o\n99999999999999999999\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n",
      "o\n1\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBw==\n",   // 31 bytes
      "o\n1\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc\n",   // unpadded
      "\n1\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n",   // empty origin
      "o\n1\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n\next\n",  // empty extension
  };
  for (const char* body : bodies) {
    auto got = ParseAndVerifyCheckpoint(SignText(key, body), key.VerifierKey());
    EXPECT_FALSE(got.has_value()) << body;
  }
  EXPECT_TRUE(ParseAndVerifyCheckpoint(
                  SignText(key, "o\n1\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n"),
                  key.VerifierKey())
                  .has_value());
}

TEST(Checkpoint, UnwritableCheckpointsAreRefusedBySign) {
  NoteSigner key = Key();
  struct Case {
    const char* name;
    Checkpoint cp;
    const char* field;
  };
  const Case refused[] = {
      {"empty origin", {"", 1, std::string(32, 'r'), {}}, "origin"},
      {"origin with newline", {"a\nb", 1, std::string(32, 'r'), {}}, "origin"},
      {"negative size", {"o", -1, std::string(32, 'r'), {}}, "size"},
      {"short root", {"o", 1, std::string(31, 'r'), {}}, "root"},
      {"empty extension", {"o", 1, std::string(32, 'r'), {""}}, "extensions"},
  };
  for (const Case& c : refused) {
    auto got = key.Sign(c.cp);
    ASSERT_FALSE(got.has_value()) << c.name;
    EXPECT_EQ(got.error().field(), c.field) << c.name;
  }
}

}  // namespace
}  // namespace bg::audit
