#include "api/web_session.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "util/encoding.h"
#include "util/secret.h"
#include "util/sha256.h"

namespace bg::api {

namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

const std::string* Header(const http::HttpRequest& req, const std::string& name) {
  auto it = req.headers.find(name);
  return it == req.headers.end() ? nullptr : &it->second;
}

Error CsrfError(std::string message) {
  return Error(ErrorCode::kPermissionDenied, std::move(message), "csrf");
}

}  // namespace

std::optional<std::string> CookieValue(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    const size_t semi = header.find(';');
    std::string_view pair = Trim(header.substr(0, semi));
    header = semi == std::string_view::npos ? std::string_view() : header.substr(semi + 1);
    const size_t eq = pair.find('=');
    if (eq == std::string_view::npos) continue;
    if (Trim(pair.substr(0, eq)) == name) return std::string(Trim(pair.substr(eq + 1)));
  }
  return std::nullopt;
}

std::optional<std::string> SessionCookieToken(const http::HttpRequest& req) {
  const std::string* cookies = Header(req, "cookie");
  if (!cookies) return std::nullopt;
  auto token = CookieValue(*cookies, kSessionCookie);
  if (!token || token->empty()) return std::nullopt;
  return token;
}

std::string CsrfToken(std::string_view token) {
  return Base64UrlEncode(AsBytes(Sha256Parts({std::string_view("breakglass csrf v1\0", 19), token})));
}

std::string SessionCookie(std::string_view token, int64_t max_age_seconds) {
  return fmt::format("{}={}; Path=/; Max-Age={}; HttpOnly; Secure; SameSite=Strict", kSessionCookie,
                     token, std::max<int64_t>(0, max_age_seconds));
}

std::string ClearedSessionCookie() {
  return fmt::format("{}=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Strict", kSessionCookie);
}

Status CheckSameOrigin(const http::HttpRequest& req) {
  if (const std::string* site = Header(req, "sec-fetch-site"); site && *site != "same-origin") {
    return CsrfError("a cross-site request may not act with the session cookie");
  }
  if (const std::string* origin = Header(req, "origin")) {
    const std::string* host = Header(req, "host");
    const size_t scheme = origin->find("://");
    if (!host || scheme == std::string::npos || origin->substr(scheme + 3) != *host) {
      return CsrfError("the Origin header names another site");
    }
  }
  return Ok();
}

Status CheckCookieRequest(const http::HttpRequest& req, std::string_view token) {
  if (req.method == "GET" || req.method == "HEAD") {
    // Reads too: another origin of the same site (SameSite lets the cookie through) must not
    // make the browser fetch with it (a one-time credential's GET takes it). The page's own
    // fetches are same-origin; a typed or bookmarked address is "none".
    const std::string* site = Header(req, "sec-fetch-site");
    if (site && *site != "same-origin" && *site != "none") {
      return CsrfError("a request from another origin may not use the session cookie");
    }
    return Ok();
  }
  if (auto st = CheckSameOrigin(req); !st) return st;
  const std::string* sent = Header(req, std::string(kCsrfHeader));
  if (!sent) return CsrfError("a call with the session cookie needs the X-CSRF-Token header");
  if (!ConstantTimeEquals(*sent, CsrfToken(token))) {
    return CsrfError("the X-CSRF-Token header does not match the session");
  }
  return Ok();
}

Status CheckPageLogin(const http::HttpRequest& req) {
  BG_TRY(CheckSameOrigin(req));
  const std::string* ct = Header(req, "content-type");
  if (!ct || ct->rfind("application/json", 0) != 0) {
    return Error::InvalidArgument("content-type", "must be application/json");
  }
  return Ok();
}

http::HttpResponse LoginAnswer(const service::LoginResult& lr, bool cookie, Timestamp now) {
  nlohmann::json body = {{"expires_at", FormatRfc3339(lr.expires_at)}, {"user", lr.user}};
  http::HttpResponse r;
  r.content_type = "application/json";
  r.headers.emplace_back("Cache-Control", "no-store");
  if (!cookie) {
    body["token"] = std::string(lr.token.Reveal());
  } else {
    body["csrf"] = CsrfToken(lr.token.Reveal());
    const int64_t max_age =
        std::chrono::duration_cast<std::chrono::seconds>(lr.expires_at - now).count();
    r.headers.emplace_back("Set-Cookie", SessionCookie(lr.token.Reveal(), max_age));
  }
  r.body = body.dump();
  return r;
}

}  // namespace bg::api
