#include "service/auth_cache.h"

namespace bg::service {
namespace {

template <typename Map>
auto Lookup(Map& map, const std::string& key, int64_t now_us, int64_t ttl)
    -> decltype(map.begin()->second.value) {
  auto it = map.find(key);
  if (it == map.end()) return nullptr;
  if (now_us - it->second.at > ttl || now_us < it->second.at) {
    map.erase(it);
    return nullptr;
  }
  return it->second.value;
}

template <typename Map, typename V>
std::shared_ptr<const V> Insert(Map& map, const std::string& key, V value, int64_t now_us,
                                size_t max) {
  if (map.size() >= max) map.clear();  // bounded memory; the cache refills from the store
  auto shared = std::make_shared<const V>(std::move(value));
  map[key] = {shared, now_us};
  return shared;
}

}  // namespace

std::shared_ptr<const store::TokenRecord> AuthCache::Token(const std::string& hash,
                                                           int64_t now_us) {
  std::lock_guard lock(mu_);
  return Lookup(tokens_, hash, now_us, ttl_);
}

std::shared_ptr<const store::TokenRecord> AuthCache::PutToken(store::TokenRecord t,
                                                              int64_t now_us) {
  std::lock_guard lock(mu_);
  const std::string key = t.token_hash;
  return Insert(tokens_, key, std::move(t), now_us, max_);
}

std::shared_ptr<const store::UserRecord> AuthCache::User(const std::string& name, int64_t now_us) {
  std::lock_guard lock(mu_);
  return Lookup(users_, name, now_us, ttl_);
}

std::shared_ptr<const store::UserRecord> AuthCache::PutUser(store::UserRecord u, int64_t now_us) {
  std::lock_guard lock(mu_);
  const std::string key = u.name;
  return Insert(users_, key, std::move(u), now_us, max_);
}

void AuthCache::ForgetToken(const std::string& hash) {
  std::lock_guard lock(mu_);
  tokens_.erase(hash);
}

void AuthCache::ForgetUser(const std::string& name) {
  std::lock_guard lock(mu_);
  users_.erase(name);
}

}  // namespace bg::service
