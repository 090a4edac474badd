// The connectors' context over a real SQLite store in a temp dir (the service's own state
// store, service/connector_state.h), for this folder's tests.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "auth/master_key.h"
#include "connector/connector.h"
#include "service/config.h"
#include "service/connector_state.h"
#include "store/store.h"

namespace bg::connectors::testing {

class TestEnv {
 public:
  TestEnv() : key_(auth::MasterKey::Generate()) {
    char tmpl[] = "/tmp/bg-conn-test.XXXXXX";
    dir_ = mkdtemp(tmpl);
    config_.data_dir = dir_;
    Reopen();
  }
  ~TestEnv() {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  // A fresh Store object over the same files (as after a restart).
  void Reopen() {
    store_.reset();
    auto s = store::OpenStore("sqlite", dir_);
    if (!s) ADD_FAILURE() << s.error().ToString();
    store_ = std::move(*s);
  }
  // What a server gives every connector, with `clock`.
  connector::ConnectorHost host(const Clock& clock = SystemClock::Get()) {
    return service::MakeConnectorHost(key_, *store_, config_, clock, SystemRandom::Get());
  }
  // The context of the instance `instance`; valid until Reopen().
  connector::ConnectorContext context(const std::string& instance,
                                      const Clock& clock = SystemClock::Get()) {
    return host(clock).For(instance);
  }
  store::Store& store() { return *store_; }
  const auth::MasterKey& key() const { return key_; }
  const std::string& dir() const { return dir_; }
  service::ServerConfig& config() { return config_; }

 private:
  auth::MasterKey key_;
  std::string dir_;
  service::ServerConfig config_;
  std::unique_ptr<store::Store> store_;
};

inline connector::PluginConfig Plugin(std::string name, std::string kind, std::string options) {
  return connector::PluginConfig{std::move(name), std::move(kind), std::move(options)};
}

}  // namespace bg::connectors::testing
