#include "api/router.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "api/json.h"
#include "api/web_session.h"
#include "auth/token.h"

namespace bg::api {
namespace {

bool IsParam(const std::string& seg) {
  return seg.size() >= 3 && seg.front() == '{' && seg.back() == '}';
}

}  // namespace

// A path's non-empty segments (as PathSegments splits them), as views into the path: matching
// runs on every request (twice: to route it and to label its metrics), without copies.
struct Router::PathView {
  std::array<std::string_view, kMaxRouteSegments> segments;
  size_t size = 0;
  bool too_long = false;  // more than kMaxRouteSegments segments

  explicit PathView(std::string_view path) {
    while (!path.empty()) {
      const size_t slash = path.find('/');
      const std::string_view seg = path.substr(0, slash);
      path.remove_prefix(slash == std::string_view::npos ? path.size() : slash + 1);
      if (seg.empty()) continue;
      if (size == kMaxRouteSegments) {
        too_long = true;
        return;
      }
      segments[size++] = seg;
    }
  }
};

namespace {

// How well `pattern` fits `path`: nullopt when it does not; otherwise one bit per segment, the
// first segment the highest, set for a literal: of two fits of one path the greater number is
// the one with a literal at the first difference.
std::optional<uint32_t> Fit(const std::vector<std::string>& pattern, const Router::PathView& path) {
  if (path.too_long || pattern.size() != path.size) return std::nullopt;
  uint32_t literal = 0;
  for (size_t i = 0; i < pattern.size(); ++i) {
    literal <<= 1;
    if (IsParam(pattern[i])) continue;
    if (pattern[i] != path.segments[i]) return std::nullopt;
    literal |= 1;
  }
  return literal;
}

http::HttpResponse ErrorOut(const Error& e) {
  http::HttpResponse r;
  r.status = HttpStatus(e.code());
  r.body = ErrorBody(e);
  if (e.code() == ErrorCode::kUnauthenticated) {
    r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"breakglass\"");
  }
  return r;
}

}  // namespace

Route MakeRoute(std::string method, std::string pattern, Access access, RecordingScope recording,
                bool method_hint, RouteHandler handler) {
  Route r;
  r.method = std::move(method);
  r.pattern = std::move(pattern);
  r.access = access;
  r.recording = recording;
  r.method_hint = method_hint;
  r.handler = std::move(handler);
  return r;
}

Router::Router(Authenticator authenticate) : authenticate_(std::move(authenticate)) {}

Error Router::RecordingRefusal(const core::Actor& actor) {
  return Error::PermissionDenied("a recording credential may only record the sessions of request " +
                                 (actor.recording_grant ? actor.recording_grant->value() : ""));
}

Status Router::Add(Route route) {
  if (route.pattern.empty() || route.pattern[0] != '/') {
    return Error::InvalidArgument("pattern", "must start with '/': " + route.pattern);
  }
  std::vector<std::string> segments = PathSegments(route.pattern);
  if (segments.size() > kMaxRouteSegments) {
    return Error::InvalidArgument("pattern", "more than 16 segments: " + route.pattern);
  }
  for (const auto& s : segments) {
    if (s.find_first_of("{}") != std::string::npos && !IsParam(s)) {
      return Error::InvalidArgument("pattern", "a parameter is a whole segment: " + route.pattern);
    }
  }
  for (size_t i = 0; i < routes_.size(); ++i) {
    if (routes_[i].method == route.method && patterns_[i].size() == segments.size()) {
      bool same = true;
      for (size_t k = 0; k < segments.size() && same; ++k) {
        same = IsParam(segments[k]) ? IsParam(patterns_[i][k]) : segments[k] == patterns_[i][k];
      }
      if (same) {
        return Error::InvalidArgument("pattern",
                                      "taken: " + route.method + " " + routes_[i].pattern);
      }
    }
  }
  if (route.access == Access::kRoles && route.roles.empty()) {
    return Error::InvalidArgument("roles", "a role-restricted route names its roles");
  }
  if (route.label.empty()) route.label = route.pattern;
  Index(segments, routes_.size());
  routes_.push_back(std::move(route));
  patterns_.push_back(std::move(segments));
  return Ok();
}

void Router::Index(const std::vector<std::string>& segments, size_t i) {
  Bucket& bucket = by_size_[segments.size()];
  if (segments.size() < 2 || IsParam(segments[1])) {
    bucket.any_second.push_back(i);
    for (auto& [text, list] : bucket.by_second) list.push_back(i);
    return;
  }
  auto [it, added] = bucket.by_second.try_emplace(segments[1], bucket.any_second);
  it->second.push_back(i);
}

const std::vector<size_t>& Router::Candidates(size_t size, std::string_view second) const {
  const Bucket& bucket = by_size_[size];
  auto it = bucket.by_second.find(second);
  return it == bucket.by_second.end() ? bucket.any_second : it->second;
}

size_t Router::Best(const PathView& view, const std::string* method) const {
  std::optional<uint32_t> best_fit;
  size_t best = routes_.size();
  if (view.too_long) return best;
  for (size_t i : Candidates(view.size, view.size >= 2 ? view.segments[1] : "")) {
    if (method != nullptr && routes_[i].method != *method) continue;
    auto fit = Fit(patterns_[i], view);
    if (fit && (!best_fit || *fit > *best_fit)) {
      best_fit = fit;
      best = i;
    }
  }
  return best;
}

std::optional<Router::Match> Router::Find(const std::string& method, std::string_view path) const {
  const PathView view(path);
  const size_t best = Best(view, &method);
  if (best == routes_.size()) return std::nullopt;
  Match m;
  m.route = &routes_[best];
  for (size_t k = 0; k < view.size; ++k) {
    const std::string& p = patterns_[best][k];
    if (IsParam(p)) m.params[p.substr(1, p.size() - 2)] = view.segments[k];
  }
  return m;
}

std::vector<const Route*> Router::SamePath(std::string_view path) const {
  const PathView view(path);
  std::vector<const Route*> out;
  for (size_t i = 0; i < routes_.size(); ++i) {
    if (Fit(patterns_[i], view)) out.push_back(&routes_[i]);
  }
  return out;
}

std::optional<core::Actor> Router::Authenticate(Call& call) const {
  auto header = call.req.headers.find("authorization");
  if (header != call.req.headers.end()) {
    auto token = auth::BearerToken(header->second);
    if (!token) {
      call.w->Send(ErrorOut(Error::Unauthenticated(token.error().message())));
      return std::nullopt;
    }
    call.token = *token;
  } else {
    std::optional<std::string> cookie = SessionCookieToken(call.req);
    if (!cookie) {
      call.w->Send(ErrorOut(Error::Unauthenticated("missing Authorization: Bearer token")));
      return std::nullopt;
    }
    if (auto st = CheckCookieRequest(call.req, *cookie); !st) {
      call.w->Send(ErrorOut(st.error()));
      return std::nullopt;
    }
    call.token = std::move(*cookie);
    call.via_cookie = true;
  }
  if (!authenticate_) {
    call.w->Send(ErrorOut(Error::Unauthenticated("this server accepts no tokens")));
    return std::nullopt;
  }
  auto actor = authenticate_(call.token, call.req.remote_address);
  if (!actor) {
    call.w->Send(ErrorOut(actor.error()));
    return std::nullopt;
  }
  return std::move(*actor);
}

void Router::Run(const Route& route, Call& call) const {
  if (route.access == Access::kAnonymous) return route.handler(call);
  std::optional<core::Actor> actor = Authenticate(call);
  if (!actor) return;
  call.actor = &*actor;
  if (actor->recording_grant) {
    const bool allowed =
        route.recording == RecordingScope::kAllowed ||
        (route.recording == RecordingScope::kOwnGrant && call.params.count("id") &&
         call.params.at("id") == actor->recording_grant->value());
    if (!allowed) return (void)call.w->Send(ErrorOut(RecordingRefusal(*actor)));
  }
  if (route.access == Access::kRoles &&
      std::none_of(route.roles.begin(), route.roles.end(),
                   [&](core::Role r) { return actor->Has(r); })) {
    return (void)call.w->Send(ErrorOut(Error::PermissionDenied(route.role_refusal)));
  }
  route.handler(call);
}

void Router::Handle(http::HttpRequest& req, std::shared_ptr<http::ResponseWriter>& w) const {
  Call call{req, w, {}, nullptr, {}};
  if (auto m = Find(req.method, req.path)) {
    call.params = std::move(m->params);
    return Run(*m->route, call);
  }
  const std::vector<const Route*> same_path = SamePath(req.path);
  const bool hint = std::any_of(same_path.begin(), same_path.end(),
                                [](const Route* r) { return r->method_hint; });
  if (hint) {
    // A wrong method: answered after the authentication the path's routes need.
    std::vector<std::string> methods;
    bool anonymous = true;
    for (const Route* r : same_path) {
      if (std::find(methods.begin(), methods.end(), r->method) == methods.end()) {
        methods.push_back(r->method);
      }
      anonymous = anonymous && r->access == Access::kAnonymous;
    }
    if (!anonymous) {
      std::optional<core::Actor> actor = Authenticate(call);
      if (!actor) return;
      if (actor->recording_grant) return (void)w->Send(ErrorOut(RecordingRefusal(*actor)));
    }
    std::string use = "use ";
    for (size_t i = 0; i < methods.size(); ++i) {
      use += (i == 0 ? "" : i + 1 == methods.size() ? " or " : ", ") + methods[i];
    }
    return (void)w->Send(ErrorOut(Error::InvalidArgument("method", use)));
  }
  if (fallback_) return fallback_(call);
  w->Send(ErrorOut(Error::NotFound("no such path or method: " + req.method + " " + req.path)));
}

size_t Router::LabelIndex(std::string_view path) const { return Best(PathView(path), nullptr); }

const std::string& Router::Label(std::string_view path) const { return LabelOf(LabelIndex(path)); }

const std::string& Router::LabelOf(size_t index) const {
  static const std::string kOther = "other";
  return index < routes_.size() ? routes_[index].label : kOther;
}

}  // namespace bg::api
