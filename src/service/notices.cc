#include "service/notices.h"

#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <nlohmann/json.hpp>

#include "audit/event.h"
#include "core/approval_groups.h"
#include "service/request_json.h"
#include "store/store.h"

namespace bg::service {

namespace {

struct Route {
  std::string_view type;   // audit event type
  std::string_view event;  // the message's event
  bool to_pools = false;   // the pools that must approve
  bool to_requester = false;
  bool to_security = false;
};

const std::vector<Route>& Routes() {
  static const std::vector<Route> kRoutes = {
      {"request.created", "request.created", true, false, false},
      {"request.approved", "request.approved", false, true, false},
      {"request.self_approved", "request.approved", false, true, false},
      {"request.auto_approved", "request.approved", false, true, false},
      {"request.denied", "request.denied", false, true, false},
      {"request.activated", "request.active", false, true, false},
      {"request.escalated", "request.escalated", false, true, false},
      {"request.expiry_warning", "grant.expiring", false, true, false},
      {"request.expired", "grant.expired", false, true, false},
      {"request.revoked", "grant.revoked", false, true, false},
      {"request.extended", "request.extended", false, true, false},
      {"request.cancelled", "request.cancelled", true, false, false},
      {"request.timed_out", "request.timed_out", false, true, false},
      {"grant.failed", "grant.failed", false, true, true},
      {"alert.raised", "alert.raised", false, false, true},
  };
  return kRoutes;
}

bool EventMatches(const std::string& pattern, const std::string& event) {
  if (pattern.size() > 2 && pattern.ends_with(".*")) {
    return event.rfind(pattern.substr(0, pattern.size() - 1), 0) == 0;
  }
  return pattern == event;
}

// Alert kinds that repeat an event which has its own message.
bool RepeatsAnEvent(std::string_view kind) {
  return kind == "expiry_warning" || kind == "request_escalated";
}

std::string AlertSeverity(std::string_view kind) {
  if (kind == "revocation_failing" || kind == "audit_failed") return "critical";
  return "warning";
}

std::vector<std::string> Split(const std::string& csv) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i <= csv.size()) {
    size_t j = csv.find(',', i);
    if (j == std::string::npos) j = csv.size();
    if (j > i) out.push_back(csv.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

std::string Get(const std::map<std::string, std::string>& m, const std::string& k) {
  auto it = m.find(k);
  return it == m.end() ? std::string() : it->second;
}

// The headline of a request event.
std::string Title(std::string_view event, const core::Request& r, const audit::LeafEvent& e) {
  const std::string what = fmt::format("{} on {}", r.privilege, r.resource);
  const std::string tag = r.emergency ? "EMERGENCY: " : "";
  if (event == "request.created") {
    return fmt::format("{}{} asks for {} for {}", tag, r.requester, what,
                       FormatDuration(r.duration));
  }
  if (event == "request.approved") return fmt::format("{}{}'s request for {} is approved", tag, r.requester, what);
  if (event == "request.denied") return fmt::format("{}'s request for {} was denied by {}", r.requester, what, e.actor);
  if (event == "request.active") {
    return fmt::format("{}{} has {} until {}", tag, r.requester, what,
                       r.ends_at ? FormatRfc3339(*r.ends_at) : std::string("its end"));
  }
  if (event == "request.escalated") {
    return fmt::format("{}{} asks for {}: nobody of pool '{}' answered, pool '{}' may approve",
                       tag, r.requester, what, Get(e.details, "pool"),
                       Get(e.details, "escalate_to"));
  }
  if (event == "grant.expiring") {
    return fmt::format("{}'s {} ends at {}", r.requester, what, Get(e.details, "ends_at"));
  }
  if (event == "grant.expired") return fmt::format("{}'s {} has expired", r.requester, what);
  if (event == "grant.revoked") return fmt::format("{}'s {} was revoked by {}", r.requester, what, e.actor);
  if (event == "request.extended") return fmt::format("{}'s {} is extended until {}", r.requester, what, Get(e.details, "ends_at"));
  if (event == "request.cancelled") return fmt::format("{} cancelled the request for {}", r.requester, what);
  if (event == "request.timed_out") return fmt::format("{}'s request for {} timed out unapproved", r.requester, what);
  if (event == "grant.failed") return fmt::format("the connector failed for {}'s {}", r.requester, what);
  return fmt::format("{}: {}", event, what);
}

std::string Body(const core::Request& r, const core::Policy* policy, const std::string& extra) {
  std::string text = fmt::format("Requester: {}\nResource: {} ({})\nReason: {}", r.requester,
                                 r.resource, r.privilege, r.reason);
  if (!r.ticket.empty()) text += "\nTicket: " + r.ticket;
  text += fmt::format("\nTier: {}{}\nState: {}", r.tier, r.emergency ? " (emergency)" : "",
                      core::ToString(r.state));
  if (r.state == core::RequestState::kPending && policy != nullptr) {
    const auto tally = core::TallyApprovals(*policy, r, false);
    text += "\nApprovals: " + core::DescribeTally(core::GroupsOf(r), tally);
  }
  if (!r.risk_signals.empty()) {
    text += "\nRisk signals: " + fmt::format("{}", fmt::join(r.risk_signals, ", "));
  }
  if (!extra.empty()) text += "\n" + extra;
  return text;
}

}  // namespace

const std::vector<std::string>& NoticeEvents() {
  static const std::vector<std::string> kEvents = [] {
    std::vector<std::string> out;
    for (const auto& r : Routes()) {
      if (std::find(out.begin(), out.end(), r.event) == out.end()) out.emplace_back(r.event);
    }
    out.emplace_back("notify.test");
    return out;
  }();
  return kEvents;
}

Status CheckEvent(const std::string& field, const std::string& entry) {
  const auto& known = NoticeEvents();
  if (std::any_of(known.begin(), known.end(),
                  [&](const std::string& k) { return EventMatches(entry, k); })) {
    return Ok();
  }
  return Error::InvalidArgument(
      field, fmt::format("event '{}' is not one this version sends ({})", entry,
                         fmt::join(known, ", ")));
}

Status CheckAudience(const std::string& field, const std::string& entry) {
  if (entry == "requester" || entry == "security_contacts") return Ok();
  for (std::string_view prefix : {"pool:", "group:"}) {
    if (entry.rfind(prefix, 0) == 0 && entry.size() > prefix.size()) return Ok();
  }
  return Error::InvalidArgument(
      field, fmt::format("audience '{}' is none of \"requester\", \"security_contacts\", "
                         "\"pool:NAME\", \"group:NAME\"",
                         entry));
}

NoticeRouter::NoticeRouter(store::Store& store, PolicySource policy, std::string public_url,
                           std::string origin)
    : store_(store),
      policy_(std::move(policy)),
      public_url_(std::move(public_url)),
      origin_(std::move(origin)) {
  while (!public_url_.empty() && public_url_.back() == '/') public_url_.pop_back();
}

std::string NoticeRouter::Link(const std::string& request) const {
  if (public_url_.empty()) return "";
  return request.empty() ? public_url_ + "/" : public_url_ + "/requests/" + request;
}

Result<std::optional<Notice>> NoticeRouter::Route(int64_t index, std::string_view leaf) const {
  auto parsed = audit::ParseLeaf(leaf);
  if (!parsed) return std::optional<Notice>();  // not an event: nothing for people
  const audit::LeafEvent& e = *parsed;
  const auto route = std::find_if(Routes().begin(), Routes().end(),
                                  [&](const struct Route& r) { return r.type == e.type; });
  if (route == Routes().end()) return std::optional<Notice>();
  const std::string kind = Get(e.details, "kind");
  if (e.type == "alert.raised" && RepeatsAnEvent(kind)) return std::optional<Notice>();

  auto policy = this->policy();
  Notice n;
  notify::Message& m = n.message;
  m.event = std::string(route->event);
  m.id = fmt::format("{}/{}", origin_, index);
  m.at = FormatRfc3339(e.time);
  m.severity = "info";
  std::optional<core::Request> request;
  if (e.request) {
    BG_ASSIGN_OR_RETURN(request, store_.GetRequest(*e.request));
    m.request_id = e.request->value();
  }
  m.url = Link(m.request_id);
  if (route->to_security) n.audience.insert("security_contacts");
  if (request) {
    const core::Request& r = *request;
    n.requester = r.requester;
    m.request_json = RequestJson(r).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    m.emergency = r.emergency || r.tier >= 3;
    m.title = Title(m.event, r, e);
    if (route->to_requester) {
      n.audience.insert("requester");
      n.people.push_back(r.requester);
    }
    if (route->to_pools) {
      for (const auto& g : core::GroupsOf(r)) n.audience.insert("pool:" + g.pool);
    }
    if (m.event == "request.escalated") n.audience.insert("pool:" + Get(e.details, "escalate_to"));
    if (m.event == "request.active" && m.emergency) {
      n.audience.insert("security_contacts");
      m.severity = "warning";
    }
    if (m.event == "grant.failed") m.severity = "warning";
    std::string extra;
    if (m.event == "request.denied") extra = "Denial: " + Get(e.details, "reason");
    if (m.event == "grant.failed") extra = "Error: " + Get(e.details, "error");
    m.text = Body(r, policy.get(), extra);
  }
  if (e.type == "alert.raised") {
    m.severity = AlertSeverity(kind);
    const std::string message = Get(e.details, "message");
    m.title = fmt::format("alert {}: {}", kind, message.substr(0, 200));
    m.text = m.text.empty() ? message : message + "\n\n" + m.text;
    for (auto& p : Split(Get(e.details, "recipients"))) n.people.push_back(std::move(p));
  }
  if (policy) {
    for (const auto& a : n.audience) {
      std::vector<std::string> names;
      if (a == "security_contacts") {
        names = policy->Expand(policy->settings.security_contacts);
      } else if (a.rfind("pool:", 0) == 0) {
        auto it = policy->pools.find(a.substr(5));
        if (it != policy->pools.end()) names = policy->Expand(it->second);
      }
      for (auto& p : names) n.people.push_back(std::move(p));
    }
  }
  if (m.title.empty()) m.title = m.event;  // a request the store no longer holds
  std::sort(n.people.begin(), n.people.end());
  n.people.erase(std::unique(n.people.begin(), n.people.end()), n.people.end());
  if (request) {
    // Never the requester's own request to approve: the pools' people minus the requester,
    // unless the message is for the requester.
    if (!route->to_requester) std::erase(n.people, request->requester);
  }
  return std::optional<Notice>(std::move(n));
}

namespace {

bool EntryNames(const std::string& entry, const Notice& n, const std::string& person,
                const core::Policy* policy) {
  if (entry.rfind("group:", 0) == 0) {
    return policy != nullptr && policy->Matches(person, entry);
  }
  if (entry.rfind("pool:", 0) == 0) {
    return n.audience.count(entry) != 0 && policy != nullptr && policy->InPool(person, entry.substr(5));
  }
  if (entry == "security_contacts") {
    return n.audience.count(entry) != 0 && policy != nullptr &&
           policy->MatchesAny(person, policy->settings.security_contacts);
  }
  if (entry == "requester") return n.audience.count(entry) != 0 && n.requester == person;
  return false;
}

}  // namespace

bool NoticeFilter::Passes(const Notice& n, const core::Policy* policy) const {
  if (!events.empty() && std::none_of(events.begin(), events.end(), [&](const std::string& p) {
        return EventMatches(p, n.message.event);
      })) {
    return false;
  }
  if (audience.empty() || n.message.event == "notify.test") return true;
  for (const auto& a : audience) {
    if (a.rfind("group:", 0) == 0) {
      for (const auto& p : n.people) {
        if (EntryNames(a, n, p, policy)) return true;
      }
    } else if (n.audience.count(a) != 0) {
      return true;
    }
  }
  return false;
}

std::vector<std::string> NoticeFilter::People(const Notice& n, const core::Policy* policy) const {
  if (audience.empty()) return n.people;
  std::vector<std::string> out;
  for (const auto& p : n.people) {
    if (std::any_of(audience.begin(), audience.end(),
                    [&](const std::string& a) { return EntryNames(a, n, p, policy); })) {
      out.push_back(p);
    }
  }
  return out;
}

RoutedSink::RoutedSink(std::shared_ptr<const NoticeRouter> router, NoticeFilter filter,
                       std::unique_ptr<notify::MessageSink> sink)
    : router_(std::move(router)), filter_(std::move(filter)), sink_(std::move(sink)) {}

Status RoutedSink::Deliver(int64_t index, std::string_view leaf) {
  BG_ASSIGN_OR_RETURN(auto notice, router_->Route(index, leaf));
  if (!notice) return Ok();
  auto policy = router_->policy();
  if (!filter_.Passes(*notice, policy.get())) return Ok();
  for (const auto& person : filter_.People(*notice, policy.get())) {
    BG_ASSIGN_OR_RETURN(auto user, router_->store().GetUser(person));
    if (user && !user->disabled && !user->email.empty()) {
      notice->message.emails.push_back(user->email);
    }
  }
  return sink_->Send(notice->message);
}

notify::Message TestMessage(const std::string& sink, const std::string& public_url,
                            const std::string& at) {
  notify::Message m;
  m.event = "notify.test";
  m.id = fmt::format("test/{}/{}", sink, at);
  m.at = at;
  m.url = public_url;
  m.title = fmt::format("breakglass test message to sink '{}'", sink);
  m.text = "This is a test of the notification sink '" + sink +
           "'. Nothing needs doing.";
  m.severity = "info";
  return m;
}

}  // namespace bg::service
