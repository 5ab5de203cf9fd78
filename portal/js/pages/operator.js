// The operator's pages: the queues that wait on the seal body (triage, mediators, referrals),
// registering shops, agencies and mediators and issuing their credentials, and the seals.
import { h, ltr, notice, table } from '../dom.js';
import { read, write } from '../api.js';
import { commandForm } from '../forms.js';
import { failure, loading, pageTitle, section } from '../layout.js';
import { caseTable } from '../case-list.js';
import { CATEGORIES, ROLES, categoryName, digits, latinDigits, roleName } from '../fa.js';
import { loadRegistry } from '../registry.js';
import { tokenOnce } from './account.js';
import { isRestricted, loadStandings } from './public.js';

const QUEUES = [
  ['awaiting_triage', 'در انتظار بررسی اولیه', 'پذیرش با دسته و مسیر، رد با دلیل، یا درخواست مدارک.'],
  ['awaiting_documents', 'در انتظار مدارک', 'مصرف‌کننده هنوز همهٔ مدارک را نفرستاده است.'],
  ['awaiting_mediator', 'در انتظار میانجی', 'میانجی تعیین کنید.'],
  ['mediation_failed', 'میانجی‌گری ناموفق', 'پرونده را به مرجع صالح ارجاع دهید.'],
  ['referred', 'نزد مراجع', 'پرونده‌هایی که مرجعی در دست دارد.'],
];

export async function operatorQueue(main) {
  main.append(pageTitle('صف رسیدگی', 'پرونده‌هایی که منتظر کارشناس سامانه‌اند، نزدیک‌ترین مهلت بالاتر.'));
  const wait = loading();
  main.append(wait);
  try {
    const lists = await Promise.all(QUEUES.map(([status]) => read('cases', { status }).then((r) => [r].flat())));
    wait.replaceWith(...QUEUES.map(([, title, what], i) => section(`${title} (${digits(lists[i].length)})`,
      h('p', { class: 'hint' }, what),
      caseTable(lists[i], title, ['case', 'category', 'business', 'amount', 'filed', 'deadline'], 'پرونده‌ای در این صف نیست.'))));
  } catch (problem) {
    wait.replaceWith(failure(problem));
  }
}

export async function operatorParties(main) {
  main.append(pageTitle('ثبت فروشگاه‌ها، مراجع و میانجی‌ها', 'هر طرف پس از ثبت، برای ورود به سامانه یک کلید می‌خواهد؛ کلید را در بخش آخر صادر کنید.'));
  const issued = h('div', { class: 'issued' });
  const registered = h('div', {});
  const refresh = async () => {
    try {
      registered.replaceChildren(...registryTables(await loadRegistry({ fresh: true })));
    } catch (problem) {
      registered.replaceChildren(failure(problem));
    }
  };
  const done = (text) => async () => {
    await refresh();
    return notice(text, 'success');
  };

  main.append(
    section('ثبت فروشگاه', commandForm({
      id: 'register-business',
      fields: [
        { name: 'seal-id', label: 'شناسهٔ نماد اعتماد', required: true, dir: 'ltr', inputmode: 'numeric', aliases: ['seal_id'] },
        { name: 'domain', label: 'دامنه', required: true, dir: 'ltr', hint: 'مانند shop.example.ir' },
        { name: 'name', label: 'نام فروشگاه', required: true },
        { name: 'stars', label: 'سطح نماد (ستاره)', type: 'select', options: [0, 1, 2, 3, 4, 5].map((n) => [String(n), digits(n)]), value: '1' },
      ],
      submit: 'ثبت فروشگاه',
      onSubmit: async (v) => {
        const a = await write('register-business', { 'seal-id': latinDigits(v['seal-id']), domain: v.domain, name: v.name, stars: v.stars });
        return done(['فروشگاه ثبت شد: ', ltr(a.stream)])();
      },
    })),
    section('ثبت مرجع رسیدگی', commandForm({
      id: 'register-agency',
      fields: [
        { name: 'id', label: 'شناسهٔ کوتاه', required: true, dir: 'ltr', hint: 'با حروف لاتین، مانند tazirat' },
        { name: 'name', label: 'نام مرجع', required: true },
        { name: 'categories', label: 'دسته‌هایی که مرجع در آن‌ها صالح است', type: 'checkboxes', options: CATEGORIES.map((c) => [c, categoryName(c)]) },
      ],
      submit: 'ثبت مرجع',
      onSubmit: async (v) => {
        const a = await write('register-agency', { id: v.id, name: v.name, categories: v.categories.join(',') });
        return done(['مرجع ثبت شد: ', ltr(a.stream)])();
      },
    })),
    section('ثبت میانجی', commandForm({
      id: 'register-mediator',
      fields: [
        { name: 'name', label: 'نام و نام خانوادگی', required: true },
        { name: 'mobile', label: 'تلفن همراه', required: true, dir: 'ltr', inputmode: 'tel' },
      ],
      submit: 'ثبت میانجی',
      onSubmit: async (v) => {
        const a = await write('register-mediator', { name: v.name, mobile: latinDigits(v.mobile) });
        return done(['میانجی ثبت شد با شناسهٔ ', h('strong', { class: 'new-id' }, ltr(a.stream))])();
      },
    })),
    section('صدور کلید ورود', commandForm({
      id: 'account-create',
      intro: 'کلید فقط یک بار نمایش داده می‌شود؛ آن را به شکلی امن به دارنده‌اش برسانید.',
      fields: [
        { name: 'role', label: 'نقش', type: 'select', required: true, options: ROLES.map((r) => [r, roleName(r)]) },
        { name: 'id', label: 'شناسه', required: true, dir: 'ltr', hint: 'شناسهٔ نماد فروشگاه، شناسهٔ مرجع، M-… برای میانجی، یا نام کارمند' },
        { name: 'label', label: 'برچسب', hint: 'برای چه کاری است، مانند «میز پذیرش»' },
      ],
      submit: 'صدور کلید',
      onSubmit: async (v) => {
        const a = await write('account-create', { role: v.role, id: v.id, label: v.label });
        issued.replaceChildren(tokenOnce(a.token, ['کلید ', roleName(a.role), ' ', ltr(a.id), ' با شناسهٔ ', ltr(a.key_id), ' صادر شد.']));
        issued.querySelector('h2').focus();
        return '';
      },
    }), issued),
    section('ثبت‌شده‌ها', registered));
  await refresh();
}

function registryTables(r) {
  return [
    table({ caption: 'فروشگاه‌ها', rows: r.businesses, columns: [
      { label: 'شناسهٔ نماد', cell: (b) => ltr(b.id), rowHeader: true }, { label: 'نام', cell: (b) => b.name },
      { label: 'دامنه', cell: (b) => ltr(b.domain) }, { label: 'ستاره', cell: (b) => digits(b.stars) }] }),
    table({ caption: 'مراجع رسیدگی', rows: r.agencies, columns: [
      { label: 'شناسه', cell: (a) => ltr(a.id), rowHeader: true }, { label: 'نام', cell: (a) => a.name },
      { label: 'صالح برای', cell: (a) => a.categories.map(categoryName).join('، ') }] }),
    table({ caption: 'میانجی‌ها', rows: r.mediators, columns: [
      { label: 'شناسه', cell: (m) => ltr(m.id), rowHeader: true }, { label: 'نام', cell: (m) => m.name }] }),
  ];
}

export async function operatorSeals(main) {
  main.append(pageTitle('نماد اعتماد', 'محدود کردن خدمات نماد یک فروشگاه، یا برداشتن محدودیت. قواعد امتیاز نیز خودکار چنین می‌کنند.'));
  const list = h('div', {});
  const refresh = async () => {
    try {
      const shops = await loadStandings();
      list.replaceChildren(table({ caption: 'وضعیت نماد فروشگاه‌ها', rows: shops, columns: [
        { label: 'شناسهٔ نماد', cell: (s) => ltr(s.business), rowHeader: true },
        { label: 'نام', cell: (s) => s.name },
        { label: 'دامنه', cell: (s) => ltr(s.domain) },
        { label: 'رتبه', cell: (s) => h('span', { lang: 'en', dir: 'ltr' }, s.standing) },
        { label: 'بی‌پاسخ', cell: (s) => digits(s.card.unanswered ?? 0) },
        { label: 'نماد', cell: (s) => (isRestricted(s) ? 'محدودشده' : 'فعال') },
      ] }));
    } catch (problem) {
      list.replaceChildren(failure(problem));
    }
  };
  const sealForm = (command, title, submit, done) => commandForm({
    id: command, title,
    fields: [
      { name: 'business', label: 'شناسهٔ نماد فروشگاه', required: true, dir: 'ltr', inputmode: 'numeric' },
      { name: 'reason', label: 'دلیل', type: 'textarea', required: true },
    ],
    submit, secondary: command === 'reinstate-seal',
    onSubmit: async (v) => {
      await write(command, { business: latinDigits(v.business), reason: v.reason });
      await refresh();
      return notice(done, 'success');
    },
  });
  main.append(
    section('وضعیت کنونی', list),
    section('تغییر وضعیت نماد',
      sealForm('restrict-seal', 'محدود کردن نماد', 'محدود کردن', 'نماد محدود شد.'),
      sealForm('reinstate-seal', 'برداشتن محدودیت', 'برداشتن محدودیت', 'محدودیت برداشته شد.')));
  await refresh();
}
