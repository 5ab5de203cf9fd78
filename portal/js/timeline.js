// A case's history in Persian: one entry per event, who did it, when (Jalali, Tehran time) and
// what it said. Written from the raw events, so every word on the page is Persian and every
// number is the one the log holds.
import { h, ltr } from './dom.js';
import {
  categoryName, closeReasonName, deadlineName, digits, documentKindName, mediationReasonName,
  rejectReasonName, remedyName, resolutionName, rials, roleName, verdictName,
} from './fa.js';
import { jalaliDateTime } from './dates.js';
import { recordOf } from './casefile.js';

// The few sentences the engine itself writes into events (for deadlines that passed, and the
// documents a filing lacks), said in Persian; whatever people wrote is shown as they wrote it.
const ENGINE_TEXTS = {
  'the business did not answer in time': 'فروشگاه در مهلت پاسخ نداد.',
  'the remedy was not delivered by its deadline': 'جبران در مهلتش انجام نشد.',
  'the consumer did not object to the delivered remedy': 'مصرف‌کننده به جبرانِ انجام‌شده اعتراضی نکرد.',
  'the mediation deadline passed without a settlement': 'مهلت میانجی‌گری بی‌آنکه سازشی شود گذشت.',
};

function inPersian(text) {
  const required = /^required for a (\w+) complaint$/.exec(text);
  if (required) return `لازم برای شکایت «${categoryName(required[1])}»`;
  return ENGINE_TEXTS[text] ?? text;
}

const quote = (text) => (text ? h('blockquote', {}, inPersian(text)) : null);
const dueLine = (label, ms) => (ms ? h('p', { class: 'meta' }, `${label}: ${jalaliDateTime(ms)}`) : null);

// [title, details, tone] for one event's payload.
function describe(type, p) {
  switch (type) {
    case 'CaseFiled':
      return [`شکایت ثبت شد: ${categoryName(p.category)}`, [
        h('p', {}, 'سفارش ', ltr(p.order_reference), ` به مبلغ ${rials(p.amount_rials)}؛ درخواست: ${remedyName(p.requested_remedy)}`),
        quote(p.description)], 'start'];
    case 'DocumentAttached':
      return [`مدرک پیوست شد: ${documentKindName(p.kind)}`, [h('p', {}, ltr(p.file_name), ` (${digits(p.size_bytes)} بایت)`)]];
    case 'DocumentsRequested':
      return ['مدارک بیشتر خواسته شد', [
        h('p', {}, (p.kinds ?? []).map(documentKindName).join('، ')), quote(p.note), dueLine('مهلت', p.due_ms)], 'wait'];
    case 'CaseAccepted':
      return [`در بررسی اولیه پذیرفته شد (${categoryName(p.category)})`, [
        h('p', {}, p.route === 'referral' ? 'مسیر: ارجاع مستقیم به مرجع' : 'مسیر: مذاکره با فروشگاه'), quote(p.note)]];
    case 'CaseRejected':
      return [`در بررسی اولیه رد شد: ${rejectReasonName(p.reason)}`, [
        quote(p.note), p.duplicate_of ? h('p', {}, 'تکرارِ پرونده ', ltr(p.duplicate_of)) : null], 'end'];
    case 'ForwardedToBusiness':
      return ['برای فروشگاه فرستاده شد', [dueLine('مهلت پاسخ', p.response_due_ms)]];
    case 'ResponseDelayed':
      return [`فروشگاه پاسخ نداد: تأخیر مرحلهٔ ${digits(p.level)}`, [dueLine('مهلت بعدی', p.next_due_ms)], 'warn'];
    case 'ResponseUnanswered':
      return ['شکایت بی‌پاسخ ماند', [h('p', {}, 'این شکایت در کارنامهٔ عمومی فروشگاه «بی‌پاسخ» شمرده می‌شود.')], 'warn'];
    case 'BusinessResponded':
      return [p.timely ? 'فروشگاه به‌موقع پاسخ داد' : `فروشگاه با تأخیر مرحلهٔ ${digits(p.delay_level)} پاسخ داد`, [quote(p.text)]];
    case 'MessagePosted':
      return ['پیام', [quote(p.text)]];
    case 'OfferMade':
      return [`پیشنهاد شمارهٔ ${digits(p.offer_number)}: ${remedyName(p.remedy)}`, [
        p.amount_rials ? h('p', {}, `مبلغ: ${rials(p.amount_rials)}`) : null,
        h('p', {}, `انجام تا ${digits(p.remedy_days)} روز پس از پذیرش`), quote(p.text)]];
    case 'OfferAccepted':
      return [`پیشنهاد شمارهٔ ${digits(p.offer_number)} پذیرفته شد`, [dueLine('مهلت انجام', p.remedy_due_ms)], 'good'];
    case 'OfferRejected':
      return [`پیشنهاد شمارهٔ ${digits(p.offer_number)} رد شد`, [quote(p.text)]];
    case 'RemedyFulfilled':
      return ['فروشگاه انجام جبران را اعلام کرد', [quote(p.note), dueLine('مهلت اعتراض مصرف‌کننده', p.confirm_due_ms)]];
    case 'RemedyNotFulfilled':
      return ['مصرف‌کننده اعلام کرد جبران انجام نشده است', [quote(p.note)], 'warn'];
    case 'MediationRequested':
      return [`درخواست میانجی‌گری (${mediationReasonName(p.reason)})`, [quote(p.text)]];
    case 'MediatorAssigned':
      return ['میانجی تعیین شد', [h('p', {}, 'میانجی: ', ltr(p.mediator_id)), dueLine('مهلت میانجی‌گری', p.due_ms)]];
    case 'SettlementProposed':
      return [`پیشنهاد سازش میانجی: ${remedyName(p.remedy)}`, [
        p.amount_rials ? h('p', {}, `مبلغ: ${rials(p.amount_rials)}`) : null, quote(p.text)]];
    case 'MediationConcluded':
      return [p.outcome === 'settled' ? 'میانجی‌گری به سازش رسید' : 'میانجی‌گری ناموفق بود',
        [quote(p.text), p.by_deadline ? h('p', {}, 'با گذشت مهلت') : null], p.outcome === 'settled' ? 'good' : 'warn'];
    case 'ReferredToAgency':
      return ['به مرجع رسیدگی ارجاع شد', [h('p', {}, 'مرجع: ', ltr(p.agency_id)), quote(p.text),
        dueLine('مهلت اعلام وصول', p.acknowledge_due_ms), dueLine('مهلت رأی', p.decision_due_ms)]];
    case 'ReferralAcknowledged':
      return ['مرجع وصول پرونده را اعلام کرد', [h('p', {}, ltr(p.agency_id))]];
    case 'ReferralExtended':
      return ['مهلت رأی تمدید شد', [dueLine('مهلت تازه', p.decision_due_ms)]];
    case 'ReferralTransferred':
      return ['پرونده به مرجع دیگری سپرده شد', [
        h('p', {}, 'از ', ltr(p.from_agency_id), ' به ', ltr(p.to_agency_id)), quote(p.reason),
        dueLine('مهلت اعلام وصول', p.acknowledge_due_ms), dueLine('مهلت رأی', p.decision_due_ms)]];
    case 'ReferralOverdue':
      return [`مهلت «${p.deadline === 'decision' ? deadlineName('referral_decision') : deadlineName('referral_acknowledgement')}» گذشت`,
        [h('p', {}, ltr(p.agency_id))], 'warn'];
    case 'AgencyDecided':
      return [`رأی مرجع: ${verdictName(p.verdict)}`, [h('p', {}, ltr(p.agency_id)), quote(p.text)], 'end'];
    case 'CaseResolved':
      return [`پرونده حل شد ${resolutionName(p.resolution)}`, [quote(p.text)], 'good'];
    case 'CaseClosed':
      return [`پرونده بسته شد: ${closeReasonName(p.reason)}`, [dueLine('بازگشایی ممکن تا', p.reopen_until_ms)], 'end'];
    case 'CaseWithdrawn':
      return ['مصرف‌کننده شکایت را پس گرفت', [quote(p.reason)], 'end'];
    case 'CaseRated':
      return [`امتیاز مصرف‌کننده: ${digits(p.stars)} از ۵`, [
        h('p', {}, p.resolved ? 'مشکل حل شد.' : 'مشکل حل نشد.'), quote(p.comment)]];
    case 'CaseReopened':
      return ['پرونده بازگشایی شد', [quote(p.reason)], 'warn'];
    default:
      return [type, []];
  }
}

// The one-line Persian title of an event.
export function eventTitle(record) {
  return describe(record.payload_type, record.payload ?? {})[0];
}

export function actorText(record) {
  const role = roleName(record.actor_role);
  return record.actor_id ? [role, ' ', ltr(record.actor_id)] : [role];
}

export function timeline(lines) {
  const items = lines.map(recordOf).map((r) => {
    const [title, details, tone = ''] = describe(r.payload_type, r.payload ?? {});
    return h('li', { class: `event ${tone ? `event-${tone}` : ''}` },
      h('div', { class: 'event-head' },
        h('span', { class: 'event-title' }, title),
        h('span', { class: 'event-meta' },
          h('time', { datetime: new Date(r.time_ms).toISOString() }, jalaliDateTime(r.time_ms)),
          ' · ', actorText(r))),
      details);
  });
  return h('ol', { class: 'timeline', reversed: false }, items);
}
