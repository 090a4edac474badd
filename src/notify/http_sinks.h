// The HTTP message sinks: a generic signed webhook, a Slack-compatible incoming webhook and the
// PagerDuty Events API v2. Each POSTs one JSON document per message with libcurl
// (notify/http_post.h); a non-2xx answer is "not delivered" and the runner sends it again.
//
// Webhook: the body is
//   {"event","id","at","request":{...GET /v1/requests/{id}...}|null,"url","summary"}
// and the header `X-Breakglass-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(key, "<t>.<body>")>`,
// signed afresh at every attempt; receivers refuse a `t` more than 300 s from their clock and
// deduplicate by `id`.
//
// PagerDuty: emergency (or tier-3) activations and critical alerts (a failing revocation, an
// account under brute force, ...) trigger an incident whose dedup_key is "breakglass/<request
// id>" (the alert's id for alerts about no request); the end of an emergency grant (expired or
// revoked) resolves it. Other messages are not sent to PagerDuty.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "notify/http_post.h"
#include "notify/message.h"
#include "util/result.h"
#include "util/secret.h"

namespace bg::notify {

using UnixClock = std::function<int64_t()>;  // seconds since the epoch

// The webhook body of `m`, and the signature header's value for it at `t`.
std::string WebhookBody(const Message& m);
std::string WebhookSignature(const Secret& key, int64_t t, std::string_view body);

// Slack's incoming-webhook body for `m` (mrkdwn, with &, < and > escaped as Slack requires).
std::string SlackBody(const Message& m);

// The PagerDuty Events v2 event for `m`, or nothing when `m` is not for a pager.
std::optional<std::string> PagerDutyEvent(const Message& m, const Secret& routing_key);

// Which of the three formats a sink sends.
enum class HttpFormat { kWebhook, kSlack, kPagerDuty };

struct HttpSinkOptions {
  HttpFormat format = HttpFormat::kWebhook;
  std::string url;
  Secret key;  // webhook: the HMAC key; PagerDuty: the routing (integration) key
  std::string cacert;
  UnixClock now;  // empty: the system clock
};

std::unique_ptr<MessageSink> MakeHttpSink(HttpSinkOptions options);

}  // namespace bg::notify
