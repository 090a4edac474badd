// The CLI's HTTP client (libcurl): finds the server, the token and the CA certificate in flags,
// the environment (BREAKGLASS_SERVER, BREAKGLASS_TOKEN, BREAKGLASS_CACERT) or the file
// `breakglass login` writes ($XDG_CONFIG_HOME/breakglass/credentials.json, by default
// ~/.config/breakglass/credentials.json), in that order.
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
  bool token_from_file = false;  // the token came from the credentials file
  std::string user;              // the credentials file's, when the token came from it
  std::string expires_at;        // likewise
};

// Fills what the flags left empty from the environment, then the credentials file. With
// `renew`, a token from the credentials file that expires within kRenewBefore is renewed first
// (POST /v1/auth/renew) and the file updated; a renewal that fails leaves the old token.
ClientOptions ResolveClientOptions(ClientOptions flags, bool renew = true);
inline constexpr int kRenewBeforeSeconds = 5 * 60;
// $XDG_CONFIG_HOME/breakglass/credentials.json when XDG_CONFIG_HOME is an absolute path, else
// $HOME/.config/breakglass/credentials.json.
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

}  // namespace bg::cli
