#include "notify/http_post.h"

#include <curl/curl.h>
#include <fmt/format.h>

namespace bg::notify {
namespace {

size_t Discard(char*, size_t size, size_t n, void*) { return size * n; }

}  // namespace

Status HttpPost(const std::string& url, std::string_view content_type, std::string_view body,
                const HttpPostOptions& options) {
  CURL* h = curl_easy_init();
  if (h == nullptr) return Error::Internal("cannot initialise libcurl");
  curl_slist* headers =
      curl_slist_append(nullptr, fmt::format("Content-Type: {}", content_type).c_str());
  for (const auto& line : options.headers) headers = curl_slist_append(headers, line.c_str());
  const std::string& shown = options.shown_url.empty() ? url : options.shown_url;
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_POST, 1L);
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options.connect_timeout.count()));
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(options.timeout.count()));
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, Discard);
  if (!options.cacert.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, options.cacert.c_str());
  CURLcode rc = curl_easy_perform(h);
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(h);
  if (rc != CURLE_OK) {
    return Error::Unavailable(fmt::format("POST {}: {}", shown, curl_easy_strerror(rc)));
  }
  if (status < 200 || status > 299) {
    return Error::Unavailable(fmt::format("POST {}: HTTP {}", shown, status));
  }
  return Ok();
}

}  // namespace bg::notify
