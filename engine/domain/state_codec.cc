#include "engine/domain/state_codec.h"

namespace sazesh {
namespace {

void write_head(row_writer& w, const stream_head& h) {
  w.u64(h.version.value());
  w.str(h.last_hash);
}

stream_head read_head(row_reader& rd) {
  stream_head h;
  h.version = stream_version(rd.u64());
  h.last_hash = rd.str();
  return h;
}

enum class party_kind : std::uint8_t { consumer = 1, business = 2, agency = 3, mediator = 4, credential = 5 };

}  // namespace

void write_case_state(row_writer& w, const case_state& s) {
  w.str(s.id);
  w.u64(s.head.version.value());
  w.str(s.head.last_hash);
  w.u8(static_cast<std::uint8_t>(s.status));
  w.str(s.consumer_id);
  w.str(s.business_id);
  w.str(s.order_digest);
  w.i64(s.purchase_date_days);
  w.u64(s.amount_rials);
  w.u8(s.category);
  w.u8(s.requested_remedy);
  w.u32(static_cast<std::uint32_t>(s.documents.size()));
  for (const auto& d : s.documents) {
    w.u8(d.kind);
    w.str(d.sha256);
    w.str(d.file_name);
    w.u64(d.size_bytes);
  }
  w.u32(static_cast<std::uint32_t>(s.missing_documents.size()));
  for (auto k : s.missing_documents) w.u8(k);
  w.u8(static_cast<std::uint8_t>(s.response_level));
  w.flag(s.responded);
  w.flag(s.timely_response);
  w.flag(s.unanswered);
  w.u32(static_cast<std::uint32_t>(s.offers.size()));
  for (const auto& o : s.offers) {
    w.u32(o.number);
    w.u8(o.by);
    w.u8(o.remedy);
    w.u64(o.amount_rials);
    w.u32(o.remedy_days);
    w.u8(static_cast<std::uint8_t>(o.status));
  }
  w.str(s.mediator_id);
  w.str(s.agency_id);
  w.u32(static_cast<std::uint32_t>(s.agencies.size()));
  for (const auto& a : s.agencies) w.str(a);
  w.flag(s.referral_acknowledged);
  w.flag(s.referral_extended);
  w.u32(static_cast<std::uint32_t>(s.deadlines.size()));
  for (const auto& d : s.deadlines) {
    w.u8(static_cast<std::uint8_t>(d.kind));
    w.i64(d.due);
  }
  w.flag(s.resolution.has_value());
  w.u8(s.resolution.value_or(fb::Resolution_negotiation));
  w.flag(s.close_reason.has_value());
  w.u8(s.close_reason.value_or(fb::CloseReason_resolved));
  w.i64(s.filed_at);
  w.i64(s.closed_at);
  w.i64(s.reopen_until);
  w.i64(s.last_change);
  w.u8(static_cast<std::uint8_t>(s.rating));
  w.u32(static_cast<std::uint32_t>(s.reopened));
}

void read_case_state(row_reader& rd, case_state& s) {
  s.id = rd.str();
  s.head.version = stream_version(rd.u64());
  s.head.last_hash = rd.str();
  s.status = static_cast<case_status>(rd.u8());
  s.consumer_id = rd.str();
  s.business_id = rd.str();
  s.order_digest = rd.str();
  s.purchase_date_days = static_cast<std::int32_t>(rd.i64());
  s.amount_rials = rd.u64();
  s.category = static_cast<fb::Category>(rd.u8());
  s.requested_remedy = static_cast<fb::RemedyKind>(rd.u8());
  for (std::uint32_t n = rd.u32(); rd.ok() && n > 0; --n) {
    document_ref d;
    d.kind = static_cast<fb::DocumentKind>(rd.u8());
    d.sha256 = rd.str();
    d.file_name = rd.str();
    d.size_bytes = rd.u64();
    s.documents.push_back(std::move(d));
  }
  for (std::uint32_t n = rd.u32(); rd.ok() && n > 0; --n)
    s.missing_documents.push_back(static_cast<fb::DocumentKind>(rd.u8()));
  s.response_level = rd.u8();
  s.responded = rd.flag();
  s.timely_response = rd.flag();
  s.unanswered = rd.flag();
  for (std::uint32_t n = rd.u32(); rd.ok() && n > 0; --n) {
    offer o;
    o.number = rd.u32();
    o.by = static_cast<fb::Role>(rd.u8());
    o.remedy = static_cast<fb::RemedyKind>(rd.u8());
    o.amount_rials = rd.u64();
    o.remedy_days = rd.u32();
    o.status = static_cast<offer_status>(rd.u8());
    s.offers.push_back(o);
  }
  s.mediator_id = rd.str();
  s.agency_id = rd.str();
  for (std::uint32_t n = rd.u32(); rd.ok() && n > 0; --n) s.agencies.push_back(rd.str());
  s.referral_acknowledged = rd.flag();
  s.referral_extended = rd.flag();
  for (std::uint32_t n = rd.u32(); rd.ok() && n > 0; --n) {
    deadline d;
    d.kind = static_cast<deadline_kind>(rd.u8());
    d.due = rd.i64();
    s.deadlines.push_back(d);
  }
  const bool has_resolution = rd.flag();
  const auto resolution = static_cast<fb::Resolution>(rd.u8());
  if (has_resolution) s.resolution = resolution;
  const bool has_close = rd.flag();
  const auto close = static_cast<fb::CloseReason>(rd.u8());
  if (has_close) s.close_reason = close;
  s.filed_at = rd.i64();
  s.closed_at = rd.i64();
  s.reopen_until = rd.i64();
  s.last_change = rd.i64();
  s.rating = rd.u8();
  s.reopened = static_cast<int>(rd.u32());
}

std::string encode_case_state(const case_state& s) {
  row_writer w;
  write_case_state(w, s);
  return w.take();
}

result<case_state> decode_case_state(std::string_view bytes) {
  row_reader rd(bytes);
  case_state s;
  read_case_state(rd, s);
  return finish_row(rd, std::move(s), "case_state");
}

std::string encode_party_state(const party_state& p) {
  row_writer w;
  std::visit(
      [&](const auto& party) {
        using T = std::decay_t<decltype(party)>;
        if constexpr (std::is_same_v<T, consumer_state>) {
          w.u8(static_cast<std::uint8_t>(party_kind::consumer));
          w.str(party.id);
          w.str(party.national_code_digest);
          w.flag(party.sealed);
          w.flag(party.forgotten);
          write_head(w, party.head);
        } else if constexpr (std::is_same_v<T, business_state>) {
          w.u8(static_cast<std::uint8_t>(party_kind::business));
          w.str(party.id);
          w.str(party.domain);
          w.str(party.name);
          w.u8(static_cast<std::uint8_t>(party.stars));
          w.flag(party.restricted);
          w.str(party.restriction_rule);
          write_head(w, party.head);
        } else if constexpr (std::is_same_v<T, agency_state>) {
          w.u8(static_cast<std::uint8_t>(party_kind::agency));
          w.str(party.id);
          w.str(party.name);
          w.u32(static_cast<std::uint32_t>(party.categories.size()));
          for (auto c : party.categories) w.u8(c);
          write_head(w, party.head);
        } else if constexpr (std::is_same_v<T, mediator_state>) {
          w.u8(static_cast<std::uint8_t>(party_kind::mediator));
          w.str(party.id);
          w.flag(party.sealed);
          w.flag(party.forgotten);
          write_head(w, party.head);
        } else {
          w.u8(static_cast<std::uint8_t>(party_kind::credential));
          w.str(party.id);
          w.u8(static_cast<std::uint8_t>(party.role));
          w.str(party.actor_id);
          w.str(party.secret_hash);
          w.str(party.label);
          w.flag(party.revoked);
          write_head(w, party.head);
        }
      },
      p);
  return w.take();
}

result<party_state> decode_party_state(std::string_view bytes) {
  row_reader rd(bytes);
  switch (static_cast<party_kind>(rd.u8())) {
    case party_kind::consumer: {
      consumer_state c;
      c.id = rd.str();
      c.national_code_digest = rd.str();
      c.sealed = rd.flag();
      c.forgotten = rd.flag();
      c.head = read_head(rd);
      return finish_row(rd, party_state(std::move(c)), "party_state");
    }
    case party_kind::business: {
      business_state b;
      b.id = rd.str();
      b.domain = rd.str();
      b.name = rd.str();
      b.stars = rd.u8();
      b.restricted = rd.flag();
      b.restriction_rule = rd.str();
      b.head = read_head(rd);
      return finish_row(rd, party_state(std::move(b)), "party_state");
    }
    case party_kind::agency: {
      agency_state a;
      a.id = rd.str();
      a.name = rd.str();
      for (std::uint32_t n = rd.u32(); rd.ok() && n > 0; --n) a.categories.push_back(static_cast<fb::Category>(rd.u8()));
      a.head = read_head(rd);
      return finish_row(rd, party_state(std::move(a)), "party_state");
    }
    case party_kind::mediator: {
      mediator_state m;
      m.id = rd.str();
      m.sealed = rd.flag();
      m.forgotten = rd.flag();
      m.head = read_head(rd);
      return finish_row(rd, party_state(std::move(m)), "party_state");
    }
    case party_kind::credential: {
      credential_state k;
      k.id = rd.str();
      k.role = static_cast<fb::Role>(rd.u8());
      k.actor_id = rd.str();
      k.secret_hash = rd.str();
      k.label = rd.str();
      k.revoked = rd.flag();
      k.head = read_head(rd);
      return finish_row(rd, party_state(std::move(k)), "party_state");
    }
  }
  return error(errc::corrupt, "party_state", "the stored row does not decode");
}

}  // namespace sazesh
