// text_file: reading a small file a person named (a rules file, a holiday file) safely.
//
//   auto text = read_text_file("rules/trust-v1.rules", "rules");
//   if (!text) return text.error();   // names the field: "rules: … is a directory, not a file"
//
// Only regular files are read: a directory, FIFO, socket or device is refused before anything
// is read from it (a FIFO is opened without blocking, so it cannot hang the caller), and so is a
// file larger than `max_bytes`. Errors: errc::not_found (no such file), errc::invalid_argument
// (not a regular file, too large), errc::io (the read failed).
//
// Thread safety: none needed; no shared state.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

#include "engine/base/result.h"

namespace sazesh {

inline constexpr std::size_t default_text_file_limit = 1u << 20;  // 1 MiB

result<std::string> read_text_file(const std::filesystem::path& path, std::string_view field,
                                   std::size_t max_bytes = default_text_file_limit);

// Writes `bytes` to `path` so that a crash leaves either no file or the whole of it: a synced
// temporary file beside it, renamed into place, and the folder synced. Creates the folder if
// need be. Errors are errc::io naming `field`.
status write_file_durably(const std::filesystem::path& path, std::string_view bytes, std::string_view field);
// Syncs a folder, so that a file created, renamed or removed in it stays so after a crash.
status sync_folder(const std::filesystem::path& folder, std::string_view field);

}  // namespace sazesh
