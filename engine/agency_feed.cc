#include "engine/agency_feed.h"

#include <flatbuffers/flatbuffers.h>

#include "engine/record/codec.h"
#include "schemas/dossier_generated.h"

namespace sazesh {
namespace {

// Nested envelopes are read in place (Dossier.event_nested_root()), so their bytes must sit at
// the alignment of their widest scalar (the envelope has 64-bit fields), or verifiers refuse them.
constexpr std::size_t k_nested_alignment = 8;

flatbuffers::Offset<flatbuffers::Vector<std::uint8_t>> nested(flatbuffers::FlatBufferBuilder& b,
                                                              const std::string& bytes) {
  b.ForceVectorAlignment(bytes.size(), sizeof(std::uint8_t), k_nested_alignment);
  return b.CreateVector(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
}

std::string dossier_bytes(const std::string& agency, const std::string& case_id, const std::string& event,
                          const std::vector<std::string>& history, const std::vector<document_ref>& documents) {
  std::size_t size = 1024 + event.size();
  for (const auto& h : history) size += h.size() + 16;
  flatbuffers::FlatBufferBuilder b(size);
  const auto agency_id = b.CreateString(agency);
  const auto case_ref = b.CreateString(case_id);
  const auto event_ref = nested(b, event);
  std::vector<flatbuffers::Offset<fb::EnvelopeBytes>> envelopes;
  envelopes.reserve(history.size());
  for (const auto& h : history) envelopes.push_back(fb::CreateEnvelopeBytes(b, nested(b, h)));
  const auto history_ref = b.CreateVector(envelopes);
  std::vector<flatbuffers::Offset<fb::DocumentRef>> docs;
  for (const auto& d : documents) {
    const auto sha = b.CreateVector(reinterpret_cast<const std::uint8_t*>(d.sha256.data()), d.sha256.size());
    docs.push_back(fb::CreateDocumentRef(b, d.kind, sha, b.CreateString(d.file_name), d.size_bytes));
  }
  const auto docs_ref = b.CreateVector(docs);
  fb::FinishDossierBuffer(b, fb::CreateDossier(b, agency_id, case_ref, event_ref, history_ref, docs_ref));
  return std::string(reinterpret_cast<const char*>(b.GetBufferPointer()), b.GetSize());
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

result<std::vector<side_record>> agency_side_records(event_log& history_source,
                                                     const std::vector<event_record>& records,
                                                     const std::vector<std::string>& bytes) {
  std::vector<side_record> out;
  bool any = false;
  for (const auto& r : records) any = any || !agencies_concerned(r).empty();
  if (!any) return out;

  const std::string& case_id = records.front().stream;
  auto earlier = history_source.read_stream(case_id, stream_version{1});
  if (!earlier) return earlier.error();
  std::vector<std::string> history;
  std::vector<document_ref> documents;
  const auto note_documents = [&](const event_record& r) {
    if (r.payload.type != fb::Event_DocumentAttached) return;
    const auto& d = *r.payload.AsDocumentAttached();
    documents.push_back(document_ref{d.kind, std::string(d.sha256.begin(), d.sha256.end()), d.file_name, d.size_bytes});
  };
  for (auto& e : *earlier) {
    if (e.sequence >= records.front().sequence) break;
    auto r = decode(e.bytes);
    if (!r) return r.error();
    note_documents(*r);
    history.push_back(std::move(e.bytes));
  }
  for (std::size_t i = 0; i < records.size(); ++i) {
    history.push_back(bytes[i]);
    note_documents(records[i]);
    for (const std::string& agency : agencies_concerned(records[i]))
      out.push_back(side_record{"agency." + agency, case_id, dossier_bytes(agency, case_id, bytes[i], history, documents)});
  }
  return out;
}

}  // namespace sazesh
