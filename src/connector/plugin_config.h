// A named instance of a connector or notification sink, as the configuration gives it.
#pragma once

#include <string>

namespace bg::connector {

// `options_json` holds the table's other keys as a JSON object text, for the kind's own
// factory to validate.
struct PluginConfig {
  std::string name;
  std::string kind;
  std::string options_json = "{}";
};

}  // namespace bg::connector
