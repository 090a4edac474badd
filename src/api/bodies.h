// The JSON bodies the API accepts: the strict object reader and its field readers, and one
// decoder per endpoint that takes a body, from the body's text to what the route hands the
// service. Pure functions (no service, no transport), so that each endpoint's decoding is
// tested and fuzzed on its own (fuzz/targets/api_body.cc).
//
// Strict: a body is one JSON object, unknown fields, duplicate keys and wrong types are
// refused, and every refusal is InvalidArgument naming the field as the client sent it.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <set>
#include <string>

#include "auth/webauthn.h"
#include "core/request.h"
#include "util/result.h"
#include "util/time.h"

namespace bg::api {

// Parses `body` as an object whose keys are all in `allowed`; `required` must be present.
Result<nlohmann::json> ParseObject(const std::string& body, const std::set<std::string>& allowed,
                                   const std::set<std::string>& required = {});
// Field readers: the type is checked, the field named in errors.
Result<std::string> GetString(const nlohmann::json& obj, const std::string& field,
                              const std::string& fallback = "");
Result<bool> GetBool(const nlohmann::json& obj, const std::string& field, bool fallback = false);
// A duration given as "45m"/"1h30m" or a number of seconds.
Result<Seconds> GetDuration(const nlohmann::json& obj, const std::string& field);
Result<std::optional<int>> GetOptionalInt(const nlohmann::json& obj, const std::string& field);
// The assertion in `obj[field]` ({"id", "client_data_json", "authenticator_data",
// "signature"}, base64url), or nullopt when absent. Errors: InvalidArgument naming the field.
Result<std::optional<auth::webauthn::Assertion>> GetAssertion(const nlohmann::json& obj,
                                                              const std::string& field);

// POST /v1/auth/login
struct LoginBody {
  std::string username;
  std::string password;
  std::string totp;
  bool cookie = false;  // the page's login: the token goes into the session cookie
};
Result<LoginBody> DecodeLogin(const std::string& body);

// POST /v1/auth/passkey/login
struct PasskeyLoginBody {
  auth::webauthn::Assertion credential;
  bool cookie = false;
};
Result<PasskeyLoginBody> DecodePasskeyLogin(const std::string& body);

// POST /v1/passkeys
struct NewPasskeyBody {
  std::string name;
  auth::webauthn::Registration registration;
};
Result<NewPasskeyBody> DecodeNewPasskey(const std::string& body);

// POST /v1/requests
Result<core::CreateCommand> DecodeCreateRequest(const std::string& body);

// POST /v1/requests/{id}/approve and /deny (an empty body is {}): the code or passkey for the
// decision, and its text (approve: "comment"; deny: "reason", required).
struct DecisionBody {
  std::string totp;
  std::string text;
  std::optional<auth::webauthn::Assertion> passkey;
};
Result<DecisionBody> DecodeApprove(const std::string& body);
Result<DecisionBody> DecodeDeny(const std::string& body);
// POST /v1/requests/{id}/cancel: {} or {"reason"} (an empty body is {}).
Status DecodeCancel(const std::string& body);
// POST /v1/requests/{id}/revoke: the reason (an empty body is {}, which lacks it).
Result<std::string> DecodeRevoke(const std::string& body);
// POST /v1/requests/{id}/extend
struct ExtendBody {
  Seconds duration{0};
  std::string reason;
};
Result<ExtendBody> DecodeExtend(const std::string& body);

// POST /v1/requests/{id}/ssh-cert: the user's public key line.
Result<std::string> DecodeSshCert(const std::string& body);
// POST /v1/ssh/revoke
struct SshRevokeBody {
  uint64_t serial = 0;      // decimal in the body (JSON numbers lose bits above 2^53), not 0
  std::string serial_text;  // as sent, for the audit record and the answer
  Timestamp valid_before{};
  std::string reason;     // not empty
  std::string connector;  // empty: the only ssh_ca connector
};
Result<SshRevokeBody> DecodeSshRevoke(const std::string& body);

// POST /v1/sessions
struct NewSessionBody {
  std::string id;  // empty: the server picks one
  std::string request_id;
  std::string header;
};
Result<NewSessionBody> DecodeNewSession(const std::string& body);
// POST /v1/sessions/{id}/chunks
struct ChunkBody {
  int64_t seq = 0;
  std::string data;    // asciicast event lines (not limited to GetString's length)
  std::string sha256;  // or ""
  bool final = false;
  std::optional<Timestamp> ended_at;
  std::string end_reason;
  // request_id and header, sent together: the chunk creates the session.
  struct Creates {
    std::string request_id;
    std::string header;
  };
  std::optional<Creates> create;
};
Result<ChunkBody> DecodeChunk(const std::string& body);
// POST /v1/requests/{id}/recording-token: no body, or {}.
Status DecodeRecordingToken(const std::string& body);

// POST /v1/drills: {"resource", "privilege"}, both required.
struct DrillBody {
  std::string resource;
  std::string privilege;
};
Result<DrillBody> DecodeDrill(const std::string& body);

}  // namespace bg::api
