// A case as the page needs it, folded from its events (GET /v1/events?case=…): the offers and
// who may answer them, the documents, the mediator, the agency holding it, whether it was rated
// and until when it may be reopened. The status and deadlines come from the service (`show`),
// which decides them; this only gathers what the events say.

export function bytesToHex(bytes) {
  return Array.from(bytes ?? [], (b) => b.toString(16).padStart(2, '0')).join('');
}

// A line of `events` is the record itself, or {sequence, envelope, record} with `bytes=true`.
// A sealed record carries its personal fields opened beside the payload (`personal`): they are
// put back in place ("erased" once the person was forgotten).
export function recordOf(line) {
  const r = line.record ?? line;
  if (!r.personal) return r;
  return { ...r, payload: { ...(r.payload ?? {}), ...r.personal } };
}

export function foldCase(lines) {
  const c = {
    id: '', consumer: '', business: '', orderRef: '', amount: 0, category: '', description: '',
    requestedRemedy: '', requiredDocuments: [], filedAt: 0, documents: [], offers: [], settlements: [],
    mediator: '', agency: '', agenciesHeld: [], acknowledged: false, extended: false, rated: false,
    reopenUntil: 0, closedAt: 0,
  };
  for (const line of lines) {
    const r = recordOf(line);
    const p = r.payload ?? {};
    const by = r.actor_role;
    switch (r.payload_type) {
      case 'CaseFiled':
        Object.assign(c, {
          id: r.stream_id, consumer: p.consumer_id, business: p.business_id, orderRef: p.order_reference,
          amount: p.amount_rials, category: p.category, description: p.description,
          requestedRemedy: p.requested_remedy, requiredDocuments: p.required_documents ?? [], filedAt: r.time_ms,
        });
        break;
      case 'CaseAccepted':
        c.category = p.category;
        break;
      case 'DocumentAttached':
        c.documents.push({ kind: p.kind, sha256: bytesToHex(p.sha256), fileName: p.file_name, size: p.size_bytes, at: r.time_ms, by });
        break;
      case 'OfferMade':
        c.offers.push({ number: p.offer_number, by, remedy: p.remedy, amount: p.amount_rials, text: p.text, remedyDays: p.remedy_days, status: 'open' });
        break;
      case 'OfferAccepted':
      case 'OfferRejected': {
        const o = c.offers.find((x) => x.number === p.offer_number);
        if (o) o.status = r.payload_type === 'OfferAccepted' ? 'accepted' : 'rejected';
        break;
      }
      case 'SettlementProposed':
        c.settlements.push({ text: p.text, remedy: p.remedy, amount: p.amount_rials, at: r.time_ms });
        break;
      case 'MediatorAssigned':
        c.mediator = p.mediator_id;
        break;
      case 'ReferredToAgency':
        Object.assign(c, { agency: p.agency_id, acknowledged: false, extended: false });
        c.agenciesHeld.push(p.agency_id);
        break;
      case 'ReferralTransferred':
        Object.assign(c, { agency: p.to_agency_id, acknowledged: false, extended: false });
        c.agenciesHeld.push(p.to_agency_id);
        break;
      case 'ReferralAcknowledged':
        if (p.agency_id === c.agency) c.acknowledged = true;
        break;
      case 'ReferralExtended':
        if (p.agency_id === c.agency) c.extended = true;
        break;
      case 'CaseRated':
        c.rated = true;
        break;
      case 'CaseClosed':
        c.closedAt = r.time_ms;
        c.reopenUntil = p.reopen_until_ms ?? 0;
        break;
      case 'CaseReopened':
        c.reopenUntil = 0;
        break;
      default:
        break;
    }
  }
  return c;
}

// The open offers `role` may answer: those the other party made.
export function answerableOffers(c, role) {
  return c.offers.filter((o) => o.status === 'open' && o.by !== role);
}
