// The registered shops, agencies and mediators, for the operator's choices (assign a mediator,
// refer to an agency). The API has no list of parties, so this reads the registrations from the
// whole log (`events --all`, which staff may read) and keeps them for the page's lifetime.
import { readLines } from './api.js';
import { recordOf } from './casefile.js';

let pending = null;

export function loadRegistry({ fresh = false } = {}) {
  if (!pending || fresh) {
    pending = readLines('events', { all: true }).then((lines) => {
      const registry = { businesses: [], agencies: [], mediators: [] };
      for (const r of lines.map(recordOf)) {
        const p = r.payload ?? {};
        if (r.payload_type === 'BusinessRegistered') registry.businesses.push({ id: p.seal_id, name: p.name, domain: p.domain, stars: p.stars });
        else if (r.payload_type === 'AgencyRegistered') registry.agencies.push({ id: r.stream_id, name: p.name, categories: p.categories ?? [] });
        else if (r.payload_type === 'MediatorRegistered') registry.mediators.push({ id: r.stream_id, name: p.name });
      }
      return registry;
    }).catch((err) => {
      pending = null;
      throw err;
    });
  }
  return pending;
}
