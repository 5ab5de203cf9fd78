// log_seal: the migration of a log written before personal data was sealed into a new log in
// which it is, as the engine writes it today (engine/record/sealing.h): `sazesh seal-log`.
//
//   auto report = seal_log(*old_log, *new_log, keys, old_dir / "documents", new_dir / "documents");
//
// The copy goes as copy_log (log_copy.h) goes, command by command, but each event is written
// again: it keeps its id, stream, sequence, actor, time and command id; an unsealed
// ConsumerRegistered or CaseFiled gets its digest (national_code_digest, order_digest) made
// afresh under the keys' digest key; its
// personal fields move into a box under its person's key (sealing_subject); and every stream's
// hash chain is made again over the new bytes. An event the source has sealed already keeps its
// box: the caller gives the target the source's keys (cli/seal_log.cc copies them).
//
// The copy is a new log. Its Merkle tree and checkpoints are its own, signed afresh; the old
// log's checkpoints prove nothing about it, and the old log, which still holds the data in the
// clear, is to be destroyed once the copy is checked (README, "Sealing a log written before").
//
// Documents attached to cases are copied into the target's store sealed under their consumer's
// key, each after the log is copied; one the source's store does not have is counted, not an
// error (a folder whose documents were kept elsewhere).
//
// Errors: as copy_log; errc::corrupt naming "previous_hash" if a source stream's hash chain is
// broken, "event_id" if an event's id is not its command's.
// Thread safety: as copy_log.
#pragma once

#include <cstdint>
#include <filesystem>

#include "engine/log/key_store.h"
#include "engine/log_copy.h"

namespace sazesh {

struct seal_report {
  copy_report copied;
  std::uint64_t sealed = 0;             // events whose personal fields this copy sealed
  std::uint64_t documents = 0;          // documents copied sealed
  std::uint64_t documents_missing = 0;  // attached, but not in the source's store
};

result<seal_report> seal_log(event_log& source, event_log& target, key_store& keys,
                             const std::filesystem::path& source_documents,
                             const std::filesystem::path& target_documents, const copy_progress_fn& on_progress = {});

}  // namespace sazesh
