// document_store: attachments kept once, by content hash, in a folder. Every authority that
// receives a case gets the same bytes under the same hash; nothing is uploaded twice.
//
// Layout: <root>/<first two hex digits>/<64 hex digits>. A file is written to a temporary
// name, synced and renamed, so a crash never leaves a partial document under its hash.
//
// Thread safety: put() may race with itself; both writers produce the same bytes.
#pragma once

#include <filesystem>
#include <string>

#include "engine/base/result.h"

namespace sazesh {

// The largest document accepted: invoices, receipts, photos and scans fit well within it.
inline constexpr std::uint64_t max_document_bytes = 20ull * 1024 * 1024;

// Whether `source` can be a document: a regular file (not a directory, FIFO or device), not
// empty, at most max_document_bytes. Reads nothing and never waits. Errors name `field`.
status check_document_file(const std::filesystem::path& source, std::string_view field);

struct stored_document {
  std::string sha256;  // raw 32 bytes
  std::uint64_t size_bytes = 0;
  bool added = false;  // false when the store already had it
};

class document_store {
 public:
  explicit document_store(std::filesystem::path root) : root_(std::move(root)) {}

  // Copies the file at `source` into the store, hashing it as it streams (check_document_file's
  // rules apply). Errors name `field`.
  result<stored_document> put_file(const std::filesystem::path& source, std::string_view field);
  // Stores `bytes` (a document that arrived some other way than as a file).
  result<stored_document> put_bytes(std::string_view bytes, std::string_view field);
  // Removes a document put by mistake (a command that then failed); keeps shared ones.
  void forget(const stored_document& d);
  bool contains(std::string_view sha256) const;
  std::filesystem::path path_of(std::string_view sha256) const;

 private:
  std::filesystem::path root_;
};

}  // namespace sazesh
