// What the fuzz targets share: a refusal must name the field it was asked about and say why
// (anything else is a finding, and stops the run).
#pragma once

#include <string_view>

#include "engine/base/result.h"

namespace sazesh::fuzzing {

// The key the dossier seeds' checkpoints are signed with (make_seeds.cc), and the dossier target
// checks them with: a key made for this and for nothing else.
inline constexpr std::string_view k_seed_signer_key =
    "PRIVATE+KEY+fuzz.example/log+9040e835+AfgTf8l3EULiZBBKUJ+V+0798giSb1w64kOAdYQlwQ/e";
inline constexpr std::string_view k_seed_verifier_key = "fuzz.example/log+9040e835+AVgTh5PjsnXEF1XVPm6hMXvpqUWbaR9T2Oq8xZr7NNbA";

inline void check_refusal(const error& e, std::string_view field) {
  if (e.field() != field || e.message().empty()) __builtin_trap();
}

}  // namespace sazesh::fuzzing
