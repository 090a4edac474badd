// The page's static files (src/web/), built into the binary by cmake/embed_assets.cmake.
#pragma once

#include <string_view>
#include <vector>

namespace bg::api {

struct PageAsset {
  std::string_view name;   // "index.html", "app.js", ...
  std::string_view bytes;  // the file as it is in src/web/
  std::string_view gzip;   // the same, gzip-compressed
};

const std::vector<PageAsset>& PageAssets();

}  // namespace bg::api
