// Passkeys over HTTP: registration (after a password+TOTP login), passkey login (a
// discoverable credential: no user name needed), the challenge a decision's passkey signs, and
// (the `passkey` object an approve or deny body may carry is read by api/bodies.h). The ceremony checks
// are auth/webauthn.h; the state (challenges, credentials, audit) is service/passkeys.cc.
// Binary WebAuthn fields travel as base64url (no padding), as the browser's toJSON() gives them.
#pragma once

#include "api/api.h"
#include "auth/webauthn.h"

namespace bg::api {

// Adds POST /v1/auth/passkey/options, POST /v1/auth/passkey/login, GET /v1/passkeys,
// POST /v1/passkeys/options, POST /v1/passkeys, DELETE /v1/passkeys/{id} and
// POST /v1/requests/{id}/passkey-options.
void AddPasskeyRoutes(Api& api, service::Service& service);

}  // namespace bg::api
