// Audit leaves: the exact bytes hashed into the log for one event.
//
// A leaf is canonical JSON (docs/audit-format.md): an object with sorted keys, no white space
// outside strings, UTF-8 without escapes beyond the required ones, integers only:
//   {"actor":"alice","details":{"reason":"db down"},"request":"req_...","time":
//    "2026-11-24T21:43:43Z","type":"request.created","v":1}
// "request" is absent for events about no request. Pure functions; thread-safe.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "core/request.h"
#include "util/ids.h"
#include "util/result.h"
#include "util/secret.h"
#include "util/time.h"

namespace bg::audit {

inline constexpr int kLeafVersion = 1;

// A leaf read back.
struct LeafEvent {
  int version = kLeafVersion;
  Timestamp time;
  std::string type;
  std::string actor;
  std::optional<RequestId> request;
  std::map<std::string, std::string> details;
  bool operator==(const LeafEvent&) const = default;
};

// The canonical leaf bytes of `event` at `time`. Bytes that are not valid UTF-8 in any string
// are replaced by U+FFFD (so a hostile client string cannot make the append fail or the leaf
// ambiguous); callers put secrets through HmacField first.
std::string EncodeLeaf(const core::AuditEvent& event, Timestamp time);
std::string EncodeLeaf(const LeafEvent& event);

// Parses leaf bytes. Refuses (InvalidArgument, field "leaf") anything that is not exactly the
// canonical encoding of a version-1 event: unknown or missing keys, wrong types, non-string
// detail values, a non-canonical byte form.
Result<LeafEvent> ParseLeaf(std::string_view leaf);
// The verdict of ParseLeaf (Ok, or the same error) without building the event: leaves in the
// common form (printable ASCII strings, no escapes) are checked by one scan; any other leaf
// goes through ParseLeaf. What the offline verifier runs on every exported entry.
Status CheckLeaf(std::string_view leaf);
// True when that one scan finds the leaf canonical (then CheckLeaf is Ok), without building a
// Status: for loops over many leaves. False decides nothing: CheckLeaf does.
bool IsPlainCanonicalLeaf(std::string_view leaf);

// "hmac-sha256:<base64 of HMAC-SHA256(audit_key, value)>": a value that must be matchable
// (the same token gives the same field) but never readable from the log, as Vault's audit
// devices do. The audit key is a server secret distinct from the checkpoint signing key.
std::string HmacField(const Secret& audit_key, std::string_view value);

namespace internal {
// For tests: CheckLeaf's one-scan check of the common form, true when the leaf is in it, ways
// that must agree on every leaf: byte by byte, and by a map of the leaf's quotes (what CheckLeaf
// runs on leaves of up to kQuoteMapMaxBytes bytes).
inline constexpr size_t kQuoteMapMaxBytes = 1024;
bool IsPlainCanonicalLeafByBytes(std::string_view leaf);
// `wide` false: the map built 16 bytes at a time even where the CPU could take 64 (AVX-512BW).
bool IsPlainCanonicalLeafByQuotes(std::string_view leaf, bool wide = true);
// A third way, by 64-byte vectors, for leaves of up to kVectorCheckMaxBytes bytes where the CPU
// has AVX-512 VBMI2 (what CheckLeaf runs there); nullopt where it does not run.
inline constexpr size_t kVectorCheckMaxBytes = 256;
std::optional<bool> IsPlainCanonicalLeafByVectors(std::string_view leaf);
}  // namespace internal

}  // namespace bg::audit
