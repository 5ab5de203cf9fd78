#include "serve/static_files.h"

#include <fmt/format.h>

#include <fstream>
#include <iterator>
#include <map>
#include <string>

namespace sazesh::serve {
namespace {

const std::map<std::string, std::string>& types() {
  static const std::map<std::string, std::string> t{
      {".html", "text/html; charset=utf-8"},   {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"}, {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},            {".svg", "image/svg+xml"},
      {".png", "image/png"},                    {".woff2", "font/woff2"},
      {".woff", "font/woff"},                   {".ttf", "font/ttf"},
  };
  return t;
}

// Letters, digits and . _ - @ in segments separated by single slashes; no segment that starts
// with a dot (so neither `..` nor hidden files).
bool plain_relative_path(std::string_view p) {
  if (p.empty() || p.size() > 512 || p.front() == '/' || p.back() == '/') return false;
  bool segment_start = true;
  for (char c : p) {
    const bool word = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '@';
    if (c == '/') {
      if (segment_start) return false;
      segment_start = true;
    } else if (c == '.') {
      if (segment_start) return false;
      segment_start = false;
    } else if (word) {
      segment_start = false;
    } else {
      return false;
    }
  }
  return true;
}

}  // namespace

reply static_file(const std::filesystem::path& root, std::string_view relative) {
  const auto missing = [&] {
    return problem(404, error(errc::not_found, "path", fmt::format("/{} is not a file of the portal", relative)));
  };
  if (!plain_relative_path(relative)) return missing();
  const std::filesystem::path path = root / std::string(relative);
  const auto type = types().find(path.extension().string());
  if (type == types().end()) return missing();
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::is_regular_file(status)) return missing();
  const auto size = std::filesystem::file_size(path, ec);
  if (ec || size > max_static_file_bytes) return missing();
  std::ifstream in(path, std::ios::binary);
  if (!in) return missing();
  reply r;
  r.content_type = type->second;
  r.body.assign(std::istreambuf_iterator<char>(in), {});
  r.headers.push_back({"Cache-Control", "no-cache"});
  r.headers.push_back({"X-Content-Type-Options", "nosniff"});
  r.endpoint = "portal";
  return r;
}

}  // namespace sazesh::serve
