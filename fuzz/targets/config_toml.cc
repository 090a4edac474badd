// The server configuration (service/config.h): breakglass.toml as `serve` and `policy check
// --config` read it.
//
// Invariants: a refusal is one InvalidArgument whose lines each name the file and a place
// ("PATH:LINE:COLUMN: ...") or a field; an accepted configuration keeps the limits the parser
// promises: every duration 0..10 years as everywhere else (the same limit as ParseDuration),
// token_max_lifetime >= 1m, probe_interval >= 10s, checkpoint_interval >= 1s, 1..64 HTTP
// threads, a listen address ParseListen takes, SQLite storage, and plugin options that are a
// JSON object without "kind" (the kind itself is the registries' to check, when they build).
#include <nlohmann/json.hpp>
#include <string>

#include "fuzz/fuzz.h"
#include "service/config.h"

namespace {

constexpr int64_t kTenYears = int64_t{10} * 365 * 24 * 3600;

bool InRange(bg::Seconds d) { return d.count() >= 0 && d.count() <= kTenYears; }

void CheckPlugins(const std::map<std::string, bg::service::PluginConfig>& plugins) {
  for (const auto& [name, pc] : plugins) {
    BG_FUZZ_CHECK(pc.name == name);  // the kind is checked by the registry that builds it
    const auto options = nlohmann::json::parse(pc.options_json, nullptr, false);
    BG_FUZZ_CHECK(options.is_object() && !options.contains("kind"));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto c = bg::service::ParseServerConfig(bg::fuzz::AsText(data, size), "fuzz/breakglass.toml");
  if (!c) {
    bg::fuzz::CheckError(c.error());
    BG_FUZZ_CHECK(c.error().code() == bg::ErrorCode::kInvalidArgument &&
                  !c.error().field().empty());
    if (c.error().field() == "config") {
      std::string_view m = c.error().message();
      while (!m.empty()) {
        BG_FUZZ_CHECK(m.rfind("fuzz/breakglass.toml:", 0) == 0);
        const size_t nl = m.find('\n');
        m.remove_prefix(nl == std::string_view::npos ? m.size() : nl + 1);
      }
    }
    return 0;
  }
  BG_FUZZ_CHECK(InRange(c->token_ttl) && InRange(c->token_max_lifetime) &&
                InRange(c->probe_interval) && InRange(c->checkpoint_interval));
  BG_FUZZ_CHECK(c->token_max_lifetime.count() >= 60 && c->probe_interval.count() >= 10 &&
                c->checkpoint_interval.count() >= 1);
  BG_FUZZ_CHECK(c->http_threads >= 1 && c->http_threads <= 64);
  BG_FUZZ_CHECK(c->http_max_connections >= 1 && c->http_max_connections <= 65536 &&
                c->http_max_connections_per_source >= 1 &&
                c->http_max_connections_per_source <= c->http_max_connections);
  for (bg::Seconds t : {c->http_header_timeout, c->http_body_timeout, c->http_idle_timeout,
                        c->http_write_timeout}) {
    BG_FUZZ_CHECK(t.count() >= 1 && t.count() <= 600);
  }
  BG_FUZZ_CHECK(!c->data_dir.empty() && bg::service::ParseListen(c->listen).has_value());
  BG_FUZZ_CHECK(c->storage.substr(0, c->storage.find(':')) == "sqlite");
  CheckPlugins(c->connectors);
  CheckPlugins(c->notify);
  return 0;
}
