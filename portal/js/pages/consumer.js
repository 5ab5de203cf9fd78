// The consumer's pages: their cases, and filing a complaint with the documents its category
// needs, uploaded in the same step.
import { h, notice } from '../dom.js';
import { read, write, UPLOAD_TYPES } from '../api.js';
import { commandForm, field, FieldProblem } from '../forms.js';
import { failure, loading, pageTitle, section } from '../layout.js';
import { caseTable } from '../case-list.js';
import {
  CATEGORIES, DOCUMENT_KINDS, REMEDIES, OPEN_STATUSES, categoryName, documentKindName, durationText,
  latinDigits, remedyName,
} from '../fa.js';
import { loadRules } from '../rules.js';
import { plainAmount, uploadFor } from '../case-actions.js';
import { navigate } from '../router.js';
import { flashNext } from './case.js';
import { loadStandings } from './public.js';

export async function consumerHome(main) {
  main.append(pageTitle('پرونده‌های من'),
    h('p', {}, h('a', { class: 'button', href: '#/consumer/file' }, 'ثبت شکایت تازه')));
  const wait = loading();
  main.append(wait);
  try {
    const rows = [await read('cases')].flat();
    const open = rows.filter((r) => OPEN_STATUSES.has(r.status));
    const done = rows.filter((r) => !OPEN_STATUSES.has(r.status));
    wait.replaceWith(
      section('پرونده‌های باز', caseTable(open, 'پرونده‌های باز شما', undefined, 'پروندهٔ بازی ندارید.')),
      section('پرونده‌های بسته', caseTable(done, 'پرونده‌های بستهٔ شما', ['case', 'status', 'category', 'business', 'filed'], 'پروندهٔ بسته‌ای ندارید.')));
  } catch (problem) {
    wait.replaceWith(failure(problem));
  }
}

const ACCEPT = UPLOAD_TYPES.join(',');

// The file inputs for a category: one per document the rules in force say it needs, and one
// optional extra. Without the rules (not readable now) none is asked for by name: the service
// itself then asks for what is missing, and the case waits for it.
function documentFields(category, rules) {
  const needed = rules?.required_documents[category] ?? [];
  const fields = needed.map((kind) => field({
    name: `document-${kind}`, label: documentKindName(kind), type: 'file', required: true, accept: ACCEPT,
    hint: 'PDF، JPEG، PNG، WebP یا متن ساده؛ حداکثر ۲۰ مگابایت',
  }, 'file'));
  const extra = h('div', { class: 'extra-document' },
    field({ name: 'extra-kind', label: 'نوع مدرک دیگر', type: 'select', required: false,
      options: DOCUMENT_KINDS.filter((k) => !needed.includes(k)).map((k) => [k, documentKindName(k)]) }, 'file'),
    field({ name: 'extra-file', label: 'مدرک دیگر', type: 'file', required: false, accept: ACCEPT }, 'file'));
  let hint = 'برای این دسته مدرک خاصی لازم نیست؛ اگر مدرکی دارید پیوست کنید.';
  if (!rules) hint = 'فهرست مدارک لازم اکنون خوانده نشد؛ اگر پس از ثبت مدرکی کم باشد، در صفحهٔ پرونده از شما خواسته می‌شود.';
  else if (needed.length) {
    hint = `برای شکایت «${categoryName(category)}» این مدارک لازم است: ${needed.map(documentKindName).join('، ')}. `
      + `اگر اکنون نفرستید، پرونده تا رسیدن آن‌ها (حداکثر ${durationText(rules.durations.documents)}) منتظر می‌ماند.`;
  }
  return h('fieldset', { class: 'documents-needed' },
    h('legend', {}, 'مدارک'), h('p', { class: 'hint' }, hint), fields, extra);
}

export async function filePage(main) {
  main.append(pageTitle('ثبت شکایت', 'شکایت از فروشگاهی که نماد اعتماد الکترونیکی دارد. همهٔ بخش‌ها را پر کنید.'));
  // Neither is needed to file: without the list of shops the seal id is typed, without the rules
  // the documents are not named (see documentFields).
  const [shops, rules] = await Promise.all([
    loadStandings().catch(() => []),
    loadRules().catch(() => null),
  ]);
  const businessField = shops.length
    ? { name: 'business', label: 'فروشگاه', type: 'select', required: true, placeholder: 'فروشگاه را انتخاب کنید',
      options: shops.map((s) => [s.business, `${s.name ? `${s.name} — ` : ''}${s.domain} (نماد ${s.business})`]) }
    : { name: 'business', label: 'فروشگاه', required: true, dir: 'ltr', hint: 'شناسهٔ نماد یا دامنه، مانند kalaland.ir' };

  const form = commandForm({
    id: 'file',
    fields: [
      businessField,
      { name: 'order-ref', label: 'شمارهٔ سفارش یا کد رهگیری', required: true, dir: 'ltr', aliases: ['order_reference'] },
      { name: 'purchase-date', label: 'تاریخ خرید', required: true, dir: 'ltr', inputmode: 'numeric',
        hint: 'به تاریخ خورشیدی، مانند ۱۴۰۵/۰۸/۲۹', aliases: ['purchase_date'] },
      { name: 'amount', label: 'مبلغ پرداختی (ریال)', required: true, dir: 'ltr', inputmode: 'numeric', hint: 'به ریال، مانند ۴۸٬۵۰۰٬۰۰۰', aliases: ['amount_rials'] },
      { name: 'category', label: 'موضوع شکایت', type: 'select', required: true, placeholder: 'موضوع را انتخاب کنید',
        options: CATEGORIES.map((c) => [c, categoryName(c)]) },
      { name: 'remedy', label: 'چه می‌خواهید', type: 'select', required: true, options: REMEDIES.map((r) => [r, remedyName(r)]), aliases: ['requested_remedy'] },
      { name: 'description', label: 'شرح ماجرا', type: 'textarea', required: true, rows: 5 },
    ],
    submit: 'ثبت شکایت',
    onSubmit: async (v, formEl) => {
      if (!v.category) throw new FieldProblem({ formField: 'category', field: 'category', rule: 'is required' });
      const documents = [];
      for (const input of formEl.querySelectorAll('input[type=file]')) {
        const file = input.files?.[0];
        if (!file) continue;
        const kind = input.name === 'extra-file' ? formEl.elements['extra-kind'].value : input.name.replace(/^document-/, '');
        const stored = await uploadFor(file, input.name);
        documents.push(`${kind}=${stored.reference}`);
      }
      const answer = await write('file', {
        business: v.business, 'order-ref': v['order-ref'], 'purchase-date': latinDigits(v['purchase-date']),
        amount: plainAmount(v.amount), category: v.category, remedy: v.remedy, description: v.description, document: documents,
      });
      flashNext(`شکایت شما ثبت شد. شمارهٔ پرونده: ${answer.stream}`);
      navigate(`/case/${answer.stream}`);
      return '';
    },
  });

  // The documents follow the category: shown (and asked for) before anything is sent.
  const slot = h('div', { class: 'documents-slot', 'aria-live': 'polite' },
    notice('پس از انتخاب موضوع، مدارک لازم برای آن این‌جا نشان داده می‌شود.'));
  form.querySelector('[data-field="remedy"]').after(slot);
  form.elements.category.addEventListener('change', (event) => {
    slot.replaceChildren(event.target.value ? documentFields(event.target.value, rules) : notice('موضوع را انتخاب کنید.'));
  });
  main.append(form);
}
