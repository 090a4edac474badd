// The parts of HTTP/1.1 and Server-Sent Events that are pure text: reading one request from its
// bytes, percent-decoding of a request target into path and query, the SSE wire form of an
// event and the transport's own JSON error body. No sockets, and no Beast in this header;
// exposed for http_server.cc, tests and the fuzz targets.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "http/http_server.h"
#include "util/result.h"

namespace bg::http::internal {

struct Target {
  std::string path;
  std::map<std::string, std::string> query;
};
// Errors: InvalidArgument with field "path" (bad escape, NUL, not UTF-8, not starting with
// '/'), "query" (a name that is empty, badly escaped or not UTF-8) or the query key (its value
// badly escaped or not UTF-8, the key repeated).
Result<Target> ParseTarget(std::string_view target);
// One request as a connection reads it, from its bytes alone (what the server makes of them
// before any handler runs; defined in http_server.cc, with the parser the connections use).
// Either `request` (what the handler would get, without remote_address) or `refusal` (the
// 400, 413 or 431 the server answers itself) is set, or neither when the bytes end before
// the request does (a connection would wait for more). `consumed`: the bytes read, the rest
// being the next pipelined request. Expect: 100-continue is not answered here.
struct ReadResult {
  std::optional<HttpRequest> request;
  std::optional<HttpResponse> refusal;
  size_t consumed = 0;
};
ReadResult ReadRequest(std::string_view bytes, size_t max_header_bytes, size_t max_body_bytes);
// The key a peer's connections count under for max_connections_per_source: an IPv4 address
// (also one written IPv4-mapped) as it is, an IPv6 address as its /64 ("2001:db8:1:2::/64");
// text that is no address, unchanged. Defined in http_server.cc.
std::string ConnectionSource(std::string_view ip);
// The SSE wire form of one event, as ResponseWriter::WriteEvent sends it.
std::string FormatEvent(std::string_view event, std::string_view data, std::string_view id);
// Percent-decodes `in` ('+' as a space when plus_is_space); nullopt on a bad escape or NUL.
std::optional<std::string> PercentDecode(std::string_view in, bool plus_is_space);
// `s` escaped for use inside a JSON string.
std::string JsonEscape(std::string_view s);
// {"error":{"code","message","field"?}} with `status`: the transport's own refusals.
HttpResponse ErrorResponse(int status, std::string_view code, std::string_view message,
                           std::string_view field = {});

}  // namespace bg::http::internal
