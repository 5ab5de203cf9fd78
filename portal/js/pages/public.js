// The public standings, for anyone without signing in: each shop's trust standing and score,
// its seal level, complaints and unanswered complaints, and whether its seal is restricted.
import { h, ltr } from '../dom.js';
import { read } from '../api.js';
import { failure, loading, pageTitle, section } from '../layout.js';
import { digits, number, stars } from '../fa.js';

// score (ranked) and scorecard, joined by seal id: a score row, with the shop's name and its
// scorecard (`card`) beside it (`score` does not carry the name).
export async function loadStandings() {
  const [scores, cards] = await Promise.all([read('score'), read('scorecard')]);
  const byId = new Map([cards].flat().map((c) => [c.business, c]));
  return [scores].flat().map((s) => {
    const card = byId.get(s.business) ?? {};
    return { ...s, name: card.name ?? '', card };
  });
}

// `score` says "yes (by hand)" or "yes (RULE)" for a restricted seal, `scorecard` "yes".
export function isRestricted(s) {
  return String(s.restricted ?? '').startsWith('yes');
}

// Why a seal is restricted, in words: by an operator, or by a rule of the trust score.
export function restrictionText(s) {
  const m = /^yes \((.+)\)$/.exec(s.restricted ?? '');
  if (!m) return 'خدمات نماد اعتماد این فروشگاه محدود شده است';
  return m[1] === 'by hand'
    ? 'خدمات نماد اعتماد این فروشگاه به تصمیم کارشناس سامانه محدود شده است'
    : 'خدمات نماد اعتماد این فروشگاه بر پایهٔ قواعد امتیاز اعتماد محدود شده است';
}

export function shopCard(s) {
  const restricted = isRestricted(s);
  const titleId = `shop-${s.business}`;
  return h('li', { class: `shop-card${restricted ? ' restricted' : ''}`, 'aria-labelledby': titleId, 'data-business': s.business },
    h('h3', { id: titleId }, s.name || ltr(s.domain || s.business)),
    s.name ? h('p', { class: 'domain' }, ltr(s.domain)) : null,
    h('p', { class: 'standing' },
      h('span', { class: `grade grade-${(s.standing || '').charAt(0)}`, lang: 'en', dir: 'ltr' }, s.standing || '—'),
      h('span', { class: 'score' }, `امتیاز اعتماد ${number(s.score, 1)} از ۱۰۰ · رتبهٔ ${digits(s.rank)}`)),
    h('p', { class: 'stars', 'aria-label': `سطح نماد: ${digits(s.card.stars ?? 0)} ستاره از ۵` },
      h('span', { 'aria-hidden': 'true' }, stars(s.card.stars)), ' ', h('span', { class: 'stars-text' }, `نماد ${digits(s.card.stars ?? 0)} ستاره`)),
    h('dl', { class: 'shop-counts' },
      h('div', {}, h('dt', {}, 'شکایت‌ها'), h('dd', {}, digits(s.card.complaints ?? 0))),
      h('div', {}, h('dt', {}, 'بی‌پاسخ'), h('dd', { class: s.card.unanswered ? 'bad' : '' }, digits(s.card.unanswered ?? 0))),
      h('div', {}, h('dt', {}, 'رضایت'), h('dd', {}, s.card.ratings ? `${number(s.card.satisfaction, 1)} از ۵` : '—'))),
    h('p', { class: `seal ${restricted ? 'seal-restricted' : 'seal-active'}` },
      restricted ? restrictionText(s) : 'نماد اعتماد فعال'),
    h('p', { class: 'seal-id' }, 'شناسهٔ نماد: ', ltr(s.business)));
}

export async function publicPage(main) {
  main.append(pageTitle('جایگاه فروشگاه‌ها',
    'امتیاز اعتماد هر فروشگاه تنها از رفتار آن با شکایت‌ها به دست می‌آید: پاسخ به‌موقع، سازش، رأی مراجع و رضایت مصرف‌کنندگان.'));
  const wait = loading();
  main.append(wait);
  let shops;
  try {
    shops = await loadStandings();
  } catch (problem) {
    wait.replaceWith(failure(problem));
    return;
  }
  const restricted = shops.filter(isRestricted);
  wait.replaceWith(
    section('نمادهای محدودشده', restricted.length
      ? h('ul', { class: 'restricted-list' }, restricted.map((s) => h('li', {}, s.name || ltr(s.business), ' (', ltr(s.domain), ')')))
      : h('p', { class: 'empty' }, 'اکنون نماد هیچ فروشگاهی محدود نیست.')),
    section('همهٔ فروشگاه‌ها، به ترتیب امتیاز', shops.length
      ? h('ul', { class: 'shop-grid' }, shops.map(shopCard))
      : h('p', { class: 'empty' }, 'هنوز فروشگاهی ثبت نشده است.')));
}
