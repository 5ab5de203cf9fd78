// The case rules in force (GET /v1/rules, open to anyone): the documents each category needs
// and each deadline's length. Read once and kept for the page's lifetime: they change only when
// the service is restarted with other rules.
import { read } from './api.js';
import { durationText } from './fa.js';

let pending = null;

export function loadRules() {
  pending ??= read('rules').catch((err) => {
    pending = null;
    throw err;
  });
  return pending;
}

// Each deadline's length in words, by its name in `durations` ({ mediation: "۲۱ روز", … }), or
// null when the rules cannot be read now: the page then says it without numbers.
export async function durationWords() {
  const rules = await loadRules().catch(() => null);
  if (!rules?.durations) return null;
  return Object.fromEntries(Object.entries(rules.durations).map(([name, d]) => [name, durationText(d)]));
}
