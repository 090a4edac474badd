#include "cli/client.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>

#include "cli/kit_io.h"
#include "util/time.h"
#include "util/fs.h"

namespace bg::cli {
namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

size_t Collect(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

ErrorCode CodeFromName(const std::string& name) {
  static const std::pair<const char*, ErrorCode> kCodes[] = {
      {"invalid_argument", ErrorCode::kInvalidArgument},
      {"not_found", ErrorCode::kNotFound},
      {"permission_denied", ErrorCode::kPermissionDenied},
      {"unauthenticated", ErrorCode::kUnauthenticated},
      {"failed_precondition", ErrorCode::kFailedPrecondition},
      {"conflict", ErrorCode::kConflict},
      {"resource_exhausted", ErrorCode::kResourceExhausted},
      {"unavailable", ErrorCode::kUnavailable},
  };
  for (const auto& [n, c] : kCodes) {
    if (name == n) return c;
  }
  return ErrorCode::kInternal;
}

struct Curl {
  CURL* h = curl_easy_init();
  curl_slist* headers = nullptr;
  ~Curl() {
    curl_slist_free_all(headers);
    if (h) curl_easy_cleanup(h);
  }
};

Status Prepare(Curl& c, const ClientOptions& o, const std::string& method, const std::string& path,
               bool auth) {
  if (o.server.empty()) {
    return Error::InvalidArgument("server",
                                  "no server: use --server, BREAKGLASS_SERVER or `breakglass login`");
  }
  if (!c.h) return Error::Internal("cannot initialise libcurl");
  std::string url = o.server;
  while (!url.empty() && url.back() == '/') url.pop_back();
  url += path;
  curl_easy_setopt(c.h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c.h, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(c.h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c.h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c.h, CURLOPT_CONNECTTIMEOUT, 10L);
  if (!o.cacert.empty()) curl_easy_setopt(c.h, CURLOPT_CAINFO, o.cacert.c_str());
  c.headers = curl_slist_append(c.headers, "Accept: application/json");
  if (auth) {
    if (o.token.empty()) {
      return Error::Unauthenticated("no token: run `breakglass login` or set BREAKGLASS_TOKEN");
    }
    c.headers = curl_slist_append(c.headers, ("Authorization: Bearer " + o.token).c_str());
  }
  return Ok();
}

}  // namespace

std::string UrlPart(std::string_view text) {
  std::string out;
  for (unsigned char ch : text) {
    if (std::isalnum(ch) || ch == '_' || ch == '-' || ch == '.') {
      out += static_cast<char>(ch);
    } else {
      out += fmt::format("%{:02X}", ch);
    }
  }
  return out;
}

std::string CredentialsPath() {
  std::string base = Env("XDG_CONFIG_HOME");
  if (base.empty() || base.front() != '/') {
    std::string home = Env("HOME");
    if (home.empty()) home = ".";
    base = home + "/.config";
  }
  return base + "/breakglass/credentials.json";
}

namespace {

// Renews a token from the credentials file that is close to its expiry.
void RenewIfDue(ClientOptions& o) {
  if (!o.token_from_file || o.expires_at.empty()) return;
  auto expires = ParseRfc3339(o.expires_at);
  if (!expires) return;
  const auto left = *expires - SystemClock::Get().Now();
  if (left <= Seconds(0) || left > Seconds(kRenewBeforeSeconds)) return;
  Client c(o);
  auto r = c.Json("POST", "/v1/auth/renew", nlohmann::json::object());
  if (!r || !r->contains("token") || !(*r)["token"].is_string()) return;
  ClientOptions renewed = o;
  renewed.token = (*r)["token"].get<std::string>();
  renewed.expires_at = r->value("expires_at", "");
  if (SaveCredentials(renewed, o.user, renewed.expires_at)) o = renewed;
}

}  // namespace

ClientOptions ResolveClientOptions(ClientOptions o, bool renew) {
  if (o.server.empty()) o.server = Env("BREAKGLASS_SERVER");
  if (o.token.empty()) o.token = Env("BREAKGLASS_TOKEN");
  if (o.cacert.empty()) o.cacert = Env("BREAKGLASS_CACERT");
  if (auto saved = fs::ReadWholeFile(CredentialsPath())) {
    auto j = nlohmann::json::parse(*saved, nullptr, false);
    if (j.is_object()) {
      auto get = [&](const char* k) {
        return j.contains(k) && j[k].is_string() ? j[k].get<std::string>() : std::string();
      };
      // The saved token belongs to the saved server only.
      bool same_server = o.server.empty() || o.server == get("server");
      if (o.server.empty()) o.server = get("server");
      if (o.token.empty() && same_server) {
        o.token = get("token");
        o.token_from_file = !o.token.empty();
        o.user = get("user");
        o.expires_at = get("expires_at");
      }
      if (o.cacert.empty() && same_server) o.cacert = get("cacert");
    }
  }
  if (renew) RenewIfDue(o);
  return o;
}

Status SaveCredentials(const ClientOptions& o, const std::string& user,
                       const std::string& expires_at) {
  std::string path = CredentialsPath();
  std::string dir = path.substr(0, path.rfind('/'));
  std::string parent = dir.substr(0, dir.rfind('/'));
  mkdir(parent.c_str(), 0700);
  mkdir(dir.c_str(), 0700);
  std::string cacert = o.cacert;
  if (!cacert.empty() && cacert.front() != '/') {
    char cwd[4096];
    if (getcwd(cwd, sizeof cwd)) cacert = std::string(cwd) + "/" + cacert;
  }
  nlohmann::json j = {{"server", o.server}, {"token", o.token}, {"cacert", cacert},
                      {"user", user}, {"expires_at", expires_at}};
  return fs::ReplaceFile(path, j.dump(2) + "\n", 0600);
}

Result<ApiResponse> Client::Send(const std::string& method, const std::string& path,
                                 const std::string& body, bool auth) {
  Curl c;
  BG_TRY(Prepare(c, o_, method, path, auth));
  ApiResponse out;
  if (!body.empty()) {
    c.headers = curl_slist_append(c.headers, "Content-Type: application/json");
    curl_easy_setopt(c.h, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(c.h, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  } else if (method == "POST") {
    curl_easy_setopt(c.h, CURLOPT_POSTFIELDS, "");
  }
  curl_easy_setopt(c.h, CURLOPT_HTTPHEADER, c.headers);
  curl_easy_setopt(c.h, CURLOPT_WRITEFUNCTION, Collect);
  curl_easy_setopt(c.h, CURLOPT_WRITEDATA, &out.body);
  curl_easy_setopt(c.h, CURLOPT_TIMEOUT, 60L);
  CURLcode rc = curl_easy_perform(c.h);
  if (rc != CURLE_OK) {
    return Error::Unavailable(std::string("cannot reach ") + o_.server + ": " +
                              curl_easy_strerror(rc));
  }
  curl_easy_getinfo(c.h, CURLINFO_RESPONSE_CODE, &out.status);
  char* ct = nullptr;
  curl_easy_getinfo(c.h, CURLINFO_CONTENT_TYPE, &ct);
  if (ct) out.content_type = ct;
  if (out.status >= 400) {
    auto j = nlohmann::json::parse(out.body, nullptr, false);
    if (j.is_object() && j.contains("error") && j["error"].is_object()) {
      const auto& e = j["error"];
      std::string code = e.value("code", "internal");
      std::string message = e.value("message", "");
      std::string field = e.value("field", "");
      return Error(CodeFromName(code), message, field);
    }
    return Error::Internal("server answered HTTP " + std::to_string(out.status));
  }
  return out;
}

Result<nlohmann::json> Client::Json(const std::string& method, const std::string& path,
                                    const nlohmann::json& body, bool auth) {
  BG_ASSIGN_OR_RETURN(auto r, Send(method, path, body.is_null() ? "" : body.dump(), auth));
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (j.is_discarded()) return Error::Internal("the server's answer is not JSON");
  return j;
}

Status Client::Stream(const std::string& path,
                      const std::function<bool(const std::string&, const std::string&)>& on_event) {
  Curl c;
  BG_TRY(Prepare(c, o_, "GET", path, true));
  c.headers = curl_slist_append(c.headers, "Accept: text/event-stream");
  curl_easy_setopt(c.h, CURLOPT_HTTPHEADER, c.headers);
  struct State {
    std::string buffer;
    std::string event;
    std::string data;
    const std::function<bool(const std::string&, const std::string&)>* cb;
    bool stop = false;
  } st;
  st.cb = &on_event;
  auto write = +[](char* data, size_t size, size_t n, void* p) -> size_t {
    auto* s = static_cast<State*>(p);
    s->buffer.append(data, size * n);
    size_t nl;
    while ((nl = s->buffer.find('\n')) != std::string::npos) {
      std::string line = s->buffer.substr(0, nl);
      s->buffer.erase(0, nl + 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty()) {
        if (!s->data.empty() && !(*s->cb)(s->event.empty() ? "message" : s->event, s->data)) {
          s->stop = true;
          return 0;
        }
        s->event.clear();
        s->data.clear();
      } else if (line.rfind("event:", 0) == 0) {
        s->event = line.substr(line.size() > 6 && line[6] == ' ' ? 7 : 6);
      } else if (line.rfind("data:", 0) == 0) {
        if (!s->data.empty()) s->data += '\n';
        s->data += line.substr(line.size() > 5 && line[5] == ' ' ? 6 : 5);
      }
    }
    return size * n;
  };
  curl_easy_setopt(c.h, CURLOPT_WRITEFUNCTION, write);
  curl_easy_setopt(c.h, CURLOPT_WRITEDATA, &st);
  CURLcode rc = curl_easy_perform(c.h);
  if (st.stop) return Ok();
  long status = 0;
  curl_easy_getinfo(c.h, CURLINFO_RESPONSE_CODE, &status);
  if (status >= 400) return Error::Unauthenticated("the server refused the event stream");
  if (rc != CURLE_OK) return Error::Unavailable(std::string("stream ended: ") + curl_easy_strerror(rc));
  return Ok();
}

}  // namespace bg::cli
