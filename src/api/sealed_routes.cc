#include "api/sealed_routes.h"

#include "api/api.h"

namespace bg::api {

Router SealedRouter(RouteHandler health, RouteHandler unseal) {
  Router router;  // no route takes a token: a sealed server cannot check one
  Route h;
  h.method = "GET";
  h.pattern = "/healthz";
  h.access = Access::kAnonymous;
  h.handler = std::move(health);
  (void)router.Add(std::move(h));
  Route u;
  u.method = "POST";
  u.pattern = "/v1/sys/unseal";
  u.access = Access::kAnonymous;
  u.method_hint = true;
  u.handler = std::move(unseal);
  (void)router.Add(std::move(u));
  router.SetFallback([](Call& c) {
    c.w->Send(Api::ErrorResponse(Error::Unavailable(
        "the server is sealed: keyholders submit their shares with breakglass unseal "
        "(POST /v1/sys/unseal)")));
  });
  return router;
}

}  // namespace bg::api
