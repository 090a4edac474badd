// The page's session: the bearer token carried in a cookie instead of an Authorization header.
//
// The cookie (kSessionCookie) is HttpOnly, Secure, SameSite=Strict and Path=/, so page script
// never holds the token and other sites' pages never send it. Every state-changing call made
// with the cookie also carries X-CSRF-Token: CsrfToken(token), which the page reads from
// `GET /v1/me` (a cross-site page can neither read that answer nor set the header on a form
// post), and, when the browser sends Origin or Sec-Fetch-Site, those must name this origin.
// Bearer tokens (the CLI's) are unaffected: a request with an Authorization header is never
// read for its cookie.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "http/http_server.h"
#include "service/people.h"
#include "util/result.h"

namespace bg::api {

inline constexpr std::string_view kSessionCookie = "bg_session";
inline constexpr std::string_view kCsrfHeader = "x-csrf-token";

// The value of cookie `name` in a Cookie header ("a=1; b=2"), or nullopt.
std::optional<std::string> CookieValue(std::string_view cookie_header, std::string_view name);

// The page's session token: the kSessionCookie value of the request's Cookie header, if any.
std::optional<std::string> SessionCookieToken(const http::HttpRequest& req);

// The CSRF token of a session: base64url(SHA-256("breakglass csrf v1\0" || token)). It names
// the session without revealing the token.
std::string CsrfToken(std::string_view token);

// Set-Cookie values that start a session (lasting `max_age_seconds`) and end one.
std::string SessionCookie(std::string_view token, int64_t max_age_seconds);
std::string ClearedSessionCookie();

// Whether the request may act with its cookie: GET and HEAD unless Sec-Fetch-Site says another
// origin asked ("same-site", "cross-site"); any other method only when Origin (when sent) names
// the Host the request was sent to, Sec-Fetch-Site (when sent) is "same-origin", and
// X-CSRF-Token equals CsrfToken(token) (compared in constant time).
// Errors: PermissionDenied (field "csrf") naming what was missing or wrong.
Status CheckCookieRequest(const http::HttpRequest& req, std::string_view token);

// Whether a browser request comes from this origin (Origin and Sec-Fetch-Site as above; a
// request without either, as from curl, passes). For the anonymous login that sets the cookie.
Status CheckSameOrigin(const http::HttpRequest& req);

// The page's login (password or passkey, with "cookie": true): only as JSON (which no
// cross-site form sends) and from this origin (CheckSameOrigin).
Status CheckPageLogin(const http::HttpRequest& req);

// A login's or renewal's answer: the token in the body (bearer callers), or for the page in the
// session cookie, the body naming the session's CSRF token instead.
http::HttpResponse LoginAnswer(const service::LoginResult& lr, bool cookie, Timestamp now);

}  // namespace bg::api
