// The route table: every HTTP route of a server, with who may call it, in one place.
//
// A Route is a method, a path pattern ("/v1/requests/{id}/approve": a `{name}` segment matches
// one non-empty path segment), who may call it, its handler and its metric label. The Router
// matches a request against the table, authenticates the bearer token when the route needs
// one, applies the recording-credential fence and the role check, and only then runs the
// handler. What the table declares is also what the metric labels (Label) and the OpenAPI
// check (routes()) read, so a route cannot exist without being counted and documented.
//
// Matching: literal segments beat `{name}` segments; a path that matches a route's pattern
// but not its method is answered 400 (field "method", "use GET or POST") when that route asks
// for it (method_hint), after the same authentication the route needs, and otherwise goes to
// the fallback like an unknown path.
//
// Thread-safety: build the table (Add, SetFallback) before serving; Handle and Label may then
// be called from any number of threads.
#pragma once

#include <array>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/request.h"
#include "http/http_server.h"
#include "util/result.h"

namespace bg::api {

// The longest pattern the table takes; a path with more segments matches no route.
inline constexpr size_t kMaxRouteSegments = 16;

// Who may call a route.
enum class Access {
  kAnonymous,      // no token needed (a token that is sent is not looked at)
  kAuthenticated,  // any valid bearer token
  kRoles,          // a valid bearer token of a person with one of Route::roles
};

// What a recording-scoped credential (a token that may only record one grant's sessions) may do.
enum class RecordingScope {
  kRefused,   // 403: such a credential may not call this route
  kAllowed,   // it may
  kOwnGrant,  // it may when the {id} of the path is its own grant
};

// One call of a route: the request, its answer channel, the path's `{name}` values and, on
// authenticated routes, the caller.
struct Call {
  http::HttpRequest& req;
  std::shared_ptr<http::ResponseWriter>& w;
  std::map<std::string, std::string> params;
  const core::Actor* actor = nullptr;  // null on anonymous routes
  std::string token;                   // the bearer token's text, on authenticated routes
  bool via_cookie = false;             // the token came in the page's session cookie

  const std::string& Param(const std::string& name) const { return params.at(name); }
};

using RouteHandler = std::function<void(Call&)>;

struct Route {
  std::string method;   // "GET", "POST"...
  std::string pattern;  // "/v1/requests/{id}"
  Access access = Access::kAuthenticated;
  std::vector<core::Role> roles;  // kRoles: any one of these
  std::string role_refusal;       // kRoles: the 403 message for everybody else
  RecordingScope recording = RecordingScope::kRefused;
  // A request for this path with another method is answered 400 "use <methods>".
  bool method_hint = false;
  RouteHandler handler;
  std::string label;  // metric label; empty means the pattern
};

// A route open to `access` (not kRoles) with its label the pattern.
Route MakeRoute(std::string method, std::string pattern, Access access, RecordingScope recording,
                bool method_hint, RouteHandler handler);

class Router {
 public:
  // Checks a bearer token; `source` is the peer address. Needed when a route is not anonymous.
  using Authenticator =
      std::function<Result<core::Actor>(const std::string& token, const std::string& source)>;
  // Answers what no route matched (an unknown path, or a known path with a method nobody
  // serves and no method_hint).
  using Fallback = std::function<void(Call&)>;

  explicit Router(Authenticator authenticate = nullptr);

  // Errors: InvalidArgument when the pattern is malformed or method and pattern are taken.
  Status Add(Route route);
  void SetFallback(Fallback fallback) { fallback_ = std::move(fallback); }

  // Routes the request; every path ends in exactly one answer (or stream).
  void Handle(http::HttpRequest& req, std::shared_ptr<http::ResponseWriter>& w) const;

  // Authenticates the request's bearer token: the Authorization header, or without one the
  // page's session cookie (web_session.h: then a state-changing call must pass the CSRF
  // check). On failure it has answered (401, or 403 field "csrf") and returns nullopt. For
  // fallbacks that answer differently to callers with a token.
  std::optional<core::Actor> Authenticate(Call& call) const;

  // The metric label of a path: the pattern of the route it matches (whatever the method), or
  // "other". Always one of a fixed set of ASCII strings, whatever the path holds.
  const std::string& Label(std::string_view path) const;
  // The same as a number: the index in routes() of the route whose label it is, or
  // routes().size() for "other"; LabelOf turns it into the label.
  size_t LabelIndex(std::string_view path) const;
  const std::string& LabelOf(size_t index) const;

  const std::vector<Route>& routes() const { return routes_; }

  struct PathView;  // a path's segments, as views into it (defined and used in router.cc)

  // The 403 sent to a recording credential outside its scope.
  static Error RecordingRefusal(const core::Actor& actor);

 private:
  struct Match {
    const Route* route = nullptr;
    std::map<std::string, std::string> params;
  };
  // The index of the route that fits `path` best (literal segments before `{name}` ones),
  // among those of `method` when it is given; routes_.size() when none fits.
  size_t Best(const PathView& path, const std::string* method) const;
  // The best route for the path with this method, and its `{name}` values.
  std::optional<Match> Find(const std::string& method, std::string_view path) const;
  // The routes whose pattern fits the path, whatever their method.
  std::vector<const Route*> SamePath(std::string_view path) const;
  // Runs the access checks of `route`, then its handler.
  void Run(const Route& route, Call& call) const;

  Authenticator authenticate_;
  Fallback fallback_;
  std::vector<Route> routes_;
  std::vector<std::vector<std::string>> patterns_;  // routes_[i]'s pattern, split
  // The routes a path might fit, so that matching (twice per request: to route it and to label
  // its metrics) looks at a few instead of all: for each number of segments, the indexes of
  // the routes with that many whose second segment ("requests" of /v1/requests/{id}) is a
  // given literal or a parameter, and of those whose second is a parameter (or who have
  // fewer than two); each list in table order, the order of the tie-break.
  struct Bucket {
    std::map<std::string, std::vector<size_t>, std::less<>> by_second;
    std::vector<size_t> any_second;
  };
  std::array<Bucket, kMaxRouteSegments + 1> by_size_;
  void Index(const std::vector<std::string>& segments, size_t i);
  const std::vector<size_t>& Candidates(size_t size, std::string_view second) const;
};

}  // namespace bg::api
