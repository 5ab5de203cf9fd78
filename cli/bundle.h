// A case's bundle: the file an agency (or a court, or an auditor) checks without Sazesh. A POSIX
// tar holding the case's envelopes exactly as the log stores them, its documents' bytes, the
// log's latest signed checkpoint and an inclusion proof of each envelope against it, described
// by manifest.json (format sazesh-bundle/1); tools/verify-bundle.py checks one end to end from
// the published schemas and the log's verifier key. See the README, "Bundles".
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "cli/app.h"

namespace sazesh::cli {

struct bundle_summary {
  std::size_t events = 0;
  std::size_t documents = 0;
  std::uint64_t tree_size = 0;
  std::string origin;
};

// Builds the bundle of `case_id` from the log (never from projections), checks every chain
// link, proof and document hash against the signed checkpoint, and only then writes it to `path`
// (whole or not at all). `summary_json` (the dossier as JSON, for reading) goes into the
// manifest as "dossier"; the verifier does not rely on it.
result<bundle_summary> write_case_bundle(session& s, event_log& log, const std::string& case_id,
                                         std::string_view summary_json, const std::filesystem::path& path);

}  // namespace sazesh::cli
