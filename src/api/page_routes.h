// The web page: its HTML, script and styles (src/web/, built into the binary) under a strict
// Content-Security-Policy, and the one API route that exists for the page's request form.
//
// Page routes are anonymous: the page itself holds nothing; what it shows comes from /v1 with
// the session cookie (web_session.h). Every path the page navigates to (/, /requests/{id} as
// alert messages link it, /inbox, /new, /grants, /audit, /health, /passkeys) answers the same HTML; the
// page's script reads the path.
#pragma once

#include "api/api.h"
#include "service/sinks.h"

namespace bg::api {

// The Content-Security-Policy of every page response: this origin's scripts, styles, images
// and connections only; no inline script or style, no frames, no forms elsewhere.
inline constexpr std::string_view kPageCsp =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; manifest-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'";

// The replay document's policy: the page's, plus WebAssembly for the player's terminal emulator.
inline constexpr std::string_view kReplayCsp =
    "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

// Adds GET /, the page's paths, GET /sessions/{id}/replay, GET /assets/{name}, GET /v1/request-options and
// GET /v1/requests/{id}/timeline.
void AddPageRoutes(Api& api, service::Service& service);

// Adds GET /v1/sinks (auditors and admins): each notification sink's delivery state. `sinks`
// may be null (none configured); it must outlive the server.
void AddSinkRoutes(Api& api, const service::Sinks* sinks);

}  // namespace bg::api
