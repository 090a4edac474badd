#include "service/connector_state.h"

#include <fmt/format.h>

#include "auth/master_key.h"
#include "store/store.h"

namespace bg::service {
namespace {

class MetaState final : public connector::StateStore {
 public:
  MetaState(std::string instance, const auth::MasterKey& key, store::Store& store)
      : instance_(std::move(instance)), key_(key), store_(store) {}

  Result<std::optional<std::string>> Get(std::string_view what) const override {
    return store_.GetMeta(Key(what));
  }
  Status Put(const std::vector<std::pair<std::string, std::string>>& values) const override {
    store::WriteBatch batch;
    for (const auto& [what, value] : values) batch.meta.emplace_back(Key(what), value);
    return store_.Commit(batch);
  }
  std::string Seal(std::string_view what, const Secret& value) const override {
    return auth::Seal(key_, value, Key(what));
  }
  Result<Secret> Open(std::string_view what, std::string_view sealed) const override {
    return auth::Open(key_, sealed, Key(what));
  }

 private:
  std::string Key(std::string_view what) const {
    return fmt::format("connector/{}/{}", instance_, what);
  }

  std::string instance_;
  const auth::MasterKey& key_;
  store::Store& store_;
};

}  // namespace

std::shared_ptr<const connector::StateStore> StoredConnectorState(std::string instance,
                                                                  const auth::MasterKey& key,
                                                                  store::Store& store) {
  return std::make_shared<MetaState>(std::move(instance), key, store);
}

connector::ConnectorHost MakeConnectorHost(const auth::MasterKey& key, store::Store& store,
                                           const ServerConfig& config, const Clock& clock,
                                           Random& random) {
  return connector::ConnectorHost{
      clock, random,
      [&key, &store](const std::string& instance) {
        return StoredConnectorState(instance, key, store);
      },
      [&config](const std::string& path) { return config.Resolve(path); }};
}

}  // namespace bg::service
