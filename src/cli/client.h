// The CLI's HTTP client (libcurl): finds the server, the token and the CA certificate in flags,
// the environment (BREAKGLASS_SERVER, BREAKGLASS_TOKEN, BREAKGLASS_CACERT) or the file
// `breakglass login` writes (~/.config/breakglass/credentials.json), in that order.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "util/result.h"

namespace bg::cli {

struct ClientOptions {
  std::string server;
  std::string token;
  std::string cacert;
};

// Fills what the flags left empty from the environment, then the credentials file.
ClientOptions ResolveClientOptions(ClientOptions flags);
std::string CredentialsPath();
// `text` percent-encoded for a path segment or query value: A-Z a-z 0-9 _ - . kept.
std::string UrlPart(std::string_view text);
Status SaveCredentials(const ClientOptions& o, const std::string& user,
                       const std::string& expires_at);

struct ApiResponse {
  long status = 0;
  std::string body;
  std::string content_type;
};

class Client {
 public:
  explicit Client(ClientOptions options) : o_(std::move(options)) {}
  // Sends a request; HTTP errors with a JSON error body become an Error with its code/field.
  Result<ApiResponse> Send(const std::string& method, const std::string& path,
                           const std::string& body = "", bool auth = true);
  Result<nlohmann::json> Json(const std::string& method, const std::string& path,
                              const nlohmann::json& body = nullptr, bool auth = true);
  // Streams Server-Sent Events; `on_event(event, data)` returns false to stop.
  Status Stream(const std::string& path,
                const std::function<bool(const std::string&, const std::string&)>& on_event);
  const ClientOptions& options() const { return o_; }

 private:
  ClientOptions o_;
};

// Exit codes of every client command (documented in --help and README).
int ExitCodeFor(const Error& e);

}  // namespace bg::cli
