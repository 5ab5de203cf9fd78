#include "serve/body_json.h"

#include <fmt/format.h>

#include "engine/domain/validation.h"

namespace sazesh::serve {
namespace {

class parser {
 public:
  explicit parser(std::string_view t) : t_(t) {}

  result<std::vector<body_member>> object() {
    std::vector<body_member> out;
    space();
    if (!eat('{')) return fail("must be a JSON object of option names to values");
    space();
    if (eat('}')) return finish(std::move(out));
    for (;;) {
      space();
      auto name = string();
      if (!name) return name.error();
      for (const auto& m : out)
        if (m.name == *name) return fail(fmt::format("names \"{}\" twice", *name));
      space();
      if (!eat(':')) return fail("expects ':' after a name");
      space();
      body_member m;
      m.name = std::move(*name);
      if (peek() == '[') {
        ++i_;
        space();
        if (!eat(']')) {
          for (;;) {
            space();
            auto v = scalar(m, false);
            if (!v) return v.error();
            space();
            if (eat(']')) break;
            if (!eat(',')) return fail("expects ',' or ']' in an array");
          }
        }
      } else {
        auto v = scalar(m, true);
        if (!v) return v.error();
      }
      out.push_back(std::move(m));
      space();
      if (eat('}')) return finish(std::move(out));
      if (!eat(',')) return fail("expects ',' or '}' after a value");
    }
  }

 private:
  result<std::vector<body_member>> finish(std::vector<body_member> out) {
    space();
    if (i_ != t_.size()) return fail("has text after the object");
    return out;
  }
  error fail(const std::string& what) const {
    return error(errc::invalid_argument, "body", fmt::format("{} (at byte {})", what, i_));
  }
  char peek() const { return i_ < t_.size() ? t_[i_] : '\0'; }
  bool eat(char c) {
    if (peek() != c) return false;
    ++i_;
    return true;
  }
  void space() {
    while (i_ < t_.size() && (t_[i_] == ' ' || t_[i_] == '\t' || t_[i_] == '\n' || t_[i_] == '\r')) ++i_;
  }
  bool word(std::string_view w) {
    if (t_.substr(i_, w.size()) != w) return false;
    i_ += w.size();
    return true;
  }

  // A string, a number, a boolean (only where `top`: a flag) or null (nothing).
  status scalar(body_member& m, bool top) {
    const char c = peek();
    if (c == '"') {
      auto s = string();
      if (!s) return s.error();
      m.values.push_back(std::move(*s));
      return ok;
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
      const std::size_t start = i_;
      if (c == '-') ++i_;
      while (i_ < t_.size() && ((t_[i_] >= '0' && t_[i_] <= '9') || t_[i_] == '.' || t_[i_] == 'e' ||
                                t_[i_] == 'E' || t_[i_] == '+' || t_[i_] == '-'))
        ++i_;
      m.values.emplace_back(t_.substr(start, i_ - start));
      return ok;
    }
    if (top && word("true")) {
      m.flag = true;
      m.values.push_back("true");
      return ok;
    }
    if (top && word("false")) {
      m.flag = true;
      return ok;
    }
    if (top && word("null")) return ok;
    return fail(top ? "expects a string, a number, true, false, null or an array"
                    : "expects strings or numbers in an array");
  }

  result<std::string> string() {
    if (!eat('"')) return fail("expects a string in double quotes");
    std::string out;
    for (;;) {
      if (i_ >= t_.size()) return fail("has a string that does not end");
      const char c = t_[i_++];
      if (c == '"') break;
      if (static_cast<unsigned char>(c) < 0x20) return fail("has a control character inside a string");
      if (c != '\\') {
        out += c;
        continue;
      }
      const char e = peek();
      ++i_;
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          auto cp = hex4();
          if (!cp) return cp.error();
          std::uint32_t code = *cp;
          if (code >= 0xD800 && code <= 0xDBFF) {
            if (!word("\\u")) return fail("has a lone surrogate");
            auto low = hex4();
            if (!low) return low.error();
            if (*low < 0xDC00 || *low > 0xDFFF) return fail("has a lone surrogate");
            code = 0x10000 + ((code - 0xD800) << 10) + (*low - 0xDC00);
          } else if (code >= 0xDC00 && code <= 0xDFFF) {
            return fail("has a lone surrogate");
          }
          append_utf8(out, code);
          break;
        }
        default: return fail("has an unknown escape in a string");
      }
    }
    if (!is_valid_utf8(out)) return fail("has a string that is not valid UTF-8");
    return out;
  }

  result<std::uint32_t> hex4() {
    if (i_ + 4 > t_.size()) return fail("has a \\u escape without four hex digits");
    std::uint32_t v = 0;
    for (int k = 0; k < 4; ++k) {
      const char h = t_[i_++];
      v <<= 4;
      if (h >= '0' && h <= '9') v |= static_cast<std::uint32_t>(h - '0');
      else if (h >= 'a' && h <= 'f') v |= static_cast<std::uint32_t>(h - 'a' + 10);
      else if (h >= 'A' && h <= 'F') v |= static_cast<std::uint32_t>(h - 'A' + 10);
      else return fail("has a \\u escape without four hex digits");
    }
    return v;
  }

  static void append_utf8(std::string& out, std::uint32_t c) {
    if (c < 0x80) {
      out += static_cast<char>(c);
    } else if (c < 0x800) {
      out += static_cast<char>(0xC0 | (c >> 6));
      out += static_cast<char>(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
      out += static_cast<char>(0xE0 | (c >> 12));
      out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (c & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (c >> 18));
      out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (c & 0x3F));
    }
  }

  std::string_view t_;
  std::size_t i_ = 0;
};

}  // namespace

result<std::vector<body_member>> parse_body(std::string_view text) { return parser(text).object(); }

}  // namespace sazesh::serve
