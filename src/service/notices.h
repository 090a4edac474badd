// Which audit events become messages for people, and for whom (issue 14, "who hears what is
// policy"). The sinks are fed from the durable audit log (notify/sink_runner.h); NoticeRouter
// turns one leaf into a notify::Message with its audience, and RoutedSink applies a sink's
// `events` and `audience` filters before handing the message to a notify::MessageSink.
//
//   audit type                         event              audience
//   request.created                    request.created    pool:<each pool that must approve>
//   request.approved|self_|auto_       request.approved   requester
//   request.denied                     request.denied     requester
//   request.activated                  request.active     requester (+ security_contacts for
//                                                         emergency and tier-3 access)
//   request.escalated                  request.escalated  pool:<escalate_to>, requester
//   request.expiry_warning             grant.expiring     requester
//   request.expired                    grant.expired      requester
//   request.revoked                    grant.revoked      requester
//   request.extended                   request.extended   requester
//   request.cancelled                  request.cancelled  pool:<each pool>
//   request.timed_out                  request.timed_out  requester
//   grant.failed                       grant.failed       requester, security_contacts
//   alert.raised (kinds other than     alert.raised       security_contacts, and the alert's
//     expiry_warning/request_escalated,                   recipients
//     which have their own events)
// Other audit events (logins, approvals recorded, checkpoints, ...) are not sent to people.
//
// A message's `id` is "<audit origin>/<leaf index>": the same for every attempt and every sink.
// The request in a message is the request as it is when the message is sent (the event says
// what happened). Messages hold no secret: requests hold none, alerts name no credential.
#pragma once

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "notify/message.h"
#include "notify/sink.h"
#include "service/effects.h"
#include "util/result.h"

namespace bg::store {
class Store;
}

namespace bg::service {

// Every event name a message can carry (what `events = [...]` may name).
const std::vector<std::string>& NoticeEvents();
// Checks one `events` entry: an event name, or "prefix.*" matching at least one.
Status CheckEvent(const std::string& field, const std::string& entry);
// Checks one `audience` entry: "requester", "security_contacts", "pool:NAME", "group:NAME".
Status CheckAudience(const std::string& field, const std::string& entry);

struct Notice {
  notify::Message message;
  std::set<std::string> audience;   // "requester", "security_contacts", "pool:NAME"
  std::vector<std::string> people;  // the account names it is for
  std::string requester;            // the request's requester, or empty
};

class NoticeRouter {
 public:
  NoticeRouter(store::Store& store, PolicySource policy, std::string public_url,
               std::string origin);
  // The notice of the leaf at `index`, or nothing when the event is not for people. An error
  // only when the store could not be read (the runner tries again).
  Result<std::optional<Notice>> Route(int64_t index, std::string_view leaf) const;
  // The link that opens `request` on the page ("" without public_url).
  std::string Link(const std::string& request) const;
  std::shared_ptr<const core::Policy> policy() const { return policy_ ? policy_() : nullptr; }
  store::Store& store() const { return store_; }

 private:
  store::Store& store_;
  PolicySource policy_;
  std::string public_url_;
  std::string origin_;
};

// A sink's narrowing: empty lists pass everything.
struct NoticeFilter {
  std::vector<std::string> events;    // event names
  std::vector<std::string> audience;  // audience entries
  bool Passes(const Notice& n, const core::Policy* policy) const;
  // Of the notice's people, those the audience names (all of them when it names none).
  std::vector<std::string> People(const Notice& n, const core::Policy* policy) const;
};

// A notify::Sink that routes each leaf and sends the messages its filter passes; a leaf that
// is not for people, or not for this sink, counts as delivered.
class RoutedSink final : public notify::Sink {
 public:
  RoutedSink(std::shared_ptr<const NoticeRouter> router, NoticeFilter filter,
             std::unique_ptr<notify::MessageSink> sink);
  std::string Describe() const override { return sink_->Describe(); }
  Status Deliver(int64_t index, std::string_view leaf) override;
  notify::MessageSink& sink() { return *sink_; }

 private:
  std::shared_ptr<const NoticeRouter> router_;
  NoticeFilter filter_;
  std::unique_ptr<notify::MessageSink> sink_;
};

// The message `breakglass notify test` sends (event "notify.test", no request).
notify::Message TestMessage(const std::string& sink, const std::string& public_url,
                            const std::string& at);

}  // namespace bg::service
