#include "cli/request_view.h"

#include <fmt/format.h>

#include "cli/common.h"
#include "cli/text.h"

namespace bg::cli {
namespace {

using nlohmann::json;

std::string Str(const json& j, const char* k) {
  return j.is_object() && j.contains(k) && j[k].is_string() ? j[k].get<std::string>() : "";
}

// "carol (\"seen the incident\"), dave"
std::string Deciders(const json& list, const char* text_key) {
  std::string out;
  if (!list.is_array()) return out;
  for (const auto& d : list) {
    if (!out.empty()) out += ", ";
    out += TerminalSafe(Str(d, "approver").empty() ? "?" : Str(d, "approver"));
    if (!Str(d, text_key).empty()) out += " (\"" + TerminalSafe(Str(d, text_key)) + "\")";
  }
  return out;
}

std::string DurationText(long s) {
  if (s <= 0 || s % 60 != 0) return fmt::format("{}s", s);
  if (s % 3600 == 0) return fmt::format("{}h", s / 3600);
  if (s > 3600) return fmt::format("{}h{}m", s / 3600, (s % 3600) / 60);
  return fmt::format("{}m", s / 60);
}

}  // namespace

std::string HumanRequest(const json& r, bool local_times) {
  auto s = [&](const char* k) {
    std::string v = Str(r, k);
    return v.empty() ? std::string("-") : TerminalSafe(v);
  };
  auto t = [&](const char* k) {
    std::string v = Str(r, k);
    return v.empty() ? std::string("-") : HumanTime(v, local_times);
  };
  const std::string state = Str(r, "state");
  const json approvals = r.value("approvals", json::array());
  const size_t approved = approvals.is_array() ? approvals.size() : 0;
  const int required = r.value("required_approvals", 0);

  std::string out = fmt::format("{}  {}\n  {} asks for {} on {} (tier {}{})\n", s("id"), s("state"),
                                s("requester"), s("privilege"), s("resource"), r.value("tier", 0),
                                r.value("emergency", false) ? ", emergency" : "");
  out += fmt::format("  reason: {}  ticket: {}\n", s("reason"), s("ticket"));

  std::string risk;
  if (r.contains("risk_signals") && r["risk_signals"].is_array()) {
    for (const auto& sig : r["risk_signals"]) {
      if (sig.is_string())
        risk += (risk.empty() ? "" : ", ") + TerminalSafe(sig.get<std::string>());
    }
  }
  if (r.value("auto_approved", false)) {
    out += "  approvals: none needed: emergency auto-approval by policy";
    if (approved > 0) out += fmt::format("; also approved by {}", Deciders(approvals, "comment"));
    out += "\n";
  } else if (r.value("self_approved", false)) {
    out += "  approvals: self-approved (tier 1)\n";
  } else {
    out += fmt::format("  approvals: {}/{}{}{}\n", approved, required,
                       approved > 0 ? " (" + Deciders(approvals, "comment") + ")" : "",
                       risk.empty() ? "" : "; risk signals raised the count: " + risk);
    // Several groups, or an escalation: what each group needs (a person counts for one).
    const json groups = r.value("approval_groups", json::array());
    const bool show = groups.is_array() &&
                      (groups.size() > 1 || (groups.size() == 1 && groups[0].contains("escalate_to")));
    if (show) {
      std::string line;
      for (const json& g : groups) {
        if (!g.is_object()) continue;
        line += fmt::format("{}{} from pool {}", line.empty() ? "" : ", ", g.value("count", 0),
                            TerminalSafe(g.value("pool", std::string("-"))));
        if (g.contains("escalate_to")) {
          const std::string to = TerminalSafe(g.value("escalate_to", std::string()));
          line += g.value("escalated", false)
                      ? fmt::format(" (escalated to {})", to)
                      : fmt::format(" (escalates to {} after {}s)", to, g.value("escalate_after", 0));
        }
      }
      out += "  groups: " + line + "\n";
    }
    // While it waits: who may still approve toward each group (GET /v1/requests/{id} says).
    std::string may;
    for (const json& g : groups) {
      if (!g.is_object() || !g.contains("may_approve") || !g["may_approve"].is_array()) continue;
      std::string names;
      for (const json& n : g["may_approve"]) {
        if (n.is_string()) names += (names.empty() ? "" : ", ") + TerminalSafe(n.get<std::string>());
      }
      may += fmt::format("{}{}: {}", may.empty() ? "" : "; ", TerminalSafe(g.value("pool", std::string("-"))),
                         names.empty() ? "nobody (filled, or no able approver)" : names);
    }
    if (!may.empty()) out += "  may still approve: " + may + "\n";
  }
  if (r.contains("denials") && r["denials"].is_array() && !r["denials"].empty()) {
    out += "  denied by: " + Deciders(r["denials"], "reason") + "\n";
  }
  if (r.contains("starts_at") && r["starts_at"].is_string()) {
    out += fmt::format("  window: {} .. {}\n", t("starts_at"), t("ends_at"));
  } else if (state == "pending") {
    out += fmt::format("  duration: {}, approval deadline {}\n",
                       DurationText(r.value("duration", 0L)), t("approval_deadline"));
  } else if (state == "timed_out") {
    out += fmt::format("  duration: {}, not approved by its deadline {}\n",
                       DurationText(r.value("duration", 0L)), t("approval_deadline"));
  } else {
    out += fmt::format("  duration: {}\n", DurationText(r.value("duration", 0L)));
  }
  if (r.contains("extension") && r["extension"].is_object()) {
    const json& x = r["extension"];
    const json xa = x.value("approvals", json::array());
    out +=
        fmt::format("  extension asked: {} more, reason: {}; approvals {}/{}{}; decide by {}\n",
                    DurationText(x.value("duration", 0L)),
                    Str(x, "reason").empty() ? "-" : TerminalSafe(Str(x, "reason")),
                    xa.is_array() ? xa.size() : 0, x.value("required_approvals", 0),
                    xa.is_array() && !xa.empty() ? " (" + Deciders(xa, "comment") + ")" : "",
                    Str(x, "deadline").empty() ? "-" : HumanTime(Str(x, "deadline"), local_times));
  }
  if (!Str(r, "ended_by").empty() || !Str(r, "end_reason").empty()) {
    out += fmt::format("  ended by {}: {}\n", s("ended_by"), s("end_reason"));
  }
  if (r.value("needs_review", false)) {
    out += Str(r, "review_due").empty() ? "  needs a review once it has ended\n"
                                        : fmt::format("  review due {}\n", t("review_due"));
  }
  if (!Str(r, "last_error").empty()) out += "  last connector error: " + s("last_error") + "\n";
  return out;
}

std::string HumanRequest(const json& r) { return HumanRequest(r, StdoutIsTerminal()); }

}  // namespace bg::cli
