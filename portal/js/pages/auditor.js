// The auditor's pages: every case, and a case's history with its hash chain checked here, in the
// browser, with Web Crypto over the very bytes the log stores.
import { h, ltr, notice, table } from '../dom.js';
import { read, readLines } from '../api.js';
import { commandForm } from '../forms.js';
import { failure, loading, pageTitle, section } from '../layout.js';
import { verifyChain } from '../chain.js';
import { timeline, actorText, eventTitle } from '../timeline.js';
import { digits } from '../fa.js';
import { jalaliDateTime, jalaliText } from '../dates.js';
import { navigate } from '../router.js';

export async function auditorHome(main) {
  main.append(pageTitle('حسابرسی', 'تاریخچهٔ هر پرونده را باز کنید تا زنجیرهٔ درهم‌سازی آن در همین مرورگر بررسی شود.'));
  main.append(section('باز کردن پرونده', commandForm({
    id: 'audit-open',
    fields: [{ name: 'case', label: 'شمارهٔ پرونده', required: true, dir: 'ltr', hint: 'مانند C-4D7Q2M9XKA' }],
    submit: 'بررسی',
    onSubmit: (v) => navigate(`/audit/${encodeURIComponent(v.case.toUpperCase())}`),
  })));
  const whole = h('div', {});
  main.append(section('بررسی کل دفتر رویدادها', h('p', {}, 'سامانه همهٔ رکوردها و همهٔ زنجیره‌ها را بازخوانی می‌کند.'),
    h('button', { type: 'button', class: 'button secondary', onclick: async () => {
      whole.replaceChildren(loading('در حال بررسی…'));
      try {
        const result = await read('verify');
        whole.replaceChildren(verifySummary(result));
      } catch (problem) {
        whole.replaceChildren(failure(problem));
      }
    } }, 'بررسی کل دفتر'), whole));
  const wait = loading();
  main.append(wait);
  try {
    const rows = [await read('cases')].flat();
    wait.replaceWith(section('همهٔ پرونده‌ها', table({
      caption: 'پرونده‌ها',
      rows,
      columns: [
        { label: 'پرونده', cell: (r) => h('a', { href: `#/audit/${encodeURIComponent(r.case)}` }, ltr(r.case)), rowHeader: true },
        { label: 'رویدادها', cell: (r) => digits(r.events) },
        { label: 'تاریخ ثبت', cell: (r) => jalaliText(r.filed) },
      ],
    })));
  } catch (problem) {
    wait.replaceWith(failure(problem));
  }
}

function verifySummary(result) {
  return result.intact
    ? notice(`دفتر رویدادها سالم است: ${digits(result.events)} رویداد در ${digits(result.streams)} جریان بررسی شد و همهٔ زنجیره‌ها درست‌اند.`, 'success')
    : notice('بررسی دفتر مشکل پیدا کرد.', 'error');
}

export async function auditCase(main, { id }) {
  main.append(pageTitle(['حسابرسی پرونده ', ltr(id)]));
  const wait = loading('در حال خواندن رویدادها و بررسی زنجیره…');
  main.append(wait);
  let lines;
  try {
    lines = await readLines('events', { case: id, bytes: true });
  } catch (problem) {
    wait.replaceWith(failure(problem, 'پرونده'));
    return;
  }
  let chain;
  try {
    chain = await verifyChain(lines);
  } catch (err) {
    wait.replaceWith(notice('این مرورگر نمی‌تواند زنجیره را بررسی کند: Web Crypto تنها در صفحه‌ای که با HTTPS (یا از همین رایانه) باز شده در دسترس است.', 'error'));
    console.warn(err);
    return;
  }
  wait.replaceWith(
    h('div', { class: `chain-verdict ${chain.ok ? 'chain-ok' : 'chain-broken'}`, role: 'status', 'data-chain': chain.ok ? 'ok' : 'broken' },
      chain.ok
        ? `زنجیرهٔ درهم‌سازی سالم است: هر ${digits(chain.links.length)} رویداد، هرکدام با چکیدهٔ SHA-256 رویداد پیشین، در همین مرورگر بررسی شد.`
        : `زنجیرهٔ درهم‌سازی در رویداد شمارهٔ ${digits(chain.brokenAt)} گسسته است.`),
    section('زنجیره', table({
      caption: 'هر رویداد و چکیدهٔ آن',
      rows: chain.links,
      columns: [
        { label: 'شماره', cell: (l) => digits(l.sequence), rowHeader: true },
        { label: 'رویداد', cell: (l) => [eventTitle(l.record), h('br'), h('small', {}, ltr(l.record.payload_type))] },
        { label: 'زمان', cell: (l) => jalaliDateTime(l.record.time_ms) },
        { label: 'انجام‌دهنده', cell: (l) => actorText(l.record) },
        { label: 'چکیدهٔ این رویداد', cell: (l) => h('code', { dir: 'ltr', title: l.hash }, `${l.hash.slice(0, 16)}…`) },
        { label: 'پیوند با پیشین', cell: (l) => (l.ok ? h('span', { class: 'good' }, 'درست ✓') : h('span', { class: 'bad' }, 'نادرست ✗')) },
      ],
    })),
    section('روند پرونده', timeline(lines)));
}
