// What the signed-in person may do on a case now, as forms. Which forms appear follows the case's
// status and the role, as the README's table says; the service still decides every command, and
// a refusal is shown beside the control it names.
import { h } from './dom.js';
import { upload, UPLOAD_TYPES } from './api.js';
import { commandForm, FieldProblem, atField } from './forms.js';
import {
  CATEGORIES, DOCUMENT_KINDS, REJECT_REASONS, REMEDIES, VERDICTS, OPEN_STATUSES, categoryName,
  documentKindName, latinDigits, rejectReasonName, remedyName, verdictName, digits, rials,
} from './fa.js';
import { answerableOffers } from './casefile.js';
import { loadRegistry } from './registry.js';
import { durationWords } from './rules.js';

const options = (values, name) => values.map((v) => [v, name(v)]);
const amountField = (label = 'مبلغ (ریال)') => ({
  name: 'amount', label, inputmode: 'numeric', dir: 'ltr', hint: 'به ریال، با رقم فارسی یا لاتین',
});
const textField = (name, label, required = true, hint) => ({ name, label, type: 'textarea', required, hint });

// "48,500,000" or "۴۸٬۵۰۰٬۰۰۰" as the API takes an amount.
export function plainAmount(text) {
  return latinDigits(text).replace(/[,٬\s]/g, '');
}

// Uploads `file` for the form field `formField`, refusing a type the service will not store.
export async function uploadFor(file, formField) {
  if (!UPLOAD_TYPES.includes(file.type)) {
    throw new FieldProblem({
      formField, code: 'invalid_argument', status: 415, field: 'Content-Type',
      rule: 'must be application/pdf, image/jpeg, image/png, image/webp or text/plain',
    });
  }
  try {
    return await upload(file);
  } catch (err) {
    throw atField(err, formField);
  }
}

// Each entry: { key, title, roles, when(c, ctx), form(c, ctx) -> commandForm spec }.
// ctx: { status, role, id, act(command, body, done) }
const ACTIONS = [
  // ---- the business ----
  {
    key: 'respond', title: 'پاسخ به شکایت', roles: ['business'], open: true,
    when: (c, x) => x.status === 'with_business',
    form: (c, x) => ({
      fields: [textField('text', 'پاسخ فروشگاه', true, 'پاسخ شما برای مصرف‌کننده فرستاده می‌شود.')],
      submit: 'فرستادن پاسخ', onSubmit: (v) => x.act('respond', { text: v.text }, 'پاسخ ثبت شد.'),
    }),
  },
  {
    key: 'offer', title: 'پیشنهاد جبران', roles: ['business'], open: true,
    when: (c, x) => x.status === 'negotiation', form: offerForm('ثبت پیشنهاد'),
  },
  {
    key: 'offer', title: 'پیشنهاد متقابل', roles: ['consumer'],
    when: (c, x) => x.status === 'negotiation', form: offerForm('ثبت پیشنهاد متقابل'),
  },
  {
    key: 'remedy-fulfilled', title: 'اعلام انجام جبران', roles: ['business'], open: true,
    when: (c, x) => x.status === 'remedy_due',
    form: (c, x) => ({
      fields: [textField('note', 'چه کاری انجام شد', false)],
      submit: 'جبران انجام شد', onSubmit: (v) => x.act('remedy-fulfilled', { note: v.note }, 'انجام جبران اعلام شد.'),
    }),
  },
  // ---- the consumer ----
  {
    key: 'confirm-remedy', title: 'تأیید رسیدن جبران', roles: ['consumer'], open: true,
    when: (c, x) => ['remedy_due', 'remedy_confirmation'].includes(x.status),
    form: (c, x) => ({
      fields: [textField('note', 'توضیح', false)],
      submit: 'جبران به دستم رسید', onSubmit: (v) => x.act('confirm-remedy', { note: v.note }, 'رسیدن جبران تأیید شد.'),
    }),
  },
  {
    key: 'remedy-not-fulfilled', title: 'جبران انجام نشده است', roles: ['consumer'],
    when: (c, x) => ['remedy_due', 'remedy_confirmation'].includes(x.status),
    form: (c, x) => ({
      fields: [textField('note', 'چه چیزی انجام نشده است')],
      submit: 'اعلام و درخواست میانجی', secondary: true,
      onSubmit: (v) => x.act('remedy-not-fulfilled', { note: v.note }, 'اعلام شد؛ پرونده به میانجی‌گری می‌رود.'),
    }),
  },
  {
    key: 'request-mediation', title: 'درخواست میانجی‌گری', roles: ['consumer'],
    when: (c, x) => x.status === 'negotiation',
    form: (c, x) => ({
      fields: [textField('text', 'چرا میانجی لازم است')],
      submit: 'درخواست میانجی', onSubmit: (v) => x.act('request-mediation', { text: v.text }, 'درخواست میانجی‌گری ثبت شد.'),
    }),
  },
  {
    key: 'rate', title: 'امتیاز به رسیدگی', roles: ['consumer'], open: true,
    when: (c, x) => x.status === 'closed' && !c.rated,
    form: (c, x) => ({
      fields: [
        { name: 'stars', label: 'امتیاز شما', type: 'select', required: true, value: '',
          placeholder: 'انتخاب کنید', options: [5, 4, 3, 2, 1].map((n) => [String(n), `${digits(n)} ستاره`]) },
        { name: 'resolved', label: 'آیا مشکل شما حل شد؟', type: 'select', required: true,
          options: [['yes', 'بله'], ['no', 'خیر']] },
        textField('comment', 'نظر شما', false),
      ],
      submit: 'ثبت امتیاز',
      onSubmit: (v) => x.act('rate', { stars: v.stars, resolved: v.resolved, comment: v.comment }, 'امتیاز شما ثبت شد.'),
    }),
  },
  {
    key: 'reopen', title: 'بازگشایی پرونده', roles: ['consumer'],
    when: (c, x) => x.status === 'closed' && c.reopenUntil > Date.now(),
    form: (c, x) => ({
      fields: [textField('reason', 'چه چیزی انجام نشد')],
      submit: 'بازگشایی', secondary: true, onSubmit: (v) => x.act('reopen', { reason: v.reason }, 'پرونده بازگشایی شد.'),
    }),
  },
  {
    key: 'attach', title: 'پیوست مدرک', roles: ['consumer', 'business'],
    when: (c, x) => OPEN_STATUSES.has(x.status), openWhen: (c, x) => x.status === 'awaiting_documents',
    form: (c, x) => ({
      fields: [
        { name: 'kind', label: 'نوع مدرک', type: 'select', required: true, options: options(DOCUMENT_KINDS, documentKindName) },
        { name: 'file', label: 'فایل مدرک', type: 'file', required: true, accept: UPLOAD_TYPES.join(','),
          hint: 'PDF، JPEG، PNG، WebP یا متن ساده؛ حداکثر ۲۰ مگابایت', aliases: ['Content-Type', 'name', 'document'] },
      ],
      submit: 'پیوست',
      onSubmit: async (v) => {
        if (!v.file) throw new FieldProblem({ formField: 'file', field: 'file', rule: 'is required' });
        const stored = await uploadFor(v.file, 'file');
        return x.act('attach', { kind: v.kind, file: stored.reference }, 'مدرک پیوست شد.');
      },
    }),
  },
  {
    key: 'withdraw', title: 'پس گرفتن شکایت', roles: ['consumer'],
    when: (c, x) => OPEN_STATUSES.has(x.status),
    form: (c, x) => ({
      fields: [textField('reason', 'دلیل', false)],
      submit: 'پس گرفتن شکایت', secondary: true, onSubmit: (v) => x.act('withdraw', { reason: v.reason }, 'شکایت پس گرفته شد.'),
    }),
  },
  // ---- the operator ----
  {
    key: 'accept', title: 'پذیرش و مسیر رسیدگی', roles: ['operator'], open: true,
    when: (c, x) => ['awaiting_triage', 'awaiting_documents'].includes(x.status),
    form: (c, x) => ({
      fields: [
        { name: 'category', label: 'دستهٔ شکایت', type: 'select', options: options(CATEGORIES, categoryName),
          value: c.category, aliases: ['documents'] },
        { name: 'route', label: 'مسیر', type: 'select', options: [['negotiation', 'مذاکره با فروشگاه'], ['referral', 'ارجاع مستقیم به مرجع']] },
        agencyField('agency', 'مرجع (فقط برای ارجاع مستقیم)', x.registry, false),
        textField('note', 'یادداشت بررسی', false),
      ],
      submit: 'پذیرش',
      onSubmit: (v) => x.act('accept', {
        category: v.category, route: v.route, agency: v.route === 'referral' ? v.agency : '', note: v.note,
      }, 'پرونده پذیرفته شد.'),
    }),
  },
  {
    key: 'reject', title: 'رد شکایت', roles: ['operator'],
    when: (c, x) => ['awaiting_triage', 'awaiting_documents'].includes(x.status),
    form: (c, x) => ({
      fields: [
        { name: 'reason', label: 'دلیل رد', type: 'select', required: true, options: options(REJECT_REASONS, rejectReasonName) },
        textField('note', 'توضیح برای مصرف‌کننده'),
        { name: 'duplicate-of', label: 'شمارهٔ پروندهٔ تکراری', dir: 'ltr', hint: 'فقط وقتی دلیل «تکراری» است' },
      ],
      submit: 'رد شکایت', secondary: true,
      onSubmit: (v) => x.act('reject', { reason: v.reason, note: v.note, 'duplicate-of': v['duplicate-of'] }, 'شکایت رد شد.'),
    }),
  },
  {
    key: 'request-documents', title: 'درخواست مدارک بیشتر', roles: ['operator'],
    when: (c, x) => ['awaiting_triage', 'awaiting_documents'].includes(x.status),
    form: (c, x) => ({
      fields: [
        { name: 'kinds', label: 'مدارک لازم', type: 'checkboxes', options: options(DOCUMENT_KINDS, documentKindName) },
        textField('note', 'چه چیزی و چرا', false),
      ],
      submit: 'درخواست مدارک', secondary: true,
      onSubmit: (v) => x.act('request-documents', { kinds: v.kinds.join(','), note: v.note }, 'درخواست مدارک فرستاده شد.'),
    }),
  },
  {
    key: 'assign-mediator', title: 'تعیین میانجی', roles: ['operator'], open: true,
    when: (c, x) => ['awaiting_mediator', 'in_mediation'].includes(x.status),
    form: (c, x) => ({
      fields: [mediatorField(x.registry)],
      submit: 'تعیین میانجی', onSubmit: (v) => x.act('assign-mediator', { mediator: v.mediator }, 'میانجی تعیین شد.'),
    }),
  },
  {
    key: 'refer', title: 'ارجاع به مرجع رسیدگی', roles: ['operator'], open: true,
    when: (c, x) => ['mediation_failed', 'awaiting_mediator'].includes(x.status),
    form: (c, x) => ({
      fields: [agencyField('agency', 'مرجع رسیدگی', x.registry, true, c.category), textField('text', 'نامهٔ ارجاع')],
      submit: 'ارجاع', onSubmit: (v) => x.act('refer', { agency: v.agency, text: v.text }, 'پرونده ارجاع شد.'),
    }),
  },
  // ---- the mediator (and operators, who may close a mediation too) ----
  {
    key: 'propose-settlement', title: 'پیشنهاد سازش', roles: ['mediator'], open: true,
    when: (c, x) => x.status === 'in_mediation',
    form: (c, x) => ({
      fields: [
        { name: 'remedy', label: 'نوع جبران', type: 'select', options: options(REMEDIES, remedyName) },
        amountField(),
        textField('text', 'شرایط سازش'),
      ],
      submit: 'ثبت پیشنهاد سازش',
      onSubmit: (v) => x.act('propose-settlement', { remedy: v.remedy, amount: plainAmount(v.amount), text: v.text }, 'پیشنهاد سازش ثبت شد.'),
    }),
  },
  {
    key: 'conclude-mediation', title: 'پایان میانجی‌گری', roles: ['mediator', 'operator'],
    when: (c, x) => x.status === 'in_mediation',
    form: (c, x) => ({
      fields: [
        { name: 'outcome', label: 'نتیجه', type: 'select', required: true, options: [['settled', 'به سازش رسید'], ['failed', 'ناموفق']] },
        textField('text', 'خلاصهٔ میانجی‌گری'),
      ],
      submit: 'ثبت پایان میانجی‌گری',
      onSubmit: (v) => x.act('conclude-mediation', { outcome: v.outcome, text: v.text }, 'پایان میانجی‌گری ثبت شد.'),
    }),
  },
  // ---- the agency holding the case ----
  {
    key: 'acknowledge', title: 'اعلام وصول', roles: ['agency'], open: true,
    when: (c, x) => x.status === 'referred' && c.agency === x.id && !c.acknowledged,
    form: (c, x) => ({
      intro: x.durations
        ? `با اعلام وصول، مهلت ${x.durations.referral_acknowledgement} برای اعلام وصول پایان می‌یابد.`
        : 'با اعلام وصول، مهلت اعلام وصول پایان می‌یابد.',
      submit: 'اعلام وصول پرونده', onSubmit: () => x.act('acknowledge', {}, 'وصول پرونده اعلام شد.'),
    }),
  },
  {
    key: 'extend', title: 'تمدید مهلت رأی', roles: ['agency'],
    when: (c, x) => x.status === 'referred' && c.agency === x.id && !c.extended,
    form: (c, x) => ({
      intro: x.durations
        ? `مهلت رأی تنها یک بار و به اندازهٔ ${x.durations.referral_extension} تمدید می‌شود.`
        : 'مهلت رأی تنها یک بار تمدید می‌شود.',
      submit: 'تمدید مهلت', secondary: true, onSubmit: () => x.act('extend', {}, 'مهلت رأی تمدید شد.'),
    }),
  },
  {
    key: 'transfer', title: 'سپردن به مرجع دیگر', roles: ['agency', 'operator'],
    when: (c, x) => x.status === 'referred' && (x.role === 'operator' || c.agency === x.id),
    form: (c, x) => ({
      fields: [
        { ...agencyField('to', 'مرجع گیرنده', x.registry, true, c.category, c.agency), aliases: ['to_agency'] },
        textField('reason', 'دلیل'),
      ],
      submit: 'سپردن پرونده', secondary: true,
      onSubmit: (v) => x.act('transfer', { to: v.to, reason: v.reason }, 'پرونده به مرجع دیگر سپرده شد.'),
    }),
  },
  {
    key: 'decide', title: 'ثبت رأی', roles: ['agency'],
    when: (c, x) => x.status === 'referred' && c.agency === x.id,
    openWhen: (c) => c.acknowledged,
    form: (c, x) => ({
      fields: [
        { name: 'verdict', label: 'رأی', type: 'select', required: true, options: options(VERDICTS, verdictName) },
        textField('text', 'متن رأی'),
      ],
      submit: 'ثبت رأی و بستن پرونده', onSubmit: (v) => x.act('decide', { verdict: v.verdict, text: v.text }, 'رأی ثبت شد.'),
    }),
  },
  // ---- anyone the case concerns ----
  {
    key: 'message', title: 'فرستادن پیام', roles: ['consumer', 'business', 'mediator', 'agency', 'operator'],
    when: (c, x) => OPEN_STATUSES.has(x.status) && (x.role !== 'agency' || c.agency === x.id),
    form: (c, x) => ({
      fields: [textField('text', 'متن پیام')],
      submit: 'فرستادن پیام', secondary: true, onSubmit: (v) => x.act('message', { text: v.text }, 'پیام فرستاده شد.'),
    }),
  },
];

function offerForm(submit) {
  return (c, x) => ({
    fields: [
      { name: 'remedy', label: 'نوع جبران', type: 'select', required: true, options: options(REMEDIES, remedyName) },
      amountField(),
      { name: 'remedy-days', label: 'مهلت انجام (روز)', inputmode: 'numeric', dir: 'ltr', value: '7', aliases: ['remedy_days'] },
      textField('text', 'شرح پیشنهاد'),
    ],
    submit,
    onSubmit: (v) => x.act('offer', {
      remedy: v.remedy, amount: plainAmount(v.amount), 'remedy-days': latinDigits(v['remedy-days']), text: v.text,
    }, 'پیشنهاد ثبت شد.'),
  });
}

function mediatorField(registry) {
  if (!registry?.mediators.length) return { name: 'mediator', label: 'شناسهٔ میانجی', dir: 'ltr', required: true, hint: 'مانند M-RCEKJD47' };
  return { name: 'mediator', label: 'میانجی', type: 'select', required: true, placeholder: 'انتخاب کنید',
    options: registry.mediators.map((m) => [m.id, `${m.name} (${m.id})`]) };
}

// A choice of agency when the registry is known (operators), else the agency's id typed in.
function agencyField(name, label, registry, required, category, except) {
  if (!registry?.agencies.length) return { name, label, dir: 'ltr', required, hint: 'شناسهٔ مرجع، مانند tazirat' };
  const competent = registry.agencies.filter((a) => a.id !== except)
    .map((a) => [a.id, `${a.name} (${a.id})${category && a.categories.includes(category) ? ' — صالح برای این دسته' : ''}`]);
  return { name, label, type: 'select', required, placeholder: 'انتخاب کنید', options: competent };
}

// An offer of the other party, answered here: accept, or reject with a reason.
function offerAnswers(c, x) {
  return answerableOffers(c, x.role).flatMap((o) => {
    const what = `${remedyName(o.remedy)}${o.amount ? `، ${rials(o.amount)}` : ''}`;
    return [
      { key: `accept-offer-${o.number}`, title: `پذیرفتن پیشنهاد شمارهٔ ${digits(o.number)}`, open: true,
        spec: { intro: `${what}: «${o.text}»`, submit: `پیشنهاد ${digits(o.number)} را می‌پذیرم`,
          onSubmit: () => x.act('accept-offer', { offer: String(o.number) }, 'پیشنهاد پذیرفته شد.') } },
      { key: `reject-offer-${o.number}`, title: `رد پیشنهاد شمارهٔ ${digits(o.number)}`,
        spec: { fields: [textField('text', 'دلیل رد', false)], submit: `رد پیشنهاد ${digits(o.number)}`, secondary: true,
          onSubmit: (v) => x.act('reject-offer', { offer: String(o.number), text: v.text }, 'پیشنهاد رد شد.') } },
    ];
  });
}

// The forms for this person on this case, each in a disclosure (the likeliest ones open).
export async function caseActions(c, ctx) {
  const x = { ...ctx };
  if (x.role === 'operator') x.registry = await loadRegistry().catch(() => null);
  if (x.role === 'agency') x.durations = await durationWords();
  const entries = [];
  if (['consumer', 'business'].includes(x.role) && x.status === 'negotiation') entries.push(...offerAnswers(c, x));
  for (const a of ACTIONS) {
    if (!a.roles.includes(x.role) || !a.when(c, x)) continue;
    entries.push({ key: a.key, title: a.title, open: a.open || a.openWhen?.(c, x), spec: a.form(c, x) });
  }
  return entries.map((e) => h('details', { class: 'action', open: e.open ?? false, 'data-action': e.key },
    h('summary', {}, e.title),
    commandForm({ id: `action-${e.key}`, ...e.spec })));
}
