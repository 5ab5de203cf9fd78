// document_store: attachments kept once, by content hash, in a folder. Every authority that
// receives a case gets the same bytes under the same hash; nothing is uploaded twice.
//
// Layout: <root>/<first two hex digits>/<64 hex digits>. A file is written to a temporary
// name, synced and renamed, so a crash never leaves a partial document under its hash.
//
// Thread safety: put() may race with itself; both writers produce the same bytes.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>

#include "engine/base/result.h"
#include "engine/record/sealing.h"

namespace sazesh {

// The largest document accepted: invoices, receipts, photos and scans fit well within it.
inline constexpr std::uint64_t max_document_bytes = 20ull * 1024 * 1024;
// How long a plaintext copy beside a sealed one is left before sweep() removes it: an upload of
// the same bytes for another consumer's case has this long to be attached.
inline constexpr std::chrono::hours plaintext_grace{24};

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

  // Once a command attaches a document to a case, the document is kept sealed under the key of
  // the case's consumer (engine/record/sealing.h, seal_document) at <hex>.<tag> beside where its
  // plaintext was (tag: 16 hex digits of SHA-256 of the consumer's id), and the plaintext copy
  // is removed: erasing the consumer's key erases the document. An upload is attached once; the
  // same bytes for another consumer's case are uploaded again.
  std::filesystem::path sealed_path_of(std::string_view sha256, const std::string& subject) const;
  // Seals the plaintext copy for `subject` under `key` (written, synced, renamed into place),
  // then removes the plaintext. Nothing to do once sealed (no plaintext left).
  status seal(std::string_view sha256, const std::string& subject, std::string_view key);
  // The two halves of seal(), for a command that seals before it is written (cli/write_commands.cc):
  // seal_copy writes the sealed copy and keeps the plaintext (true if it wrote one, false if the
  // copy was there already; errc::not_found if neither is stored); drop_plain removes the plaintext;
  // drop_sealed takes back a copy seal_copy wrote for a command that was then refused.
  result<bool> seal_copy(std::string_view sha256, const std::string& subject, std::string_view key);
  status drop_plain(std::string_view sha256);
  void drop_sealed(std::string_view sha256, const std::string& subject);
  // Removes every plaintext copy older than `grace` that has a sealed copy beside it (left by a
  // process that stopped between writing a command and removing the plaintext). How many went.
  result<std::uint64_t> sweep(std::chrono::seconds grace);
  // The document of `subject`'s case: its sealed copy opened; none once the key was destroyed;
  // else the plaintext copy (a document attached before sealing). errc::not_found if neither;
  // errc::unavailable if the key is not known here (a folder without the log's keys).
  result<std::optional<std::string>> read(std::string_view sha256, const std::string& subject, key_ring& keys) const;
  // Takes `subject`'s document from another folder's store (log_seal.h): its sealed copy as it is
  // (the two folders share their keys), else its plaintext, sealed here under `key`. Nothing to
  // do if this store has it sealed already; errc::not_found if `from` has neither copy.
  status copy_sealed_from(const document_store& from, std::string_view sha256, const std::string& subject,
                          std::string_view key);

 private:
  std::filesystem::path root_;
};

}  // namespace sazesh
