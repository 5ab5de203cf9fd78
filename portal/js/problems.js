// A refusal in Persian. The service words its rules in English (as the command line does); the
// portal says in Persian what went wrong and shows the API's own field and rule beside it, so
// the person, and anyone helping them, sees exactly what was checked.
import { digits } from './fa.js';

const byCode = {
  invalid_argument: (label) => `«${label}» پذیرفته نشد: مقدار آن با قاعدهٔ سامانه نمی‌خواند.`,
  not_found: (label) => `«${label}» پیدا نشد.`,
  unauthorized: () => 'اجازهٔ این کار را ندارید.',
  wrong_state: () => 'این کار در وضعیت کنونی پرونده ممکن نیست.',
  missing_documents: () => 'مدارک لازم هنوز پیوست نشده است.',
  duplicate: (label) => `«${label}» تکراری است: پیش‌تر ثبت شده است.`,
  conflict: () => 'پرونده در این فاصله تغییر کرده است؛ صفحه را دوباره باز کنید.',
  already_exists: (label) => `«${label}» پیش‌تر ثبت شده است.`,
  deadline_passed: () => 'مهلت این کار گذشته است.',
  corrupt: () => 'داده‌های ذخیره‌شده در بررسی درستی رد شدند.',
  io: () => 'سامانه نتوانست داده را بخواند یا بنویسد.',
  unavailable: () => 'سامانه اکنون در دسترس نیست؛ کمی بعد دوباره امتحان کنید.',
};

// Rules the service states often enough that a Persian sentence says more than a generic one.
const knownRules = [
  [/check digit/, 'رقم کنترل کد ملی درست نیست.'],
  [/exactly 10 digits|identical digits/, 'کد ملی باید ده رقم درست باشد.'],
  [/09xxxxxxxxx/, 'شمارهٔ همراه باید یازده رقم و با ۰۹ آغاز شود.'],
  [/domain name/, 'نام دامنه باید مانند shop.example.ir و با حروف کوچک باشد.'],
  [/rials/, 'مبلغ باید عددی درست و نامنفی به ریال باشد.'],
  [/must not be empty|at least 1 bytes/, 'این بخش نباید خالی باشد.'],
  [/must be from (\d+) to (\d+)( days)?/, (m) => `باید عددی از ${digits(m[1])} تا ${digits(m[2])}${m[3] ? ' روز' : ''} باشد.`],
  [/only the other party/, 'این پیشنهاد را طرف دیگر باید پاسخ دهد.'],
  [/no longer open/, 'این پیشنهاد دیگر باز نیست.'],
  [/is required/, 'پر کردن این بخش لازم است.'],
];

// Field names as the API gives them (national_code) and as the options are spelt (national-code).
export function normalizeField(field) {
  return String(field ?? '').replace(/^--/, '').replace(/-/g, '_');
}

// The Persian sentence for a problem; `label` names the control it concerns, if any.
export function persianMessage(problem, label) {
  if (problem.status === 401) return 'کلید ورود معتبر نیست یا باطل شده است.';
  for (const [pattern, say] of knownRules) {
    const m = pattern.exec(problem.rule ?? '');
    if (m) return typeof say === 'function' ? say(m) : say;
  }
  if (problem.status === 404 && !label) return 'پیدا نشد: یا وجود ندارد یا شما به آن دسترسی ندارید.';
  if (problem.status === 413) return 'پرونده بزرگ‌تر از حد مجاز است.';
  if (problem.status === 415) return 'نوع این پرونده پذیرفته نیست: PDF، JPEG، PNG، WebP یا متن ساده.';
  const say = byCode[problem.code];
  return say ? say(label || problem.field || 'این مقدار') : 'درخواست پذیرفته نشد.';
}
