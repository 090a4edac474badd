// Passkeys over HTTP: registration (after a password+TOTP login), passkey login (a
// discoverable credential: no user name needed), the challenge a decision's passkey signs, and
// the reader of the `passkey` object an approve or deny body may carry. The ceremony checks
// are auth/webauthn.h; the state (challenges, credentials, audit) is service/passkeys.cc.
// Binary WebAuthn fields travel as base64url (no padding), as the browser's toJSON() gives them.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <optional>

#include "api/api.h"
#include "auth/webauthn.h"

namespace bg::api {

// Adds POST /v1/auth/passkey/options, POST /v1/auth/passkey/login, GET /v1/passkeys,
// POST /v1/passkeys/options, POST /v1/passkeys, DELETE /v1/passkeys/{id} and
// POST /v1/requests/{id}/passkey-options.
void AddPasskeyRoutes(Api& api, service::Service& service);

// The assertion in `obj[field]` ({"id", "client_data_json", "authenticator_data",
// "signature"}, base64url), or nullopt when absent. Errors: InvalidArgument naming the field.
Result<std::optional<auth::webauthn::Assertion>> GetAssertion(const nlohmann::json& obj,
                                                               const std::string& field);

}  // namespace bg::api
