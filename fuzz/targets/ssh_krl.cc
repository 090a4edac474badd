// OpenSSH key revocation lists (ssh/krl.h): ParseKrl reads ours and ssh-keygen's back. The
// first byte picks: 0 the rest is a KRL; 1 the rest lists serials (8 bytes each) that BuildKrl
// writes for a test CA and ParseKrl reads back.
//
// Invariants: every serial, range bound, set bitmap bit and key id a parsed KRL lists is revoked
// for that section's CA (and for any CA in a section without one); a KRL that BuildKrl wrote
// revokes exactly the serials it was given.
#include <set>
#include <string>

#include "fuzz/fuzz.h"
#include "ssh/krl.h"
#include "test/fakes/fake_random.h"

namespace {

using bg::ssh::Krl;
using bg::ssh::PublicKey;

const PublicKey& TestCa() {
  static const PublicKey key = [] {
    bg::testing::SeededRandom random("fuzz ssh_krl ca");
    return bg::ssh::Ed25519PrivateKey::Generate(random).public_key();
  }();
  return key;
}

void Parsed(std::string_view data) {
  auto krl = bg::ssh::ParseKrl(data);
  if (!krl) {
    bg::fuzz::CheckError(krl.error());
    BG_FUZZ_CHECK(krl.error().field() == "krl");
    return;
  }
  for (const Krl::CertificateSection& s : krl->certificate_sections) {
    const PublicKey ca = s.ca_key_blob.empty() ? TestCa() : *PublicKey::FromBlob(s.ca_key_blob);
    for (uint64_t serial : s.serials) BG_FUZZ_CHECK(krl->IsRevoked(ca, serial, ""));
    for (const auto& [lo, hi] : s.serial_ranges) {
      BG_FUZZ_CHECK(lo <= hi);
      BG_FUZZ_CHECK(krl->IsRevoked(ca, lo, "") && krl->IsRevoked(ca, hi, ""));
    }
    for (const auto& [offset, bitmap] : s.serial_bitmaps) {
      // Bit N (counted from the least significant end of the big-endian bytes) is serial offset+N.
      for (size_t byte = 0; byte < bitmap.size() && byte < 64; ++byte) {
        const auto bits = static_cast<uint8_t>(bitmap[bitmap.size() - 1 - byte]);
        for (int bit = 0; bit < 8; ++bit) {
          const uint64_t n = byte * 8 + static_cast<uint64_t>(bit);
          if (((bits >> bit) & 1) == 0 || offset > UINT64_MAX - n) continue;
          BG_FUZZ_CHECK(krl->IsRevoked(ca, offset + n, ""));
        }
      }
    }
    for (const std::string& id : s.key_ids) BG_FUZZ_CHECK(krl->IsRevoked(ca, 0, id));
  }
}

void Built(std::string_view bytes) {
  bg::ssh::KrlSpec spec{.ca_key = TestCa()};
  for (size_t i = 0; i + 8 <= bytes.size() && spec.revoked_serials.size() < 512; i += 8) {
    uint64_t serial = 0;
    for (size_t b = 0; b < 8; ++b) serial = serial << 8 | static_cast<uint8_t>(bytes[i + b]);
    // Small steps too, so that runs (range entries) are common.
    if (serial >> 56 == 0)
      serial = (spec.revoked_serials.empty() ? 0 : *spec.revoked_serials.rbegin()) + (serial & 3);
    if (serial != 0) spec.revoked_serials.insert(serial);
  }
  spec.krl_version = bytes.size();
  spec.generated_at = bg::FromUnixSeconds(1767225600);
  auto built = bg::ssh::BuildKrl(spec);
  BG_FUZZ_CHECK(built.has_value());
  auto krl = bg::ssh::ParseKrl(*built);
  BG_FUZZ_CHECK(krl.has_value() && krl->krl_version == spec.krl_version);
  for (uint64_t serial : spec.revoked_serials) {
    BG_FUZZ_CHECK(krl->IsRevoked(TestCa(), serial, ""));
    if (spec.revoked_serials.count(serial + 1) == 0 && serial != UINT64_MAX) {
      BG_FUZZ_CHECK(!krl->IsRevoked(TestCa(), serial + 1, ""));
    }
    if (spec.revoked_serials.count(serial - 1) == 0) {
      BG_FUZZ_CHECK(!krl->IsRevoked(TestCa(), serial - 1, ""));
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto [selector, rest] = bg::fuzz::Select(bg::fuzz::AsText(data, size));
  if (selector % 2 == 0) {
    Parsed(rest);
  } else {
    Built(rest);
  }
  return 0;
}
