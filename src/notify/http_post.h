// One HTTP(S) POST with libcurl and hard timeouts: the transport of witness pushes (and of
// webhook-style sinks). Thread-safe (one easy handle per call).
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.h"

namespace bg::notify {

struct HttpPostOptions {
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds timeout{5000};
  std::string cacert;  // PEM file of the CA to trust; empty: the system store
  std::vector<std::string> headers;  // extra "Name: value" lines
  // In errors, the URL as this shows it (a hook URL with a token in its path: RedactUrl).
  std::string shown_url;
};

// POSTs `body` to `url` (http or https only). Ok on a 2xx answer; Unavailable naming the URL
// and the transport error or the HTTP status otherwise.
Status HttpPost(const std::string& url, std::string_view content_type, std::string_view body,
                const HttpPostOptions& options = {});

}  // namespace bg::notify
