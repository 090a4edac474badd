#include "api/event_streams.h"

#include <chrono>
#include <nlohmann/json.hpp>

#include "api/json.h"
#include "auth/token.h"
#include "util/secret.h"

namespace bg::api {

using nlohmann::json;

namespace {

bool IsAuditReader(const core::Actor& a) {
  return a.Has(core::Role::kAuditor) || a.Has(core::Role::kAdmin);
}

}  // namespace

EventStreams::EventStreams(service::Service& service) : service_(service) {
  heartbeat_ = std::thread([this] { Heartbeats(); });
}

EventStreams::~EventStreams() {
  stopping_ = true;
  if (heartbeat_.joinable()) heartbeat_.join();
  std::map<uint64_t, Stream> streams;
  {
    std::lock_guard lock(mu_);
    streams.swap(streams_);
  }
  for (auto& [id, s] : streams) s.writer->Close();  // outside the lock: Close runs the on-close hook
}

size_t EventStreams::size() {
  std::lock_guard lock(mu_);
  return streams_.size();
}

bool EventStreams::StillValid(const std::string& token) {
  // Through the service (expiry by its clock, logout and disable made by this process) and
  // straight from the store (a `breakglass user disable` or logout by another process, which
  // the service's authentication cache would only see after its ttl).
  auto actor = service_.Authenticate(token, "");
  if (!actor) return actor.error().code() != ErrorCode::kUnauthenticated;
  auto rec = service_.store().GetToken(auth::TokenHash(Secret(token)));
  if (!rec) return true;  // the store did not answer: checked again on the next tick
  if (!*rec) return false;
  auto user = service_.store().GetUser((*rec)->user);
  if (!user) return true;
  return *user && !(*user)->disabled;
}

void EventStreams::Heartbeats() {
  int ticks = 0;
  while (!stopping_) {
    std::this_thread::sleep_for(kCheckInterval);
    // Every tick: streams whose token stopped being valid (expired, logged out, account
    // disabled) are ended. The check runs outside the lock, on copies.
    std::vector<std::pair<uint64_t, std::string>> tokens;
    {
      std::lock_guard lock(mu_);
      for (const auto& [id, s] : streams_) tokens.emplace_back(id, s.token);
    }
    std::vector<std::shared_ptr<http::ResponseWriter>> ended;
    for (const auto& [id, token] : tokens) {
      if (StillValid(token)) continue;
      std::lock_guard lock(mu_);
      auto it = streams_.find(id);
      if (it == streams_.end()) continue;
      ended.push_back(std::move(it->second.writer));
      streams_.erase(it);
    }
    for (auto& w : ended) w->Close();  // outside the lock: Close runs the on-close hook
    if (++ticks < kHeartbeatTicks) continue;
    ticks = 0;
    std::lock_guard lock(mu_);
    for (auto it = streams_.begin(); it != streams_.end();) {
      const auto& w = it->second.writer;
      if (!w->IsOpen()) {
        it = streams_.erase(it);
        continue;
      }
      w->WriteComment("keep-alive");
      ++it;
    }
  }
}

void EventStreams::Open(const core::Actor& actor, std::string token,
                        std::shared_ptr<http::ResponseWriter> w) {
  std::weak_ptr<http::ResponseWriter> weak = w;
  w->StartStream({});
  auto id = std::make_shared<uint64_t>(0);
  *id = service_.Subscribe([this, weak, actor, id](const service::StateEvent& e) {
    auto sw = weak.lock();
    if (!sw || !sw->IsOpen()) return;
    // A system alert (no request: a connector probe failing) goes to its recipients and
    // auditors; a request's events and alerts only to those who may see the request.
    const bool system_alert = e.type == "alert" && e.request.id.value().empty();
    if (!system_alert && !core::CanView(*service_.policy(), e.request, actor)) return;
    if (e.type == "alert") {
      bool to_me = IsAuditReader(actor);
      for (const auto& r : e.recipients) to_me = to_me || r == actor.name;
      if (!to_me) return;
      json body = {{"kind", e.alert_kind}, {"message", e.message}};
      if (!system_alert) body["request_id"] = e.request.id.value();
      sw->WriteEvent("alert", body.dump());
      return;
    }
    sw->WriteEvent("request", ToJson(e.request).dump());
  });
  {
    std::lock_guard lock(mu_);
    streams_[*id] = Stream{w, std::move(token)};
  }
  // Once closed (the client left, it fell too far behind, its token ended) the stream leaves
  // the table at once: its writer keeps the connection and its buffers alive. The writer is
  // released outside the lock.
  w->SetOnClose([this, id] {
    service_.Unsubscribe(*id);
    std::shared_ptr<http::ResponseWriter> gone;
    std::lock_guard lock(mu_);
    if (auto it = streams_.find(*id); it != streams_.end()) {
      gone = std::move(it->second.writer);
      streams_.erase(it);
    }
  });
}

}  // namespace bg::api
