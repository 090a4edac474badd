// A notification for people: one audit event turned into what a webhook, chat, e-mail or
// pager receiver is sent (service/notices.h decides which events become messages and who they
// are for). A message never holds a secret: no credential, no token, only what the request's
// page shows.
#pragma once

#include <string>
#include <vector>

#include "util/result.h"

namespace bg::notify {

struct Message {
  std::string event;         // "request.created", "grant.expiring", "alert.raised", ...
  std::string id;            // idempotency key: the same event always has the same id
  std::string at;            // RFC 3339 UTC, when the event was recorded
  std::string request_json;  // the request as GET /v1/requests/{id} shows it, or empty
  std::string url;           // a link that opens the request on the page, or the page
  std::string title;         // one line: "alice asks for read_only on prod-db"
  std::string text;          // a few lines: reason, ticket, who must act
  std::string severity;      // "info", "warning" or "critical"
  std::string request_id;    // or empty
  bool emergency = false;    // emergency or tier-3 access
  std::vector<std::string> emails;  // addresses of the people it is for (SMTP), may be empty
};

// A sink that sends messages. Send is called from one thread at a time; an error means "not
// delivered" and the same message is sent again after a backoff.
class MessageSink {
 public:
  virtual ~MessageSink() = default;
  // Where it sends, for logs and status; never a secret (no path or query of a hook URL).
  virtual std::string Describe() const = 0;
  virtual Status Send(const Message& m) = 0;
};

// "https://hooks.example" from "https://hooks.example/services/T0/B0/secret?x": scheme, host and
// port only, so a URL with a token in its path is never logged.
std::string RedactUrl(const std::string& url);

}  // namespace bg::notify
