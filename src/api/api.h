// The REST API under /v1 plus /healthz, /readyz and /metrics: routing, authentication of the
// bearer token, JSON <-> domain, error mapping. Business rules live in core/ and service/.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "api/router.h"
#include "http/http_server.h"
#include "metrics/metrics.h"
#include "service/service.h"

namespace bg::api {

// The transport's types, as the routes use them.
using http::HeaderList;
using http::HttpRequest;
using http::HttpResponse;
using http::ResponseWriter;

class EventStreams;
class RenderedRequests;

// The main server's routes. Built-in routes are added by the constructor; other modules add
// theirs (AddConnectorRoutes, AddSessionRoutes) before serving. Who may call each route is
// declared with it and enforced by the Router (see router.h).
// A non-negative integer query parameter `key`; absent or empty: `fallback`, or InvalidArgument
// naming `key` when there is none.
Result<int64_t> QueryInt(const HttpRequest& req, const std::string& key,
                         std::optional<int64_t> fallback);

class Api {
 public:
  explicit Api(service::Service& service);
  ~Api();
  // Adds one route. A malformed or duplicate route is a programming error (std::logic_error).
  void AddRoute(Route route);
  // The table, for the metric labels and the OpenAPI check.
  const Router& router() const { return router_; }
  // For route handlers: the one JSON error shape and HTTP status mapping.
  static HttpResponse ErrorResponse(const Error& e);
  static HttpResponse JsonResponse(int status, const std::string& json_body);
  // The HttpServer handler.
  void Handle(HttpRequest req, std::shared_ptr<ResponseWriter> w);
  // Records one finished request (access log line + latency histogram), labelled by route
  // pattern and method from fixed sets.
  void OnComplete(const HttpRequest& req, int status, double seconds);
  // Counts one event stream dropped because its reader fell too far behind.
  void OnStreamDropped();
  // Count connections the transport refused at accept, by reason, and closed at a deadline, by
  // deadline (HttpServerOptions::on_refused, on_timeout).
  void OnConnectionRefused(http::Refusal reason);
  void OnConnectionTimeout(http::Deadline deadline);
  // The method's metric label: a standard method, or "other".
  static std::string MethodLabel(const std::string& method);

 private:
  void AddBuiltInRoutes();

  service::Service& service_;
  Router router_;
  metrics::Histogram* latency_ = nullptr;
  metrics::Counter* responses_ = nullptr;
  metrics::Counter* streams_dropped_ = nullptr;
  metrics::Counter* connections_refused_ = nullptr;
  metrics::Counter* connection_timeouts_ = nullptr;
  struct SeriesTables {
    metrics::SeriesTable<metrics::HistogramSeries> latency;  // by route and method
    metrics::SeriesTable<metrics::CounterSeries> responses;  // by route, method and status
  };
  std::unique_ptr<SeriesTables> series_ = std::make_unique<SeriesTables>();
  std::unique_ptr<RenderedRequests> rendered_;
  std::unique_ptr<EventStreams> events_;
};

// `r` with Cache-Control: no-store (responses that carry a token or a credential).
HttpResponse NoStore(HttpResponse r);

// The OpenAPI document served at /v1/openapi.json.
std::string_view OpenApiDocument();

}  // namespace bg::api
