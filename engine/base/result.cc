#include "engine/base/result.h"

namespace sazesh {

const char* to_string(errc code) {
  switch (code) {
    case errc::invalid_argument: return "invalid_argument";
    case errc::not_found: return "not_found";
    case errc::unauthorized: return "unauthorized";
    case errc::wrong_state: return "wrong_state";
    case errc::missing_documents: return "missing_documents";
    case errc::duplicate: return "duplicate";
    case errc::conflict: return "conflict";
    case errc::already_exists: return "already_exists";
    case errc::deadline_passed: return "deadline_passed";
    case errc::corrupt: return "corrupt";
    case errc::io: return "io";
    case errc::unavailable: return "unavailable";
  }
  return "unknown";
}

}  // namespace sazesh
