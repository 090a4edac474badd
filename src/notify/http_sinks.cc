#include "notify/http_sinks.h"

#include <fmt/format.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "util/encoding.h"
#include "util/sha256.h"

namespace bg::notify {

using nlohmann::json;

std::string RedactUrl(const std::string& url) {
  const size_t scheme = url.find("://");
  if (scheme == std::string::npos) return "(url)";
  const size_t end = url.find_first_of("/?#", scheme + 3);
  std::string authority = url.substr(scheme + 3, end == std::string::npos ? std::string::npos
                                                                           : end - scheme - 3);
  if (const size_t at = authority.rfind('@'); at != std::string::npos) {
    authority = authority.substr(at + 1);  // never the user:password of the URL
  }
  return url.substr(0, scheme + 3) + authority;
}

namespace {

json RequestOrNull(const Message& m) {
  if (m.request_json.empty()) return nullptr;
  json r = json::parse(m.request_json, nullptr, false);
  return r.is_discarded() ? json(nullptr) : r;
}

std::string SlackEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '&') {
      out += "&amp;";
    } else if (c == '<') {
      out += "&lt;";
    } else if (c == '>') {
      out += "&gt;";
    } else {
      out += c;
    }
  }
  return out;
}

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

class HttpSink final : public MessageSink {
 public:
  explicit HttpSink(HttpSinkOptions o) : o_(std::move(o)) {}
  std::string Describe() const override { return RedactUrl(o_.url); }
  Status Send(const Message& m) override {
    HttpPostOptions post;
    post.cacert = o_.cacert;
    post.shown_url = RedactUrl(o_.url);
    std::string body;
    switch (o_.format) {
      case HttpFormat::kWebhook: {
        body = WebhookBody(m);
        const int64_t t =
            o_.now ? o_.now()
                   : std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
        post.headers.push_back("X-Breakglass-Signature: " + WebhookSignature(o_.key, t, body));
        post.headers.push_back("X-Breakglass-Event: " + m.event);
        post.headers.push_back("Idempotency-Key: " + m.id);
        break;
      }
      case HttpFormat::kSlack:
        body = SlackBody(m);
        break;
      case HttpFormat::kPagerDuty: {
        auto event = PagerDutyEvent(m, o_.key);
        if (!event) return Ok();  // not for a pager
        body = std::move(*event);
        break;
      }
    }
    return HttpPost(o_.url, "application/json", body, post);
  }

 private:
  const HttpSinkOptions o_;
};

}  // namespace

std::string WebhookBody(const Message& m) {
  return Dump(json{{"event", m.event},
                   {"id", m.id},
                   {"at", m.at},
                   {"request", RequestOrNull(m)},
                   {"url", m.url},
                   {"summary", m.title}});
}

std::string WebhookSignature(const Secret& key, int64_t t, std::string_view body) {
  const std::string signed_text = fmt::format("{}.{}", t, body);
  return fmt::format("t={},v1={}", t, HexEncode(AsBytes(HmacSha256(key.Reveal(), signed_text))));
}

std::string SlackBody(const Message& m) {
  std::string text = "*" + SlackEscape(m.title) + "*";
  if (!m.text.empty()) text += "\n" + SlackEscape(m.text);
  const std::string link = m.url.empty() ? "" : "<" + SlackEscape(m.url) + "|Open in breakglass>";
  json blocks = json::array();
  blocks.push_back({{"type", "section"}, {"text", {{"type", "mrkdwn"}, {"text", text}}}});
  if (!link.empty()) {
    blocks.push_back({{"type", "context"},
                      {"elements", json::array({{{"type", "mrkdwn"}, {"text", link}}})}});
  }
  // `text` is the notification's fallback (what phones show); blocks are the message.
  return Dump(json{{"text", SlackEscape(m.title) + (link.empty() ? "" : " " + link)},
                   {"blocks", blocks}});
}

std::optional<std::string> PagerDutyEvent(const Message& m, const Secret& routing_key) {
  const bool ends = m.event == "grant.expired" || m.event == "grant.revoked";
  const bool trigger = (m.event == "request.active" && m.emergency) ||
                       (m.event == "alert.raised" && m.severity == "critical");
  if (!trigger && !(ends && m.emergency)) return std::nullopt;
  const std::string dedup = "breakglass/" + (m.request_id.empty() ? m.id : m.request_id);
  json e = {{"routing_key", std::string(routing_key.Reveal())},
            {"dedup_key", dedup},
            {"event_action", trigger ? "trigger" : "resolve"}};
  if (trigger) {
    e["payload"] = {{"summary", m.title.substr(0, 1024)},
                    {"source", "breakglass"},
                    {"severity", m.severity == "critical" ? "critical" : "warning"},
                    {"timestamp", m.at},
                    {"class", m.event},
                    {"custom_details", {{"text", m.text}, {"event_id", m.id}}}};
    if (!m.url.empty()) e["links"] = json::array({{{"href", m.url}, {"text", "Open in breakglass"}}});
  }
  return Dump(e);
}

std::unique_ptr<MessageSink> MakeHttpSink(HttpSinkOptions options) {
  return std::make_unique<HttpSink>(std::move(options));
}

}  // namespace bg::notify
