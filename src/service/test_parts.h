// The parts the service's collaborators are built from, real and wired by hand for a unit
// test: a SQLite store in a private directory, a master key, the audit log, a running writer,
// an event bus, the request cache and the effects reader, with a policy parsed from text.
// People and RequestWorkflow are then built on these alone, without a Service.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <memory>
#include <string>

#include "audit/event.h"
#include "auth/master_key.h"
#include "auth/totp.h"
#include "core/policy.h"
#include "service/audit_log.h"
#include "service/effects.h"
#include "service/event_bus.h"
#include "service/people.h"
#include "service/request_cache.h"
#include "service/writer.h"
#include "test/fakes/fake_clock.h"
#include "test/fakes/temp_dir.h"
#include "util/random.h"

namespace bg::service::testing {

class Parts {
 public:
  explicit Parts(const std::string& policy_text) {
    auto parsed = core::ParsePolicy(policy_text, "policy.toml");
    if (!parsed.policy) {
      ADD_FAILURE() << parsed.problems.front().ToString();
      return;
    }
    policy_ = std::make_shared<const core::Policy>(std::move(*parsed.policy));
    clock.Set(*ParseRfc3339("2026-11-18T10:00:00Z"));  // a Wednesday, 10:00 UTC
    auto s = store::OpenStore("sqlite", dir_.path());
    if (!s) {
      ADD_FAILURE() << s.error().ToString();
      return;
    }
    store = std::move(*s);
    key = std::make_unique<auth::MasterKey>(auth::MasterKey::Generate(SystemRandom::Get()));
    auto log = AuditLog::Open(*store, *key, "breakglass/test");
    if (!log) {
      ADD_FAILURE() << log.error().ToString();
      return;
    }
    audit = std::move(*log);
    writer = std::make_unique<Writer>(*store, *audit, clock, nullptr);
    effects = std::make_unique<Effects>(events, requests, clock, [this] { return policy_; },
                                        [this] { ++grant_wakeups; });
    people = std::make_unique<People>(config, clock, *store, *key, *audit, *writer, *effects,
                                      nullptr);
  }
  ~Parts() {
    if (writer) writer->Stop();
  }

  // Adds an account and logs it in; returns the actor its token authenticates as.
  core::Actor Person(const std::string& name, std::vector<core::Role> roles) {
    auto nu = people->AddUser("test", name, roles, Secret(name + "-password-123"));
    EXPECT_TRUE(nu.has_value()) << nu.error().ToString();
    seeds[name] = nu->totp_secret;
    auto lr = people->Login(name, Secret(name + "-password-123"), Code(name), "10.0.0.1");
    EXPECT_TRUE(lr.has_value()) << lr.error().ToString();
    tokens[name] = std::string(lr->token.Reveal());
    auto actor = people->Authenticate(tokens[name], "10.0.0.1");
    EXPECT_TRUE(actor.has_value());
    return *actor;
  }
  // The person's TOTP code at the clock's time.
  std::string Code(const std::string& name) { return *auth::TotpCode(seeds[name], clock.Now()); }

  std::vector<audit::LeafEvent> AuditEvents() {
    auto leaves = store->AuditLeaves(0, *store->AuditSize());
    std::vector<audit::LeafEvent> out;
    for (const auto& l : *leaves) out.push_back(*audit::ParseLeaf(l));
    return out;
  }
  size_t CountEvents(const std::string& type) {
    size_t n = 0;
    for (const auto& e : AuditEvents()) n += e.type == type ? 1 : 0;
    return n;
  }

 private:
  bg::testing::TempDir dir_{"bg_parts"};
  std::shared_ptr<const core::Policy> policy_;

 public:
  bg::testing::FakeClock clock;
  ServerConfig config;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<auth::MasterKey> key;
  std::unique_ptr<AuditLog> audit;
  std::unique_ptr<Writer> writer;
  EventBus events;
  RequestCache requests;
  std::unique_ptr<Effects> effects;
  std::unique_ptr<People> people;
  std::atomic<int> grant_wakeups{0};  // counted on the writer thread
  std::map<std::string, Secret> seeds;
  std::map<std::string, std::string> tokens;
};

// Waits for a command's callback.
template <typename Fn>
Result<core::Request> Await(Fn fn) {
  std::promise<Result<core::Request>> p;
  auto f = p.get_future();
  fn([&p](Result<core::Request> r) { p.set_value(std::move(r)); });
  return f.get();
}

}  // namespace bg::service::testing
