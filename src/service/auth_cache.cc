#include "service/auth_cache.h"

namespace bg::service {
namespace {

template <typename Map>
auto Lookup(Map& map, const std::string& key, int64_t now_us, int64_t ttl)
    -> std::optional<decltype(map.begin()->second.value)> {
  auto it = map.find(key);
  if (it == map.end()) return std::nullopt;
  if (now_us - it->second.at > ttl || now_us < it->second.at) {
    map.erase(it);
    return std::nullopt;
  }
  return it->second.value;
}

template <typename Map, typename V>
void Insert(Map& map, const std::string& key, const V& value, int64_t now_us, size_t max) {
  if (map.size() >= max) map.clear();  // bounded memory; the cache refills from the store
  map[key] = {value, now_us};
}

}  // namespace

std::optional<store::TokenRecord> AuthCache::Token(const std::string& hash, int64_t now_us) {
  std::lock_guard lock(mu_);
  return Lookup(tokens_, hash, now_us, ttl_);
}

void AuthCache::PutToken(const store::TokenRecord& t, int64_t now_us) {
  std::lock_guard lock(mu_);
  Insert(tokens_, t.token_hash, t, now_us, max_);
}

std::optional<store::UserRecord> AuthCache::User(const std::string& name, int64_t now_us) {
  std::lock_guard lock(mu_);
  return Lookup(users_, name, now_us, ttl_);
}

void AuthCache::PutUser(const store::UserRecord& u, int64_t now_us) {
  std::lock_guard lock(mu_);
  Insert(users_, u.name, u, now_us, max_);
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
