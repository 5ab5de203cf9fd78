// Pieces every page is made of.
import { h, ltr } from './dom.js';
import { statusName } from './fa.js';
import { persianMessage } from './problems.js';
import { problemDetail } from './forms.js';
import { jalaliDateTime, isoString, timeLeft } from './dates.js';

// The page's one <h1>, which takes focus after each navigation so a screen reader starts there.
export function pageTitle(text, lead) {
  return h('div', { class: 'page-head' },
    h('h1', { tabindex: '-1', id: 'page-title' }, text),
    lead ? h('p', { class: 'lead' }, lead) : null);
}

export function section(title, ...children) {
  const id = `section-${title.replace(/\s+/g, '-')}`;
  return h('section', { class: 'panel', 'aria-labelledby': id }, h('h2', { id }, title), children);
}

export function loading(text = 'در حال بارگذاری…') {
  return h('p', { class: 'loading', role: 'status' }, text);
}

// A read that failed, said in Persian; 404 is "not found" whether the thing is missing or not
// the reader's, exactly as the service words it.
export function failure(problem, what = '') {
  const title = problem.status === 404 ? `${what || 'این مورد'} پیدا نشد` : 'این صفحه بارگذاری نشد';
  return h('div', { class: 'notice notice-error', role: 'alert' },
    h('h2', {}, title),
    h('p', {}, problem.status === 404
      ? 'یا چنین موردی وجود ندارد، یا شما به آن دسترسی ندارید.'
      : persianMessage(problem)),
    problem.field || problem.rule ? h('p', { class: 'problem-line' }, problemDetail(problem)) : null);
}

export function statusBadge(status) {
  return h('span', { class: `badge status-${status}` }, statusName(status));
}

export function caseLink(caseId) {
  return h('a', { href: `#/case/${encodeURIComponent(caseId)}` }, ltr(caseId));
}

export function when(instant) {
  return h('time', { datetime: isoString(instant) }, jalaliDateTime(instant));
}

// A deadline as a cell: the Jalali date and how long is left (or how long ago it passed).
export function dueCell(dueMs) {
  if (!Number.isFinite(dueMs)) return '—';
  const passed = dueMs < Date.now();
  return h('span', { class: passed ? 'due overdue' : 'due' }, when(dueMs), ' · ', h('span', { class: 'time-left' }, timeLeft(dueMs)));
}

export function keyValues(pairs) {
  return h('dl', { class: 'facts' }, pairs.filter(Boolean).map(([k, v]) => h('div', {}, h('dt', {}, k), h('dd', {}, v))));
}
