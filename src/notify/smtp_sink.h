// E-mail over SMTP with libcurl: `smtp://HOST:PORT` (STARTTLS when the server offers it) or
// `smtps://HOST:PORT` (TLS from the first byte). One plain-text mail per message, to the
// configured envelope recipients (`to`) and the addresses of the people the message is for.
// The Message-ID is derived from the message's idempotency key, so a receiver can drop a mail
// delivered twice (after a lost answer).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "notify/message.h"
#include "util/result.h"
#include "util/secret.h"

namespace bg::notify {

struct SmtpOptions {
  std::string url;                // smtp://host:port or smtps://host:port
  std::string from;               // envelope and header sender
  std::vector<std::string> to;    // envelope recipients always sent to
  std::string username;           // optional AUTH
  Secret password;
  std::string cacert;             // PEM CA file for TLS; empty: the system store
};

// Checks an address for the envelope: one '@', no spaces, no control characters or <>.
bool IsMailAddress(std::string_view address);

// The mail's bytes (headers, blank line, body; CRLF line ends) for `m`.
std::string FormatMail(const Message& m, const std::string& from,
                       const std::vector<std::string>& to, const std::string& date);

std::unique_ptr<MessageSink> MakeSmtpSink(SmtpOptions options);

}  // namespace bg::notify
