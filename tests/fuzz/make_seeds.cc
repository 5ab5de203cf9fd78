// Writes the binary seeds of the envelope and dossier targets from a real log: the main job
// (cli/demo.cc) run into a fresh folder, then a sample of its envelopes and of the Dossiers the
// engine builds for the agencies' feeds. Run once when the schemas change:
//   build-asan/tests/fuzz/fuzz_make_seeds tests/fuzz/corpus
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cli/app.h"
#include "engine/agency_feed.h"
#include "engine/log/checkpoint_store.h"
#include "engine/log/event_log.h"
#include "engine/record/codec.h"
#include "engine/record/hash.h"
#include "tests/fuzz/fuzz_support.h"

int main(int argc, char** argv) {
  using namespace sazesh;
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_make_seeds CORPUS_DIR\n");
    return 2;
  }
  const std::filesystem::path corpus = argv[1];
  std::string folder = "/tmp/sazesh-seeds-XXXXXX";
  if (::mkdtemp(folder.data()) == nullptr) return 1;
  // The demo signs with the seeds' key, so the dossiers carry proofs the dossier target accepts.
  const std::string key_file = folder + "/signing.key";
  std::ofstream(key_file) << fuzzing::k_seed_signer_key << "\n";
  std::filesystem::permissions(key_file, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  ::setenv("SAZESH_SIGNING_KEY", key_file.c_str(), 1);
  std::ostringstream out, err;
  if (cli::run({"--data-dir", folder + "/data", "demo"}, out, err) != 0) {
    std::fprintf(stderr, "the main job failed: %s\n", err.str().c_str());
    return 1;
  }
  auto log = open_embedded_log(std::filesystem::path(folder) / "data" / "log");
  if (!log) return 1;
  auto all = (*log)->read_all(log_position{0}, 100'000);
  if (!all) return 1;
  auto store = checkpoint_store::open(std::filesystem::path(folder) / "data" / "checkpoints", checkpoint_store::access::read);
  if (!store) return 1;
  auto tree = (*store)->latest(0);
  if (!tree || !*tree) return 1;
  const auto write = [&](const char* target, const std::string& bytes) {
    std::filesystem::create_directories(corpus / target);
    std::ofstream(corpus / target / to_hex(sha256(bytes)).substr(0, 16), std::ios::binary) << bytes;
  };
  std::size_t envelopes = 0, dossiers = 0;
  std::set<int> kinds_seen;
  for (std::size_t i = 0; i < all->size(); ++i) {
    const std::string& bytes = (*all)[i].bytes;
    auto rec = decode(bytes);
    if (!rec) return 1;
    // Every kind of event once, and every fourth event besides.
    const bool first_of_kind = kinds_seen.insert(static_cast<int>(rec->payload.type)).second;
    if (first_of_kind || i % 4 == 0) {
      write("envelope", bytes);
      ++envelopes;
    }
    if (agencies_concerned(*rec).empty()) continue;
    auto sides = agency_side_records(**log, {*rec}, {bytes});
    if (!sides) return 1;
    auto leaf = (*store)->leaf_at(0, (*all)[i].position, **log);
    if (!leaf) return 1;
    auto path = (*store)->inclusion_proof(0, *leaf, (**tree).size, **log);
    if (!path) return 1;
    for (const auto& s : *sides) {
      auto proven = with_proof(s.value, (**tree).note, *leaf, *path);
      if (!proven) return 1;
      write("dossier", *proven);
      ++dossiers;
    }
  }
  std::printf("%zu envelopes, %zu dossiers written under %s\n", envelopes, dossiers, corpus.c_str());
  std::filesystem::remove_all(folder);
  return 0;
}
