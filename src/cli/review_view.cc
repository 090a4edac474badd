#include "cli/review_view.h"

#include <fmt/format.h>

#include "cli/request_view.h"
#include "cli/text.h"

namespace bg::cli {
namespace {

using nlohmann::json;

std::string Str(const json& j, const char* key) { return SafeField(j, key); }

std::string Subject(const json& r) {
  return Str(r, "request_id").empty() ? "kit:" + Str(r, "kit_record") : Str(r, "request_id");
}

std::string Verdicts(const json& r) {
  std::string out;
  for (const json& v : r.value("verdicts", json::array())) {
    out += fmt::format("    {} by {} at {}", Str(v, "verdict"), Str(v, "reviewer"), Str(v, "at"));
    if (!Str(v, "findings").empty()) out += ": " + Str(v, "findings");
    if (!Str(v, "follow_up_ticket").empty()) out += " (follow-up " + Str(v, "follow_up_ticket") + ")";
    out += "\n";
  }
  return out;
}

}  // namespace

std::string ReviewListText(const json& list, bool local_times) {
  const json reviews = list.value("reviews", json::array());
  if (!reviews.is_array() || reviews.empty()) return "no reviews\n";
  std::string out = fmt::format("{:<26} {:<5} {:<26} {:<10} {:<26} {:<12} {}\n", "ID", "STATE",
                                "DUE", "REQUESTER", "OF", "TRIGGER", "VERDICTS");
  for (const json& r : reviews) {
    std::string due = Str(r, "due_at").empty() ? "-" : HumanTime(Str(r, "due_at"), local_times);
    std::string flags;
    if (r.value("overdue", false)) flags += " OVERDUE";
    if (r.value("may_review", false)) flags += " (yours to review)";
    out += fmt::format("{:<26} {:<5} {:<26} {:<10} {:<26} {:<12} {}/{}{}\n", Str(r, "id"),
                       Str(r, "state"), due, Str(r, "requester"), Subject(r), Str(r, "trigger"),
                       r.value("verdicts", json::array()).size(), r.value("reviewers_needed", 1),
                       flags);
  }
  if (list.contains("next") && list["next"].is_string()) {
    out += "more: --limit, or GET /v1/reviews?after=" + Str(list, "next") + "\n";
  }
  return out;
}

std::string ReviewDetailText(const json& r, bool local_times) {
  std::string out = fmt::format(
      "review {}  {}{}\n  of {} ({}; {}'s grant), due {}, {} of {} verdicts\n", Str(r, "id"),
      Str(r, "state"), r.value("overdue", false) ? " OVERDUE" : "", Subject(r), Str(r, "trigger"),
      Str(r, "requester"), HumanTime(Str(r, "due_at"), local_times),
      r.value("verdicts", json::array()).size(), r.value("reviewers_needed", 1));
  out += Verdicts(r);
  if (r.value("may_review", false)) out += "  you may give a verdict: breakglass review submit\n";
  if (r.contains("request") && r["request"].is_object()) {
    out += "\n" + HumanRequest(r["request"], local_times);
  }
  const json actions = r.value("connector_actions", json::array());
  if (actions.is_array() && !actions.empty()) {
    out += "\nconnector actions:\n";
    for (const json& a : actions) {
      std::string what;
      const json d = a.value("details", json::object());
      for (const char* k : {"outcome", "serial", "principals", "valid_after", "valid_before",
                            "fingerprint", "error"}) {
        if (!Str(d, k).empty()) what += fmt::format(" {}={}", k, Str(d, k));
      }
      out += fmt::format("  #{} {} {} by {}{}\n", a.value("index", 0), Str(a, "time"),
                         Str(a, "type"), Str(a, "actor"), what);
    }
  }
  const json sessions = r.value("sessions", json::array());
  if (sessions.is_array() && !sessions.empty()) {
    out += "\nrecorded sessions:\n";
    for (const json& s : sessions) {
      out += fmt::format("  {} {} .. {} {} chunks, {} bytes, {}{}\n", Str(s, "id"),
                         Str(s, "started_at"), Str(s, "ended_at").empty() ? "-" : Str(s, "ended_at"),
                         s.value("chunks", 0), s.value("bytes", 0),
                         s.value("verified", false) ? "matches the audit log" : "DOES NOT VERIFY",
                         Str(s, "problem").empty() ? "" : ": " + Str(s, "problem"));
    }
  }
  if (r.contains("timeline") && r["timeline"].is_object()) {
    const json& t = r["timeline"];
    out += fmt::format("\ntimeline: {} entries against the signed checkpoint of size {}: {}\n",
                       t.value("entries", 0), t.value("checkpoint_size", 0),
                       t.value("client_verified", false)
                           ? fmt::format("verified here ({} key)", Str(t, "client_key"))
                           : "DOES NOT VERIFY: " + Str(t, "client_problem"));
    for (const json& e : t.value("events", json::array())) {
      out += fmt::format("  #{} {} {} by {}\n", e.value("index", 0), Str(e, "time"),
                         Str(e, "type"), Str(e, "actor"));
    }
  }
  return out;
}

}  // namespace bg::cli
