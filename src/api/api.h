// The REST API under /v1 plus /healthz, /readyz and /metrics: routing, authentication of the
// bearer token, JSON <-> domain, error mapping. Business rules live in core/ and service/.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "http/http_server.h"
#include "metrics/metrics.h"
#include "service/service.h"

namespace bg::api {

// The transport's types, as the routes use them.
using http::HeaderList;
using http::HttpRequest;
using http::HttpResponse;
using http::ResponseWriter;

// A group of routes added by another module (connectors, sessions). Returns false when the
// request is not one of its routes; otherwise it has answered (or will, asynchronously).
using RouteExtension = std::function<bool(HttpRequest& req, const core::Actor& actor,
                                          std::shared_ptr<ResponseWriter>& w)>;

class RenderedRequests;

class Api {
 public:
  explicit Api(service::Service& service);
  // Routes tried, in order, after authentication and before the built-in /v1 routes.
  void AddRoutes(RouteExtension routes) { extensions_.push_back(std::move(routes)); }
  // Routes that need no token (public material such as a CA key or a KRL), tried first.
  using PublicRouteExtension =
      std::function<bool(HttpRequest& req, std::shared_ptr<ResponseWriter>& w)>;
  void AddPublicRoutes(PublicRouteExtension routes) { public_.push_back(std::move(routes)); }
  // For route extensions: the one JSON error shape and HTTP status mapping.
  static HttpResponse ErrorResponse(const Error& e);
  static HttpResponse JsonResponse(int status, const std::string& json_body);
  ~Api();
  // The HttpServer handler.
  void Handle(HttpRequest req, std::shared_ptr<ResponseWriter> w);
  // Records one finished request (access log line + latency histogram).
  void OnComplete(const HttpRequest& req, int status, double seconds);

 private:
  struct Route;
  void Dispatch(HttpRequest& req, std::shared_ptr<ResponseWriter>& w);
  void Heartbeats();

  service::Service& service_;
  std::vector<RouteExtension> extensions_;
  std::vector<PublicRouteExtension> public_;
  metrics::Histogram* latency_ = nullptr;
  metrics::Counter* responses_ = nullptr;
  std::mutex streams_mu_;
  // The open SSE streams: the API owns their writers (a dropped writer ends its stream);
  // closed ones are dropped by the heartbeat.
  std::map<uint64_t, std::shared_ptr<ResponseWriter>> streams_;
  std::atomic<bool> stopping_{false};
  std::thread heartbeat_;
  std::unique_ptr<RenderedRequests> rendered_;
};

// Normalises a path to its route template for metric labels ("/v1/requests/{id}").
std::string RouteLabel(const std::string& method, const std::string& path);
// The OpenAPI document served at /v1/openapi.json.
std::string_view OpenApiDocument();

}  // namespace bg::api
