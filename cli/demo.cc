// The main job: a scripted run of the whole case lifecycle on a fresh embedded log, printing
// what happened. Six complaints take the paths the service promises: settled by negotiation;
// up the response ladder to unanswered and settled in mediation; mediation failed, referred,
// transferred and decided; refused as a duplicate; waiting for documents; reopened when the
// agreed remedy never came. Every step goes through the same engine.execute() as the CLI.
#include <fmt/format.h>
#include <fmt/ostream.h>
#include <stdlib.h>

#include <fstream>
#include <map>

#include "cli/app.h"
#include "cli/table.h"
#include "engine/domain/decide.h"
#include "engine/domain/describe.h"
#include "engine/log/document_store.h"
#include "engine/record/credential.h"
#include "projections/projector.h"
#include "projections/queries.h"

namespace sazesh::cli {
namespace {

class script {
 public:
  script(session& s, engine& eng, fixed_clock& clk, std::filesystem::path docs)
      : s_(s), eng_(eng), clock_(clk), docs_(std::move(docs)) {}

  void heading(std::string_view title) { fmt::print(s_.out, "\n── {} ──\n", title); }

  void at(std::string_view when) {
    auto t = parse_time("demo", when);
    if (!t) throw std::runtime_error("demo script has a bad time: " + std::string(when));
    clock_.set(*t);
  }

  // Runs a command that must succeed; returns the stream it acted on.
  std::string act(const actor& who, std::string_view what, const command& cmd) {
    auto out = eng_.execute(who, next_id(), cmd);
    if (!out) throw std::runtime_error(fmt::format("demo step \"{}\" failed: {}", what, out.error().message()));
    if (auto sealed = seal_attached_documents(s_, eng_, cmd, out->stream); !sealed)
      throw std::runtime_error(fmt::format("demo step \"{}\": {}", what, sealed.error().message()));
    print_step(who, what);
    for (const auto& e : out->events) fmt::print(s_.out, "      #{:<2} {}\n", e.sequence.value(), describe(e));
    return out->stream;
  }

  // Runs a command that the engine must refuse, and shows the refusal.
  void refused(const actor& who, std::string_view what, const command& cmd) {
    auto out = eng_.execute(who, next_id(), cmd);
    if (out) throw std::runtime_error(fmt::format("demo step \"{}\" should have been refused", what));
    print_step(who, what);
    fmt::print(s_.out, "      refused ({}): {}\n", to_string(out.error().code()), out.error().message());
  }

  void tick(std::string_view why) {
    auto report = eng_.tick();
    if (!report) throw std::runtime_error("tick failed: " + report.error().message());
    fmt::print(s_.out, "  [{}] scheduler tick ({}): {} case(s) due\n", stamp(), why, report->cases_due);
    for (const auto& o : report->applied)
      for (const auto& e : o.events) fmt::print(s_.out, "      {} #{:<2} {}\n", o.stream, e.sequence.value(), describe(e));
  }

  document_input document(fb::DocumentKind kind, std::string name, std::string_view content) {
    document_store store(docs_);
    auto d = store.put_bytes(content, "document");
    if (!d) throw std::runtime_error(d.error().message());
    return document_input{kind, d->sha256, std::move(name), d->size_bytes};
  }

  // Moves the clock to `after` past the earliest deadline of a case (the scheduler's next
  // moment of interest), so the script follows the real calendar, weekends and holidays included.
  void after_deadline(const std::string& case_id, timestamp_ms after) {
    auto found = eng_.find_case(case_id);
    if (!found) throw std::runtime_error(found.error().message());
    const std::optional<case_state>& c = *found;
    if (!c || c->deadlines.empty()) throw std::runtime_error("demo: case " + case_id + " has no deadline");
    timestamp_ms due = c->deadlines.front().due;
    for (const auto& d : c->deadlines) due = std::min(due, d.due);
    clock_.set(due + after);
  }

  std::string stamp() const {
    return fmt::format("{} | {}", format_jalali(clock_.now(), s_.jalali_digits), format_gregorian(clock_.now()));
  }

 private:
  std::string next_id() { return fmt::format("demo-{:03}", ++n_); }
  void print_step(const actor& who, std::string_view what) {
    fmt::print(s_.out, "  [{}] {}:{} {}\n", stamp(), role_name(who.role), who.id.empty() ? "(new)" : who.id, what);
  }

  session& s_;
  engine& eng_;
  fixed_clock& clock_;
  std::filesystem::path docs_;
  int n_ = 0;
};

// The end of the job: the projections built from the same log, as an analyst and the
// agencies see them.
void print_read_side(session& s, event_log& log) {
  namespace pj = sazesh::projections;
  auto store = pj::projection_store::open(s.projections_dir(), pj::store_mode::read_write);
  if (!store) throw std::runtime_error(store.error().message());
  pj::projector p(log, **store);
  auto n = p.catch_up();
  if (!n) throw std::runtime_error(n.error().message());
  fmt::print(s.out, "\n── Business scorecards (projected from {} events) ──\n", *n);
  auto cards = pj::all_scorecards(**store);
  if (!cards) throw std::runtime_error(cards.error().message());
  table t;
  t.columns = {"business", "domain", "complaints", "open", "timely", "late", "delays", "unanswered",
               "by_negotiation", "by_mediation", "mediation_failed", "referred", "upheld", "satisfaction"};
  for (const auto& c : *cards)
    t.add({txt(c.business_id), txt(c.domain), num(c[pj::counter::complaints]), num(c[pj::counter::open_cases]),
           num(c[pj::counter::timely_responses]), num(c[pj::counter::late_responses]),
           num(c[pj::counter::delays_1] + c[pj::counter::delays_2]), num(c[pj::counter::unanswered]),
           num(c[pj::counter::settled_negotiation]), num(c[pj::counter::settled_mediation]),
           num(c[pj::counter::mediation_failed]), num(c[pj::counter::referred]), num(c[pj::counter::decisions_upheld]),
           {fmt::format("{:.1f}", c.satisfaction()), true}});
  print(s.out, t, output_format::text);
  for (const char* agency : {"consumer-protection", "tazirat", "cyber-police"}) {
    auto q = pj::agency_queue(**store, agency, true);
    if (!q) throw std::runtime_error(q.error().message());
    fmt::print(s.out, "\n── Cases {} has received (held now or passed on) ──\n", agency);
    table qt;
    qt.columns = {"case", "status", "business", "category", "received_from", "acknowledged", "left_to", "verdict"};
    for (const auto& e : *q)
      qt.add({txt(e.row.state.id), txt(to_string(e.row.state.status)), txt(e.row.state.business_id),
              txt(fb::EnumNameCategory(e.row.state.category)), txt(e.dossier.received_from),
              txt(e.dossier.acknowledged_at ? format_jalali(e.dossier.acknowledged_at, s.jalali_digits) : ""),
              txt(e.dossier.left_to), txt(e.dossier.verdict ? fb::EnumNameAgencyVerdict(*e.dossier.verdict) : "")});
    print(s.out, qt, output_format::text);
  }
}

// The log's Merkle tree and its first signed checkpoint, with a key made for this folder.
void sign_the_log(script& run, session& s, event_log& log) {
  run.heading("Tamper evidence");
  auto made = s.sign_log(log, true);  // the main job wrote this log whole: it makes the key
  if (!made || made->empty()) throw std::runtime_error(made ? "no checkpoint signed" : made.error().message());
  auto store = s.open_checkpoints();
  if (!store) throw std::runtime_error(store.error().message());
  auto key = (*store)->signer();
  if (!key || !*key) throw std::runtime_error("the checkpoint's key is not kept with it");
  const std::uint64_t size = made->front().size;
  fmt::print(s.out, "  the log's Merkle tree (RFC 6962) over {} events, signed in a checkpoint with a key made for this folder:\n", size);
  std::string_view text = made->front().note;
  while (!text.empty()) {
    const auto eol = text.find('\n');
    fmt::print(s.out, "    | {}\n", text.substr(0, eol));
    text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
  }
  fmt::print(s.out, "  anyone with the verifier key checks it (sazesh keys show):\n    {}\n", verifier_key_text(**key));
}

int run_demo(session& s, const parsed_args& args) {
  if (args.has("data-dir-fresh")) s.data_dir = args.get("data-dir-fresh");
  std::error_code ec;
  if (!std::filesystem::exists(s.data_dir / "log", ec) && s.data_dir == "sazesh-data") {
    // No folder chosen: make a fresh one so the job never mixes with earlier data.
    std::string tmpl = (std::filesystem::temp_directory_path() / "sazesh-demo-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) return s.fail(error(errc::io, "data_dir", "cannot create a folder in /tmp"));
    s.data_dir = tmpl;
  }
  if (std::filesystem::exists(s.data_dir, ec) && !std::filesystem::is_empty(s.data_dir, ec))
    return s.fail(error(errc::already_exists, "data_dir",
                        fmt::format("{} is not empty; the main job needs a fresh folder", s.data_dir.string())));

  auto log = open_embedded_log(s.data_dir / "log");
  if (!log) return s.fail(log.error());
  fixed_clock clock(0);
  auto rules = s.rules();
  if (!rules) return s.fail(rules.error());
  // The folder's keys: the main job runs on the embedded log, whatever cluster $SAZESH_KAFKA names.
  auto keys = open_key_folder(s.data_dir / "keys");
  if (!keys) return s.fail(keys.error());
  engine_options options;
  options.keys = keys->get();
  auto opened = engine::open(**log, clock, std::move(*rules), options);
  if (!opened) return s.fail(opened.error());
  engine& eng = **opened;
  script run(s, eng, clock, s.data_dir / "documents");

  fmt::print(s.out, "Sazesh main job: six complaints through the whole lifecycle, on the embedded log\n");
  fmt::print(s.out, "data folder: {}\n", s.data_dir.string());

  try {
    const actor op{fb::Role_operator_, "ops-maryam"};
    run.heading("Registration");
    run.at("1405/08/10 09:00");
    const actor kalaland{fb::Role_business, run.act(op, "registers the shop کالالند", register_business{"1001", "kalaland.ir", "فروشگاه کالالند", 4})};
    const actor shikposh{fb::Role_business, run.act(op, "registers the shop شیک‌پوش", register_business{"1002", "shikposh.ir", "پوشاک شیک‌پوش", 2})};
    const actor tekno{fb::Role_business, run.act(op, "registers the shop تکنوبازار", register_business{"1003", "tekno-bazar.ir", "تکنوبازار", 3})};
    run.act(op, "registers an agency", register_agency{"consumer-protection", "سازمان حمایت مصرف‌کنندگان و تولیدکنندگان",
        {fb::Category_non_delivery, fb::Category_defective, fb::Category_not_as_described, fb::Category_refund_refused,
         fb::Category_warranty, fb::Category_service, fb::Category_other}});
    run.act(op, "registers an agency", register_agency{"tazirat", "سازمان تعزیرات حکومتی",
        {fb::Category_pricing, fb::Category_refund_refused, fb::Category_non_delivery, fb::Category_not_as_described}});
    run.act(op, "registers an agency", register_agency{"cyber-police", "پلیس فتا", {fb::Category_fraud, fb::Category_privacy}});
    const actor mediator{fb::Role_mediator, run.act(op, "registers a mediator", register_mediator{"زهرا کریمی", "09351112233"})};
    const actor sara{fb::Role_consumer, run.act({fb::Role_consumer, ""}, "registers herself", register_consumer{"5260181591", "09121234567", "سارا احمدی"})};
    const actor reza{fb::Role_consumer, run.act({fb::Role_consumer, ""}, "registers himself", register_consumer{"0830166130", "09187654321", "رضا موسوی"})};
    const actor neda{fb::Role_consumer, run.act({fb::Role_consumer, ""}, "registers herself", register_consumer{"1860913903", "09301112222", "ندا حسینی"})};
    const actor omid{fb::Role_consumer, run.act({fb::Role_consumer, ""}, "registers himself", register_consumer{"9960308243", "09123334444", "امید رحیمی"})};
    const actor leila{fb::Role_consumer, run.act({fb::Role_consumer, ""}, "registers herself", register_consumer{"6281948211", "09125556666", "لیلا نادری"})};
    const auto date = [](const char* text) { return static_cast<std::int32_t>(days_from_civil(*parse_date("purchase_date", text))); };

    run.heading("1. Settled by negotiation");
    run.at("1405/08/11 10:15");
    const std::string a = run.act(sara, "files a complaint: the blender arrived broken", file_case{
        "kalaland.ir", "KL-88213", date("1405/08/05"), 48'500'000, fb::Category_defective,
        "مخلوط‌کن رسید ولی بدنه‌اش ترک داشت و روشن نمی‌شود.", fb::RemedyKind_replacement,
        {run.document(fb::DocumentKind_invoice, "factor-KL-88213.pdf", "invoice KL-88213: blender, 48,500,000 rials"),
         run.document(fb::DocumentKind_photo, "cracked-blender.jpg", "photo: the cracked body of the blender")}});
    run.at("1405/08/11 12:00");
    run.act(op, "accepts it in triage", accept_case{a, std::nullopt, fb::Route_negotiation, "", "مدارک کامل است"});
    run.at("1405/08/12 09:30");
    run.act(kalaland, "answers within the first 72 hours", respond{a, "پوزش می‌خواهیم؛ کالای سالم جایگزین می‌شود."});
    run.act(kalaland, "offers a replacement", make_offer{a, fb::RemedyKind_replacement, 0, "ارسال مخلوط‌کن نو ظرف ۵ روز", 5});
    run.at("1405/08/12 11:00");
    run.act(sara, "accepts offer 1", accept_offer{a, 1});
    run.heading("4. Refused as a duplicate");
    run.refused(sara, "files the same order again", file_case{
        "1001", "KL-88213", date("1405/08/05"), 48'500'000, fb::Category_defective, "همان سفارش", fb::RemedyKind_refund, {}});
    run.heading("1. (continued)");
    run.at("1405/08/15 16:00");
    run.act(kalaland, "marks the replacement delivered", mark_remedy_fulfilled{a, "تحویل شد با کد رهگیری 5521"});
    run.at("1405/08/16 08:40");
    run.act(sara, "confirms she received it", confirm_remedy{a, "دستگاه نو سالم رسید"});
    run.act(sara, "rates the handling", rate_case{a, 5, true, "سریع و منصفانه"});

    run.heading("2. Up the response ladder to unanswered, settled in mediation");
    run.at("1405/08/11 14:00");
    const std::string b = run.act(reza, "files: the coat is not the one in the photos", file_case{
        "shikposh.ir", "SP-4410", date("1405/08/01"), 23'000'000, fb::Category_not_as_described,
        "پالتوی ارسالی رنگ و جنس دیگری دارد.", fb::RemedyKind_refund,
        {run.document(fb::DocumentKind_invoice, "SP-4410.pdf", "invoice SP-4410: wool coat"),
         run.document(fb::DocumentKind_photo, "coat.jpg", "photo: the coat that arrived")}});
    run.act(op, "accepts it", accept_case{b, std::nullopt, fb::Route_negotiation, "", ""});
    run.after_deadline(b, 30 * 60'000);
    run.tick("72 working hours after forwarding");
    run.after_deadline(b, 30 * 60'000);
    run.tick("48 working hours more");
    run.after_deadline(b, 30 * 60'000);
    run.tick("24 working hours more");
    run.tick("run again: nothing is emitted twice");
    run.act(op, "assigns a mediator", assign_mediator{b, mediator.id});
    run.at("1405/08/22 10:00");
    run.act(mediator, "writes to both parties", post_message{b, "جلسه آنلاین فردا ساعت ۱۰ برگزار می‌شود."});
    run.act(shikposh, "finally joins", post_message{b, "موجودی رنگ درخواستی تمام شده بود."});
    run.at("1405/08/24 10:45");
    run.act(mediator, "proposes a settlement", propose_settlement{b, "بازگشت کامل وجه پس از مرجوعی", fb::RemedyKind_refund, 23'000'000});
    run.act(mediator, "concludes: settled", conclude_mediation{b, fb::MediationOutcome_settled, "طرفین بازگشت وجه را پذیرفتند"});
    run.act(reza, "rates it", rate_case{b, 4, true, "دیر ولی درست"});

    run.heading("3. Mediation fails; referred, transferred and decided");
    run.at("1405/08/12 09:00");
    const std::string c = run.act(neda, "files: the refund for a returned laptop never came", file_case{
        "1003", "TB-77102", date("1405/07/20"), 610'000'000, fb::Category_refund_refused,
        "لپ‌تاپ را مرجوع کردم ولی وجه برگشت داده نشد.", fb::RemedyKind_refund,
        {run.document(fb::DocumentKind_invoice, "TB-77102.pdf", "invoice TB-77102: laptop, 610,000,000 rials"),
         run.document(fb::DocumentKind_payment_receipt, "receipt.png", "bank receipt 610,000,000 rials"),
         run.document(fb::DocumentKind_correspondence, "emails.txt", "emails about the return, 3 messages")}});
    run.act(op, "accepts it", accept_case{c, std::nullopt, fb::Route_negotiation, "", ""});
    run.at("1405/08/13 18:00");
    run.act(tekno, "responds", respond{c, "کالا آسیب‌دیده برگشته است؛ فقط ۵۰٪ قابل بازپرداخت است."});
    run.act(tekno, "offers a partial refund", make_offer{c, fb::RemedyKind_partial_refund, 305'000'000, "بازپرداخت نیمی از مبلغ", 10});
    run.at("1405/08/14 09:00");
    run.act(neda, "rejects offer 1", reject_offer{c, 1, "کالا سالم تحویل شد"});
    run.act(neda, "asks for mediation", request_mediation{c, "به توافق نرسیدیم"});
    run.act(op, "assigns the mediator", assign_mediator{c, mediator.id});
    run.at("1405/08/25 12:00");
    run.act(mediator, "concludes: failed", conclude_mediation{c, fb::MediationOutcome_failed, "فروشنده از بازپرداخت کامل خودداری کرد"});
    run.act(op, "refers the file", refer_case{c, "consumer-protection", "پرونده کامل برای رسیدگی"});
    run.at("1405/08/27 10:00");
    run.act({fb::Role_agency, "consumer-protection"}, "acknowledges", acknowledge_referral{c});
    run.act({fb::Role_agency, "consumer-protection"}, "transfers it",
            transfer_referral{c, "tazirat", "موضوع امتناع از استرداد وجه در صلاحیت تعزیرات است"});
    run.refused({fb::Role_agency, "consumer-protection"}, "tries to decide it after the transfer",
                decide_referral{c, fb::AgencyVerdict_upheld, "..."});
    run.at("1405/08/28 09:00");
    run.act({fb::Role_agency, "tazirat"}, "acknowledges", acknowledge_referral{c});
    run.at("1405/09/05 13:00");
    run.act({fb::Role_agency, "tazirat"}, "decides", decide_referral{c, fb::AgencyVerdict_upheld,
            "فروشنده به استرداد کامل وجه و جریمه محکوم شد"});

    run.heading("5. Waiting for documents");
    run.at("1405/09/01 11:00");
    const std::string e = run.act(omid, "files without the payment receipt", file_case{
        "kalaland.ir", "KL-90007", date("1405/08/20"), 9'900'000, fb::Category_non_delivery,
        "سفارش پس از دو هفته هنوز ارسال نشده است.", fb::RemedyKind_delivery,
        {run.document(fb::DocumentKind_invoice, "KL-90007.pdf", "invoice KL-90007: headphones")}});
    run.refused(op, "tries to accept it", accept_case{e, std::nullopt, fb::Route_negotiation, "", ""});

    run.heading("6. Reopened when the remedy was not delivered");
    run.at("1405/08/20 10:00");
    const std::string f = run.act(leila, "files: the watch stopped within warranty", file_case{
        "shikposh.ir", "SP-5120", date("1405/05/02"), 31'000'000, fb::Category_warranty,
        "ساعت در دوره گارانتی از کار افتاد.", fb::RemedyKind_repair,
        {run.document(fb::DocumentKind_invoice, "SP-5120.pdf", "invoice SP-5120: watch"),
         run.document(fb::DocumentKind_warranty_card, "warranty.jpg", "warranty card, 18 months")}});
    run.act(op, "accepts it", accept_case{f, std::nullopt, fb::Route_negotiation, "", ""});
    run.at("1405/08/21 09:00");
    run.act(shikposh, "responds", respond{f, "ساعت را برای تعمیر بفرستید."});
    run.act(shikposh, "offers a repair", make_offer{f, fb::RemedyKind_repair, 0, "تعمیر رایگان ظرف ۷ روز", 7});
    run.act(leila, "accepts", accept_offer{f, 1});
    run.at("1405/08/27 17:00");
    run.act(shikposh, "says the repair was delivered", mark_remedy_fulfilled{f, "ارسال شد"});
    run.after_deadline(f, 60 * 60'000);
    run.tick("the consumer did not object within 7 days");
    run.at("1405/09/07 19:30");
    run.act(leila, "reopens: the watch never came back", reopen_case{f, "ساعت تعمیرشده هرگز به دستم نرسید."});
    run.act(op, "assigns the mediator", assign_mediator{f, mediator.id});

    run.heading("Where every case stands");
    fmt::print(s.out, "  {:<14} {:<6} {:<20} {:>6}  {}\n", "case", "story", "status", "events", "consumer / business");
    const std::vector<std::pair<std::string, std::string>> stories{{a, "1"}, {b, "2"}, {c, "3"}, {e, "5"}, {f, "6"}};
    for (const auto& [id, story] : stories) {
      auto found = eng.find_case(id);
      if (!found || !*found) throw std::runtime_error("demo: lost case " + id);
      const case_state& k = **found;
      fmt::print(s.out, "  {:<14} {:<6} {:<20} {:>6}  {} / {}\n", id, story, to_string(k.status),
                 k.head.version.value(), k.consumer_id, k.business_id);
    }
    std::size_t total = 0;
    for (const auto& [id, story] : stories) {
      auto h = eng.history(id);
      if (!h) throw std::runtime_error(h.error().message());
      total += h->size();
    }
    fmt::print(s.out, "\n  every case history re-read from the log and its hash chain verified ({} events)\n", total);
    fmt::print(s.out, "  story 4 wrote nothing: the duplicate was refused and named the open case\n");
    // Sign-ins for the portal on this folder: one credential per person of the stories, issued
    // by the system, their tokens written beside the data (only for this demonstration folder).
    run.heading("Accounts for the portal");
    const std::vector<std::pair<actor, std::string>> people{
        {op, "کارشناس سامانه"}, {{fb::Role_auditor, "reza-audit"}, "حسابرس"}, {{fb::Role_analyst, "sara-stats"}, "تحلیلگر"},
        {kalaland, "فروشگاه کالالند"}, {shikposh, "پوشاک شیک‌پوش"}, {tekno, "تکنوبازار"}, {mediator, "زهرا کریمی"},
        {{fb::Role_agency, "consumer-protection"}, "سازمان حمایت"}, {{fb::Role_agency, "tazirat"}, "سازمان تعزیرات"},
        {sara, "سارا احمدی"}, {reza, "رضا موسوی"}, {neda, "ندا حسینی"}, {omid, "امید رحیمی"}, {leila, "لیلا نادری"}};
    const auto accounts_path = s.data_dir / "demo-accounts.txt";
    std::ofstream accounts(accounts_path);
    accounts << "# Tokens of the demo's people, to sign in to the portal (sazesh serve on this folder).\n"
                "# role:id\tname\ttoken\n";
    for (const auto& [who, name] : people) {
      const new_credential key = make_credential();
      auto issued = eng.execute({fb::Role_system, "demo"}, "demo-account:" + who.id,
                                issue_credential{key.key_id, who.role, who.id, key.secret_hash, "demo"});
      if (!issued) throw std::runtime_error("demo account: " + issued.error().message());
      accounts << role_name(who.role) << ':' << who.id << '\t' << name << '\t' << key.token << '\n';
    }
    accounts.close();
    if (!accounts) throw std::runtime_error("cannot write " + accounts_path.string());
    std::filesystem::permissions(accounts_path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write,
                                 std::filesystem::perm_options::replace);
    fmt::print(s.out, "  {} credentials issued; their tokens are in {}\n", people.size(), accounts_path.string());
    sign_the_log(run, s, **log);
    print_read_side(s, **log);
    fmt::print(s.out,
               "\nexplore it (reading is someone's too: here an auditor's):\n"
               "  sazesh --data-dir {0} --as auditor:reza-audit show --case {1}\n"
               "  sazesh --data-dir {0} --as auditor:reza-audit events --case {1}\n"
               "  sazesh --data-dir {0} --as auditor:reza-audit verify\n",
               s.data_dir.string(), c);
  } catch (const std::exception& ex) {
    return s.fail(error(errc::io, "demo", ex.what()));
  }
  return exit_ok;
}

}  // namespace

command_spec demo_command() {
  return {"demo", "main job",
          "run six scripted complaints through the whole lifecycle on a fresh data folder and print what happened",
          {{"data-dir-fresh", "DIR", "an empty (or new) folder to use; default: a new folder in /tmp"}},
          run_demo, uses::folder | uses::rules | uses::digits};
}

}  // namespace sazesh::cli
