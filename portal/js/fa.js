// The portal's Persian vocabulary: every enum the API speaks in English, named for people.
// An unknown value falls back to itself, so a newer server never breaks a page.

const lookup = (table) => (value) => table[value] ?? String(value ?? '');

export const statusName = lookup({
  awaiting_documents: 'در انتظار مدارک',
  awaiting_triage: 'در انتظار بررسی اولیه',
  with_business: 'نزد فروشگاه',
  negotiation: 'در حال مذاکره',
  remedy_due: 'در انتظار جبران',
  remedy_confirmation: 'در انتظار تأیید جبران',
  awaiting_mediator: 'در انتظار میانجی',
  in_mediation: 'در میانجی‌گری',
  mediation_failed: 'میانجی‌گری ناموفق',
  referred: 'ارجاع‌شده به مرجع',
  closed: 'بسته‌شده',
  rejected: 'ردشده',
  withdrawn: 'پس‌گرفته‌شده',
});

export const OPEN_STATUSES = new Set([
  'awaiting_documents', 'awaiting_triage', 'with_business', 'negotiation', 'remedy_due',
  'remedy_confirmation', 'awaiting_mediator', 'in_mediation', 'mediation_failed', 'referred',
]);

export const CATEGORIES = ['non_delivery', 'defective', 'not_as_described', 'refund_refused', 'warranty',
  'pricing', 'fraud', 'privacy', 'service', 'other'];

export const categoryName = lookup({
  non_delivery: 'تحویل‌نشدن کالا',
  defective: 'کالای معیوب',
  not_as_described: 'مغایرت با توضیحات',
  refund_refused: 'خودداری از بازپرداخت',
  warranty: 'گارانتی',
  pricing: 'قیمت‌گذاری',
  fraud: 'کلاهبرداری',
  privacy: 'حریم خصوصی',
  service: 'خدمات',
  other: 'سایر',
});

export const DOCUMENT_KINDS = ['invoice', 'payment_receipt', 'photo', 'tracking_record', 'correspondence',
  'warranty_card', 'contract', 'identity', 'other'];

export const documentKindName = lookup({
  invoice: 'فاکتور خرید',
  payment_receipt: 'رسید پرداخت',
  photo: 'عکس کالا',
  tracking_record: 'کد رهگیری مرسوله',
  correspondence: 'مکاتبه با فروشگاه',
  warranty_card: 'کارت گارانتی',
  contract: 'قرارداد',
  identity: 'مدرک هویتی',
  other: 'مدرک دیگر',
});

export const REMEDIES = ['refund', 'replacement', 'repair', 'delivery', 'partial_refund', 'compensation', 'apology', 'other'];

export const remedyName = lookup({
  refund: 'بازپرداخت وجه',
  replacement: 'تعویض کالا',
  repair: 'تعمیر',
  delivery: 'تحویل کالا',
  partial_refund: 'بازپرداخت بخشی از وجه',
  compensation: 'جبران خسارت',
  apology: 'عذرخواهی',
  other: 'سایر',
});

export const ROLES = ['consumer', 'business', 'operator', 'mediator', 'agency', 'auditor', 'analyst'];

export const roleName = lookup({
  consumer: 'مصرف‌کننده',
  business: 'فروشگاه',
  operator: 'کارشناس سامانه',
  mediator: 'میانجی',
  agency: 'مرجع رسیدگی',
  auditor: 'حسابرس',
  analyst: 'تحلیلگر',
  system: 'سامانه',
});

export const REJECT_REASONS = ['out_of_scope', 'duplicate', 'abusive'];
export const rejectReasonName = lookup({
  out_of_scope: 'خارج از صلاحیت',
  duplicate: 'تکراری',
  abusive: 'نامناسب',
});

export const VERDICTS = ['upheld', 'partially_upheld', 'dismissed', 'not_competent_closed'];
export const verdictName = lookup({
  upheld: 'وارد دانسته شد',
  partially_upheld: 'بخشی وارد دانسته شد',
  dismissed: 'رد شد',
  not_competent_closed: 'عدم صلاحیت و مختومه',
});

export const deadlineName = lookup({
  documents: 'فرستادن مدارک کم',
  response: 'پاسخ فروشگاه',
  remedy: 'انجام جبران توافق‌شده',
  remedy_confirmation: 'تأیید رسیدن جبران',
  mediation: 'پایان میانجی‌گری',
  referral_acknowledgement: 'اعلام وصول ارجاع',
  referral_decision: 'رأی مرجع',
});

export const mediationReasonName = lookup({
  consumer_request: 'به درخواست مصرف‌کننده',
  unanswered: 'بی‌پاسخ ماندن فروشگاه',
  remedy_not_fulfilled: 'انجام‌نشدن جبران',
  reopened: 'بازگشایی پرونده',
  offer_rejected: 'ردِ پیشنهاد',
});

export const outcomeName = lookup({
  settled: 'به سازش رسید',
  failed: 'ناموفق',
  open: 'باز',
  settled_negotiation: 'سازش در مذاکره',
  settled_mediation: 'سازش در میانجی‌گری',
  remedy_confirmed_by_deadline: 'جبران با گذشت مهلت',
  agency_upheld: 'رأی مرجع: وارد',
  agency_partially_upheld: 'رأی مرجع: بخشی وارد',
  agency_dismissed: 'رأی مرجع: رد',
  agency_not_competent_closed: 'رأی مرجع: عدم صلاحیت',
  incomplete: 'ناقص (مدارک نرسید)',
  rejected: 'ردشده در بررسی',
  withdrawn: 'پس‌گرفته',
  resolved: 'حل‌شده',
});

export const closeReasonName = lookup({
  resolved: 'حل شد',
  incomplete: 'مدارک نرسید',
  agency_decided: 'رأی مرجع صادر شد',
});

export const resolutionName = lookup({
  negotiation: 'با مذاکره',
  mediation: 'با میانجی‌گری',
  remedy_confirmed_by_deadline: 'با گذشت مهلت اعتراض',
});

// The points of a trust score, as `explain` names them (rules/trust-v1.rules).
export const scoreEventName = (event) => {
  const rating = /^rating (\d)$/.exec(event);
  if (rating) return `امتیاز ${digits(rating[1])} ستاره از مصرف‌کننده`;
  return lookup({
    base: 'امتیاز پایه',
    complaint: 'شکایت دریافت‌شده',
    timely_response: 'پاسخ به‌موقع',
    late_response: 'پاسخ دیرهنگام',
    delay: 'تأخیر در پاسخ',
    unanswered: 'شکایت بی‌پاسخ',
    settled_negotiation: 'سازش در مذاکره',
    settled_mediation: 'سازش در میانجی‌گری',
    mediation_failed: 'میانجی‌گری ناموفق',
    referred: 'ارجاع به مرجع',
    upheld: 'رأی مرجع علیه فروشگاه',
    partially_upheld: 'رأی مرجع: بخشی علیه فروشگاه',
    dismissed: 'رأی مرجع به نفع فروشگاه',
    remedy_not_fulfilled: 'جبران انجام نشد',
    reopened: 'بازگشایی پرونده',
    rating: 'امتیاز مصرف‌کننده',
  })(event);
};

const PERSIAN_DIGITS = '۰۱۲۳۴۵۶۷۸۹';

// Latin digits as Persian ones (identifiers such as case ids are never passed through this).
export function digits(value) {
  return String(value ?? '').replace(/[0-9]/g, (d) => PERSIAN_DIGITS[d]);
}

// Persian and Arabic-Indic digits as Latin ones: what a person types, as the API reads it.
export function latinDigits(value) {
  return String(value ?? '')
    .replace(/[۰-۹]/g, (d) => String(d.charCodeAt(0) - 0x06f0))
    .replace(/[٠-٩]/g, (d) => String(d.charCodeAt(0) - 0x0660));
}

// 48500000 -> "۴۸٬۵۰۰٬۰۰۰" (with the Persian thousands separator).
export function number(n, fractionDigits = 0) {
  const v = Number(n);
  if (!Number.isFinite(v)) return digits(n);
  const fixed = v.toFixed(fractionDigits);
  const [whole, fraction] = fixed.split('.');
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, '٬');
  return digits(fraction ? `${grouped}٫${fraction}` : grouped);
}

export function rials(n) {
  return `${number(n)} ریال`;
}

// A length as `rules` gives it ({"value":7,"unit":"working_days"}) in words: "۷ روز کاری".
export function durationText({ value, unit }) {
  const units = { days: 'روز', working_days: 'روز کاری', hours: 'ساعت', working_hours: 'ساعت کاری' };
  return `${digits(value)} ${units[unit] ?? unit}`;
}

export function stars(n) {
  const count = Math.max(0, Math.min(5, Math.round(Number(n) || 0)));
  return '★'.repeat(count) + '☆'.repeat(5 - count);
}
