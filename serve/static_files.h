// The portal's files (portal/ in the source tree, or `serve --portal DIR`), served as they are:
// `/` is index.html and `/assets/PATH` any other file under the folder. Only plain relative
// paths of known kinds are answered; nothing outside the folder can be named.
#pragma once

#include <filesystem>
#include <string_view>

#include "serve/http_support.h"

namespace sazesh::serve {

inline constexpr std::uintmax_t max_static_file_bytes = 8 * 1024 * 1024;

// The file at `relative` under `root`, or a problem: 404 for a path that names nothing it may
// serve (a missing file, a folder, `..`, an unknown extension).
reply static_file(const std::filesystem::path& root, std::string_view relative);

}  // namespace sazesh::serve
