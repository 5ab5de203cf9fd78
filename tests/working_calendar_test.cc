// Working days and working hours on the Iranian calendar (engine/time/work_calendar.h): weekends
// (Friday, or Thursday and Friday when configured), the official holidays of the shipped
// calendar/ files, Nowruz and the turn of the year, the holiday file format, and the deadlines
// the domain counts with them (the answer ladder in working hours, documents and agency
// acknowledgement in working days), checked through decide() with case_rules whose calendar is
// loaded from calendar/.
//
// Every expected date below is worked out by hand in the comments, with the weekday of each day
// asserted first so that a wrong premise shows as such. Weekdays are persian_weekday() numbers:
// 0 Saturday, 1 Sunday, 2 Monday, 3 Tuesday, 4 Wednesday, 5 Thursday, 6 Friday.
// Tehran is at +03:30 all year since 2022, so every day here has 24 hours.

#include <doctest/doctest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/time/calendar.h"
#include "engine/time/clock.h"
#include "engine/domain/decide.h"
#include "engine/engine.h"
#include "engine/log/event_log.h"
#include "engine/record/hash.h"
#include "engine/domain/rules.h"
#include "engine/time/work_calendar.h"
#include "tests/temp_dir.h"

namespace sazesh {
namespace {

constexpr int saturday = 0, sunday = 1, monday = 2, tuesday = 3, wednesday = 4, thursday = 5, friday = 6;

// The repository's calendar/ folder, found from this file's place in the tree (tests/).
std::filesystem::path calendar_dir() {
  return std::filesystem::path(__FILE__).parent_path().parent_path() / "calendar";
}

work_calendar shipped() {
  auto cal = work_calendar::load_folder(calendar_dir());
  REQUIRE_MESSAGE(cal.has_value(), "load_folder(" << calendar_dir() << "): " << cal.error().message());
  return std::move(cal).value();
}

civil_date g(jalali_date j) { return to_civil(j); }

int weekday_of(jalali_date j) { return persian_weekday(to_civil(j)); }

// A Tehran wall-clock time written as Jalali "YYYY/MM/DD HH:MM".
timestamp_ms at(const char* jalali_local) {
  auto t = parse_time("test", jalali_local);
  REQUIRE_MESSAGE(t.has_value(), jalali_local << ": " << t.error().message());
  return *t;
}

std::string shown(timestamp_ms t) { return format_jalali(t); }

// ---- Weekends ----------------------------------------------------------------------------------

TEST_CASE("Friday is the weekend by default; Thursday too when configured") {
  // 1405/09/04 .. 1405/09/11 = 2026-11-25 (Wednesday) .. 2026-12-02: no holiday in Azar 1405.
  REQUIRE(weekday_of({1405, 9, 4}) == wednesday);
  REQUIRE(weekday_of({1405, 9, 5}) == thursday);
  REQUIRE(weekday_of({1405, 9, 6}) == friday);
  REQUIRE(weekday_of({1405, 9, 7}) == saturday);
  CHECK(g({1405, 9, 4}) == civil_date{2026, 11, 25});

  work_calendar cal;
  CHECK(cal.weekend() == std::set<int>{friday});
  CHECK(cal.is_working_day(g({1405, 9, 4})));
  CHECK(cal.is_working_day(g({1405, 9, 5})));
  CHECK_FALSE(cal.is_working_day(g({1405, 9, 6})));
  CHECK(cal.is_working_day(g({1405, 9, 7})));

  const timestamp_ms wed_10 = at("1405/09/04 10:00");
  // Working days keep the time of day: Thursday, then Saturday (Friday skipped).
  CHECK(shown(cal.add_working_days(wed_10, 0)) == "1405/09/04 10:00");
  CHECK(shown(cal.add_working_days(wed_10, 1)) == "1405/09/05 10:00");
  CHECK(shown(cal.add_working_days(wed_10, 2)) == "1405/09/07 10:00");
  // Six working days from Wednesday: Thu 5, Sat 7, Sun 8, Mon 9, Tue 10, Wed 11.
  CHECK(shown(cal.add_working_days(wed_10, 6)) == "1405/09/11 10:00");
  // From a Friday: Saturday is the first working day.
  CHECK(shown(cal.add_working_days(at("1405/09/06 23:30"), 1)) == "1405/09/07 23:30");

  cal.set_weekend({thursday, friday});
  CHECK_FALSE(cal.is_working_day(g({1405, 9, 5})));
  CHECK_FALSE(cal.is_working_day(g({1405, 9, 6})));
  CHECK(shown(cal.add_working_days(wed_10, 1)) == "1405/09/07 10:00");
  // Sat 7, Sun 8, Mon 9, Tue 10, Wed 11, Sat 14.
  CHECK(shown(cal.add_working_days(wed_10, 6)) == "1405/09/14 10:00");
}

TEST_CASE("working time: hours of Fridays (and Thursdays when configured) do not count") {
  work_calendar cal;
  const timestamp_ms wed_14 = at("1405/09/04 14:00");
  // 72 working hours from Wednesday 14:00: Wed 10 h, Thu 24 h (34), Fri 0, Sat 24 h (58),
  // Sun 14 h (72): Sunday 14:00, 96 hours of clock time later.
  const timestamp_ms due = cal.add_working_time(wed_14, 72 * hour_ms);
  CHECK(shown(due) == "1405/09/08 14:00");
  CHECK(due - wed_14 == 96 * hour_ms);
  // Inside a working stretch it is plain addition.
  CHECK(cal.add_working_time(wed_14, 5 * hour_ms) == wed_14 + 5 * hour_ms);
  CHECK(cal.add_working_time(wed_14, 0) == wed_14);
  // Ten working hours end exactly at Thursday 00:00; one more millisecond is still Thursday.
  CHECK(shown(cal.add_working_time(wed_14, 10 * hour_ms)) == "1405/09/05 00:00");
  // Thursday 20:00 + 4 h: Thursday ends after 4 h, so the deadline is the end of Thursday,
  // i.e. Friday 00:00 (the first instant of the weekend), not a working instant after it.
  const timestamp_ms thu_20 = at("1405/09/05 20:00");
  const timestamp_ms thu_end = cal.add_working_time(thu_20, 4 * hour_ms);
  CHECK(thu_end == at("1405/09/06 00:00"));
  // 4 h + 1 ms: Friday is skipped, the last millisecond falls on Saturday.
  CHECK(cal.add_working_time(thu_20, 4 * hour_ms + 1) == at("1405/09/07 00:00") + 1);
  // Starting on a Friday: the count starts at Saturday 00:00.
  CHECK(shown(cal.add_working_time(at("1405/09/06 09:00"), 24 * hour_ms)) == "1405/09/08 00:00");

  cal.set_weekend({thursday, friday});
  // Wed 10 h, Thu 0, Fri 0, Sat 24 (34), Sun 24 (58), Mon 14 (72): Monday 14:00.
  CHECK(shown(cal.add_working_time(wed_14, 72 * hour_ms)) == "1405/09/09 14:00");
}

// ---- The shipped holiday files -----------------------------------------------------------------

TEST_CASE("the shipped calendar/ files load: 26 days off in 1405 and 26 in 1406, with their names") {
  const work_calendar cal = shipped();
  int in_1405 = 0, in_1406 = 0, other = 0;
  for (const auto& [day, name] : cal.holidays()) {
    CHECK(is_valid(day));
    CHECK_FALSE(name.empty());
    // The name is the English field only (the Persian one is the third field).
    CHECK(name.find('\t') == std::string::npos);
    (day.year == 1405 ? in_1405 : day.year == 1406 ? in_1406 : other) += 1;
  }
  CHECK(in_1405 == 26);  // "Days off in this file: 26" in each header
  CHECK(in_1406 == 26);
  CHECK(other == 0);
  CHECK(cal.weekend() == std::set<int>{friday});

  CHECK(cal.holiday_name(g({1405, 1, 1})) == "Nowruz / Eid al-Fitr holiday");
  CHECK(cal.holiday_name(g({1405, 3, 14})) == "Death of Imam Khomeini / Eid al-Ghadir");
  CHECK(cal.holiday_name(g({1406, 1, 13})) == "Nature Day (Sizdah Bedar) / Martyrdom of Imam Sadiq");
  CHECK(cal.holiday_name(g({1405, 11, 22})) == "Victory of the Islamic Revolution");
  CHECK(cal.holiday_name(g({1405, 9, 4})) == "");

  // The ten solar holidays of both years are there, on the days README lists.
  for (int year : {1405, 1406}) {
    for (const jalali_date d : {jalali_date{year, 1, 1}, jalali_date{year, 1, 2}, jalali_date{year, 1, 3},
                                jalali_date{year, 1, 4}, jalali_date{year, 1, 12}, jalali_date{year, 1, 13},
                                jalali_date{year, 3, 14}, jalali_date{year, 3, 15}, jalali_date{year, 11, 22},
                                jalali_date{year, 12, 29}}) {
      INFO(format_date(d));
      CHECK_FALSE(cal.is_working_day(g(d)));
      CHECK_FALSE(cal.holiday_name(g(d)).empty());
    }
  }
  // A holiday on a working weekday is off; the day after is back at work.
  REQUIRE(weekday_of({1405, 10, 1}) == tuesday);  // Birth of Imam Ali, 2026-12-22
  CHECK_FALSE(cal.is_working_day(g({1405, 10, 1})));
  CHECK(cal.is_working_day(g({1405, 10, 2})));
  CHECK(cal.holidays().count({1405, 10, 1}) == 1);
}

TEST_CASE("the turn of the year: 29 Esfand 1405 is the last day and a holiday, then Nowruz 1406") {
  const work_calendar cal = shipped();
  CHECK(jalali_month_length(1405, 12) == 29);
  CHECK_FALSE(is_valid(jalali_date{1405, 12, 30}));
  REQUIRE(g({1405, 12, 29}) == civil_date{2027, 3, 20});
  REQUIRE(g({1406, 1, 1}) == civil_date{2027, 3, 21});
  REQUIRE(weekday_of({1405, 12, 27}) == thursday);
  REQUIRE(weekday_of({1405, 12, 28}) == friday);
  REQUIRE(weekday_of({1405, 12, 29}) == saturday);
  REQUIRE(weekday_of({1406, 1, 1}) == sunday);
  REQUIRE(weekday_of({1406, 1, 5}) == thursday);

  CHECK(cal.holiday_name(g({1405, 12, 29})) == "Nationalisation of the oil industry");
  CHECK(cal.holiday_name(g({1406, 1, 1})) == "Nowruz");
  // From Thursday 27 Esfand every day is off until Thursday 5 Farvardin: Fri 28 (weekend),
  // Sat 29 (oil), Sun 1 - Wed 4 Farvardin (Nowruz).
  CHECK(cal.is_working_day(g({1405, 12, 27})));
  for (int d = 28; d <= 29; ++d) CHECK_FALSE(cal.is_working_day(g({1405, 12, d})));
  for (int d = 1; d <= 4; ++d) CHECK_FALSE(cal.is_working_day(g({1406, 1, d})));
  CHECK(cal.is_working_day(g({1406, 1, 5})));

  // One working day after Thursday 27 Esfand is Thursday 5 Farvardin, a week later.
  CHECK(shown(cal.add_working_days(at("1405/12/27 09:30"), 1)) == "1406/01/05 09:30");
  // 24 working hours from Thursday 27 Esfand 12:00: 12 h that Thursday, nothing until Thursday
  // 5 Farvardin, 12 h of it.
  CHECK(shown(cal.add_working_time(at("1405/12/27 12:00"), 24 * hour_ms)) == "1406/01/05 12:00");
}

TEST_CASE("a deadline in working days from 28 Esfand 1405 jumps over Nowruz and 12-13 Farvardin") {
  const work_calendar cal = shipped();
  // 1406 Farvardin: Thu 5 work, Fri 6 weekend, Sat 7 .. Wed 11 work, Thu 12 Islamic Republic
  // Day, Fri 13 Sizdah Bedar, Sat 14 work.
  REQUIRE(weekday_of({1406, 1, 7}) == saturday);
  REQUIRE(weekday_of({1406, 1, 12}) == thursday);
  REQUIRE(weekday_of({1406, 1, 14}) == saturday);
  const timestamp_ms start = at("1405/12/28 10:00");
  CHECK(shown(cal.add_working_days(start, 1)) == "1406/01/05 10:00");
  CHECK(shown(cal.add_working_days(start, 2)) == "1406/01/07 10:00");
  // 5 (1), 7 (2), 8 (3), 9 (4), 10 (5), 11 (6), 14 (7).
  CHECK(shown(cal.add_working_days(start, 6)) == "1406/01/11 10:00");
  CHECK(shown(cal.add_working_days(start, 7)) == "1406/01/14 10:00");

  // With Thursday off too, Thursday 5 Farvardin no longer counts:
  // 7 (1), 8 (2), 9 (3), 10 (4), 11 (5), 14 (6), 15 (7).
  work_calendar thu_fri = cal;
  thu_fri.set_weekend({thursday, friday});
  CHECK(shown(thu_fri.add_working_days(start, 1)) == "1406/01/07 10:00");
  CHECK(shown(thu_fri.add_working_days(start, 7)) == "1406/01/15 10:00");

  // Without holidays the same count ends a week earlier: Sat 29 (1), Sun 1 .. Thu 5 (2-6),
  // Sat 7 (7).
  work_calendar bare;
  CHECK(shown(bare.add_working_days(start, 7)) == "1406/01/07 10:00");
}

TEST_CASE("Nowruz 1405 with the missing 1404 holiday added by hand") {
  // 1404 has no shipped file: 29 Esfand 1404 (oil nationalisation) is added by hand.
  work_calendar cal = shipped();
  REQUIRE(cal.holidays().count({1404, 12, 29}) == 0);
  cal.add_holiday({1404, 12, 29}, "Nationalisation of the oil industry");
  CHECK(jalali_month_length(1404, 12) == 29);
  REQUIRE(g({1404, 12, 28}) == civil_date{2026, 3, 19});
  REQUIRE(weekday_of({1404, 12, 28}) == thursday);
  REQUIRE(weekday_of({1404, 12, 29}) == friday);
  REQUIRE(weekday_of({1405, 1, 1}) == saturday);
  REQUIRE(weekday_of({1405, 1, 5}) == wednesday);
  REQUIRE(weekday_of({1405, 1, 12}) == wednesday);
  REQUIRE(weekday_of({1405, 1, 15}) == saturday);
  // From Thursday 28 Esfand 1404: Fri 29 off, 1-4 Farvardin off, Wed 5 (1), Thu 6 (2),
  // Fri 7 off, Sat 8 (3), Sun 9 (4), Mon 10 (5), Tue 11 (6), Wed 12 and Thu 13 off, Fri 14
  // weekend, Sat 15 (7).
  const timestamp_ms start = at("1404/12/28 16:00");
  CHECK(shown(cal.add_working_days(start, 1)) == "1405/01/05 16:00");
  CHECK(shown(cal.add_working_days(start, 7)) == "1405/01/15 16:00");
  // A second name for the same day is kept beside the first.
  cal.add_holiday({1404, 12, 29}, "Last day of the year");
  CHECK(cal.holiday_name(g({1404, 12, 29})) == "Nationalisation of the oil industry / Last day of the year");
}

// ---- Holiday file format -------------------------------------------------------------------------

struct holiday_file {
  temp_dir dir;
  std::filesystem::path write(const std::string& name, const std::string& text) {
    const auto p = dir.path() / name;
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }
};

TEST_CASE("holiday files: comments, blank lines and CRLF are ignored; names are the English field") {
  holiday_file f;
  const auto p = f.write("holidays-1405.txt",
                         "# a comment\n"
                         "\n"
                         "1405/01/01\tNowruz\tنوروز\n"
                         "#1405/01/02\tcommented out\n"
                         "\r\n"
                         "1405/12/29\tOil\tنفت\r\n"
                         "1405/05/12\t\tاربعین\n");
  work_calendar cal;
  auto s = cal.add_holiday_file(p);
  REQUIRE_MESSAGE(s.has_value(), s.error().message());
  CHECK(cal.holidays().size() == 3);
  CHECK(cal.holiday_name(g({1405, 1, 1})) == "Nowruz");
  CHECK(cal.holiday_name(g({1405, 1, 2})) == "");
  CHECK(cal.holiday_name(g({1405, 12, 29})) == "Oil");  // no stray '\r'
  CHECK(cal.holiday_name(g({1405, 5, 12})) == "holiday");  // an empty English name
}

TEST_CASE("holiday files: an impossible date is an error naming the file and the line") {
  holiday_file f;
  // Esfand 1405 has 29 days.
  const auto p = f.write("holidays-1405.txt",
                         "# header\n"
                         "1405/01/01\tNowruz\tنوروز\n"
                         "\n"
                         "1405/12/30\tNo such day\tروز\n");
  work_calendar cal;
  auto s = cal.add_holiday_file(p);
  REQUIRE_FALSE(s.has_value());
  CHECK(s.error().code() == errc::invalid_argument);
  CHECK(s.error().rule().find("holidays-1405.txt line 4") != std::string::npos);
  CHECK(s.error().rule().find("1405/12/30") != std::string::npos);

  for (const char* bad : {"1405/13/01\tx\n", "1405/00/10\tx\n", "1405/07/31\tx\n", "tomorrow\tx\n",
                          "1405-01-01\tx\n", "\tx\n"}) {
    CAPTURE(bad);
    holiday_file g2;
    work_calendar c2;
    auto r = c2.add_holiday_file(g2.write("holidays-1405.txt", bad));
    CHECK_FALSE(r.has_value());
    if (!r) CHECK(r.error().rule().find("line 1") != std::string::npos);
  }
  // load_folder stops at the first bad file and names it.
  holiday_file folder;
  folder.write("holidays-1405.txt", "1405/01/01\tNowruz\n");
  folder.write("holidays-1406.txt", "1406/01/01\tNowruz\n1406/07/31\tbad\n");  // Mehr has 30 days
  folder.write("README.md", "not a holiday file\n");
  auto loaded = work_calendar::load_folder(folder.dir.path());
  REQUIRE_FALSE(loaded.has_value());
  CHECK(loaded.error().rule().find("holidays-1406.txt line 2") != std::string::npos);
  // A missing file or folder is not_found.
  work_calendar c3;
  CHECK(c3.add_holiday_file(folder.dir.path() / "holidays-1300.txt").error().code() == errc::not_found);
}

TEST_CASE("holiday files: only holidays-*.txt files are read") {
  holiday_file folder;
  folder.write("holidays-1405.txt", "1405/01/01\tNowruz\n");
  folder.write("notes.txt", "this is not a holiday file\n");
  folder.write("holidays-1406.txt.bak", "garbage\n");
  auto loaded = work_calendar::load_folder(folder.dir.path());
  REQUIRE_MESSAGE(loaded.has_value(), loaded.error().message());
  CHECK(loaded->holidays().size() == 1);
}

// calendar/README.md: "Each holiday is one line of three fields separated by a single TAB".
// Regression: this once went wrong.
TEST_CASE("holiday files: a line without a TAB is an error naming the line") {
  holiday_file f;
  const auto p = f.write("holidays-1405.txt",
                         "1405/01/01\tNowruz\tنوروز\n"
                         "1405/01/02 Nowruz holiday تعطیلات نوروز\n");
  work_calendar cal;
  auto s = cal.add_holiday_file(p);
  CHECK_FALSE(s.has_value());
  if (!s) CHECK(s.error().rule().find("line 2") != std::string::npos);
  else CHECK_MESSAGE(cal.holiday_name(g({1405, 1, 2})) != "holiday", "the line was read as a holiday named \"holiday\"");
}

// ---- Deadlines through the domain ----------------------------------------------------------------

const actor op{fb::Role_operator_, "ops-test"};
const actor scheduler{fb::Role_system, "scheduler"};

document_input doc(fb::DocumentKind kind, const std::string& content) {
  return document_input{kind, sha256(content), "file.pdf", content.size()};
}

// An engine on a fresh embedded log with the shipped calendar, a shop, an agency and a consumer.
struct domain {
  temp_dir dir;
  fixed_clock clock;
  case_rules rules;
  std::unique_ptr<event_log> log;
  std::unique_ptr<engine> eng;
  actor consumer;
  int next = 0;

  explicit domain(timestamp_ms start, bool thursday_off = false) : clock(start) {
    rules.calendar = shipped();
    if (thursday_off) rules.calendar.set_weekend({thursday, friday});
    auto l = open_embedded_log(dir.path() / "log");
    REQUIRE_MESSAGE(l.has_value(), l.error().message());
    log = std::move(l).value();
    auto e = engine::open(*log, clock, rules);
    REQUIRE_MESSAGE(e.has_value(), e.error().message());
    eng = std::move(e).value();
    act(op, register_business{"1001", "kalaland.ir", "کالالند", 3});
    act(op, register_agency{"consumer-protection", "سازمان حمایت",
                            {fb::Category_defective, fb::Category_non_delivery, fb::Category_other}});
    consumer = {fb::Role_consumer, act({fb::Role_consumer, ""}, register_consumer{"5260181591", "09121234567", "سارا"}).stream};
  }
  ~domain() {
    eng.reset();
    log.reset();
  }
  command_outcome act(const actor& who, const command& cmd) {
    auto r = eng->execute(who, "w-" + std::to_string(++next), cmd);
    REQUIRE_MESSAGE(r.has_value(), command_name(cmd) << ": " << r.error().message());
    return std::move(r).value();
  }
  // What the command would write now, decided on the engine's state (nothing is written).
  decision decided(const actor& who, const command& cmd, timestamp_ms now) {
    auto d = decide(eng->snapshot().value(), who, cmd, now, rules, "probe-" + std::to_string(++next));
    REQUIRE_MESSAGE(d.has_value(), command_name(cmd) << ": " << d.error().message());
    return std::move(d).value();
  }
  // Files a complete defective-goods complaint (invoice and photo) at the clock's time.
  std::string file_complete(const std::string& order) {
    return act(consumer, file_case{"1001", order, static_cast<std::int32_t>(days_from_civil(tehran_date(clock.now()))) - 3,
                                   1'000'000, fb::Category_defective, "broken", fb::RemedyKind_refund,
                                   {doc(fb::DocumentKind_invoice, "inv " + order), doc(fb::DocumentKind_photo, "photo " + order)}})
        .stream;
  }
};

TEST_CASE("a case forwarded on Wednesday 14:00 climbs the answer ladder in working hours") {
  const timestamp_ms wed_14 = at("1405/09/04 14:00");
  domain d(wed_14);
  const std::string c = d.file_complete("ORD-1");
  auto accepted = d.decided(op, accept_case{c, std::nullopt, fb::Route_negotiation, "", ""}, wed_14);
  REQUIRE(accepted.events.size() == 2);
  const auto* fwd = accepted.events[1].AsForwardedToBusiness();
  REQUIRE(fwd != nullptr);
  // 72 working hours: Wed 10, Thu 24, (Fri), Sat 24, Sun 14 -> Sunday 14:00.
  CHECK(shown(static_cast<timestamp_ms>(fwd->response_due_ms)) == "1405/09/08 14:00");

  // Counted on the clock instead (ladder_in_working_hours off): Saturday 14:00.
  case_rules clock_hours = d.rules;
  clock_hours.ladder_in_working_hours = false;
  auto plain = decide(d.eng->snapshot().value(), op, accept_case{c, std::nullopt, fb::Route_negotiation, "", ""}, wed_14,
                      clock_hours, "probe-plain");
  REQUIRE(plain.has_value());
  CHECK(shown(static_cast<timestamp_ms>(plain->events[1].AsForwardedToBusiness()->response_due_ms)) == "1405/09/07 14:00");

  d.act(op, accept_case{c, std::nullopt, fb::Route_negotiation, "", ""});
  const timestamp_ms first = at("1405/09/08 14:00");
  REQUIRE(d.eng->snapshot().value().find_case(c)->deadline_of(deadline_kind::response)->due == first);
  // Nothing a moment before the first rung; the rung at its time.
  CHECK(d.decided(scheduler, apply_deadlines{c}, first - 1).events.empty());
  auto rung1 = d.decided(scheduler, apply_deadlines{c}, first);
  REQUIRE(rung1.events.size() == 1);
  REQUIRE(rung1.events[0].AsResponseDelayed() != nullptr);
  CHECK(rung1.events[0].AsResponseDelayed()->level == 1);
  // 48 working hours from Sunday 14:00: Sun 10, Mon 24, Tue 14 -> Tuesday 14:00.
  CHECK(shown(static_cast<timestamp_ms>(rung1.events[0].AsResponseDelayed()->next_due_ms)) == "1405/09/10 14:00");

  // Through the engine's scheduler: each rung once, at its time.
  d.clock.set(first);
  auto t1 = d.eng->tick();
  REQUIRE(t1.has_value());
  REQUIRE(t1->applied.size() == 1);
  const timestamp_ms second = at("1405/09/10 14:00");
  CHECK(d.eng->snapshot().value().find_case(c)->deadline_of(deadline_kind::response)->due == second);
  d.clock.set(second);
  REQUIRE(d.eng->tick().has_value());
  // 24 working hours from Tuesday 14:00: Tue 10, Wed 14 -> Wednesday 14:00.
  const timestamp_ms last = at("1405/09/11 14:00");
  CHECK(d.eng->snapshot().value().find_case(c)->response_level == 2);
  CHECK(d.eng->snapshot().value().find_case(c)->deadline_of(deadline_kind::response)->due == last);
  d.clock.set(last - 1);
  REQUIRE(d.eng->tick().has_value());
  CHECK_FALSE(d.eng->snapshot().value().find_case(c)->unanswered);
  d.clock.set(last);
  REQUIRE(d.eng->tick().has_value());
  CHECK(d.eng->snapshot().value().find_case(c)->unanswered);
  CHECK(d.eng->snapshot().value().find_case(c)->status == case_status::awaiting_mediator);
}

TEST_CASE("with Thursday and Friday off the first rung of a Wednesday case is on Monday") {
  const timestamp_ms wed_14 = at("1405/09/04 14:00");
  domain d(wed_14, /*thursday_off=*/true);
  const std::string c = d.file_complete("ORD-1");
  auto accepted = d.decided(op, accept_case{c, std::nullopt, fb::Route_negotiation, "", ""}, wed_14);
  // Wed 10, (Thu, Fri), Sat 24, Sun 24, Mon 14 -> Monday 14:00.
  CHECK(shown(static_cast<timestamp_ms>(accepted.events[1].AsForwardedToBusiness()->response_due_ms)) == "1405/09/09 14:00");
}

TEST_CASE("the documents deadline is 7 working days, over weekends and holidays") {
  SUBCASE("filed on a Wednesday of Azar: one Friday in between") {
    const timestamp_ms wed_14 = at("1405/09/04 14:00");
    domain d(wed_14);
    // A defective-goods complaint without its photo waits for documents.
    auto filed = d.decided(d.consumer,
                           file_case{"1001", "ORD-D", static_cast<std::int32_t>(days_from_civil(g({1405, 9, 1}))), 1,
                                     fb::Category_defective, "broken", fb::RemedyKind_refund,
                                     {doc(fb::DocumentKind_invoice, "inv ORD-D")}},
                           wed_14);
    REQUIRE(filed.events.back().AsDocumentsRequested() != nullptr);
    // Thu 5 (1), Sat 7 (2), Sun 8 (3), Mon 9 (4), Tue 10 (5), Wed 11 (6), Thu 12 (7).
    CHECK(shown(static_cast<timestamp_ms>(filed.events.back().AsDocumentsRequested()->due_ms)) == "1405/09/12 14:00");
  }
  SUBCASE("filed before Eid al-Fitr 1405: 18 and 19 Esfand do not count") {
    const timestamp_ms sun = at("1405/12/16 10:00");
    REQUIRE(weekday_of({1405, 12, 16}) == sunday);
    REQUIRE(weekday_of({1405, 12, 18}) == tuesday);
    domain d(sun);
    CHECK(d.rules.calendar.holiday_name(g({1405, 12, 18})) == "Eid al-Fitr");
    // An operator asks for a tracking record on a complete case: 7 working days again.
    const std::string c = d.file_complete("ORD-E");
    auto asked = d.decided(op, request_documents{c, {fb::DocumentKind_tracking_record}, "tracking code"}, sun);
    REQUIRE(asked.events.size() == 1);
    REQUIRE(asked.events[0].AsDocumentsRequested() != nullptr);
    // Mon 17 (1), Tue 18 and Wed 19 Eid, Thu 20 (2), Fri 21, Sat 22 (3), Sun 23 (4), Mon 24 (5),
    // Tue 25 (6), Wed 26 (7).
    CHECK(shown(static_cast<timestamp_ms>(asked.events[0].AsDocumentsRequested()->due_ms)) == "1405/12/26 10:00");
  }
}

TEST_CASE("the agency has 7 working days to acknowledge a referral, not counting Nowruz") {
  const timestamp_ms mon = at("1405/12/24 10:00");
  REQUIRE(weekday_of({1405, 12, 24}) == monday);
  SUBCASE("Friday weekend") {
    domain d(mon);
    const std::string c = d.file_complete("ORD-R");
    auto referred = d.decided(op, accept_case{c, std::nullopt, fb::Route_referral, "consumer-protection", "direct"}, mon);
    REQUIRE(referred.events.size() == 2);
    const auto* r = referred.events[1].AsReferredToAgency();
    REQUIRE(r != nullptr);
    // Tue 25 (1), Wed 26 (2), Thu 27 (3), Fri 28, Sat 29 oil, Sun 1 - Wed 4 Nowruz, Thu 5 (4),
    // Fri 6, Sat 7 (5), Sun 8 (6), Mon 9 (7).
    CHECK(shown(static_cast<timestamp_ms>(r->acknowledge_due_ms)) == "1406/01/09 10:00");
    // The decision deadline is 30 calendar days.
    CHECK(static_cast<timestamp_ms>(r->decision_due_ms) == mon + 30 * day_ms);

    // Through the engine: the acknowledgement is overdue exactly then, once.
    d.act(op, accept_case{c, std::nullopt, fb::Route_referral, "consumer-protection", "direct"});
    const timestamp_ms due = at("1406/01/09 10:00");
    d.clock.set(due - 1);
    auto before = d.eng->tick();
    REQUIRE(before.has_value());
    CHECK(before->applied.empty());
    d.clock.set(due);
    auto overdue = d.eng->tick();
    REQUIRE(overdue.has_value());
    REQUIRE(overdue->applied.size() == 1);
    REQUIRE(overdue->applied[0].events.size() == 1);
    const auto* o = overdue->applied[0].events[0].payload.AsReferralOverdue();
    REQUIRE(o != nullptr);
    CHECK(o->deadline == fb::ReferralDeadline_acknowledgement);
    CHECK(static_cast<timestamp_ms>(o->due_ms) == due);
  }
  SUBCASE("Thursday and Friday weekend") {
    domain d(mon, /*thursday_off=*/true);
    const std::string c = d.file_complete("ORD-R");
    auto referred = d.decided(op, accept_case{c, std::nullopt, fb::Route_referral, "consumer-protection", "direct"}, mon);
    // Tue 25 (1), Wed 26 (2), Thu 27 off, …, Thu 5 off, Fri 6, Sat 7 (3), Sun 8 (4), Mon 9 (5),
    // Tue 10 (6), Wed 11 (7).
    CHECK(shown(static_cast<timestamp_ms>(referred.events[1].AsReferredToAgency()->acknowledge_due_ms)) ==
          "1406/01/11 10:00");
  }
}

}  // namespace
}  // namespace sazesh
