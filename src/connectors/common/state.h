// What every built-in connector shares: its persisted state (its context's StateStore, plain or
// sealed under the master key), the grant as JSON (what exec and webhook send), the grant window,
// strict option parsing, and the one-time credential box.
//
// The state has no delete: a consumed value is overwritten with "" (a tombstone).
// Thread-safe as far as the StateStore is (every call is one read or one atomic commit).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "core/request.h"
#include "connector/connector.h"
#include "util/result.h"
#include "util/secret.h"
#include "util/time.h"

namespace bg::connectors {

// The instance's state store (connector::StateStore) with its name, and GetSealed.
class ConnectorState {
 public:
  ConnectorState(std::string instance, std::shared_ptr<const connector::StateStore> store)
      : instance_(std::move(instance)), store_(std::move(store)) {}

  const std::string& instance() const { return instance_; }

  Result<std::optional<std::string>> Get(std::string_view what) const { return store_->Get(what); }
  // Writes every pair in one atomic commit.
  Status Put(const std::vector<std::pair<std::string, std::string>>& values) const {
    return store_->Put(values);
  }
  Status Put(std::string_view what, std::string value) const {
    return Put({{std::string(what), std::move(value)}});
  }
  // Sealed under the master key, bound to the instance and the name.
  std::string Seal(std::string_view what, const Secret& value) const {
    return store_->Seal(what, value);
  }
  Result<std::optional<Secret>> GetSealed(std::string_view what) const;
  Result<Secret> Open(std::string_view what, std::string_view sealed) const {
    return store_->Open(what, sealed);
  }

 private:
  std::string instance_;
  std::shared_ptr<const connector::StateStore> store_;
};

// The grant's window. Grant() runs before activation (the window then starts now and lasts the
// granted duration); after activation, and for re-issues after an extension, it is the
// request's own starts_at/ends_at.
struct Window {
  Timestamp starts_at;
  Timestamp ends_at;
};
Window GrantWindow(const core::Request& r, Timestamp now);

// {"action", "grant_id", "request_id", "user", "resource", "privilege", "starts_at", "ends_at"}
// as compact JSON text; grant_id is the request id (a grant is identified by its request).
std::string GrantJson(std::string_view action, const core::Request& r, Timestamp now);

// Parsed connector options (PluginConfig::options_json) with the field named in every error:
// "connectors.<name>.<key>".
class Options {
 public:
  // Refuses a key not in `allowed`.
  static Result<Options> Parse(const connector::PluginConfig& config,
                               const std::set<std::string>& allowed);
  ~Options();
  Options(Options&&) noexcept;
  bool Has(const std::string& key) const;
  Result<std::string> String(const std::string& key, std::optional<std::string> fallback) const;
  Result<std::vector<std::string>> StringArray(const std::string& key,
                                               std::vector<std::string> fallback) const;
  Result<Seconds> Duration(const std::string& key, Seconds fallback) const;
  std::string Field(const std::string& key) const { return "connectors." + name_ + "." + key; }

 private:
  struct Json;
  Options(std::string name, std::unique_ptr<Json> parsed);
  std::string name_;
  std::unique_ptr<Json> json_;
};

// A connector's secret files (password_file, secret_file) are read with fs::ReadSecretFile
// (util/fs.h): refused when group or others may read them.

// A credential shown once: Store() seals it for the grant, Take() returns it and leaves a
// tombstone, so a second Take() is NotFound. `json` is the credential as a JSON object text.
class OneTimeCredentials {
 public:
  explicit OneTimeCredentials(const ConnectorState& state) : state_(state) {}
  Status Store(const RequestId& id, const Secret& json) const;
  // kNotFound when there never was one or it was fetched already.
  Result<Secret> Take(const RequestId& id) const;
  // Whether one is stored and not yet fetched.
  Result<bool> Pending(const RequestId& id) const;
  Status Discard(const RequestId& id) const;

 private:
  const ConnectorState& state_;
};

// CredentialSource (a connector that hands a credential to the requester) is declared with the
// Connector interface: Connector::AsCredentialSource().
using connector::CredentialSource;

}  // namespace bg::connectors
