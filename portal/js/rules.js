// The case rules in force (GET /v1/rules, open to anyone): the documents each category needs
// and each deadline's length. Read once and kept for the page's lifetime: they change only when
// the service is restarted with other rules.
import { read } from './api.js';

let pending = null;

export function loadRules() {
  pending ??= read('rules').catch((err) => {
    pending = null;
    throw err;
  });
  return pending;
}
