#include "engine/agency_feed.h"

#include <fmt/format.h>

#include <algorithm>

#include <flatbuffers/flatbuffers.h>

#include "engine/record/codec.h"
#include "schemas/dossier_generated.h"

namespace sazesh {
namespace {

// Nested envelopes are read in place (Dossier.event_nested_root()), so their bytes must sit at
// the alignment of their widest scalar (the envelope has 64-bit fields), or verifiers refuse them.
constexpr std::size_t k_nested_alignment = 8;

flatbuffers::Offset<flatbuffers::Vector<std::uint8_t>> nested(flatbuffers::FlatBufferBuilder& b, std::string_view bytes) {
  b.ForceVectorAlignment(bytes.size(), sizeof(std::uint8_t), k_nested_alignment);
  return b.CreateVector(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
}

// What one Dossier holds (schemas/dossier.fbs), pointing into its sources.
struct dossier_content {
  std::string_view agency, case_id, event;
  std::vector<std::string_view> history;
  std::uint64_t history_from = 1;
  std::vector<document_ref> documents;
  std::uint32_t part = 1, parts = 1;
  std::vector<std::string_view> parties;  // the last part's only
  std::string_view checkpoint;            // none before the record's proof is known
  std::uint64_t leaf_index = 0;
  std::string_view inclusion_proof;       // the audit path's hashes, one after the other
};

std::string dossier_bytes(const dossier_content& c) {
  std::size_t size = 1024 + c.event.size() + c.checkpoint.size() + c.inclusion_proof.size();
  for (const auto& p : c.parties) size += p.size() + 16;
  for (const auto& h : c.history) size += h.size() + 16;
  flatbuffers::FlatBufferBuilder b(size);
  const auto agency_id = b.CreateString(c.agency);
  const auto case_ref = b.CreateString(c.case_id);
  const auto event_ref = nested(b, c.event);
  std::vector<flatbuffers::Offset<fb::EnvelopeBytes>> envelopes;
  envelopes.reserve(c.history.size());
  for (const auto& h : c.history) envelopes.push_back(fb::CreateEnvelopeBytes(b, nested(b, h)));
  const auto history_ref = b.CreateVector(envelopes);
  std::vector<flatbuffers::Offset<fb::DocumentRef>> docs;
  for (const auto& d : c.documents) {
    const auto sha = b.CreateVector(reinterpret_cast<const std::uint8_t*>(d.sha256.data()), d.sha256.size());
    docs.push_back(fb::CreateDocumentRef(b, d.kind, sha, b.CreateString(d.file_name), d.size_bytes));
  }
  const auto docs_ref = b.CreateVector(docs);
  flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<fb::EnvelopeBytes>>> parties_ref;
  if (c.part == c.parts && !c.parties.empty()) {
    std::vector<flatbuffers::Offset<fb::EnvelopeBytes>> who;
    for (const auto& p : c.parties) who.push_back(fb::CreateEnvelopeBytes(b, nested(b, p)));
    parties_ref = b.CreateVector(who);
  }
  flatbuffers::Offset<flatbuffers::String> checkpoint_ref;
  flatbuffers::Offset<flatbuffers::Vector<std::uint8_t>> proof_ref;
  if (!c.checkpoint.empty()) {
    checkpoint_ref = b.CreateString(c.checkpoint);
    proof_ref = b.CreateVector(reinterpret_cast<const std::uint8_t*>(c.inclusion_proof.data()), c.inclusion_proof.size());
  }
  fb::FinishDossierBuffer(b, fb::CreateDossier(b, agency_id, case_ref, event_ref, history_ref, docs_ref, c.history_from,
                                               c.part, c.parts, parties_ref, checkpoint_ref, c.leaf_index, proof_ref));
  return std::string(reinterpret_cast<const char*>(b.GetBufferPointer()), b.GetSize());
}

std::string_view bytes_of(const flatbuffers::Vector<std::uint8_t>* v) {
  return v == nullptr ? std::string_view() : std::string_view(reinterpret_cast<const char*>(v->data()), v->size());
}

}  // namespace

std::vector<std::string> agencies_concerned(const event_record& e) {
  const fb::EventUnion& p = e.payload;
  switch (p.type) {
    case fb::Event_ReferredToAgency: return {p.AsReferredToAgency()->agency_id};
    case fb::Event_ReferralAcknowledged: return {p.AsReferralAcknowledged()->agency_id};
    case fb::Event_ReferralExtended: return {p.AsReferralExtended()->agency_id};
    case fb::Event_ReferralOverdue: return {p.AsReferralOverdue()->agency_id};
    case fb::Event_AgencyDecided: return {p.AsAgencyDecided()->agency_id};
    case fb::Event_ReferralTransferred: {
      const auto& t = *p.AsReferralTransferred();
      if (t.from_agency_id == t.to_agency_id) return {t.to_agency_id};
      return {t.from_agency_id, t.to_agency_id};
    }
    case fb::Event_NONE:
    case fb::Event_ConsumerRegistered:
    case fb::Event_BusinessRegistered:
    case fb::Event_AgencyRegistered:
    case fb::Event_MediatorRegistered:
    case fb::Event_SealRestricted:
    case fb::Event_SealReinstated:
    case fb::Event_CredentialIssued:
    case fb::Event_CredentialRevoked:
    case fb::Event_PartyForgotten:
    case fb::Event_CaseFiled:
    case fb::Event_DocumentAttached:
    case fb::Event_DocumentsRequested:
    case fb::Event_CaseAccepted:
    case fb::Event_CaseRejected:
    case fb::Event_ForwardedToBusiness:
    case fb::Event_ResponseDelayed:
    case fb::Event_ResponseUnanswered:
    case fb::Event_BusinessResponded:
    case fb::Event_MessagePosted:
    case fb::Event_OfferMade:
    case fb::Event_OfferAccepted:
    case fb::Event_OfferRejected:
    case fb::Event_RemedyFulfilled:
    case fb::Event_RemedyNotFulfilled:
    case fb::Event_MediationRequested:
    case fb::Event_MediatorAssigned:
    case fb::Event_SettlementProposed:
    case fb::Event_MediationConcluded:
    case fb::Event_CaseResolved:
    case fb::Event_CaseClosed:
    case fb::Event_CaseWithdrawn:
    case fb::Event_CaseRated:
    case fb::Event_CaseReopened:
      return {};
  }
  return {};
}

namespace {

bool told_to_holders(const event_record& e) {
  const auto t = e.payload.type;
  return t == fb::Event_DocumentAttached || t == fb::Event_CaseClosed || t == fb::Event_CaseWithdrawn;
}

}  // namespace

std::vector<std::string> case_feed::next(const event_record& e) {
  std::vector<std::string> told = agencies_concerned(e);
  const fb::EventUnion& p = e.payload;
  if (p.type == fb::Event_DocumentAttached && !holder_.empty()) told.push_back(holder_);
  if ((p.type == fb::Event_CaseClosed || p.type == fb::Event_CaseWithdrawn) && !last_holder_.empty())
    told.push_back(last_holder_);
  std::vector<std::string> unique;
  for (auto& a : told)
    if (std::find(unique.begin(), unique.end(), a) == unique.end()) unique.push_back(std::move(a));
  // Then the event is taken in: who holds the case now, and who held it last.
  switch (p.type) {
    case fb::Event_ReferredToAgency: holder_ = last_holder_ = p.AsReferredToAgency()->agency_id; break;
    case fb::Event_ReferralTransferred: holder_ = last_holder_ = p.AsReferralTransferred()->to_agency_id; break;
    case fb::Event_AgencyDecided:
      if (p.AsAgencyDecided()->agency_id == holder_) holder_.clear();
      break;
    case fb::Event_CaseClosed:
    case fb::Event_CaseWithdrawn: holder_.clear(); break;
    default: break;
  }
  return unique;
}

bool may_be_told(const event_record& e, const std::string& agency) {
  if (told_to_holders(e)) return true;
  const auto concerned = agencies_concerned(e);
  return std::find(concerned.begin(), concerned.end(), agency) != concerned.end();
}

result<std::vector<std::string>> agencies_told_of(event_log& log, const event_record& e) {
  if (!told_to_holders(e)) return agencies_concerned(e);
  auto events = log.read_stream(e.stream, stream_version{1});
  if (!events) return events.error();
  case_feed feed;
  std::vector<std::string> told;
  for (const auto& stored : *events) {
    if (stored.sequence.value() > e.sequence.value()) break;
    auto each = decode(stored.bytes);
    if (!each)
      return error(errc::corrupt, "log", fmt::format("{} #{}: {}", stored.stream, stored.sequence.value(), each.error().message()));
    told = feed.next(*each);
  }
  return told;
}

std::vector<std::string> parties_named(const event_record& filed) {
  if (filed.payload.type != fb::Event_CaseFiled) return {};
  const auto& f = *filed.payload.AsCaseFiled();
  return {f.consumer_id, f.business_id};
}

void stream_history::bound() {
  if (bytes_ > max_bytes_) {  // a pointer returned before is the caller's to have copied by now
    streams_.clear();
    bytes_ = 0;
  }
}

namespace {

// What a decoded event adds to a history, roughly: the record itself, and its strings and
// payload table on the heap, about twice its envelope's size.
std::size_t decoded_cost(const std::string& bytes) { return sizeof(event_record) + 2 * bytes.size(); }

}  // namespace

void stream_history::remember(const std::string& stream, std::uint64_t sequence, const std::string& bytes,
                              std::optional<event_record> record) {
  bound();
  auto found = streams_.find(stream);
  if (found == streams_.end()) {
    if (sequence != 1) return;  // its beginning is not kept: read from the log when asked
    found = streams_.emplace(stream, kept{}).first;
  }
  kept& k = found->second;
  if (k.bytes.size() + 1 != sequence) return;  // kept already, or not what follows
  k.bytes.push_back(bytes);
  bytes_ += bytes.size();
  if (record && k.records.size() + 1 == k.bytes.size()) {
    k.records.push_back(std::move(*record));
    bytes_ += decoded_cost(bytes);
  }
}

result<const std::vector<std::string>*> stream_history::events(const std::string& stream, std::uint64_t count) {
  bound();
  auto& k = streams_[stream];
  if (k.bytes.size() >= count) return &k.bytes;
  auto more = log_.read_stream(stream, stream_version{k.bytes.size() + 1});
  if (!more) return more.error();
  std::uint64_t expected = k.bytes.size() + 1;
  for (auto& e : *more) {
    if (e.sequence.value() != expected++) break;  // a gap: what follows is not this history
    bytes_ += e.bytes.size();
    k.bytes.push_back(std::move(e.bytes));
  }
  return &k.bytes;
}

result<const std::vector<event_record>*> stream_history::decoded(const std::string& stream, std::uint64_t count) {
  auto& k = streams_[stream];
  const auto want = std::min<std::uint64_t>(count, k.bytes.size());
  while (k.records.size() < want) {
    const std::string& bytes = k.bytes[k.records.size()];
    auto r = decode(bytes);
    if (!r) return r.error();
    k.records.push_back(std::move(*r));
    bytes_ += decoded_cost(bytes);
  }
  return &k.records;
}

result<std::vector<side_record>> agency_side_records(event_log& history_source, const std::vector<event_record>& records,
                                                     const std::vector<std::string>& bytes) {
  stream_history once(history_source);
  return agency_side_records(once, records, bytes);
}

result<std::vector<side_record>> agency_side_records(stream_history& history_source, const std::vector<event_record>& records,
                                                     const std::vector<std::string>& bytes) {
  std::vector<side_record> out;
  bool any = false;
  for (const auto& r : records) any = any || told_to_holders(r) || !agencies_concerned(r).empty();
  if (!any) return out;

  const std::string& case_id = records.front().stream;
  const std::uint64_t first = records.front().sequence.value();
  auto earlier = history_source.events(case_id, first - 1);
  if (!earlier) return earlier.error();
  const std::size_t known = std::min<std::size_t>((*earlier)->size(), first - 1);
  std::vector<std::string> history((*earlier)->begin(), (*earlier)->begin() + static_cast<std::ptrdiff_t>(known));
  if (history.size() != first - 1)
    return error(errc::conflict, "log",
                 fmt::format("case {}: {} earlier events found for an event of sequence {}", case_id, history.size(), first));
  std::vector<document_ref> documents;
  const auto note_documents = [&](const event_record& r) {
    if (r.payload.type != fb::Event_DocumentAttached) return;
    const auto& d = *r.payload.AsDocumentAttached();
    documents.push_back(document_ref{d.kind, std::string(d.sha256.begin(), d.sha256.end()), d.file_name, d.size_bytes});
  };
  // Which agencies each event was told to, along the case; and who its parties are (named by its
  // first event). The earlier events are decoded by the history, once while it keeps them.
  case_feed feed;
  std::vector<std::vector<std::string>> told;
  std::vector<std::string> party_streams;
  {
    auto decoded = history_source.decoded(case_id, known);
    if (!decoded) return decoded.error();
    if ((*decoded)->size() < known)
      return error(errc::conflict, "log", fmt::format("case {}: {} of its {} earlier events could be decoded", case_id,
                                                      (*decoded)->size(), known));
    for (std::size_t i = 0; i < known; ++i) {
      const event_record& r = (**decoded)[i];
      note_documents(r);
      told.push_back(feed.next(r));
    }
    party_streams = parties_named(known > 0 ? (**decoded)[0] : records.front());
  }
  // Per agency: how much of the history it has had (its last record ended at that event).
  const auto had_by = [&](const std::string& agency, std::size_t before) {
    for (std::size_t i = before; i-- > 0;)
      if (std::find(told[i].begin(), told[i].end(), agency) != told[i].end()) return i + 1;
    return std::size_t{0};
  };
  // Who the parties are: the first event of the consumer's and the business's streams.
  std::vector<std::string> parties;
  bool parties_read = false;
  const auto read_parties = [&]() -> status {
    parties_read = true;
    for (const std::string& party : party_streams) {
      auto registration = history_source.events(party, 1);
      if (!registration) return registration.error();
      if ((*registration)->empty())
        return error(errc::conflict, "log", fmt::format("case {}: party {} has no events", case_id, party));
      parties.push_back((*registration)->front());
    }
    return ok;
  };
  for (std::size_t i = 0; i < records.size(); ++i) {
    history.push_back(bytes[i]);
    note_documents(records[i]);
    told.push_back(feed.next(records[i]));
    if (!told.back().empty() && !parties_read)
      if (auto s = read_parties(); !s) return s.error();
    const std::size_t end = history.size();
    for (const std::string& agency : told.back()) {
      const std::size_t from = had_by(agency, end - 1);
      // Windows of at most max_dossier_history_bytes (at least one event each), the last one
      // ending with the event.
      std::vector<std::pair<std::size_t, std::size_t>> windows;
      std::size_t start = from, bytes_in = 0;
      for (std::size_t j = from; j < end; ++j) {
        if (j > start && bytes_in + history[j].size() > max_dossier_history_bytes) {
          windows.emplace_back(start, j);
          start = j;
          bytes_in = 0;
        }
        bytes_in += history[j].size();
      }
      windows.emplace_back(start, end);
      const auto parts = static_cast<std::uint32_t>(windows.size());
      for (std::uint32_t p = 0; p < parts; ++p) {
        dossier_content c;
        c.agency = agency;
        c.case_id = case_id;
        c.event = bytes[i];
        c.history.assign(history.begin() + static_cast<std::ptrdiff_t>(windows[p].first),
                         history.begin() + static_cast<std::ptrdiff_t>(windows[p].second));
        c.history_from = windows[p].first + 1;
        c.documents = documents;
        c.part = p + 1;
        c.parts = parts;
        c.parties.assign(parties.begin(), parties.end());
        out.push_back(side_record{"agency." + agency, case_id, dossier_bytes(c)});
      }
    }
  }
  return out;
}

result<std::string> with_proof(std::string_view dossier, std::string_view checkpoint, std::uint64_t leaf_index,
                               const std::vector<std::string>& inclusion_proof) {
  flatbuffers::Verifier verifier(reinterpret_cast<const std::uint8_t*>(dossier.data()), dossier.size());
  if (!fb::VerifyDossierBuffer(verifier)) return error(errc::invalid_argument, "dossier", "is not a Dossier");
  const fb::Dossier* d = fb::GetDossier(dossier.data());
  dossier_content c;
  c.agency = d->agency_id() ? d->agency_id()->string_view() : std::string_view();
  c.case_id = d->case_id() ? d->case_id()->string_view() : std::string_view();
  c.event = bytes_of(d->event());
  if (d->history())
    for (const auto* h : *d->history()) c.history.push_back(bytes_of(h->bytes()));
  c.history_from = d->history_from();
  if (d->documents())
    for (const auto* doc : *d->documents())
      c.documents.push_back(document_ref{doc->kind(), std::string(bytes_of(doc->sha256())),
                                         doc->file_name() ? doc->file_name()->str() : std::string(), doc->size_bytes()});
  c.part = d->part();
  c.parts = d->parts();
  if (d->parties())
    for (const auto* p : *d->parties()) c.parties.push_back(bytes_of(p->bytes()));
  std::string path;
  for (const auto& h : inclusion_proof) path += h;
  c.checkpoint = checkpoint;
  c.leaf_index = leaf_index;
  c.inclusion_proof = path;
  return dossier_bytes(c);
}

}  // namespace sazesh
