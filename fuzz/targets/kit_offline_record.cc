// Offline records of the kit (kit/offline_record.h): what `kit combine --record` writes while
// the service is down and `kit reconcile` later appends to the audit log.
//
// Invariants: an accepted record has valid fields; its JSON reads back to the same record;
// verifying it never crashes and only fails with InvalidArgument or PermissionDenied; the same
// record signed again with a known key verifies, also after a round trip through its text,
// and stops verifying when a signed field changes.
#include <string>

#include "fuzz/fuzz.h"
#include "kit/offline_record.h"

namespace {

using bg::kit::OfflineRecord;

const bg::kit::SigningKey& TestKey() {
  static const bg::kit::SigningKey key =
      bg::kit::SigningKey::Parse("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
          .value();
  return key;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto record = bg::kit::ParseOfflineRecord(bg::fuzz::AsText(data, size));
  if (!record) {
    bg::fuzz::CheckError(record.error());
    return 0;
  }
  const nlohmann::json j = bg::kit::OfflineRecordToJson(*record);
  auto again = bg::kit::ParseOfflineRecord(j.dump());
  BG_FUZZ_CHECK(again.has_value());
  BG_FUZZ_CHECK(bg::kit::OfflineRecordToJson(*again) == j);

  auto verified = bg::kit::VerifyOfflineRecord(*record);
  if (!verified) {
    bg::fuzz::CheckError(verified.error());
    BG_FUZZ_CHECK(verified.error().code() == bg::ErrorCode::kInvalidArgument ||
                  verified.error().code() == bg::ErrorCode::kPermissionDenied);
  }

  OfflineRecord resigned = *record;
  BG_FUZZ_CHECK(bg::kit::SignOfflineRecord(resigned, TestKey()).has_value());
  BG_FUZZ_CHECK(bg::kit::VerifyOfflineRecord(resigned, TestKey().public_key_base64()).has_value());
  auto read_back = bg::kit::ParseOfflineRecord(bg::kit::OfflineRecordToJson(resigned).dump(2));
  BG_FUZZ_CHECK(read_back.has_value());
  BG_FUZZ_CHECK(
      bg::kit::VerifyOfflineRecord(*read_back, TestKey().public_key_base64()).has_value());
  read_back->why += ".";
  BG_FUZZ_CHECK(bg::kit::VerifyOfflineRecord(*read_back).error().code() ==
                bg::ErrorCode::kPermissionDenied);
  return 0;
}
