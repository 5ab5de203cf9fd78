// The JSON a request body may carry: one object whose members are a command's options, each a
// string, a number, true/false (a flag), null (absent) or an array of strings and numbers (an
// option given several times). Nothing nests deeper, so no body can exhaust the stack.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/base/result.h"

namespace sazesh::serve {

struct body_member {
  std::string name;
  std::vector<std::string> values;  // one per occurrence; a true flag is {"true"}
  bool flag = false;                // true or false was given
};

// Parses `text` (RFC 8259, UTF-8). Errors name field "body" and say what is wrong and where.
result<std::vector<body_member>> parse_body(std::string_view text);

}  // namespace sazesh::serve
