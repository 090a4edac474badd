// The recorder's only way to the server, so the recorder, the shipper and the grant watcher can
// be tested without one. The CLI adapts its HTTP client to it.
#pragma once

#include <string>

#include "util/result.h"

namespace bg::session {

class Transport {
 public:
  virtual ~Transport() = default;
  // Sends `body` (JSON; empty for none) and returns the body of a 2xx answer. An unreachable
  // server is Unavailable; a refusal is the server's error (its code, message and field).
  // Thread-safe.
  virtual Result<std::string> Call(const std::string& method, const std::string& path,
                                   const std::string& body) = 0;
};

}  // namespace bg::session
