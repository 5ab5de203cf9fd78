// What the fuzz targets share: a refusal must name the field it was asked about and say why
// (anything else is a finding, and stops the run).
#pragma once

#include <string_view>

#include "engine/base/result.h"

namespace sazesh::fuzzing {

inline void check_refusal(const error& e, std::string_view field) {
  if (e.field() != field || e.message().empty()) __builtin_trap();
}

}  // namespace sazesh::fuzzing
