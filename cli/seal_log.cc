// `sazesh seal-log --from OLD`: a log written before personal data was sealed, copied into this
// folder with it sealed (engine/log_seal.h). The old folder is only read.
#include <fmt/format.h>
#include <fmt/ostream.h>

#include <filesystem>
#include <string>

#include "cli/app.h"
#include "cli/json.h"
#include "engine/base/text_file.h"
#include "engine/log_copy.h"
#include "engine/log_seal.h"

namespace sazesh::cli {
namespace {

namespace fs = std::filesystem;

// The largest key file taken over: about ten million people's keys.
constexpr std::size_t max_key_file_bytes = 1u << 30;

// The keys the source sealed with (and the digest key its digests were made under) become the
// target's, so what it sealed already opens in the copy. Refused if the target has keys of its
// own that are not those.
status take_keys(const fs::path& from, const fs::path& to) {
  for (const char* name : {"digest.key", "subjects.keys"}) {
    std::error_code ec;
    if (!fs::exists(from / name, ec)) {
      // Keys NEW made for itself would seal nothing of OLD's; people's keys there would be strays.
      if (std::string(name) == "subjects.keys" && fs::exists(to / name, ec) && fs::file_size(to / name, ec) > 0)
        return error(errc::already_exists, "--data-dir",
                     fmt::format("{} has keys of its own ({}): seal into a new, empty folder", to.string(), name));
      continue;
    }
    auto bytes = read_text_file(from / name, "--from", max_key_file_bytes);
    if (!bytes) return bytes.error();
    if (fs::exists(to / name, ec)) {
      auto mine = read_text_file(to / name, "--data-dir", max_key_file_bytes);
      if (!mine) return mine.error();
      if (*mine == *bytes) continue;
      if (!mine->empty())
        return error(errc::already_exists, "--data-dir",
                     fmt::format("{} has keys of its own ({}): seal into a new, empty folder", to.string(), name));
    }
    if (auto w = write_file_durably(to / name, *bytes, "--data-dir"); !w) return w.error();
  }
  return ok;
}

status check_no_events(event_log& log, const fs::path& folder) {
  auto empty = check_empty_target(log);
  if (empty || empty.error().code() != errc::already_exists) return empty;
  return error(errc::already_exists, "--data-dir",
               fmt::format("{} already has a log: seal into a new, empty folder", folder.string()));
}

int seal_log_cmd(session& s, const parsed_args& a) {
  const fs::path from = a.get("from");
  std::error_code ec;
  if (!fs::is_directory(from / "log", ec))
    return s.fail(error(errc::invalid_argument, "--from", fmt::format("{} is not a data folder (it has no log/)", from.string())));
  if (fs::exists(s.data_dir, ec) && fs::equivalent(from, s.data_dir, ec))
    return s.fail(error(errc::invalid_argument, "--from", "is --data-dir itself: the sealed copy goes into a new folder"));
  auto source = open_embedded_log(from / "log", embedded_log_options{.follower = true});
  if (!source) return s.fail(source.error());
  auto target = open_embedded_log(s.data_dir / "log");
  if (!target) return s.fail(target.error());
  if (auto empty = check_no_events(**target, s.data_dir); !empty) return s.fail(empty.error());
  if (auto taken = take_keys(from / "keys", s.data_dir / "keys"); !taken) return s.fail(taken.error());
  // The folder's own keys, whatever cluster $SAZESH_KAFKA names: the copy is a folder's.
  auto keys = open_key_folder(s.data_dir / "keys");
  if (!keys) return s.fail(keys.error());
  auto report = seal_log(**source, **target, **keys, from / "documents", s.data_dir / "documents");
  if (!report)
    return s.fail(error(report.error().code(), report.error().field(),
                        fmt::format("{} ({} holds part of a copy now: delete it before sealing again)",
                                    report.error().rule(), s.data_dir.string())));
  // A new log: its tree and checkpoints start here, under this folder's signing key.
  if (auto signed_now = s.sign_log(**target, true, s.data_dir / "checkpoints"); !signed_now)
    return s.fail(signed_now.error());
  if (s.json) {
    fmt::print(s.out, "{}\n",
               json_object()
                   .field("from", from.string())
                   .field("to", s.data_dir.string())
                   .field("events", report->copied.events)
                   .field("commands", report->copied.commands)
                   .field("streams", report->copied.streams)
                   .field("sealed", report->sealed)
                   .field("documents", report->documents)
                   .field("documents_missing", report->documents_missing)
                   .str());
  } else {
    fmt::print(s.out, "copied {} events ({} commands, {} streams) from {} into {}, sealing {} of them; {} documents sealed",
               report->copied.events, report->copied.commands, report->copied.streams, from.string(),
               s.data_dir.string(), report->sealed, report->documents);
    if (report->documents_missing > 0)
      fmt::print(s.out, "; {} attached documents were not in {}", report->documents_missing, (from / "documents").string());
    fmt::print(s.out, "\n");
  }
  return exit_ok;
}

}  // namespace

void add_seal_log_command(std::vector<command_spec>& t) {
  t.push_back({"seal-log", "erasure of personal data",
               "copy a log written before personal data was sealed into --data-dir (a new folder), sealing it; "
               "the old folder is only read",
               {{"from", "DIR", "the old data folder", true}},
               seal_log_cmd, uses::folder | uses::json});
}

}  // namespace sazesh::cli
