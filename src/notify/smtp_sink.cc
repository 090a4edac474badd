#include "notify/smtp_sink.h"

#include <curl/curl.h>
#include <fmt/format.h>

#include <algorithm>
#include <ctime>
#include <set>

#include "util/encoding.h"

namespace bg::notify {
namespace {

// One header line's value: control characters (CR and LF above all) become spaces, so no
// value can add a header.
std::string HeaderText(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  return out;
}

// RFC 2047 encoded word for a non-ASCII subject.
std::string EncodeSubject(std::string_view s) {
  const std::string clean = HeaderText(s);
  const bool ascii = std::all_of(clean.begin(), clean.end(),
                                 [](char c) { return static_cast<unsigned char>(c) < 0x80; });
  if (ascii) return clean;
  return "=?UTF-8?B?" + Base64Encode(clean) + "?=";
}

// Body text with CRLF line ends.
std::string Crlf(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\r') continue;
    if (c == '\n') out += '\r';
    out += c;
  }
  return out;
}

std::string RfcDate() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return buf;
}

struct Upload {
  const std::string* data;
  size_t offset = 0;
};

size_t ReadUpload(char* out, size_t size, size_t n, void* p) {
  auto* u = static_cast<Upload*>(p);
  const size_t len = std::min(size * n, u->data->size() - u->offset);
  std::copy_n(u->data->data() + u->offset, len, out);
  u->offset += len;
  return len;
}

class SmtpSink final : public MessageSink {
 public:
  explicit SmtpSink(SmtpOptions o) : o_(std::move(o)) {}
  std::string Describe() const override { return RedactUrl(o_.url); }
  Status Send(const Message& m) override {
    std::set<std::string> rcpt(o_.to.begin(), o_.to.end());
    for (const auto& e : m.emails) {
      if (IsMailAddress(e)) rcpt.insert(e);
    }
    if (rcpt.empty()) return Ok();  // for nobody with an address
    const std::vector<std::string> to(rcpt.begin(), rcpt.end());
    const std::string mail = FormatMail(m, o_.from, to, RfcDate());
    CURL* h = curl_easy_init();
    if (h == nullptr) return Error::Internal("cannot initialise libcurl");
    curl_slist* list = nullptr;
    for (const auto& r : to) list = curl_slist_append(list, ("<" + r + ">").c_str());
    const std::string from = "<" + o_.from + ">";
    Upload upload{&mail};
    curl_easy_setopt(h, CURLOPT_URL, o_.url.c_str());
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_USE_SSL, o_.url.rfind("smtps://", 0) == 0
                                             ? static_cast<long>(CURLUSESSL_ALL)
                                             : static_cast<long>(CURLUSESSL_TRY));
    curl_easy_setopt(h, CURLOPT_MAIL_FROM, from.c_str());
    curl_easy_setopt(h, CURLOPT_MAIL_RCPT, list);
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, ReadUpload);
    curl_easy_setopt(h, CURLOPT_READDATA, &upload);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(mail.size()));
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
    if (!o_.cacert.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, o_.cacert.c_str());
    const std::string password(o_.password.Reveal());
    if (!o_.username.empty()) {
      curl_easy_setopt(h, CURLOPT_USERNAME, o_.username.c_str());
      curl_easy_setopt(h, CURLOPT_PASSWORD, password.c_str());
    }
    const CURLcode rc = curl_easy_perform(h);
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(list);
    curl_easy_cleanup(h);
    if (rc != CURLE_OK) {
      return Error::Unavailable(fmt::format("SMTP {}: {} (last reply {})", Describe(),
                                            curl_easy_strerror(rc), code));
    }
    return Ok();
  }

 private:
  const SmtpOptions o_;
};

}  // namespace

bool IsMailAddress(std::string_view a) {
  if (a.empty() || a.size() > 254) return false;
  const size_t at = a.find('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == a.size() ||
      a.find('@', at + 1) != std::string_view::npos) {
    return false;
  }
  return std::none_of(a.begin(), a.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u == 0x7f || c == '<' || c == '>' || c == ',' || c == '"';
  });
}

std::string FormatMail(const Message& m, const std::string& from,
                       const std::vector<std::string>& to, const std::string& date) {
  std::string to_line;
  for (const auto& r : to) to_line += (to_line.empty() ? "" : ", ") + r;
  std::string id;
  for (char c : m.id) id += std::isalnum(static_cast<unsigned char>(c)) ? c : '.';
  std::string body = m.text;
  if (!m.url.empty()) body += "\n\nOpen it: " + m.url + "\n";
  body += "\n-- \nbreakglass event " + m.event + " (" + m.id + ") at " + m.at +
          "\nThis message holds no credential; sign in to act on it.\n";
  return fmt::format(
      "Date: {}\r\nFrom: {}\r\nTo: {}\r\nSubject: {}\r\nMessage-ID: <{}@breakglass>\r\n"
      "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
      "Content-Transfer-Encoding: 8bit\r\nX-Breakglass-Event: {}\r\n\r\n{}",
      HeaderText(date), HeaderText(from), HeaderText(to_line),
      EncodeSubject("[breakglass] " + m.title), id, HeaderText(m.event), Crlf(body));
}

std::unique_ptr<MessageSink> MakeSmtpSink(SmtpOptions options) {
  return std::make_unique<SmtpSink>(std::move(options));
}

}  // namespace bg::notify
