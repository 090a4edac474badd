// Private parts of Service shared by its translation units (service.cc, users.cc).
#pragma once

#include "auth/rate_limit.h"
#include "service/auth_cache.h"
#include "service/request_cache.h"
#include "service/service.h"
#include "service/service_metrics.h"

namespace bg::service {

struct Service::Impl {
  auth::LoginLimiter limiter;
  ServiceMetrics m;
  AuthCache auth_cache;
  RequestCache requests;
};

}  // namespace bg::service
