// The shop's pages: its inbox, soonest rung of the answer ladder first, and its own scorecard
// and trust score with the points each event brought.
import { h, ltr, table } from '../dom.js';
import { read } from '../api.js';
import { failure, keyValues, loading, pageTitle, section } from '../layout.js';
import { caseTable } from '../case-list.js';
import { OPEN_STATUSES, digits, number, scoreEventName } from '../fa.js';
import { jalaliText } from '../dates.js';
import { isRestricted, restrictionText } from './public.js';
import { durationWords } from '../rules.js';

export async function shopInbox(main, params, session) {
  const d = await durationWords();
  main.append(pageTitle('صندوق شکایت‌ها',
    'شکایت‌هایی که پاسخ می‌خواهند بالاتر آمده‌اند: به ترتیب نزدیک‌ترین مهلت. ' + (d
      ? `پاسخ ندادن در ${d.response_first} تأخیر شمرده می‌شود و پس از دو مهلت دیگر (${d.response_second} و ${d.response_final}) شکایت «بی‌پاسخ» می‌ماند.`
      : 'پاسخ ندادن در مهلت نخست تأخیر شمرده می‌شود و پس از دو مهلت دیگر شکایت «بی‌پاسخ» می‌ماند.')));
  const wait = loading();
  main.append(wait);
  try {
    const rows = [await read('cases')].flat();
    const waiting = rows.filter((r) => r.status === 'with_business');
    const open = rows.filter((r) => OPEN_STATUSES.has(r.status) && r.status !== 'with_business');
    const closed = rows.filter((r) => !OPEN_STATUSES.has(r.status));
    wait.replaceWith(
      section('در انتظار پاسخ شما', caseTable(waiting, 'شکایت‌های در انتظار پاسخ', ['case', 'deadline', 'category', 'filed'], 'شکایتی در انتظار پاسخ نیست.')),
      section('پرونده‌های باز دیگر', caseTable(open, 'پرونده‌های باز', ['case', 'status', 'deadline', 'category', 'filed'], 'پروندهٔ باز دیگری نیست.')),
      section('پرونده‌های بسته', caseTable(closed, 'پرونده‌های بسته', ['case', 'status', 'category', 'filed'], 'پروندهٔ بسته‌ای نیست.')));
  } catch (problem) {
    wait.replaceWith(failure(problem));
  }
}

const COUNTERS = [
  ['complaints', 'شکایت‌ها'], ['open_cases', 'پرونده‌های باز'], ['timely_responses', 'پاسخ به‌موقع'],
  ['late_responses', 'پاسخ با تأخیر'], ['delays_1', 'تأخیر مرحلهٔ ۱'], ['delays_2', 'تأخیر مرحلهٔ ۲'],
  ['unanswered', 'بی‌پاسخ'], ['offers', 'پیشنهادها'], ['settled_negotiation', 'سازش در مذاکره'],
  ['settled_mediation', 'سازش در میانجی‌گری'], ['mediation_failed', 'میانجی‌گری ناموفق'], ['referred', 'ارجاع به مرجع'],
  ['decisions_upheld', 'رأی علیه فروشگاه'], ['remedy_not_fulfilled', 'جبران انجام‌نشده'], ['reopened', 'بازگشایی'],
  ['withdrawn', 'پس‌گرفته'], ['ratings', 'امتیازهای مصرف‌کنندگان'],
];

export async function shopScore(main, params, session) {
  const seal = session.id;
  main.append(pageTitle('کارنامه و امتیاز اعتماد'));
  const wait = loading();
  main.append(wait);
  try {
    const [score, card, points] = await Promise.all([
      read('score', { business: seal }), read('scorecard', { business: seal }), read('explain', { business: seal })]);
    const s = [score].flat()[0] ?? {};
    const c = [card].flat()[0] ?? {};
    const explained = [points].flat();
    wait.replaceWith(
      section('امتیاز اعتماد', keyValues([
        ['فروشگاه', [c.name ?? '', ' ', ltr(s.domain ?? seal)]],
        ['رتبه‌بندی عمومی', h('span', { class: 'grade', lang: 'en', dir: 'ltr' }, s.standing ?? '—')],
        ['امتیاز', `${number(s.score, 1)} از ۱۰۰`],
        ['رتبه', digits(s.rank)],
        ['نماد اعتماد', isRestricted(s) ? restrictionText(s) : 'فعال'],
        ['قواعد امتیازدهی', ['نسخهٔ ', digits(String(s.rules ?? '').replace(/^v/, ''))]],
      ])),
      section('کارنامه', h('dl', { class: 'counters' }, COUNTERS.map(([k, label]) =>
        h('div', {}, h('dt', {}, label), h('dd', {}, digits(c[k] ?? 0)))),
        h('div', {}, h('dt', {}, 'میانگین رضایت'), h('dd', {}, c.ratings ? `${number(c.satisfaction, 1)} از ۵` : '—')))),
      section('امتیاز از کجا آمده است', h('p', {}, 'هر رویداد امتیازی می‌آورد یا می‌کاهد؛ اثر رویدادهای قدیمی‌تر با گذشت زمان کم می‌شود. جمع ستون «امتیاز» همان امتیاز اعتماد است.'),
        table({
          caption: 'رویدادهایی که امتیاز را تغییر داده‌اند',
          columns: [
            { label: 'رویداد', cell: (r) => scoreEventName(r.event), rowHeader: true },
            { label: 'زمان', cell: (r) => (r.when ? jalaliText(r.when) : '—') },
            { label: 'پرونده', cell: (r) => (r.case ? ltr(r.case) : '—') },
            { label: 'وزن', cell: (r) => (r.weight === '' ? '—' : h('span', { dir: 'ltr' }, digits(r.weight))) },
            { label: 'کاهش با زمان', cell: (r) => (r.decay === '' ? '—' : number(r.decay, 3)) },
            { label: 'امتیاز', cell: (r) => h('span', { class: r.points < 0 ? 'bad' : 'good', dir: 'ltr' }, number(r.points, 2)) },
          ],
          rows: explained,
        })));
  } catch (problem) {
    wait.replaceWith(failure(problem));
  }
}
