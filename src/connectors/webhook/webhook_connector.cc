#include "connectors/webhook/webhook_connector.h"

#include <curl/curl.h>
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "connectors/exec/exec_connector.h"
#include "util/encoding.h"
#include "util/sha256.h"
#include "util/fs.h"

namespace bg::connectors {
namespace {

constexpr std::string_view kSecretAad = "webhook_secret";

bool IsLoopbackHttp(const std::string& url) {
  for (const char* p : {"http://127.", "http://localhost:", "http://localhost/", "http://[::1]"}) {
    if (url.rfind(p, 0) == 0) return true;
  }
  return false;
}

size_t Collect(char* data, size_t size, size_t n, void* out) {
  auto* s = static_cast<std::string*>(out);
  size_t bytes = size * n;
  if (s->size() + bytes > (1 << 20)) return 0;  // a runaway answer aborts the transfer
  s->append(data, bytes);
  return bytes;
}

}  // namespace

std::string WebhookSignature(std::string_view secret, std::string_view timestamp,
                             std::string_view body) {
  std::string msg;
  msg.reserve(timestamp.size() + 1 + body.size());
  msg.append(timestamp).append(".").append(body);
  return "sha256=" + HexEncode(AsBytes(HmacSha256(secret, msg)));
}

Result<std::unique_ptr<WebhookConnector>> WebhookConnector::Create(
    const connector::PluginConfig& config, const connector::ConnectorContext& context) {
  BG_ASSIGN_OR_RETURN(Options opts,
                      Options::Parse(config, {"url", "secret_file", "timeout", "cacert"}));
  std::unique_ptr<WebhookConnector> c(
      new WebhookConnector(ConnectorState(config.name, context.state), context.clock));
  BG_ASSIGN_OR_RETURN(c->url_, opts.String("url", std::nullopt));
  if (c->url_.rfind("https://", 0) != 0 && !IsLoopbackHttp(c->url_)) {
    return Error::InvalidArgument(opts.Field("url"),
                                  "must be https:// (plain http only to a loopback address)");
  }
  BG_ASSIGN_OR_RETURN(std::string secret_path, opts.String("secret_file", std::nullopt));
  BG_ASSIGN_OR_RETURN(Secret secret, fs::ReadSecretFile(context.resolve_path(secret_path),
                                                    opts.Field("secret_file")));
  c->sealed_secret_ = c->state_.Seal(kSecretAad, secret);
  BG_ASSIGN_OR_RETURN(c->timeout_, opts.Duration("timeout", Seconds(10)));
  if (c->timeout_.count() < 1) return Error::InvalidArgument(opts.Field("timeout"), "must be >= 1s");
  if (opts.Has("cacert")) {
    BG_ASSIGN_OR_RETURN(std::string ca, opts.String("cacert", std::nullopt));
    c->cacert_ = context.resolve_path(ca);
  }
  return c;
}

Result<std::string> WebhookConnector::Post(std::string_view action, const std::string& body) {
  BG_ASSIGN_OR_RETURN(Secret secret, state_.Open(kSecretAad, sealed_secret_));
  const std::string ts = std::to_string(ToUnixSeconds(clock_.Now()));
  const std::string sig = WebhookSignature(secret.Reveal(), ts, body);
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return Error::Internal("curl_easy_init failed");
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Content-Type: application/json");
  headers = curl_slist_append(headers, ("X-Breakglass-Timestamp: " + ts).c_str());
  headers = curl_slist_append(headers, ("X-Breakglass-Signature: " + sig).c_str());
  headers = curl_slist_append(headers, "Expect:");
  std::string answer;
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(curl, CURLOPT_URL, url_.c_str());
  curl_easy_setopt(curl, CURLOPT_POST, 1L);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_.count() * 1000));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
  if (!cacert_.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, cacert_.c_str());
  CURLcode rc = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  if (rc != CURLE_OK) {
    return Error::Unavailable(fmt::format("webhook {}: {}: {}", state_.instance(), action,
                                          errbuf[0] ? errbuf : curl_easy_strerror(rc)));
  }
  if (status < 200 || status > 299) {
    return Error::Unavailable(
        fmt::format("webhook {}: {}: HTTP status {}", state_.instance(), action, status));
  }
  return answer;
}

Status WebhookConnector::Grant(const core::Request& grant) {
  BG_ASSIGN_OR_RETURN(std::string out, Post("grant", GrantJson("grant", grant, clock_.Now())));
  BG_ASSIGN_OR_RETURN(std::string cred,
                      ParseCredentialAnswer(out, "webhook " + state_.instance()));
  std::fill(out.begin(), out.end(), '\0');
  if (cred.empty()) return Ok();
  Secret s(cred);
  std::fill(cred.begin(), cred.end(), '\0');
  return OneTimeCredentials(state_).Store(grant.id, s);
}

Status WebhookConnector::Revoke(const core::Request& grant) {
  BG_TRY(Post("revoke", GrantJson("revoke", grant, clock_.Now())));
  return OneTimeCredentials(state_).Discard(grant.id);
}

Status WebhookConnector::Probe() {
  BG_TRY(Post("probe", nlohmann::json{{"action", "probe"}}.dump()));
  return Ok();
}

Result<Secret> WebhookConnector::TakeCredential(const core::Request& grant) {
  return OneTimeCredentials(state_).Take(grant.id);
}

}  // namespace bg::connectors
