// Internal to engine/log: the embedded log's class, defined by embedded_log.cc (opening, reads, a
// follower's catch-up) and embedded_log_write.cc (the group commit, the state rows). Not a public
// header: the contract is engine/log/event_log.h (open_embedded_log).
#pragma once

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/log/embedded_format.h"
#include "engine/log/event_log.h"
#include "engine/log/group_commit.h"

namespace sazesh::embedded_log_detail {

using namespace embedded_format;

class embedded_log final : public event_log, public state_rows {
 public:
  // A writer: `scratch` is empty. A follower: `db` is a secondary instance keeping its files in
  // `scratch`, and `format_known` says whether the folder's format version was already seen.
  embedded_log(std::unique_ptr<rocksdb::DB> db, embedded_log_options options, std::filesystem::path folder,
               std::uint64_t next_position, std::uint64_t state_position = 0, scratch_folder scratch = {},
               bool format_known = true);
  ~embedded_log() override;

  result<append_outcome> append(append_request request) override;
  result<std::vector<result<append_outcome>>> append_group(std::vector<append_request> requests) override;
  std::uint64_t groups_written() const override { return queue_.groups(); }
  result<std::optional<append_outcome>> find_command(std::string_view command_id) override;
  result<stream_version> version(std::string_view stream) override;
  result<std::vector<stored_event>> read_stream(std::string_view stream, stream_version from) override;
  result<std::vector<stored_event>> read_all(log_position from, std::size_t max) override;
  result<log_position> end() override;

  // ---- state rows ----

  state_rows* state() override;
  result<std::optional<std::string>> get(std::string_view key) override;
  status scan(std::string_view from, std::string_view to,
              const std::function<bool(std::string_view, std::string_view)>& each) override;
  result<std::vector<log_position>> positions() override;
  status write(const std::vector<state_write>& writes, const std::vector<log_position>& positions) override;
  status clear() override;

  status settle() override;
  status settle_locked();
  status check_storage() override;  // embedded_check.cc
  bool positions_dense() const override { return true; }
  status refresh() override;

 private:
  status write_state_batch(rocksdb::WriteBatch& batch, std::uint64_t position);
  result<std::vector<stored_event>> scan_stream(std::string_view stream, stream_version from);
  result<std::vector<stored_event>> scan_log(log_position from, std::size_t max);
  std::uint64_t known_end();
  status catch_up(std::optional<std::uint64_t> started = std::nullopt);

  // One append waiting in the queue. Lives on the appending thread's stack; the leader writes
  // `outcome` and then `done` (under the queue's lock), after which only the owner touches it.
  // The requests of one append_group share a unit number, and a group never splits a unit.
  struct pending {
    const append_request* request;
    result<append_outcome> outcome{error{errc::io, "data_dir", "append was not decided"}};
    bool done = false;
    std::uint64_t unit = 0;
  };

  void enqueue(std::vector<pending>& mine);

  // What the leader has decided so far in the group being built, layered over the stored state.
  struct group_state {
    std::uint64_t next_position = 0;
    bool state_in_step = false;  // every request so far carried its state rows, written here
    std::unordered_map<std::string, std::uint64_t> versions;  // every stream looked at
    std::unordered_map<std::string, append_outcome> commands;  // commands accepted
  };

  static status check_request(const append_request& request);
  static std::size_t payload_size(const append_request& request);
  void commit_group(const std::vector<pending*>& group) noexcept;
  result<append_outcome> decide(const append_request& request, group_state& state, rocksdb::WriteBatch& batch);
  result<std::uint64_t> group_version(const std::string& stream, group_state& state);
  result<std::uint64_t> load_version(std::string_view stream);
  result<std::optional<append_outcome>> lookup_command(std::string_view command_id);

  const bool follower_;
  const std::function<bool()> lose_write_outcome_;  // embedded_log_options
  bool unsettled_ = false;  // the last group's write failed: settle before the next (write_mutex_)
  std::string write_failure_;  // why (write_mutex_)
  scratch_folder scratch_;  // a follower's secondary-instance folder; declared before db_
  std::unique_ptr<rocksdb::DB> db_;
  rocksdb::WriteOptions write_options_;

  // A follower's catch-ups: one at a time, numbered from 1 as they start. The two fields after
  // the counter are guarded by catch_up_mutex_.
  std::mutex catch_up_mutex_;
  std::atomic<std::uint64_t> catch_ups_started_{0};
  std::uint64_t last_good_catch_up_ = 0;  // the number of the last one that succeeded
  bool format_known_;                     // the folder's format version has been checked

  group_commit<pending> queue_;  // the appends waiting, and their leader

  // In-memory state; changed only by the leader, and only after its write succeeded (for a
  // follower: next_position_ is the end as of the last catch-up).
  std::mutex state_mutex_;
  std::uint64_t next_position_;
  std::uint64_t state_position_;  // where the state rows stand (see event_log.h, state_rows)
  // Held while a group or a batch of state rows is decided and written.
  std::mutex write_mutex_;
  std::filesystem::path folder_;  // where the database lives
  std::atomic<bool> wrote_{false};  // this writer wrote something (its WAL is not empty)
  std::unordered_map<std::string, std::uint64_t> versions_;
};

}  // namespace sazesh::embedded_log_detail
