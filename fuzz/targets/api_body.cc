// The JSON request bodies of every endpoint that takes one (api/bodies.h). The first byte picks
// the endpoint's decoder (kDecoders), the rest is the body as a client sent it.
//
// Invariants: a refusal is InvalidArgument with a message; an accepted body, written again as
// a client would (the encoders below: every field, durations as seconds, times in RFC 3339,
// binary WebAuthn fields in base64url), decodes to the same value, and so does its re-encoding
// with durations written as "1h30m" text.
#include <nlohmann/json.hpp>
#include <string>
#include <tuple>

#include "api/bodies.h"
#include "fuzz/fuzz.h"
#include "util/encoding.h"

namespace {

namespace api = bg::api;
using nlohmann::json;

template <typename T>
bool Refused(const bg::Result<T>& r) {
  if (r.has_value()) return false;
  bg::fuzz::CheckError(r.error());
  BG_FUZZ_CHECK(r.error().code() == bg::ErrorCode::kInvalidArgument);
  return true;
}

json AssertionJson(const bg::auth::webauthn::Assertion& a) {
  return {{"id", bg::Base64UrlEncode(a.credential_id)},
          {"client_data_json", bg::Base64UrlEncode(a.client_data_json)},
          {"authenticator_data", bg::Base64UrlEncode(a.authenticator_data)},
          {"signature", bg::Base64UrlEncode(a.signature)}};
}
auto Fields(const bg::auth::webauthn::Assertion& a) {
  return std::make_tuple(a.credential_id, a.client_data_json, a.authenticator_data, a.signature);
}

// Decodes, writes the value back with `encode`, decodes again, compares with `fields`.
template <typename Decode, typename Encode, typename Fields>
void RoundTrip(std::string_view body, Decode decode, Encode encode, Fields fields) {
  auto first = decode(std::string(body));
  if (Refused(first)) return;
  for (bool text_durations : {false, true}) {
    auto again = decode(encode(*first, text_durations).dump());
    BG_FUZZ_CHECK(again.has_value() && fields(*again) == fields(*first));
  }
}

json Duration(bg::Seconds d, bool text) {
  return text ? json(bg::FormatDuration(d)) : json(d.count());
}

void Login(std::string_view body) {
  RoundTrip(
      body, api::DecodeLogin,
      [](const api::LoginBody& b, bool) {
        return json{{"username", b.username},
                    {"password", b.password},
                    {"totp", b.totp},
                    {"cookie", b.cookie}};
      },
      [](const api::LoginBody& b) { return std::tie(b.username, b.password, b.totp, b.cookie); });
}

void PasskeyLogin(std::string_view body) {
  RoundTrip(
      body, api::DecodePasskeyLogin,
      [](const api::PasskeyLoginBody& b, bool) {
        return json{{"credential", AssertionJson(b.credential)}, {"cookie", b.cookie}};
      },
      [](const api::PasskeyLoginBody& b) {
        return std::tuple_cat(Fields(b.credential), std::tie(b.cookie));
      });
}

void NewPasskey(std::string_view body) {
  RoundTrip(
      body, api::DecodeNewPasskey,
      [](const api::NewPasskeyBody& b, bool) {
        return json{{"name", b.name},
                    {"client_data_json", bg::Base64UrlEncode(b.registration.client_data_json)},
                    {"attestation_object", bg::Base64UrlEncode(b.registration.attestation_object)}};
      },
      [](const api::NewPasskeyBody& b) {
        return std::tie(b.name, b.registration.client_data_json, b.registration.attestation_object);
      });
}

void CreateRequest(std::string_view body) {
  RoundTrip(
      body, api::DecodeCreateRequest,
      [](const bg::core::CreateCommand& c, bool text) {
        json j = {{"resource", c.resource},
                  {"privilege", c.privilege},
                  {"duration", Duration(c.duration, text)},
                  {"reason", c.reason},
                  {"ticket", c.ticket},
                  {"emergency", c.emergency}};
        if (c.tier) j["tier"] = *c.tier;
        return j;
      },
      [](const bg::core::CreateCommand& c) {
        return std::tie(c.resource, c.privilege, c.duration, c.reason, c.ticket, c.tier,
                        c.emergency);
      });
}

void Decision(std::string_view body, bool approve) {
  auto decode = approve ? api::DecodeApprove : api::DecodeDeny;
  RoundTrip(
      body, decode,
      [approve](const api::DecisionBody& b, bool) {
        json j = {{"totp", b.totp}, {approve ? "comment" : "reason", b.text}};
        if (b.passkey) j["passkey"] = AssertionJson(*b.passkey);
        return j;
      },
      [](const api::DecisionBody& b) {
        return std::make_tuple(b.totp, b.text, b.passkey.has_value(),
                               b.passkey ? Fields(*b.passkey) : Fields({}));
      });
}

void Revoke(std::string_view body) {
  RoundTrip(
      body, api::DecodeRevoke,
      [](const std::string& r, bool) {
        return json{{"reason", r}};
      },
      [](const std::string& r) { return r; });
}

void Extend(std::string_view body) {
  RoundTrip(
      body, api::DecodeExtend,
      [](const api::ExtendBody& b, bool text) {
        return json{{"duration", Duration(b.duration, text)}, {"reason", b.reason}};
      },
      [](const api::ExtendBody& b) { return std::tie(b.duration, b.reason); });
}

void Drill(std::string_view body) {
  RoundTrip(
      body, api::DecodeDrill,
      [](const api::DrillBody& b, bool) {
        return json{{"resource", b.resource}, {"privilege", b.privilege}};
      },
      [](const api::DrillBody& b) { return std::make_tuple(b.resource, b.privilege); });
}

void SshCert(std::string_view body) {
  RoundTrip(
      body, api::DecodeSshCert,
      [](const std::string& k, bool) {
        return json{{"public_key", k}};
      },
      [](const std::string& k) { return k; });
}

void SshRevoke(std::string_view body) {
  RoundTrip(
      body, api::DecodeSshRevoke,
      [](const api::SshRevokeBody& b, bool) {
        return json{{"serial", b.serial_text},
                    {"valid_before", bg::FormatRfc3339(b.valid_before)},
                    {"reason", b.reason},
                    {"connector", b.connector}};
      },
      [](const api::SshRevokeBody& b) {
        BG_FUZZ_CHECK(b.serial != 0 && std::to_string(b.serial) == b.serial_text &&
                      !b.reason.empty());
        return std::tie(b.serial, b.serial_text, b.valid_before, b.reason, b.connector);
      });
}

void NewSession(std::string_view body) {
  RoundTrip(
      body, api::DecodeNewSession,
      [](const api::NewSessionBody& b, bool) {
        return json{{"id", b.id}, {"request_id", b.request_id}, {"header", b.header}};
      },
      [](const api::NewSessionBody& b) { return std::tie(b.id, b.request_id, b.header); });
}

void Chunk(std::string_view body) {
  RoundTrip(
      body, api::DecodeChunk,
      [](const api::ChunkBody& b, bool) {
        json j = {{"seq", b.seq},
                  {"data", b.data},
                  {"sha256", b.sha256},
                  {"final", b.final},
                  {"end_reason", b.end_reason}};
        if (b.ended_at) j["ended_at"] = bg::FormatRfc3339(*b.ended_at);
        if (b.create) {
          j["request_id"] = b.create->request_id;
          j["header"] = b.create->header;
        }
        return j;
      },
      [](const api::ChunkBody& b) {
        BG_FUZZ_CHECK(b.seq >= 0);
        return std::make_tuple(b.seq, b.data, b.sha256, b.final, b.ended_at, b.end_reason,
                               b.create.has_value(),
                               b.create ? b.create->request_id + '\n' + b.create->header : "");
      });
}

void Plain(std::string_view body, bg::Status (*decode)(const std::string&)) {
  auto r = decode(std::string(body));
  if (!r) {
    bg::fuzz::CheckError(r.error());
    BG_FUZZ_CHECK(r.error().code() == bg::ErrorCode::kInvalidArgument);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto [selector, body] = bg::fuzz::Select(bg::fuzz::AsText(data, size));
  switch (selector % 16) {
    case 0:
      Login(body);
      break;
    case 1:
      PasskeyLogin(body);
      break;
    case 2:
      NewPasskey(body);
      break;
    case 3:
      CreateRequest(body);
      break;
    case 4:
      Decision(body, true);
      break;
    case 5:
      Decision(body, false);
      break;
    case 6:
      Plain(body, api::DecodeCancel);
      break;
    case 7:
      Revoke(body);
      break;
    case 8:
      Extend(body);
      break;
    case 9:
      SshCert(body);
      break;
    case 10:
      SshRevoke(body);
      break;
    case 11:
      NewSession(body);
      break;
    case 12:
      Chunk(body);
      break;
    case 13:
      Plain(body, api::DecodeRecordingToken);
      break;
    case 14:
      Plain(body, [](const std::string& b) -> bg::Status {
        // The field readers on any object, as every decoder uses them.
        auto obj = api::ParseObject(b, {"s", "b", "d", "i", "p"});
        if (!obj) return obj.error();
        BG_TRY(api::GetString(*obj, "s"));
        BG_TRY(api::GetBool(*obj, "b"));
        if (obj->contains("d")) BG_TRY(api::GetDuration(*obj, "d"));
        BG_TRY(api::GetOptionalInt(*obj, "i"));
        BG_TRY(api::GetAssertion(*obj, "p"));
        return bg::Ok();
      });
      break;
    case 15:
      Drill(body);
      break;
  }
  return 0;
}
