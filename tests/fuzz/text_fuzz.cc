// The parsers of what people type: the first byte picks one, the rest is the text. Dates and
// times in both calendars and both digit sets, amounts in rials, national codes, mobiles,
// domains, identifiers, free text, and the CLI's options (the text split at NUL bytes into
// arguments), a request's JSON body and a percent-encoded query value. Each either parses or refuses with an error naming its field; whatever parses is
// printed back as the CLI would.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cli/args.h"
#include "engine/domain/validation.h"
#include "engine/time/calendar.h"
#include "serve/body_json.h"
#include "serve/http_support.h"
#include "tests/fuzz/fuzz_support.h"

using sazesh::fuzzing::check_refusal;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  using namespace sazesh;
  switch (data[0] % 12) {
    case 0: {
      auto t = parse_time("when", text);
      if (!t) check_refusal(t.error(), "when");
      else {
        (void)format_jalali(*t, digits::persian);
        (void)format_iso_utc(*t);
        // What is printed parses back to the same moment (a Gregorian year from 1900: earlier
        // moments are typed only as Jalali dates, 1200 to 1278).
        const std::string iso = format_iso_utc(*t);
        if (iso.compare(0, 4, "1900") >= 0) {
          auto again = parse_time("when", iso);
          if (!again || *again != *t) __builtin_trap();
        }
      }
      break;
    }
    case 1: {
      auto d = parse_date("date", text);
      if (!d) check_refusal(d.error(), "date");
      else {
        if (!is_valid(*d)) __builtin_trap();
        (void)format_date(to_jalali(*d), digits::persian);
        if (d->year >= 1900) {  // as for times: earlier dates are typed only as Jalali ones
          auto again = parse_date("date", format_date(*d));
          if (!again || *again != *d) __builtin_trap();
        }
      }
      break;
    }
    case 2: {
      auto r = parse_rials("amount", text);
      if (!r) check_refusal(r.error(), "amount");
      break;
    }
    case 3:
      if (auto s = check_national_code("national_code", text); !s) check_refusal(s.error(), "national_code");
      break;
    case 4:
      if (auto s = check_mobile("mobile", text); !s) check_refusal(s.error(), "mobile");
      break;
    case 5:
      if (auto s = check_domain("domain", text); !s) check_refusal(s.error(), "domain");
      break;
    case 6:
      if (auto s = check_identifier("id", text); !s) check_refusal(s.error(), "id");
      break;
    case 7:
      if (auto s = check_text("text", text, 1, 8000); !s) check_refusal(s.error(), "text");
      break;
    case 8:
      (void)normalize_digits(text);
      (void)to_persian_digits(text);
      break;
    case 10: {
      // A request's JSON body, as serve reads it.
      auto members = serve::parse_body(text);
      if (!members) check_refusal(members.error(), "body");
      break;
    }
    case 11: {
      bool bad = false;
      (void)serve::percent_decode(text, bad);
      break;
    }
    default: {
      std::vector<std::string> args;
      std::string current;
      for (char c : text) {
        if (c == '\0') {
          args.push_back(current);
          current.clear();
        } else {
          current.push_back(c);
        }
      }
      args.push_back(current);
      static const std::vector<cli::option_spec> specs{
          {"case", "CASE", "the case", true},
          {"document", "FILE", "a document", false, true},
          {"amount", "RIALS", "an amount"},
          {"json", "", "JSON output"},
      };
      auto parsed = cli::parse_options(specs, args);
      if (!parsed && parsed.error().message().empty()) __builtin_trap();
      break;
    }
  }
  return 0;
}
