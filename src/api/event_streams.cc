#include "api/event_streams.h"

#include <chrono>
#include <nlohmann/json.hpp>

#include "api/json.h"
#include "auth/token.h"
#include "util/encoding.h"
#include "util/random.h"
#include "util/secret.h"

namespace bg::api {

using nlohmann::json;

namespace {

bool IsAuditReader(const core::Actor& a) {
  return a.Has(core::Role::kAuditor) || a.Has(core::Role::kAdmin);
}

}  // namespace

EventStreams::EventStreams(service::Service& service)
    : service_(service), epoch_(Base64UrlEncode(SystemRandom::Get().Bytes(6))) {
  subscription_ = service_.Subscribe([this](const service::StateEvent& e) { FanOut(e); });
  heartbeat_ = std::thread([this] { Heartbeats(); });
}

EventStreams::~EventStreams() {
  service_.Unsubscribe(subscription_);
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
    if (sweep_.exchange(false)) {
      std::vector<std::shared_ptr<http::ResponseWriter>> closed;  // released outside the lock
      std::lock_guard lock(mu_);
      for (auto it = streams_.begin(); it != streams_.end();) {
        if (it->second.writer->IsOpen()) {
          ++it;
          continue;
        }
        closed.push_back(std::move(it->second.writer));
        it = streams_.erase(it);
      }
    }
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

void EventStreams::WriteTo(http::ResponseWriter& w, const core::Actor& actor, const Recorded& r) {
  const service::StateEvent& e = r.event;
  const std::string id = epoch_ + "-" + std::to_string(r.seq);
  // A system alert (no request: a connector probe failing) goes to its recipients and
  // auditors; a request's events and alerts only to those who may see the request.
  // A review's changes go to auditors and admins only (they alone read reviews).
  if (e.type == "review") {
    if (IsAuditReader(actor)) w.WriteEvent(r.name, r.data, id);
    return;
  }
  const bool system_alert = e.type == "alert" && e.request.id.value().empty();
  if (!system_alert && !core::CanView(*service_.policy(), e.request, actor)) return;
  if (e.type == "alert") {
    bool to_me = IsAuditReader(actor);
    for (const auto& r2 : e.recipients) to_me = to_me || r2 == actor.name;
    if (!to_me) return;
  }
  w.WriteEvent(r.name, r.data, id);
}

void EventStreams::FanOut(const service::StateEvent& e) {
  Recorded rec{0, e, "request", ""};
  if (e.type == "alert") {
    json body = {{"kind", e.alert_kind}, {"message", e.message}};
    if (!e.request.id.value().empty()) body["request_id"] = e.request.id.value();
    rec.name = "alert";
    rec.data = body.dump();
  } else if (e.type == "review") {
    json body = {{"review_id", e.review_id}, {"state", e.review_state}};
    if (!e.request.id.value().empty()) body["request_id"] = e.request.id.value();
    rec.name = "review";
    rec.data = body.dump();
  } else {
    rec.data = ToJson(e.request).dump();
  }
  std::lock_guard lock(mu_);
  rec.seq = ++seq_;
  recent_.push_back(std::move(rec));
  if (recent_.size() > kReplay) recent_.pop_front();
  for (auto& [sid, s] : streams_) {
    if (s.writer->IsOpen()) WriteTo(*s.writer, s.actor, recent_.back());
  }
}

void EventStreams::Open(const core::Actor& actor, std::string token,
                        std::shared_ptr<http::ResponseWriter> w, const std::string& last_event_id) {
  w->StartStream({});
  uint64_t id = 0;
  {
    std::lock_guard lock(mu_);
    if (!last_event_id.empty()) {
      // "<epoch>-<seq>" of this process, still in the ring: replay what came after it.
      const size_t dash = last_event_id.rfind('-');
      std::optional<uint64_t> seen;
      if (dash != std::string::npos && last_event_id.substr(0, dash) == epoch_) {
        seen = ParseDecimalU64(std::string_view(last_event_id).substr(dash + 1));
      }
      const uint64_t oldest = recent_.empty() ? seq_ + 1 : recent_.front().seq;
      if (seen && *seen <= seq_ && *seen + 1 >= oldest) {
        for (const Recorded& r : recent_) {
          if (r.seq > *seen) WriteTo(*w, actor, r);
        }
      } else {
        w->WriteEvent("reset", "{}", epoch_ + "-" + std::to_string(seq_));
      }
    }
    id = next_stream_++;
    streams_[id] = Stream{w, std::move(token), actor};
  }
  // Once closed (the client left, it fell too far behind, its token ended) the stream leaves
  // the table on the next tick: its writer keeps the connection and its buffers alive. Not
  // here: a write under mu_ (FanOut) may close the stream and run this at once.
  w->SetOnClose([this] { sweep_ = true; });
}

}  // namespace bg::api
