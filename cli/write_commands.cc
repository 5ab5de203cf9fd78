// The subcommands that act: one per command of the domain. Each turns its options into a
// domain command; the shared runner authorises, decides, appends and prints.
#include <fmt/format.h>

#include <charconv>
#include <fmt/ostream.h>

#include <mutex>

#include "cli/app.h"
#include "engine/domain/decide.h"
#include "engine/log/document_store.h"
#include "engine/record/hash.h"
#include "engine/domain/validation.h"

namespace sazesh::cli {
namespace {

using builder = std::function<result<command>(session&, const parsed_args&, std::vector<stored_document>&)>;

const option_spec case_opt{"case", "CASE", "the case id, e.g. C-4D7Q2M9XKA", true};

#define TRY_ASSIGN(var, expr)            \
  auto var##_r = (expr);                 \
  if (!var##_r) return var##_r.error();  \
  auto var = std::move(*var##_r)

result<std::uint32_t> parse_count(std::string_view field, const std::string& text) {
  std::uint32_t v = 0;
  const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size())
    return error(errc::invalid_argument, std::string(field), "must be a whole number");
  return v;
}

result<bool> parse_yes_no(std::string_view field, const std::string& text) {
  if (text == "yes" || text == "true") return true;
  if (text == "no" || text == "false") return false;
  return error(errc::invalid_argument, std::string(field), "must be yes or no");
}

result<std::vector<std::string>> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    auto end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    if (end > start) out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

// "sha256:HEX" or "sha256:HEX/NAME": a document already in the store (uploaded to the service).
bool is_stored_reference(const std::string& path) { return path.rfind("sha256:", 0) == 0; }

result<document_input> stored_reference(session& s, std::string_view field, fb::DocumentKind kind, const std::string& ref) {
  const std::string rest = ref.substr(7);
  const auto slash = rest.find('/');
  const std::string hex = rest.substr(0, slash);
  const std::string name = slash == std::string::npos ? hex : rest.substr(slash + 1);
  const std::string raw = from_hex(hex);
  if (raw.size() != 32 || name.empty() || name.size() > 200)
    return error(errc::invalid_argument, std::string(field), "must be sha256: and 64 hex digits, then /NAME if you like");
  document_store store(s.data_dir / "documents");
  if (!store.contains(raw))
    return error(errc::not_found, std::string(field), fmt::format("no uploaded document sha256:{}", hex));
  std::error_code ec;
  const auto size = std::filesystem::file_size(store.path_of(raw), ec);
  if (ec) return error(errc::io, std::string(field), "the stored document cannot be read");
  return document_input{kind, raw, name, size};
}

result<document_input> store_document(session& s, std::string_view field, fb::DocumentKind kind,
                                      const std::string& path, std::vector<stored_document>& added) {
  if (is_stored_reference(path)) return stored_reference(s, field, kind, path);
  document_store store(s.data_dir / "documents");
  auto d = store.put_file(path, field);
  if (!d) return d.error();
  added.push_back(*d);
  const auto slash = path.find_last_of('/');
  return document_input{kind, d->sha256, slash == std::string::npos ? path : path.substr(slash + 1),
                        d->size_bytes};
}

}  // namespace

namespace {

// The documents (SHA-256, raw) a command attaches to its case.
std::vector<std::string> attached_documents(const command& cmd) {
  std::vector<std::string> shas;
  if (const auto* f = std::get_if<file_case>(&cmd))
    for (const auto& d : f->documents) shas.push_back(d.sha256);
  if (const auto* a = std::get_if<attach_document>(&cmd)) shas.push_back(a->document.sha256);
  return shas;
}

}  // namespace

status seal_attached_documents(session& s, engine& eng, const command& cmd, const std::string& case_id) {
  const std::vector<std::string> shas = attached_documents(cmd);
  if (shas.empty()) return ok;
  auto c = eng.find_case(case_id);
  if (!c) return c.error();
  if (!*c) return ok;
  auto keys = s.keys();
  if (!keys) return keys.error();
  auto key = (*keys)->key_for_sealing((*c)->consumer_id);
  if (!key) return key.error();
  document_store store(s.data_dir / "documents");
  for (const auto& sha : shas)
    if (auto sealed = store.seal(sha, (*c)->consumer_id, *key); !sealed) return sealed.error();
  return ok;
}

namespace {

struct sealed_copy {
  std::string sha256;
  std::string consumer;  // the case's consumer, whose key seals it
  bool made = false;     // written for this command (taken back if it is refused)
};

// The documents a command attaches are sealed under their consumer's key before the command is
// written (a filing's consumer is its filer; an attachment's, the case's), so no acknowledged
// command leaves a document that erasing the consumer would not erase. A case that is not known
// seals nothing: the command will be refused.
result<std::vector<sealed_copy>> seal_before_writing(session& s, engine& eng, const actor& who, const command& cmd) {
  std::vector<sealed_copy> out;
  std::string consumer;
  if (std::holds_alternative<file_case>(cmd) && who.role == fb::Role_consumer) consumer = who.id;
  if (const auto* a = std::get_if<attach_document>(&cmd)) {
    auto c = eng.find_case(a->case_id);
    if (!c) return c.error();
    if (*c) consumer = (*c)->consumer_id;
  }
  if (consumer.empty()) return out;
  for (const auto& sha : attached_documents(cmd)) out.push_back({sha, consumer});
  if (out.empty()) return out;
  auto keys = s.keys();
  if (!keys) return keys.error();
  auto key = (*keys)->key_for_sealing(consumer);
  // A forgotten consumer's case takes no documents: the engine refuses it, saying so in its terms.
  if (!key && key.error().code() == errc::wrong_state) return std::vector<sealed_copy>();
  if (!key) return key.error();
  // The key is durable before anything is sealed under it (it may be new: a consumer registered
  // before sealing).
  if (auto f = (*keys)->flush(); !f) return f.error();
  document_store store(s.data_dir / "documents");
  for (auto& d : out) {
    auto made = store.seal_copy(d.sha256, d.consumer, *key);
    if (!made) {
      for (const auto& done : out)
        if (done.made) store.drop_sealed(done.sha256, done.consumer);
      return made.error();
    }
    d.made = *made;
  }
  return out;
}

int run_write(session& s, const parsed_args& args, const builder& build) {
  // Files are checked before the folder is opened: a directory, a FIFO, a device or a file too
  // big is refused at once, holding nothing.
  for (const auto& d : args.all("document"))
    if (const auto eq = d.find('='); eq != std::string::npos && !is_stored_reference(d.substr(eq + 1)))
      if (auto c = check_document_file(d.substr(eq + 1), "document"); !c) return s.fail(c.error());
  if (args.has("file") && !is_stored_reference(args.get("file")))
    if (auto c = check_document_file(args.get("file"), "file"); !c) return s.fail(c.error());
  auto eng = s.open_engine();
  if (!eng) return s.fail(eng.error());
  std::vector<stored_document> added;
  auto cmd = build(s, args, added);
  const auto discard = [&] {
    document_store store(s.data_dir / "documents");
    for (const auto& d : added) store.forget(d);
  };
  if (!cmd) {
    discard();
    return s.fail(cmd.error());
  }
  actor who = s.who.value_or(actor{fb::Role_consumer, ""});
  if (!s.who && !std::holds_alternative<register_consumer>(*cmd)) {
    discard();
    return s.fail(error(errc::invalid_argument, "--as", "is required: say who is acting, e.g. --as consumer:U-3F9K2Q7A"));
  }
  // Commands that attach documents run one at a time (in `serve`, several requests at once): a
  // refused one takes back only the sealed copies it made, never one another command relies on.
  static std::mutex attaching;
  std::unique_lock<std::mutex> one_at_a_time(attaching, std::defer_lock);
  if (std::holds_alternative<file_case>(*cmd) || std::holds_alternative<attach_document>(*cmd)) one_at_a_time.lock();
  auto sealed = seal_before_writing(s, **eng, who, *cmd);
  if (!sealed) {
    discard();
    return s.fail(sealed.error());
  }
  document_store store(s.data_dir / "documents");
  auto out = (*eng)->execute(who, s.command_id, *cmd, s.if_version);
  if (!out) {
    // Refused: its sealed copies go. Its outcome unknown (the log unreachable, a write that may
    // have landed): they stay, so a command written after all keeps its documents.
    const bool refused = out.error().code() != errc::unavailable && out.error().code() != errc::io;
    if (refused)
      for (const auto& d : *sealed)
        if (d.made) store.drop_sealed(d.sha256, d.consumer);
    discard();
    return s.fail(out.error());
  }
  // Written: the sealed copies are the documents now. A plaintext copy that cannot be removed
  // here goes with the next `tick` (document_store::sweep).
  for (const auto& d : *sealed)
    if (auto dropped = store.drop_plain(d.sha256); !dropped)
      fmt::print(s.err, "warning: {}\n", dropped.error().message());
  const int code = print_outcome(s, command_name(*cmd), *out);
  // Keep the projections current for the queries that follow. If another projector holds
  // them it does this itself; a corrupt log is worth saying, but the command stands.
  if (auto p = s.refresh_projections(); !p && p.error().code() != errc::unavailable)
    fmt::print(s.err, "warning: projections not updated: {}\n", p.error().message());
  return code;
}

void add(std::vector<command_spec>& t, std::string name, std::string group, std::string summary,
         std::vector<option_spec> options, builder build) {
  t.push_back(command_spec{std::move(name), std::move(group), std::move(summary), std::move(options),
                           [build](session& s, const parsed_args& a) { return run_write(s, a, build); },
                           uses::write});
}

}  // namespace

void add_write_commands(std::vector<command_spec>& t) {
  const std::string reg = "registration (operators; consumers register themselves)";
  add(t, "register-consumer", reg, "register a consumer by national code and mobile",
      {{"national-code", "CODE", "10-digit national code", true},
       {"mobile", "09XXXXXXXXX", "mobile number", true},
       {"name", "NAME", "full name", true}},
      [](session&, const parsed_args& a, auto&) -> result<command> {
        return register_consumer{a.get("national-code"), a.get("mobile"), a.get("name")};
      });
  add(t, "register-business", reg, "register a seal holder (online shop)",
      {{"seal-id", "ID", "the trust-seal id", true},
       {"domain", "DOMAIN", "the shop's domain, e.g. shop.example.ir", true},
       {"name", "NAME", "the shop's name", true},
       {"stars", "0-5", "seal level (default 1)"}},
      [](session&, const parsed_args& a, auto&) -> result<command> {
        TRY_ASSIGN(stars, parse_count("stars", a.maybe("stars").value_or("1")));
        return register_business{a.get("seal-id"), a.get("domain"), a.get("name"), static_cast<int>(stars)};
      });
  add(t, "register-agency", reg, "register a competent authority and its categories",
      {{"id", "SLUG", "short id, e.g. cyber-police (names its referral topic)", true},
       {"name", "NAME", "the agency's name", true},
       {"categories", "C1,C2", "categories it is competent for", true}},
      [](session&, const parsed_args& a, auto&) -> result<command> {
        register_agency r{a.get("id"), a.get("name"), {}};
        TRY_ASSIGN(names, split_list(a.get("categories")));
        for (const auto& n : names) {
          TRY_ASSIGN(c, parse_category("categories", n));
          r.categories.push_back(c);
        }
        return r;
      });
  add(t, "register-mediator", reg, "register a neutral mediator",
      {{"name", "NAME", "full name", true}, {"mobile", "09XXXXXXXXX", "mobile number", true}},
      [](session&, const parsed_args& a, auto&) -> result<command> {
        return register_mediator{a.get("name"), a.get("mobile")};
      });

  const std::string filing = "filing and triage";
  add(t, "file", filing, "file a complaint (consumer)",
      {{"business", "SEAL|DOMAIN", "the business, by seal id or domain", true},
       {"order-ref", "REF", "invoice or tracking code of the order", true},
       {"purchase-date", "DATE", "2026-11-20 or 1405/08/29", true},
       {"amount", "RIALS", "amount paid, in rials", true},
       {"category", "CATEGORY", "non_delivery, defective, not_as_described, refund_refused, warranty, pricing, fraud, privacy, service, other", true},
       {"description", "TEXT", "what happened", true},
       {"remedy", "REMEDY", "what is asked for: refund, replacement, repair, delivery, partial_refund, compensation, apology, other (default refund)"},
       {"document", "KIND=PATH", "attach a file as a document kind (invoice, payment_receipt, photo, …); PATH may be sha256:HEX/NAME, a document already uploaded", false, true}},
      [](session& s, const parsed_args& a, std::vector<stored_document>& added) -> result<command> {
        file_case f;
        f.business = a.get("business");
        f.order_reference = a.get("order-ref");
        TRY_ASSIGN(date, parse_date("purchase_date", a.get("purchase-date")));
        f.purchase_date_days = static_cast<std::int32_t>(days_from_civil(date));
        TRY_ASSIGN(amount, parse_rials("amount_rials", a.get("amount")));
        f.amount_rials = amount;
        TRY_ASSIGN(category, parse_category("category", a.get("category")));
        f.category = category;
        f.description = a.get("description");
        TRY_ASSIGN(remedy, parse_remedy("remedy", a.maybe("remedy").value_or("refund")));
        f.requested_remedy = remedy;
        for (const auto& d : a.all("document")) {
          const auto eq = d.find('=');
          if (eq == std::string::npos)
            return error(errc::invalid_argument, "document", "must be KIND=PATH, e.g. invoice=./invoice.pdf");
          TRY_ASSIGN(kind, parse_document_kind("document", d.substr(0, eq)));
          TRY_ASSIGN(doc, store_document(s, "document", kind, d.substr(eq + 1), added));
          f.documents.push_back(std::move(doc));
        }
        return f;
      });
  add(t, "attach", filing, "attach a document to a case (consumer or business)",
      {case_opt, {"kind", "KIND", "invoice, payment_receipt, photo, tracking_record, correspondence, warranty_card, contract, identity, other", true},
       {"file", "PATH", "the file, or sha256:HEX/NAME: a document already uploaded (POST /v1/documents)", true}},
      [](session& s, const parsed_args& a, std::vector<stored_document>& added) -> result<command> {
        TRY_ASSIGN(kind, parse_document_kind("kind", a.get("kind")));
        TRY_ASSIGN(doc, store_document(s, "file", kind, a.get("file"), added));
        return attach_document{a.get("case"), std::move(doc)};
      });
  add(t, "accept", filing, "accept a case in triage and route it (operator)",
      {case_opt, {"category", "CATEGORY", "correct the category"},
       {"route", "negotiation|referral", "where it goes (default negotiation)"},
       {"agency", "AGENCY", "the agency, for route referral"}, {"note", "TEXT", "triage note"}},
      [](session&, const parsed_args& a, auto&) -> result<command> {
        accept_case c{a.get("case"), std::nullopt, fb::Route_negotiation, a.get("agency"), a.get("note")};
        if (a.has("category")) {
          TRY_ASSIGN(category, parse_category("category", a.get("category")));
          c.category = category;
        }
        TRY_ASSIGN(route, parse_route("route", a.maybe("route").value_or("negotiation")));
        c.route = route;
        return c;
      });
  add(t, "reject", filing, "reject a case in triage (operator)",
      {case_opt, {"reason", "out_of_scope|duplicate|abusive", "why", true}, {"note", "TEXT", "explanation", true},
       {"duplicate-of", "CASE", "the case it duplicates"}},
      [](session&, const parsed_args& a, auto&) -> result<command> {
        TRY_ASSIGN(reason, parse_reject_reason("reason", a.get("reason")));
        return reject_case{a.get("case"), reason, a.get("note"), a.get("duplicate-of")};
      });
  add(t, "request-documents", filing, "ask the consumer for more documents (operator)",
      {case_opt, {"kinds", "K1,K2", "document kinds", true}, {"note", "TEXT", "what is needed and why"}},
      [](session&, const parsed_args& a, auto&) -> result<command> {
        request_documents r{a.get("case"), {}, a.get("note")};
        TRY_ASSIGN(names, split_list(a.get("kinds")));
        for (const auto& n : names) {
          TRY_ASSIGN(k, parse_document_kind("kinds", n));
          r.kinds.push_back(k);
        }
        return r;
      });

  const std::string nego = "negotiation";
  add(t, "respond", nego, "answer a forwarded complaint (business)",
      {case_opt, {"text", "TEXT", "the answer", true}},
      [](session&, const parsed_args& a, auto&) -> result<command> { return respond{a.get("case"), a.get("text")}; });
  add(t, "message", nego, "post a message on a case (its parties, mediator, agency, operators)",
      {case_opt, {"text", "TEXT", "the message", true}},
      [](session&, const parsed_args& a, auto&) -> result<command> { return post_message{a.get("case"), a.get("text")}; });
  add(t, "offer", nego, "offer a remedy, or counter-offer (business or consumer)",
      {case_opt, {"remedy", "REMEDY", "refund, replacement, repair, delivery, partial_refund, compensation, apology, other", true},
       {"amount", "RIALS", "amount, in rials (default 0)"}, {"text", "TEXT", "the offer in words", true},
       {"remedy-days", "DAYS", "days to deliver once accepted (default 7)"}},
      [](session&, const parsed_args& a, auto&) -> result<command> {
        TRY_ASSIGN(remedy, parse_remedy("remedy", a.get("remedy")));
        TRY_ASSIGN(amount, parse_rials("amount_rials", a.maybe("amount").value_or("0")));
        TRY_ASSIGN(days, parse_count("remedy_days", a.maybe("remedy-days").value_or("7")));
        return make_offer{a.get("case"), remedy, amount, a.get("text"), days};
      });
  add(t, "accept-offer", nego, "accept the other party's offer",
      {case_opt, {"offer", "N", "the offer number", true}},
      [](session&, const parsed_args& a, auto&) -> result<command> {
        TRY_ASSIGN(n, parse_count("offer", a.get("offer")));
        return accept_offer{a.get("case"), n};
      });
  add(t, "reject-offer", nego, "reject the other party's offer",
      {case_opt, {"offer", "N", "the offer number", true}, {"text", "TEXT", "why"}},
      [](session&, const parsed_args& a, auto&) -> result<command> {
        TRY_ASSIGN(n, parse_count("offer", a.get("offer")));
        return reject_offer{a.get("case"), n, a.get("text")};
      });
  add(t, "remedy-fulfilled", nego, "say the agreed remedy was delivered (business)",
      {case_opt, {"note", "TEXT", "what was done"}},
      [](session&, const parsed_args& a, auto&) -> result<command> { return mark_remedy_fulfilled{a.get("case"), a.get("note")}; });
  add(t, "confirm-remedy", nego, "confirm the remedy was received; resolves the case (consumer)",
      {case_opt, {"note", "TEXT", "comment"}},
      [](session&, const parsed_args& a, auto&) -> result<command> { return confirm_remedy{a.get("case"), a.get("note")}; });
  add(t, "remedy-not-fulfilled", nego, "say the remedy did not arrive; goes to mediation (consumer)",
      {case_opt, {"note", "TEXT", "what is wrong", true}},
      [](session&, const parsed_args& a, auto&) -> result<command> { return report_remedy_not_fulfilled{a.get("case"), a.get("note")}; });

  const std::string med = "mediation";
  add(t, "request-mediation", med, "ask for a mediator (consumer)",
      {case_opt, {"text", "TEXT", "why", true}},
      [](session&, const parsed_args& a, auto&) -> result<command> { return request_mediation{a.get("case"), a.get("text")}; });
  add(t, "assign-mediator", med, "assign (or replace) the mediator (operator)",
      {case_opt, {"mediator", "MEDIATOR", "mediator id", true}},
      [](session&, const parsed_args& a, auto&) -> result<command> { return assign_mediator{a.get("case"), a.get("mediator")}; });
  add(t, "propose-settlement", med, "propose settlement terms (mediator)",
      {case_opt, {"text", "TEXT", "the terms", true}, {"remedy", "REMEDY", "remedy kind (default refund)"},
       {"amount", "RIALS", "amount (default 0)"}},
      [](session&, const parsed_args& a, auto&) -> result<command> {
        TRY_ASSIGN(remedy, parse_remedy("remedy", a.maybe("remedy").value_or("refund")));
        TRY_ASSIGN(amount, parse_rials("amount_rials", a.maybe("amount").value_or("0")));
        return propose_settlement{a.get("case"), a.get("text"), remedy, amount};
      });
  add(t, "conclude-mediation", med, "end mediation as settled or failed (mediator)",
      {case_opt, {"outcome", "settled|failed", "how it ended", true}, {"text", "TEXT", "summary", true}},
      [](session&, const parsed_args& a, auto&) -> result<command> {
        TRY_ASSIGN(outcome, parse_mediation_outcome("outcome", a.get("outcome")));
        return conclude_mediation{a.get("case"), outcome, a.get("text")};
      });

  const std::string ref = "referral to agencies";
  add(t, "refer", ref, "send the case file to a competent agency (operator)",
      {case_opt, {"agency", "AGENCY", "agency id", true}, {"text", "TEXT", "covering note", true}},
      [](session&, const parsed_args& a, auto&) -> result<command> { return refer_case{a.get("case"), a.get("agency"), a.get("text")}; });
  add(t, "acknowledge", ref, "acknowledge a referral (agency)", {case_opt},
      [](session&, const parsed_args& a, auto&) -> result<command> { return acknowledge_referral{a.get("case")}; });
  add(t, "extend", ref, "extend the decision deadline once (agency)", {case_opt},
      [](session&, const parsed_args& a, auto&) -> result<command> { return extend_referral{a.get("case")}; });
  add(t, "transfer", ref, "transfer the case to another agency (agency or operator)",
      {case_opt, {"to", "AGENCY", "the receiving agency", true}, {"reason", "TEXT", "why", true}},
      [](session&, const parsed_args& a, auto&) -> result<command> { return transfer_referral{a.get("case"), a.get("to"), a.get("reason")}; });
  add(t, "decide", ref, "record the agency's decision; closes the case (agency)",
      {case_opt, {"verdict", "VERDICT", "upheld, partially_upheld, dismissed, not_competent_closed", true},
       {"text", "TEXT", "the decision", true}},
      [](session&, const parsed_args& a, auto&) -> result<command> {
        TRY_ASSIGN(verdict, parse_verdict("verdict", a.get("verdict")));
        return decide_referral{a.get("case"), verdict, a.get("text")};
      });

  const std::string end = "closing";
  add(t, "withdraw", end, "withdraw a complaint (consumer)", {case_opt, {"reason", "TEXT", "why"}},
      [](session&, const parsed_args& a, auto&) -> result<command> { return withdraw_case{a.get("case"), a.get("reason")}; });
  add(t, "rate", end, "rate a closed case (consumer)",
      {case_opt, {"stars", "1-5", "satisfaction", true}, {"resolved", "yes|no", "was the problem solved?", true},
       {"comment", "TEXT", "comment"}},
      [](session&, const parsed_args& a, auto&) -> result<command> {
        TRY_ASSIGN(stars, parse_count("stars", a.get("stars")));
        TRY_ASSIGN(resolved, parse_yes_no("resolved", a.get("resolved")));
        return rate_case{a.get("case"), static_cast<int>(std::min<std::uint32_t>(stars, 1000)), resolved, a.get("comment")};
      });
  add(t, "reopen", end, "reopen a settled case whose remedy never came, within 10 days (consumer)",
      {case_opt, {"reason", "TEXT", "what was not delivered", true}},
      [](session&, const parsed_args& a, auto&) -> result<command> { return reopen_case{a.get("case"), a.get("reason")}; });

  const std::string seals = "seals";
  add(t, "restrict-seal", seals, "restrict a business's seal services (operator)",
      {{"business", "SEAL", "seal id", true}, {"reason", "TEXT", "why", true}},
      [](session&, const parsed_args& a, auto&) -> result<command> { return restrict_seal{a.get("business"), a.get("reason"), ""}; });
  add(t, "reinstate-seal", seals, "lift a restriction (operator)",
      {{"business", "SEAL", "seal id", true}, {"reason", "TEXT", "why", true}},
      [](session&, const parsed_args& a, auto&) -> result<command> { return reinstate_seal{a.get("business"), a.get("reason"), ""}; });

  const std::string erasure = "erasure of personal data";
  add(t, "forget", erasure,
      "erase a consumer's or a mediator's personal data for good, once no open case needs it (operator)",
      {{"party", "U-…|M-…", "the consumer or mediator", true}, {"reason", "TEXT", "why (the request, its reference)", true}},
      [](session&, const parsed_args& a, auto&) -> result<command> { return forget_party{a.get("party"), a.get("reason")}; });
}

#undef TRY_ASSIGN

}  // namespace sazesh::cli
