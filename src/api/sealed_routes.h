// The route table of a sealed server (`serve --sealed` until the keyholders' shares rebuilt the
// master key): GET /healthz and POST /v1/sys/unseal, both anonymous; every other request gets
// 503 "the server is sealed". The handlers are the caller's (src/cli/sealed.cc).
#pragma once

#include "api/router.h"

namespace bg::api {

Router SealedRouter(RouteHandler health, RouteHandler unseal);

}  // namespace bg::api
