// The parts of the workload generator that walk cases through their lifecycle (see
// history_generator.h).
#include "workload/history_generator.h"

namespace sazesh::workload {

void history_generator::register_parties(const hook& after) {
  const actor op = operator_actor();
  struct agency_spec {
    const char* id;
    const char* name;
    std::vector<fb::Category> categories;
  };
  const std::vector<agency_spec> agencies{
      {"consumer-protection", "سازمان حمایت مصرف‌کنندگان و تولیدکنندگان",
       {fb::Category_non_delivery, fb::Category_defective, fb::Category_not_as_described,
        fb::Category_refund_refused, fb::Category_warranty, fb::Category_service, fb::Category_other}},
      {"tazirat", "سازمان تعزیرات حکومتی",
       {fb::Category_pricing, fb::Category_refund_refused, fb::Category_non_delivery,
        fb::Category_not_as_described}},
      {"cyber-police", "پلیس فتا", {fb::Category_fraud, fb::Category_privacy}},
      {"guild-union", "اتحادیه کسب‌وکارهای مجازی",
       {fb::Category_defective, fb::Category_warranty, fb::Category_service, fb::Category_pricing,
        fb::Category_other, fb::Category_fraud, fb::Category_privacy}},
  };
  for (const auto& a : agencies) {
    if (opt_.party_offset == 0) must(op, register_agency{a.id, a.name, a.categories}, "register_agency", after);
    agencies_.push_back(a.id);
  }
  static const char* const shop_words[] = {"کالا", "بازار", "شیک", "دیجی", "تکنو", "سبز", "آبی", "نوین"};
  for (std::size_t i = 0; i < opt_.businesses; ++i) {
    const std::string seal = std::to_string(1001 + opt_.party_offset + i);
    const std::string domain = fmt::format("shop-{}.ir", opt_.party_offset + i + 1);
    const std::string name = fmt::format("فروشگاه {} {}", shop_words[i % 8], i + 1);
    must(op, register_business{seal, domain, name, static_cast<int>(pick(6))}, "register_business", after);
    businesses_.push_back(seal);
    domains_.push_back(domain);
  }
  static const char* const mediator_names[] = {"زهرا کریمی", "محمد صادقی", "مریم جعفری", "حسین قاسمی"};
  for (std::size_t i = 0; i < opt_.mediators; ++i) {
    auto out = must(op, register_mediator{mediator_names[i % 4], random_mobile()}, "register_mediator", after);
    mediators_.push_back(out.stream);
  }
  for (std::size_t i = 0; i < opt_.consumers; ++i) {
    const std::string code = random_national_code();
    const std::string mobile = random_mobile();
    const std::string name = consumer_name(i);
    auto out = must(actor{fb::Role_consumer, ""}, register_consumer{code, mobile, name}, "register_consumer", after);
    consumers_.push_back(out.stream);
    national_codes_.push_back(code);
    mobiles_.push_back(mobile);
    consumer_names_.push_back(name);
  }
}

void history_generator::file_new_case(const hook& after) {
  const std::size_t who = pick(consumers_.size());
  const std::size_t biz = opt_.business_skew > 0 ? zipf_pick() : pick(businesses_.size());
  const auto category = static_cast<fb::Category>(pick(fb::Category_MAX + 1));
  const auto& rules = eng_.rules();
  std::vector<document_input> docs;
  const auto& needed = rules.documents_for(category);
  const bool complete = chance(0.75);
  for (auto kind : needed)
    if (complete || chance(0.4)) docs.push_back(new_document(kind));
  if (chance(0.2)) docs.push_back(new_document(fb::DocumentKind_other));
  static const char* const complaints[] = {
      "کالا پس از دو هفته هنوز نرسیده است", "دستگاه سالم نبود و روشن نمی‌شود",
      "رنگ و جنس با عکس‌های سایت فرق دارد", "وجه کالای مرجوعی برگشت داده نشد",
      "گارانتی را نمی‌پذیرند", "قیمت فاکتور بیشتر از قیمت اعلام‌شده است",
      "پس از پرداخت هیچ کالایی ارسال نشد", "اطلاعات شخصی من بدون اجازه منتشر شد",
      "خدمات نصب انجام نشد", "پاسخی به پیام‌هایم داده نشد"};
  const std::string description =
      fmt::format("شرح شکایت {}: {}", descriptions_.size() + 1, complaints[pick(10)]);
  const auto today = static_cast<std::int32_t>(days_from_civil(tehran_date(clock_.now())));
  file_case f{chance(0.5) ? businesses_[biz] : domains_[biz],
              fmt::format("ORD-{}-{}", seed_ % 1000, ++order_counter_),
              today - static_cast<std::int32_t>(pick(90)),
              100'000 * (1 + pick(20'000)),
              category,
              description,
              static_cast<fb::RemedyKind>(pick(fb::RemedyKind_MAX + 1)),
              std::move(docs)};
  auto out = eng_.execute({fb::Role_consumer, consumers_[who]}, next_command_id(), f);
  if (!out) throw std::runtime_error("history_generator: file_case was refused: " + out.error().message());
  descriptions_.push_back(description);
  orders_[out->stream] = f.order_reference;
  stats_.commands += 1;
  stats_.events += out->events.size() + out->deadlines_first.size();
  stats_.cases_filed += 1;
  stats_.actions["file_case"] += 1;
  in_flight_.push_back(out->stream);
  all_cases_.push_back(out->stream);
  if (opt_.chatty_rate > 0 && chance(opt_.chatty_rate)) chatty_.insert(out->stream);
  case_steps_[out->stream] = 0;
  if (after) after();
}

bool history_generator::advance_case(const std::string& id, const hook& after) {
  settle(id, after);
  const case_state& c = state_of(id);
  if (++case_steps_[id] > opt_.max_steps_per_case) {
    if (is_open(c.status)) act(consumer_of(c), withdraw_case{id, "خسته شدم"}, "withdraw_case(limit)", after);
    return false;
  }
  const actor op = operator_actor();
  const actor consumer = consumer_of(c);
  const actor business = business_of(c);
  // A chatty case: its parties write back and forth before anything else happens.
  if (chatty_.count(id) && is_open(c.status) && c.head.version.value() + 1 < opt_.chatty_events) {
    act(consumer, post_message{id, text("پیام")}, "post_message(chatty)", after);
    return true;
  }
  switch (c.status) {
    case case_status::awaiting_documents: {
      switch (weighted({5, 1, 0.5, 0.3})) {
        case 0: {
          if (c.missing_documents.empty()) return true;
          act(consumer, attach_document{id, new_document(one_of(c.missing_documents))}, "attach_document", after);
          return true;
        }
        case 1: {
          auto d = c.deadline_of(deadline_kind::documents);
          if (d) wait_past(d->due, after);
          return true;
        }
        case 2:
          act(op, reject_case{id, chance(0.5) ? fb::RejectReason_out_of_scope : fb::RejectReason_abusive, text("رد"), ""},
              "reject_case", after);
          return true;
        default:
          act(consumer, withdraw_case{id, text("انصراف")}, "withdraw_case", after);
          return true;
      }
    }
    case case_status::awaiting_triage: {
      switch (weighted({6, opt_.escalation, 0.4, 0.3, 0.7, 0.3, 0.4})) {
        case 0: {
          // Sometimes triage corrects the category to "other", which needs no documents.
          std::optional<fb::Category> corrected;
          if (chance(0.1)) corrected = fb::Category_other;
          act(op, accept_case{id, corrected, fb::Route_negotiation, "", text("پذیرش")}, "accept_case", after);
          return true;
        }
        case 1: {
          auto agencies = competent_agencies(c.category);
          if (agencies.empty()) return true;
          act(op, accept_case{id, std::nullopt, fb::Route_referral, one_of(agencies), text("ارجاع مستقیم")},
              "accept_case(referral)", after);
          return true;
        }
        case 2:
          act(op, reject_case{id, fb::RejectReason_out_of_scope, text("خارج از صلاحیت"), ""}, "reject_case", after);
          return true;
        case 3: {
          if (all_cases_.size() < 2) return true;
          std::string other = one_of(all_cases_);
          if (other == id) return true;
          act(op, reject_case{id, fb::RejectReason_duplicate, text("تکراری"), other}, "reject_case(duplicate)", after);
          return true;
        }
        case 4: {
          const bool has_tracking = std::any_of(c.documents.begin(), c.documents.end(), [](const document_ref& d) {
            return d.kind == fb::DocumentKind_tracking_record;
          });
          if (has_tracking) return true;
          act(op, request_documents{id, {fb::DocumentKind_tracking_record}, text("کد رهگیری لازم است")},
              "request_documents", after);
          return true;
        }
        case 5:
          act(consumer, withdraw_case{id, ""}, "withdraw_case", after);
          return true;
        default:
          act(business, attach_document{id, new_document(fb::DocumentKind_correspondence)}, "attach_document(business)", after);
          return true;
      }
    }
    case case_status::with_business: {
      switch (weighted({5, 0.5, opt_.ignore_weight, 0.2})) {
        case 0:
          act(business, respond{id, text("پاسخ فروشگاه")}, "respond", after);
          return true;
        case 1:
          act(consumer, post_message{id, text("پیام مصرف‌کننده")}, "post_message", after);
          return true;
        case 2: {
          auto d = c.deadline_of(deadline_kind::response);
          if (d) wait_past(d->due, after);
          return true;
        }
        default:
          act(consumer, withdraw_case{id, text("انصراف")}, "withdraw_case", after);
          return true;
      }
    }
    case case_status::negotiation: {
      const offer* open_offer = nullptr;
      for (const auto& o : c.offers)
        if (o.status == offer_status::open) open_offer = &o;
      const double answer = open_offer ? 1.0 : 0.0;
      switch (weighted({3 * answer, 2 * answer * opt_.escalation, 3, 0.7, opt_.escalation, 0.5, 0.3})) {
        case 0: {
          const actor who = open_offer->by == fb::Role_business ? consumer : business;
          act(who, accept_offer{id, open_offer->number}, "accept_offer", after);
          return true;
        }
        case 1: {
          const actor who = open_offer->by == fb::Role_business ? consumer : business;
          act(who, reject_offer{id, open_offer->number, text("نمی‌پذیرم")}, "reject_offer", after);
          return true;
        }
        case 2:
        case 3: {
          const auto remedy = static_cast<fb::RemedyKind>(pick(fb::RemedyKind_MAX + 1));
          act(chance(0.8) ? business : consumer,
              make_offer{id, remedy, 100'000 * pick(10'000), text("پیشنهاد"), static_cast<std::uint32_t>(1 + pick(30))},
              "make_offer", after);
          return true;
        }
        case 4:
          act(consumer, request_mediation{id, text("درخواست میانجی")}, "request_mediation", after);
          return true;
        case 5:
          act(chance(0.5) ? consumer : business, post_message{id, text("پیام")}, "post_message", after);
          return true;
        default:
          act(consumer, withdraw_case{id, text("انصراف")}, "withdraw_case", after);
          return true;
      }
    }
    case case_status::remedy_due: {
      switch (weighted({4, 1, 0.7, 0.7})) {
        case 0:
          act(business, mark_remedy_fulfilled{id, text("انجام شد")}, "mark_remedy_fulfilled", after);
          return true;
        case 1:
          act(consumer, confirm_remedy{id, text("رسید")}, "confirm_remedy", after);
          return true;
        case 2:
          act(consumer, report_remedy_not_fulfilled{id, text("انجام نشد")}, "report_remedy_not_fulfilled", after);
          return true;
        default: {
          auto d = c.deadline_of(deadline_kind::remedy);
          if (d) wait_past(d->due, after);
          return true;
        }
      }
    }
    case case_status::remedy_confirmation: {
      switch (weighted({3, 1, 2})) {
        case 0:
          act(consumer, confirm_remedy{id, ""}, "confirm_remedy", after);
          return true;
        case 1:
          act(consumer, report_remedy_not_fulfilled{id, text("نرسید")}, "report_remedy_not_fulfilled", after);
          return true;
        default: {
          auto d = c.deadline_of(deadline_kind::remedy_confirmation);
          if (d) wait_past(d->due, after);
          return true;
        }
      }
    }
    case case_status::awaiting_mediator: {
      switch (weighted({5, 1, 0.3})) {
        case 0: {
          // After a reopening the case still names its earlier mediator: pick another.
          std::vector<std::string> candidates;
          for (const auto& m : mediators_)
            if (m != c.mediator_id) candidates.push_back(m);
          if (candidates.empty()) return true;
          act(op, assign_mediator{id, one_of(candidates)}, "assign_mediator", after);
          return true;
        }
        case 1: {
          auto agencies = competent_agencies(c.category);
          if (agencies.empty()) return true;
          act(op, refer_case{id, one_of(agencies), text("ارجاع")}, "refer_case", after);
          return true;
        }
        default:
          act(consumer, withdraw_case{id, text("انصراف")}, "withdraw_case", after);
          return true;
      }
    }
    case case_status::in_mediation: {
      const actor mediator{fb::Role_mediator, c.mediator_id};
      switch (weighted({1.5, 2, 2 * opt_.escalation, 0.3, 0.7, 0.4})) {
        case 0:
          act(mediator, propose_settlement{id, text("پیشنهاد سازش"), fb::RemedyKind_refund, 100'000 * pick(5'000)},
              "propose_settlement", after);
          return true;
        case 1:
          act(mediator, conclude_mediation{id, fb::MediationOutcome_settled, text("سازش شد")}, "conclude_mediation(settled)", after);
          return true;
        case 2:
          act(chance(0.7) ? mediator : op, conclude_mediation{id, fb::MediationOutcome_failed, text("سازش نشد")},
              "conclude_mediation(failed)", after);
          return true;
        case 3: {
          std::vector<std::string> others;
          for (const auto& m : mediators_)
            if (m != c.mediator_id) others.push_back(m);
          if (others.empty()) return true;
          act(op, assign_mediator{id, one_of(others)}, "assign_mediator(again)", after);
          return true;
        }
        case 4: {
          auto d = c.deadline_of(deadline_kind::mediation);
          if (d) wait_past(d->due, after);
          return true;
        }
        default:
          act(mediator, post_message{id, text("پیام میانجی")}, "post_message(mediator)", after);
          return true;
      }
    }
    case case_status::mediation_failed: {
      switch (weighted({5, 0.5})) {
        case 0: {
          auto agencies = competent_agencies(c.category);
          if (agencies.empty()) return true;
          act(op, refer_case{id, one_of(agencies), text("ارجاع پس از میانجی‌گری")}, "refer_case", after);
          return true;
        }
        default:
          act(consumer, withdraw_case{id, text("انصراف")}, "withdraw_case", after);
          return true;
      }
    }
    case case_status::referred: {
      const actor agency{fb::Role_agency, c.agency_id};
      const bool ack = c.referral_acknowledged;
      const auto others = competent_agencies(c.category, c.agency_id);
      switch (weighted({ack ? 0.0 : 4.0, ack && !c.referral_extended ? 0.7 : 0.0, others.empty() ? 0.0 : 1.0,
                        ack ? 4.0 : 0.0, 0.7, 0.3})) {
        case 0:
          act(agency, acknowledge_referral{id}, "acknowledge_referral", after);
          return true;
        case 1:
          act(agency, extend_referral{id}, "extend_referral", after);
          return true;
        case 2:
          act(chance(0.7) ? agency : op, transfer_referral{id, one_of(others), text("انتقال")}, "transfer_referral", after);
          return true;
        case 3:
          act(agency, decide_referral{id, static_cast<fb::AgencyVerdict>(pick(fb::AgencyVerdict_MAX + 1)), text("رأی")},
              "decide_referral", after);
          return true;
        case 4: {
          if (c.deadlines.empty()) return true;
          timestamp_ms earliest = c.deadlines.front().due;
          for (const auto& d : c.deadlines) earliest = std::min(earliest, d.due);
          wait_past(earliest, after);
          return true;
        }
        default:
          act(agency, post_message{id, text("پیام مرجع")}, "post_message(agency)", after);
          return true;
      }
    }
    case case_status::closed: {
      const bool can_rate = c.rating == 0;
      const bool can_reopen = c.close_reason == fb::CloseReason_resolved && clock_.now() <= c.reopen_until &&
                              eng_.inspect([&](const world& w) {
                                return w.open_case_for({c.consumer_id, c.business_id, c.order_digest}).has_value();
                              }) == false;
      switch (weighted({can_rate ? 3.0 : 0.0, can_reopen ? 1.0 : 0.0, 2})) {
        case 0:
          act(consumer, rate_case{id, static_cast<int>(1 + pick(5)), chance(0.6), text("نظر")}, "rate_case", after);
          return true;
        case 1:
          act(consumer, reopen_case{id, text("بازگشایی")}, "reopen_case", after);
          return true;
        default:
          return false;
      }
    }
    case case_status::rejected:
    case case_status::withdrawn:
      return false;
  }
  return false;
}

void history_generator::refused_command(const hook& after) {
  const std::string& id = one_of(all_cases_);
  settle(id, after);
  const case_state& c = state_of(id);
  switch (pick(7)) {
    case 0:
      if (c.status == case_status::closed) {
        refuse(consumer_of(c), withdraw_case{id, ""}, "withdraw_case(closed)", after);
      } else {
        refuse(consumer_of(c), rate_case{id, 3, false, ""}, "rate_case(open)", after);
      }
      return;
    case 1:
      if (c.status == case_status::awaiting_triage) {
        refuse(business_of(c), accept_case{id, std::nullopt, fb::Route_negotiation, "", ""}, "accept_case(business)", after);
      } else {
        refuse(operator_actor(), accept_case{id, std::nullopt, fb::Route_negotiation, "", ""}, "accept_case(state)", after);
      }
      return;
    case 2:
      refuse({fb::Role_analyst, "a1"}, decide_referral{id, fb::AgencyVerdict_upheld, "رأی"}, "decide_referral(analyst)", after);
      return;
    case 3:
      refuse(business_of(c), respond{"C-NOSUCHCASE", "پاسخ"}, "respond(unknown case)", after);
      return;
    case 4:
      if (is_open(c.status)) {
        refuse(consumer_of(c), file_case{c.business_id, orders_.at(id), c.purchase_date_days, c.amount_rials,
                                         c.category, "همان سفارش دوباره", c.requested_remedy, {}},
               "file_case(duplicate)", after);
      } else {
        refuse(consumer_of(c), reopen_case{id, ""}, "reopen_case(empty reason)", after);
      }
      return;
    case 5:
      refuse(operator_actor(), register_consumer{one_of(national_codes_), random_mobile(), "تکراری"},
             "register_consumer(duplicate)", after);
      return;
    default: {
      // Another consumer acting on someone else's case.
      std::string other = one_of(consumers_);
      if (other == c.consumer_id) other = "U-NOBODY00";
      refuse({fb::Role_consumer, other}, withdraw_case{id, ""}, "withdraw_case(stranger)", after);
      return;
    }
  }
}

void history_generator::seal_action(const hook& after) {
  const std::string& b = one_of(businesses_);
  const auto restricted = eng_.inspect([&](const world& w) -> std::optional<bool> {
    const business_state* found = w.find_business(b);
    if (found == nullptr) return std::nullopt;
    return found->restricted;
  });
  if (!restricted) return;
  if (*restricted) {
    if (chance(0.2)) refuse(operator_actor(), restrict_seal{b, "دوباره", "rule-1"}, "restrict_seal(again)", after);
    else act(operator_actor(), reinstate_seal{b, text("رفع محدودیت"), "rule-2"}, "reinstate_seal", after);
  } else {
    act(operator_actor(), restrict_seal{b, text("شکایات بی‌پاسخ"), "rule-1"}, "restrict_seal", after);
  }
}

}  // namespace sazesh::workload
